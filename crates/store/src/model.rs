//! Plain rows and queries exchanged between the domain and the store.

/// A collection definition. `definition` is the domain's JSON document (fields, rules, options,
/// token secrets); the store only keeps it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CollectionRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub system: bool,
    pub definition: String,
    pub created: String,
    pub updated: String,
}

/// An auth record. `data` is a JSON object with the custom fields.
#[derive(Clone, PartialEq, sqlx::FromRow)]
pub struct RecordRow {
    pub id: String,
    pub collection_id: String,
    pub email: String,
    pub email_visibility: bool,
    pub verified: bool,
    pub password_hash: String,
    pub token_key: String,
    pub data: String,
    pub created: String,
    pub updated: String,
}

// Hand-written so that a stray `{:?}` never prints a password hash or a token key.
impl std::fmt::Debug for RecordRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordRow")
            .field("id", &self.id)
            .field("collection_id", &self.collection_id)
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

/// One write to an auth record: the columns that changed (`None` keeps the stored value) and
/// the custom fields that changed. Writing only these keeps whatever another request changed
/// in the meantime: a name edit never writes back a password hash it read before a reset.
#[derive(Clone, Default, PartialEq)]
pub struct RecordChanges {
    pub email: Option<String>,
    pub email_visibility: Option<bool>,
    pub verified: Option<bool>,
    pub password_hash: Option<String>,
    pub token_key: Option<String>,
    /// Custom fields to set, by name, each as JSON text; the others keep their stored values.
    pub fields: Vec<(String, String)>,
    pub updated: String,
}

impl RecordChanges {
    /// Whether the write changes how the record proves who it is (its credentials, its
    /// address or the proof of it): such a write must start from the current `tokenKey`.
    pub fn touches_credentials(&self) -> bool {
        self.email.is_some()
            || self.verified.is_some()
            || self.password_hash.is_some()
            || self.token_key.is_some()
    }
}

// Hand-written so that a stray `{:?}` never prints a password hash or a token key.
impl std::fmt::Debug for RecordChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordChanges")
            .field("email_visibility", &self.email_visibility)
            .field("verified", &self.verified)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "…"))
            .field("token_key", &self.token_key.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

/// What a list may be sorted by: a system column or a custom field inside `data`.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    Column(crate::Column),
    Field(String),
    /// The email where `emailVisibility` shows it, `''` where it is hidden: sorting by hidden
    /// addresses would reveal their order.
    ShownEmail,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortTerm {
    pub key: SortKey,
    pub descending: bool,
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub collection_id: String,
    /// Which records to return (the list rule and the `filter` parameter, compiled).
    pub condition: crate::ListCondition,
    pub sort: Vec<SortTerm>,
    pub limit: i64,
    pub offset: i64,
    /// Skip the `COUNT(*)` (PocketBase's `skipTotal`).
    pub skip_total: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub rows: Vec<RecordRow>,
    /// `None` when the query asked to skip the total.
    pub total: Option<i64>,
}

/// A unique index on one custom field of a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueIndex {
    pub field: String,
    pub nocase: bool,
}

impl UniqueIndex {
    /// The physical index name: derived, so that syncing can tell ours apart and find stale ones.
    /// Digests of the collection and of the field (with its collation) keep it at 41 bytes
    /// whatever the names' lengths: PostgreSQL cuts identifiers at 63, which made two long
    /// names one index, and a readable `<field>_ci` could be read as another field's name.
    pub fn physical_name(&self, collection_id: &str) -> String {
        let collation = if self.nocase { "nocase" } else { "binary" };
        let field = digest(&format!("{}:{collation}", self.field));
        format!("{}{field}", Self::collection_prefix(collection_id))
    }

    /// What the names of one collection's indexes start with.
    pub fn collection_prefix(collection_id: &str) -> String {
        format!("gh_uniq_{}_", digest(collection_id))
    }

    /// What earlier versions named a collection's indexes (`gh_uniq_<collection>__<field>[_ci]`):
    /// such indexes are dropped, and made again under the new names, when the collection's
    /// indexes are next synced.
    pub fn legacy_prefix(collection_id: &str) -> String {
        format!("gh_uniq_{collection_id}__")
    }

