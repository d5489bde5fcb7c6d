//! Storage for Gatehouse: one interface ([`Store`]), two implementations (SQLite and PostgreSQL).
//!
//! The store knows rows, not rules: it never decides who may see what. Collections are kept as JSON
//! documents (the domain owns their shape); auth records keep their system fields in columns and
//! their custom fields in one JSON `data` column, so every auth collection shares one `records` table
//! and record ids are unique across all auth collections, as PocketBase requires.

mod condition;
mod counters;
mod devices_sql;
mod error;
mod external_auths_sql;
mod factors_sql;
mod list_condition;
mod model;
mod postgres;
mod record_write;
mod sql;
mod sqlite;

pub use condition::{Column, CompareOp, Condition, Kind, Scalar};
pub use counters::RATE_LIMIT_PREFIX;
pub use error::StoreError;
pub use list_condition::ListCondition;
pub use model::{
    AuditPage, AuditQuery, AuditRow, CollectionRow, DeviceRow, ExternalAuthRow, FactorRow,
    ListQuery, OAuth2Write, Page, RecordChanges, RecordRow, SortKey, SortTerm, Spend, StepOutcome,
    StepRows, TicketKey, TicketRow, UniqueIndex,
};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use std::path::Path;
use std::sync::Arc;

pub type Result<T> = std::result::Result<T, StoreError>;

