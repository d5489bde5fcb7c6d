//! An auth record as the domain sees it, and how it is rendered for a given viewer.

use crate::collection::{Collection, FieldKind, is_autodate_column};
use gatehouse_store::{RecordChanges, RecordRow};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Record {
    pub row: RecordRow,
    /// Custom field values, by field name.
    pub data: Map<String, Value>,
}

/// What the viewer may see of a record.
#[derive(Debug, Clone, Copy, Default)]
pub struct View {
    /// The email is shown to superusers, managers, the record itself, in auth responses, and to
    /// everyone when the record sets `emailVisibility`.
    pub email: bool,
    /// Superusers also see fields marked hidden (never `password` or `tokenKey`).
    pub hidden: bool,
}

impl View {
    pub const AUTH_RESPONSE: View = View {
        email: true,
        hidden: false,
    };
}

impl Record {
    pub fn from_row(row: RecordRow) -> Self {
        let data = match serde_json::from_str::<Value>(&row.data) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        Self { row, data }
    }

    /// The row to store, with `data` re-serialised.
    pub fn to_row(&self) -> RecordRow {
        let mut row = self.row.clone();
        row.data = Value::Object(self.data.clone()).to_string();
        row
    }

    /// What changed since the record was read as `before`: the only columns and custom fields
    /// a write may set, so that it keeps what others changed in the meantime.
    pub fn changes_since(&self, before: &Record) -> RecordChanges {
        let (new, old) = (&self.row, &before.row);
        let changed = |new: &String, old: &String| (new != old).then(|| new.clone());
        RecordChanges {
            email: changed(&new.email, &old.email),
            email_visibility: (new.email_visibility != old.email_visibility)
                .then_some(new.email_visibility),
            verified: (new.verified != old.verified).then_some(new.verified),
            password_hash: changed(&new.password_hash, &old.password_hash),
            token_key: changed(&new.token_key, &old.token_key),
            fields: self
                .data
                .iter()
                .filter(|(name, value)| before.data.get(*name) != Some(*value))
                .map(|(name, value)| (name.clone(), value.to_string()))
                .collect(),
            updated: new.updated.clone(),
        }
    }

    pub fn id(&self) -> &str {
        &self.row.id
    }

    /// The value of any field by name, system or custom, as JSON.
    pub fn value(&self, collection: &Collection, name: &str) -> Value {
        match name {
            "id" => json!(self.row.id),
            "email" => json!(self.row.email),
            "emailVisibility" => json!(self.row.email_visibility),
            "verified" => json!(self.row.verified),
            "created" => json!(self.row.created),
            "updated" => json!(self.row.updated),
            _ => self.data.get(name).cloned().unwrap_or_else(|| {
                collection
                    .field(name)
                    .map(|f| f.zero_value())
                    .unwrap_or(Value::Null)
            }),
        }
    }

    /// The record JSON PocketBase answers with. Keys come out sorted, as PocketBase 0.40 emits them.
    pub fn render(&self, collection: &Collection, view: View) -> Value {
        let mut out = BTreeMap::new();
        for field in &collection.fields {
            let name = field.name.as_str();
            if matches!(field.kind, FieldKind::Password { .. }) || name == "tokenKey" {
                continue;
            }
            if field.hidden && !view.hidden {
                continue;
            }
            if name == "email" && !(view.email || self.row.email_visibility) {
                continue;
            }
            if matches!(field.kind, FieldKind::Autodate { .. }) && !is_autodate_column(field) {
                out.insert(
                    name.to_owned(),
                    self.data.get(name).cloned().unwrap_or(json!("")),
                );
                continue;
            }
            out.insert(name.to_owned(), self.value(collection, name));
        }
        out.insert("collectionId".to_owned(), json!(collection.id));
        out.insert("collectionName".to_owned(), json!(collection.name));
        Value::Object(out.into_iter().collect())
    }
}