    /// The field of one of `indexes` named `name` in a store error.
    pub fn field_of<'a>(
        indexes: &'a [UniqueIndex],
        collection_id: &str,
        name: &str,
    ) -> Option<&'a str> {
        indexes
            .iter()
            .find(|i| i.physical_name(collection_id) == name)
            .map(|i| i.field.as_str())
    }
}

/// A sync's error with the clashing index named by its field, as the domain reports it.
pub(crate) fn name_index_field(
    err: crate::StoreError,
    wanted: &[UniqueIndex],
    collection_id: &str,
) -> crate::StoreError {
    match err {
        crate::StoreError::Unique { target } => crate::StoreError::Unique {
            target: UniqueIndex::field_of(wanted, collection_id, &target)
                .map_or(target.clone(), str::to_owned),
        },
        other => other,
    }
}

/// 16 hex digits of SHA-256: stable across versions and processes, unlike `std`'s hashers.
fn digest(text: &str) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(text.as_bytes());
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// What a unique-constraint error on one of our custom-field indexes names: the index name
/// (the domain knows which field it stands for), or the field of a legacy readable name.
pub(crate) fn unique_target(index_name: &str) -> String {
    match index_name.split_once("__") {
        Some((_, field)) => field.strip_suffix("_ci").unwrap_or(field).to_owned(),
        None => index_name.to_owned(),
    }
}

/// One audit-log event. `data` is a JSON object.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AuditRow {
    pub id: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub created: String,
    pub collection_id: String,
    pub record_id: String,
    pub method: String,
    pub ip: String,
    pub user_agent: String,
    pub data: String,
}

/// Which audit events to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub record_id: Option<String>,
    pub collection_id: Option<String>,
    /// Any of these types; empty: all.
    pub kinds: Vec<String>,
    /// `created >= since`, `created <= until` (PocketBase datetime text, which sorts as time).
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone, Default)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    pub total: i64,
}

/// A one-time thing (an email OTP, an MFA session) until it is used or expires.
#[derive(Clone, PartialEq, sqlx::FromRow)]
pub struct TicketRow {
    pub id: String,
    pub kind: String,
    pub collection_id: String,
    pub record_id: String,
    /// A keyed hash of the secret (the OTP code); empty when the id is the only secret.
    pub secret_hash: String,
    pub data: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub failures: i64,
}

/// What a second step reads first ([`crate::Store::second_step_rows`]).
pub struct StepRows {
    pub ticket: TicketRow,
    pub record: RecordRow,
    pub factors: Vec<FactorRow>,
}

/// Names one ticket for a change. Every change filters by kind and owner too, so the id of one
/// kind of ticket (an MFA session) can never fail or delete another (an OTP), nor someone else's.
#[derive(Debug, Clone, Copy)]
pub struct TicketKey<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub record_id: &'a str,
}

/// What a second step spends besides its MFA session. No `Debug`: it may hold code hashes.
#[derive(Clone, Copy)]
pub enum Spend<'a> {
    /// A TOTP time step of a verified factor, newer than its last accepted one.
    TotpStep {
        factor_id: &'a str,
        step: i64,
        used_at: &'a str,
    },
    /// One of the record's backup codes whose hash is any of `code_hashes`.
    BackupCode {
        record_id: &'a str,
        code_hashes: &'a [String],
        used_at: &'a str,
    },
}

/// How a second step's transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// Everything was written; for a backup code, the codes left.
    Done { backup_codes_left: Option<i64> },
    /// The MFA session was not there (spent, expired, out of tries): nothing written.
    NoSession,
    /// The spend was refused (a replayed step, a used or unknown code): nothing written.
    Refused,
}

// Hand-written so that a stray `{:?}` never prints a code hash.
impl std::fmt::Debug for TicketRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketRow")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("record_id", &self.record_id)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

