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
    /// Field names are checked by the domain to be `[A-Za-z0-9_]`, collection ids likewise.
    pub fn physical_name(&self, collection_id: &str) -> String {
        let ci = if self.nocase { "_ci" } else { "" };
        format!("gh_uniq_{collection_id}__{}{ci}", self.field)
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

/// Names one ticket for a change. Every change filters by kind and owner too, so the id of one
/// kind of ticket (an MFA session) can never fail or delete another (an OTP), nor someone else's.
#[derive(Debug, Clone, Copy)]
pub struct TicketKey<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub record_id: &'a str,
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
