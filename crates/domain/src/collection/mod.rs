//! Auth collections: the definition PocketBase's API reads and writes, the defaults of the two
//! built-in collections, and the checks a definition must pass before it is saved.

mod defaults;
pub mod field;
mod index;
pub mod options;
mod validate;

pub use defaults::{
    SUPERUSERS_ID, SUPERUSERS_NAME, USERS_ID, USERS_NAME, auth_scaffold, superusers, users,
};
pub use field::{Field, FieldKind};
pub use index::IndexSpec;
pub use validate::{RESERVED_FIELD_NAMES, check_collection, check_raw_fields, prepare};

use options::{
    AuthAlert, BackupCodeOptions, EmailTemplate, MfaOptions, OAuth2Options, OtpOptions,
    PasswordAuth, SmsOptions, TokenOptions, TotpOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Names of the fields every auth collection keeps in dedicated columns.
pub const SYSTEM_FIELDS: &[&str] = &[
    "id",
    "password",
    "tokenKey",
    "email",
    "emailVisibility",
    "verified",
];

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Collection {
    pub id: String,
    pub list_rule: Option<String>,
    pub view_rule: Option<String>,
    pub create_rule: Option<String>,
    pub update_rule: Option<String>,
    pub delete_rule: Option<String>,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub fields: Vec<Field>,
    pub indexes: Vec<String>,
    pub created: String,
    pub updated: String,
    pub system: bool,
    pub auth_rule: Option<String>,
    pub manage_rule: Option<String>,
    pub auth_alert: AuthAlert,
    pub oauth2: OAuth2Options,
    pub password_auth: PasswordAuth,
    pub mfa: MfaOptions,
    pub otp: OtpOptions,
    /// Gatehouse's second factors; absent from PocketBase definitions, so defaulted.
    #[serde(default)]
    pub totp: TotpOptions,
    #[serde(default)]
    pub backup_codes: BackupCodeOptions,
    #[serde(default)]
    pub sms: SmsOptions,
    pub auth_token: TokenOptions,
    pub password_reset_token: TokenOptions,
    pub email_change_token: TokenOptions,
    pub verification_token: TokenOptions,
    pub file_token: TokenOptions,
    pub verification_template: EmailTemplate,
    pub reset_password_template: EmailTemplate,
    pub confirm_email_change_template: EmailTemplate,
    /// The mail telling the owner that their second factors changed (`{ALERT_INFO}` says how).
    #[serde(default = "defaults::security_alert_template")]
    pub security_alert_template: EmailTemplate,
}

// Hand-written: the options carry token secrets and OAuth2 client secrets.
impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("system", &self.system)
            .finish_non_exhaustive()
    }
}

impl Collection {
    pub fn is_superusers(&self) -> bool {
        self.id == SUPERUSERS_ID
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Custom fields: everything but the system columns (stored in the record's `data`).
    pub fn custom_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields
            .iter()
            .filter(|f| !SYSTEM_FIELDS.contains(&f.name.as_str()) && !is_autodate_column(f))
    }

    /// The password field's minimum length (PocketBase's default is 8).
    pub fn password_min(&self) -> usize {
        match self.field("password").map(|f| &f.kind) {
            Some(FieldKind::Password { min, .. }) if *min > 0 => *min as usize,
            _ => 8,
        }
    }

    /// The password field's maximum length in bytes. PocketBase caps it at 71 (bcrypt's limit);
    /// we keep the same cap so that a client valid on one is valid on the other.
    pub fn password_max(&self) -> usize {
        match self.field("password").map(|f| &f.kind) {
            Some(FieldKind::Password { max, .. }) if *max > 0 && *max < 71 => *max as usize,
            _ => 71,
        }
    }

    /// Unique indexes declared on this collection, parsed.
    pub fn index_specs(&self) -> Vec<IndexSpec> {
        self.indexes
            .iter()
            .filter_map(|sql| IndexSpec::parse(sql))
            .collect()
    }

    /// The JSON the API answers with: token secrets and OAuth2 client secrets left out.
    pub fn to_api_json(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        strip_secrets(&mut value);
        value
    }

    /// The JSON stored in the database, secrets included.
    pub fn to_stored_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `created`/`updated` autodate fields live in record columns rather than in `data`.
pub fn is_autodate_column(field: &Field) -> bool {
    matches!(field.kind, FieldKind::Autodate { .. })
        && (field.name == "created" || field.name == "updated")
}

pub const TOKEN_OPTION_KEYS: &[&str] = &[
    "authToken",
    "passwordResetToken",
    "emailChangeToken",
    "verificationToken",
    "fileToken",
];

fn strip_secrets(value: &mut Value) {
    for key in TOKEN_OPTION_KEYS {
        if let Some(obj) = value.get_mut(*key).and_then(Value::as_object_mut) {
            obj.remove("secret");
        }
    }
    if let Some(providers) = value
        .pointer_mut("/oauth2/providers")
        .and_then(Value::as_array_mut)
    {
        for p in providers.iter_mut().filter_map(Value::as_object_mut) {
            p.remove("clientSecret");
        }
    }
}

/// Merges `patch` into `base` the way PocketBase's PATCH does: objects merge key by key,
/// everything else (arrays included) replaces.
pub fn merge_json(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_json(existing, v)
                    }
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_json_never_has_secrets() {
        let users = users("2026-01-01 00:00:00.000Z");
        let text = users.to_api_json().to_string();
        assert!(!text.contains("secret"), "{text}");
        assert!(users.to_stored_json().contains(&users.auth_token.secret));
    }

    #[test]
    fn merge_objects_and_replace_arrays() {
        let mut base = json!({"otp": {"enabled": false, "duration": 180}, "indexes": ["a", "b"]});
        merge_json(
            &mut base,
            &json!({"otp": {"enabled": true}, "indexes": ["c"]}),
        );
        assert_eq!(
            base,
            json!({"otp": {"enabled": true, "duration": 180}, "indexes": ["c"]})
        );
    }
}
