//! SQL both backends share word for word, written with PostgreSQL's `$n` placeholders (the SQLite
//! backend turns them into its positional `?n`). Statements whose dialects differ live in the
//! backend's own module.

pub const LIST_COLLECTIONS: &str = "SELECT id, name, kind, system, definition, created, updated FROM collections ORDER BY created, id";
pub const INSERT_COLLECTION: &str = "INSERT INTO collections (id, name, kind, system, definition, created, updated) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const UPDATE_COLLECTION: &str = "UPDATE collections SET name = $2, kind = $3, system = $4, definition = $5, updated = $6 WHERE id = $1";
pub const DELETE_COLLECTION: &str = "DELETE FROM collections WHERE id = $1";

pub const DELETE_RECORD: &str = "DELETE FROM records WHERE collection_id = $1 AND id = $2";
pub const COUNT_RECORDS: &str = "SELECT COUNT(*) FROM records WHERE collection_id = $1";
pub const REPLACE_PASSWORD_HASH: &str =
    "UPDATE records SET password_hash = $3 WHERE id = $1 AND password_hash = $2";

pub const GET_SETTING: &str = "SELECT value FROM settings WHERE key = $1";
pub const PUT_SETTING: &str = "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/// Builds the ORDER BY clause of a records list. Column names come from a fixed list; a custom
/// field is addressed through a bound parameter (`field_expr` receives its placeholder number), so
/// no caller-supplied text ever becomes SQL.
pub fn order_by(
    sort: &[crate::SortTerm],
    first_param: usize,
    field_expr: impl Fn(usize) -> String,
    insertion_order: &str,
) -> (String, Vec<String>) {
    use crate::SortKey;
    let mut terms = Vec::new();
    let mut params = Vec::new();
    for term in sort {
        let expr = match &term.key {
            SortKey::Id => "id".to_owned(),
            SortKey::Email => "email".to_owned(),
            SortKey::EmailVisibility => "email_visibility".to_owned(),
            SortKey::Verified => "verified".to_owned(),
            SortKey::Created => "created".to_owned(),
            SortKey::Updated => "updated".to_owned(),
            SortKey::Field(name) => {
                params.push(name.clone());
                field_expr(first_param + params.len() - 1)
            }
        };
        let dir = if term.descending { "DESC" } else { "ASC" };
        terms.push(format!("{expr} {dir}"));
    }
    terms.push(insertion_order.to_owned());
    (format!(" ORDER BY {}", terms.join(", ")), params)
}
