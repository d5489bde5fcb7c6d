//! The statements of a record write, shared by both backends: only the changed columns and
//! custom fields are set, and a write of credentials names the `tokenKey` it started from, so
//! two writes prepared from the same read cannot both land, and none lands over a newer password.
//! A record's tickets (codes, MFA sessions) go with it.

use crate::RecordChanges;
use crate::condition::{Dialect, Param, SqlBuilder};

/// `UPDATE records SET …` for one record's changes, and its parameters.
pub fn update(
    collection_id: &str,
    id: &str,
    changes: &RecordChanges,
    expected_token_key: Option<&str>,
    dialect: Dialect,
) -> (String, Vec<Param>) {
    let mut b = SqlBuilder::new(dialect);
    let text = |s: &String| Param::Text(s.clone());
    let mut set = Vec::new();
    for (column, value) in [
        ("email", changes.email.as_ref().map(text)),
        (
            "email_visibility",
            changes.email_visibility.map(Param::Bool),
        ),
        ("verified", changes.verified.map(Param::Bool)),
        ("password_hash", changes.password_hash.as_ref().map(text)),
        ("token_key", changes.token_key.as_ref().map(text)),
        ("updated", Some(text(&changes.updated))),
    ] {
        if let Some(value) = value {
            set.push(format!("{column} = {}", b.bind(value)));
        }
    }
    if !changes.fields.is_empty() {
        set.push(format!("data = {}", set_fields(&mut b, &changes.fields)));
    }
    let mut filter = format!(
        "collection_id = {} AND id = {}",
        b.bind(Param::Text(collection_id.to_owned())),
        b.bind(Param::Text(id.to_owned()))
    );
    if let Some(key) = expected_token_key {
        filter.push_str(&format!(
            " AND token_key = {}",
            b.bind(Param::Text(key.to_owned()))
        ));
    }
    let sql = format!("UPDATE records SET {} WHERE {filter}", set.join(", "));
    (sql, b.params)
}

/// `data` with the given top-level fields replaced (whole values, never merged into).
fn set_fields(b: &mut SqlBuilder, fields: &[(String, String)]) -> String {
    match b.dialect {
        Dialect::Sqlite => {
            let mut args = Vec::new();
            for (name, json) in fields {
                let path = b.bind(Param::Path(vec![name.clone()]));
                let value = b.bind(Param::Text(json.clone()));
                args.push(format!("{path}, json({value})"));
            }
            format!("jsonb_set(data, {})", args.join(", "))
        }
        Dialect::Postgres => {
            // `||` replaces top-level keys as a whole, which is what a field write means.
            let object: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .map(|(name, json)| {
                    let value = serde_json::from_str(json).unwrap_or(serde_json::Value::Null);
                    (name.clone(), value)
                })
                .collect();
            let object = serde_json::Value::Object(object).to_string();
            format!("data || {}::jsonb", b.bind(Param::Text(object)))
        }
    }
}

/// Whether the record exists, to tell a write that found no row (`$1` collection, `$2` id).
pub const RECORD_EXISTS: &str = "SELECT COUNT(*) FROM records WHERE collection_id = $1 AND id = $2";

/// Deletes a record (`$1` collection, `$2` id).
pub const DELETE: &str = "DELETE FROM records WHERE collection_id = $1 AND id = $2";
/// Deletes a record's tickets (`$1` record id): ids are unique across collections and a new
/// record may take a deleted one's id, which must not inherit its codes or sessions.
pub const DELETE_TICKETS: &str = "DELETE FROM tickets WHERE record_id = $1";
/// Deletes the tickets of a collection's records (`$1` collection), when the collection goes.
pub const DELETE_COLLECTION_TICKETS: &str = "DELETE FROM tickets WHERE collection_id = $1";