/// A second factor of one record: `totp`, `backupCode` (the set; its codes live in `factor_codes`),
/// `email` (an alternate address for codes), later `sms`, `webauthn`. At most one per (record, kind).
#[derive(Clone, PartialEq, sqlx::FromRow)]
pub struct FactorRow {
    /// A 15-character id.
    pub id: String,
    pub collection_id: String,
    pub record_id: String,
    pub kind: String,
    /// `pending` until the user proves possession once, then `verified`.
    pub status: String,
    /// The sealed (AEAD) secret of a `totp` factor; `""` otherwise.
    pub secret: String,
    /// Where codes go (an email address, a phone number); `""` otherwise.
    pub target: String,
    /// JSON of kind-specific parameters, `"{}"` by default.
    pub data: String,
    /// PocketBase datetime text (`2006-01-02 15:04:05.000Z`).
    pub created: String,
    /// `""` until first use.
    pub last_used: String,
    /// The last accepted TOTP time step; 0 = none.
    pub last_step: i64,
}

impl FactorRow {
    /// This row as a new enrolment (what `put_pending_factor` stores).
    pub(crate) fn as_pending(&self) -> FactorRow {
        FactorRow {
            status: "pending".to_owned(),
            ..self.clone()
        }
    }
}

// Hand-written so that a stray `{:?}` never prints a sealed secret or where codes go.
impl std::fmt::Debug for FactorRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FactorRow")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("status", &self.status)
            .field("record_id", &self.record_id)
            .finish_non_exhaustive()
    }
}

/// An OAuth2 link: the record signs in with the provider's account `provider_id`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ExternalAuthRow {
    /// A 15-character id.
    pub id: String,
    pub collection_id: String,
    pub record_id: String,
    /// The configured provider name (`oidc`, `oidc2`, …).
    pub provider: String,
    pub provider_id: String,
    pub created: String,
    pub updated: String,
}

/// The writes of one OAuth2 login, all in one transaction: a new record (sign-up), the other
/// links of an unverified record dropped (a squatter's), the link, and audit events.
#[derive(Debug, Clone)]
pub struct OAuth2Write {
    pub new_record: Option<RecordRow>,
    /// Every link of the record but `link` goes.
    pub drop_other_links: bool,
    pub link: ExternalAuthRow,
    /// `false`: `link` is stored already.
    pub link_is_new: bool,
    pub events: Vec<AuditRow>,
}

/// A device a record trusts to skip its second step until `expires_ms`.
#[derive(Clone, PartialEq, sqlx::FromRow)]
pub struct DeviceRow {
    /// A 15-character id.
    pub id: String,
    pub collection_id: String,
    pub record_id: String,
    /// The keyed hash of the device token (never the token), unique across the server.
    pub token_hash: String,
    /// A label from the user agent, e.g. "Firefox on Linux".
    pub name: String,
    /// PocketBase datetime text (`2006-01-02 15:04:05.000Z`).
    pub created: String,
    /// `""` until first use.
    pub last_used: String,
    pub expires_ms: i64,
}

// Hand-written so that a stray `{:?}` never prints the token's hash (a lookup key for the device).
impl std::fmt::Debug for DeviceRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceRow")
            .field("id", &self.id)
            .field("record_id", &self.record_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::{UniqueIndex, unique_target};

    #[test]
    fn index_names_fit_postgres_and_never_collide() {
        let long = "f".repeat(100);
        let index = |field: &str, nocase| UniqueIndex {
            field: field.to_owned(),
            nocase,
        };
        let names = [
            index(&format!("{long}1"), false).physical_name(&"c".repeat(100)),
            index(&format!("{long}2"), false).physical_name(&"c".repeat(100)),
            // Once read as the same name: `x` without case and a field named `x_ci`.
            index("x", true).physical_name("users"),
            index("x_ci", false).physical_name("users"),
        ];
        assert!(names.iter().all(|n| n.len() <= 63), "{names:?}");
        for (i, a) in names.iter().enumerate() {
            assert!(names[i + 1..].iter().all(|b| a != b), "{names:?}");
        }
        assert!(names[2].starts_with(&UniqueIndex::collection_prefix("users")));
        let field_indexes = [index("x", true), index("x_ci", false)];
        assert_eq!(
            UniqueIndex::field_of(&field_indexes, "users", &names[3]),
            Some("x_ci")
        );
        // Errors name current indexes as they are, legacy ones by their field.
        assert_eq!(unique_target(&names[2]), names[2]);
        assert_eq!(unique_target("gh_uniq_users__username_ci"), "username");
    }
}