/// Everything Gatehouse persists. Both backends must behave the same; the integration tests run
/// against each.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is, for logs.
    fn backend(&self) -> &'static str;

    // --- collections ---
    async fn list_collections(&self) -> Result<Vec<CollectionRow>>;
    async fn insert_collection(&self, row: &CollectionRow) -> Result<()>;
    /// Replaces the stored definition; fails with `NotFound` when the id is unknown.
    async fn update_collection(&self, row: &CollectionRow) -> Result<()>;
    /// Deletes the collection and, with it, every record it holds and their factors and devices.
    async fn delete_collection(&self, id: &str) -> Result<()>;
    /// Makes the physical unique indexes on custom fields of one collection match `wanted`.
    async fn sync_unique_indexes(&self, collection_id: &str, wanted: &[UniqueIndex]) -> Result<()>;

    // --- auth records ---
    async fn find_record(&self, collection_id: &str, id: &str) -> Result<Option<RecordRow>>;
    async fn find_record_by_email(
        &self,
        collection_id: &str,
        email: &str,
    ) -> Result<Option<RecordRow>>;
    /// Looks a record up by a custom field (an identity field such as `username`).
    /// `nocase` compares case-insensitively, matching a `COLLATE NOCASE` unique index.
    async fn find_record_by_field(
        &self,
        collection_id: &str,
        field: &str,
        value: &str,
        nocase: bool,
    ) -> Result<Option<RecordRow>>;
    async fn insert_record(&self, row: &RecordRow) -> Result<()>;
    /// Writes the `changes` to the record, and the audit `events` in the same transaction. With
    /// `expected_token_key`, only if the record still has that `tokenKey`: a write prepared from
    /// a read must not land after a credential change that came between. Writes nothing and fails
    /// with `NotFound` when the record is gone, `Stale` when its `tokenKey` changed.
    async fn update_record(
        &self,
        collection_id: &str,
        id: &str,
        changes: &RecordChanges,
        expected_token_key: Option<&str>,
        events: &[AuditRow],
    ) -> Result<()>;
    /// Swaps the password hash only if it is still `old_hash` (re-hashing on login must not undo a
    /// password change that raced with it). Returns whether the row changed.
    async fn replace_password_hash(&self, id: &str, old_hash: &str, new_hash: &str)
    -> Result<bool>;
    /// Deletes the record, its tickets (codes, MFA sessions), factors, trusted devices and OAuth2
    /// links in one transaction. With `keep_last`, only if another record of the collection
    /// remains, judged in the same statement (the last superuser). Returns whether the record was deleted.
    async fn delete_record(&self, collection_id: &str, id: &str, keep_last: bool) -> Result<bool>;
    async fn count_records(&self, collection_id: &str) -> Result<i64>;
    async fn list_records(&self, query: &ListQuery) -> Result<Page>;

    // --- counters: fixed windows that start at their first hit (rate limits, failed logins) ---
    // Keys are short (ids and hashes). Keys starting with `RATE_LIMIT_PREFIX` may be evicted
    // under memory pressure; every other counter lasts until its window ends.
    /// Counts one event under `key` and returns the window's count, this event included. A window
    /// lasts `window_ms` from its first event; the next event after it starts a new one.
    async fn counter_hit(&self, key: &str, now_ms: i64, window_ms: i64) -> Result<i64>;
    /// The count under `key` in its current window; 0 when there is none.
    async fn counter_get(&self, key: &str, now_ms: i64) -> Result<i64>;
    /// Takes back one event of the live window under `key` (an attempt counted up front that
    /// turned out fine); nothing when the window is over or empty.
    async fn counter_unhit(&self, key: &str, now_ms: i64) -> Result<()>;
    async fn counter_reset(&self, key: &str) -> Result<()>;
    /// Drops every counter whose key starts with `prefix`.
    async fn counters_clear(&self, prefix: &str) -> Result<()>;

    // --- tickets: one-time things (OTPs, MFA sessions) ---
    /// Inserts a ticket, and `events` in the same transaction.
    async fn insert_ticket(&self, row: &TicketRow, events: &[AuditRow]) -> Result<()>;
    /// A live (unexpired) ticket of `kind`.
    async fn find_ticket(&self, id: &str, kind: &str, now_ms: i64) -> Result<Option<TicketRow>>;
    /// Deletes and returns the live ticket if its secret hash is `secret_hash` and it has at most
    /// `max_failures` failures, atomically: of concurrent calls, at most one gets it.
    async fn consume_ticket(
        &self,
        key: TicketKey<'_>,
        secret_hash: &str,
        max_failures: i64,
        now_ms: i64,
    ) -> Result<Option<TicketRow>>;
    /// Counts a failure on the live ticket if it has fewer than `limit`, in one statement, and
    /// returns the new count; `None` (nothing counted) when there is no such ticket. Counting
    /// before checking a guess reserves the attempt: concurrent guesses cannot overrun `limit`.
    async fn fail_ticket(&self, key: TicketKey<'_>, limit: i64, now_ms: i64)
    -> Result<Option<i64>>;
    async fn delete_ticket(&self, key: TicketKey<'_>) -> Result<()>;
    async fn delete_record_tickets(&self, record_id: &str, kind: &str) -> Result<()>;
    /// A record's live tickets of `kind`, newest first.
    async fn live_tickets(
        &self,
        record_id: &str,
        kind: &str,
        now_ms: i64,
    ) -> Result<Vec<TicketRow>>;
    async fn delete_expired_tickets(&self, now_ms: i64) -> Result<()>;

    // --- second factors ---
    /// A record's factors, oldest first.
    async fn list_factors(&self, record_id: &str) -> Result<Vec<FactorRow>>;
    /// What a second step reads before it checks a code: the live ticket `id` of `kind`, its
    /// record (of `collection_id`) and that record's factors. `None` without such a ticket or
    /// record. One read where the backend can (every login's second step pays for each).
    async fn second_step_rows(
        &self,
        id: &str,
        kind: &str,
        collection_id: &str,
        now_ms: i64,
    ) -> Result<Option<StepRows>> {
        let Some(ticket) = self.find_ticket(id, kind, now_ms).await? else {
            return Ok(None);
        };
        let Some(record) = self.find_record(collection_id, &ticket.record_id).await? else {
            return Ok(None);
        };
        let factors = self.list_factors(&record.id).await?;
        Ok(Some(StepRows {
            ticket,
            record,
            factors,
        }))
    }
    /// Puts `row` (status pending) in place of the record's pending factor of the same kind, if any,
    /// with `events`, in one transaction. Fails with `StoreError::Unique` (writing nothing) when the
    /// record already has a verified factor of that kind.
    async fn put_pending_factor(&self, row: &FactorRow, events: &[AuditRow]) -> Result<()>;
    /// Marks the record's pending factor `id` verified with `last_step`, in one conditional statement;
    /// with `backup`, also replaces the record's backup-code set (as `replace_backup_codes`), and
    /// writes `events` — all in one transaction. `false` (nothing written) when no such pending factor.
    async fn verify_factor(
        &self,
        record_id: &str,
        id: &str,
        last_step: i64,
        backup: Option<(&FactorRow, &[String])>,
        events: &[AuditRow],
    ) -> Result<bool>;
    /// Replaces the record's backup-code set: deletes its `backupCode` factor and codes, inserts `row`
    /// and one `factor_codes` row per hash, writes `events`; one transaction (a failure leaves the old set).
    async fn replace_backup_codes(
        &self,
        row: &FactorRow,
        code_hashes: &[String],
        events: &[AuditRow],
    ) -> Result<()>;
    /// Deletes one backup code of the record whose hash is any of `code_hashes` (the same code hashed
    /// under each server key), in one statement, and stamps the set's `last_used`. The codes left, or
    /// `None` when none matched (unknown, or used by a concurrent call: of concurrent uses exactly one wins).
    async fn consume_backup_code(
        &self,
        record_id: &str,
        code_hashes: &[String],
        used_at: &str,
    ) -> Result<Option<i64>>;
    async fn count_backup_codes(&self, record_id: &str) -> Result<i64>;
    /// Records an accepted TOTP step: only if the factor is verified and `step` is greater than its
    /// `last_step`, in one statement; also stamps `last_used`. Whether it was recorded (false: a replay,
    /// or a concurrent use of the same code won).
    async fn use_totp_step(&self, factor_id: &str, step: i64, used_at: &str) -> Result<bool>;
    /// A second step's writes, all or nothing, in one transaction: consumes the MFA session
    /// `session` (as `consume_ticket` with an empty secret hash and `max_failures`), spends `spend`
    /// (the same conditional statements as `use_totp_step` / `consume_backup_code`) and writes
    /// `events`. `NoSession` or `Refused` (a replayed step, a used or unknown code): nothing written.
    /// Of concurrent steps on one session one commits; of concurrent uses of one code on different
    /// sessions one commits and the others keep their sessions.
    async fn complete_second_step(
        &self,
        session: TicketKey<'_>,
        max_failures: i64,
        now_ms: i64,
        spend: Spend<'_>,
        events: &[AuditRow],
    ) -> Result<StepOutcome>;
    /// Stamps `last_used` (an email factor used for a login).
    async fn touch_factor(&self, factor_id: &str, used_at: &str) -> Result<()>;
    /// Deletes the record's factor of `kind` (with its codes for `backupCode`) and writes `events`, in
    /// one transaction; whether there was one (no events written when there was none).
    async fn delete_factor(&self, record_id: &str, kind: &str, events: &[AuditRow])
    -> Result<bool>;
    /// Deletes every factor and code of the record and writes `events` (a superuser's MFA reset); how many factors.
    async fn delete_factors(&self, record_id: &str, events: &[AuditRow]) -> Result<u64>;
    /// Every factor of `kind` on the server (key rotation re-encrypts TOTP secrets).
    async fn factors_of_kind(&self, kind: &str) -> Result<Vec<FactorRow>>;
    /// Swaps a factor's secret if it is still `old`; whether it changed.
    async fn replace_factor_secret(&self, id: &str, old: &str, new: &str) -> Result<bool>;

    // --- trusted devices ---
    /// Inserts a trusted device and writes `events`, in one transaction.
    async fn insert_device(&self, row: &DeviceRow, events: &[AuditRow]) -> Result<()>;
    /// The record's live (unexpired at `now_ms`) device whose `token_hash` is any of `token_hashes`.
    async fn find_device(
        &self,
        record_id: &str,
        token_hashes: &[String],
        now_ms: i64,
    ) -> Result<Option<DeviceRow>>;
    /// Stamps `last_used`.
    async fn touch_device(&self, id: &str, used_at: &str) -> Result<()>;
    /// The record's live devices, newest first.
    async fn list_devices(&self, record_id: &str, now_ms: i64) -> Result<Vec<DeviceRow>>;
    /// Deletes the record's device `id` and writes `events` (only when there was one); whether there was one.
    async fn delete_device(&self, record_id: &str, id: &str, events: &[AuditRow]) -> Result<bool>;
    /// Deletes every device of the record; how many.
    async fn delete_devices(&self, record_id: &str) -> Result<u64>;
    /// Deletes devices expired at `now_ms` (housekeeping); how many.
    async fn delete_expired_devices(&self, now_ms: i64) -> Result<u64>;

    // --- OAuth2 links (PocketBase's `_externalAuths`) ---
    /// The link of a provider account within a collection.
    async fn find_external_auth(
        &self,
        collection_id: &str,
        provider: &str,
        provider_id: &str,
    ) -> Result<Option<ExternalAuthRow>>;
    /// A record's links, oldest first.
    async fn list_external_auths(&self, record_id: &str) -> Result<Vec<ExternalAuthRow>>;
    async fn find_external_auth_by_id(&self, id: &str) -> Result<Option<ExternalAuthRow>>;
    /// Every link of every record, oldest first, `limit` at most.
    async fn list_all_external_auths(&self, limit: i64) -> Result<Vec<ExternalAuthRow>>;
    /// Deletes one link and stores `events` with it, in one transaction; whether it was there.
    async fn delete_external_auth(&self, id: &str, events: &[AuditRow]) -> Result<bool>;
    /// Everything [`OAuth2Write`] holds, in one transaction: a unique clash (the email taken, the
    /// account linked meanwhile) fails with `Unique` and writes nothing.
    async fn save_oauth2_login(&self, write: &OAuth2Write) -> Result<()>;

    // --- the audit log ---
    async fn insert_audit(&self, row: &AuditRow) -> Result<()>;
    async fn list_audit(&self, query: &AuditQuery) -> Result<AuditPage>;
    /// Deletes the audit rows created before `created_before` (a stored datetime); how many.
    async fn delete_audit_before(&self, created_before: &str) -> Result<u64>;

    // --- settings (one JSON document per key) ---
    async fn get_setting(&self, key: &str) -> Result<Option<String>>;
    async fn put_setting(&self, key: &str, value: &str) -> Result<()>;
}

/// Opens the store named by `db_url`, or the SQLite file in `data_dir` when there is none, and
/// brings its schema up to date.
pub async fn open(db_url: Option<&str>, data_dir: &Path) -> Result<Arc<dyn Store>> {
    match db_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(PostgresStore::connect(url).await?))
        }
        Some(url) if url.starts_with("sqlite:") => Ok(Arc::new(SqliteStore::open_url(url).await?)),
        Some(other) => Err(StoreError::Config(format!(
            "unsupported database URL scheme in {:?}: use postgres:// or sqlite:",
            other.split(':').next().unwrap_or_default()
        ))),
        None => Ok(Arc::new(SqliteStore::open_dir(data_dir).await?)),
    }
}
