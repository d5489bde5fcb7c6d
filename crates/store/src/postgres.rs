//! PostgreSQL backend, for deployments with more than one Gatehouse instance. A `schema=NAME`
//! parameter in the URL keeps Gatehouse's tables in their own schema (created if missing), so one
//! database can host several installations or test runs side by side.

mod devices;
mod external_auths;
mod factors;

use crate::condition::{Dialect, Param};
use crate::model::{name_index_field, unique_target};
use crate::{
    AuditPage, AuditQuery, AuditRow, CollectionRow, DeviceRow, ExternalAuthRow, FactorRow,
    ListQuery, OAuth2Write, Page, RecordChanges, RecordRow, Result, Store, StoreError, TicketKey,
    TicketRow, UniqueIndex, record_write, sql,
};
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Executor, PgPool};
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

const RECORD_COLUMNS: &str = "id, collection_id, email, email_visibility, verified, password_hash, token_key, data::text AS data, created, updated";

/// Binds one condition parameter to a sqlx query (query and query_scalar have no common trait).
macro_rules! bind {
    ($q:expr, $p:expr) => {
        match $p {
            Param::Text(s) => $q.bind(s.clone()),
            Param::Real(n) => $q.bind(*n),
            Param::Int(n) => $q.bind(*n),
            Param::Bool(b) => $q.bind(*b),
            Param::Path(path) => $q.bind(path.clone()),
        }
    };
}

fn bind_audit<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    e: &AuditRow,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    q.bind(e.id.clone())
        .bind(e.kind.clone())
        .bind(e.created.clone())
        .bind(e.collection_id.clone())
        .bind(e.record_id.clone())
        .bind(e.method.clone())
        .bind(e.ip.clone())
        .bind(e.user_agent.clone())
        .bind(e.data.clone())
}

pub struct PostgresStore {
    pool: PgPool,
    /// When (clock time) this instance next deletes lapsed counter windows.
    next_sweep_ms: AtomicI64,
}

/// Lapsed counter windows are deleted about this often, so the table follows the live windows.
const SWEEP_EVERY_MS: i64 = 1000;

impl PostgresStore {
    pub async fn connect(url: &str) -> Result<Self> {
        let (url, schema) = split_schema(url)?;
        let options = PgConnectOptions::from_str(&url)?;
        if let Some(schema) = &schema {
            // One short-lived connection creates the schema before the pool pins its search_path.
            let bootstrap = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await?;
            sqlx::query(AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
            )))
            .execute(&bootstrap)
            .await?;
            bootstrap.close().await;
        }
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                let schema = schema.clone();
                Box::pin(async move {
                    if let Some(schema) = schema {
                        conn.execute(AssertSqlSafe(format!("SET search_path TO \"{schema}\"")))
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        // sqlx takes an advisory lock here, so instances starting together migrate once.
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self {
            pool,
            next_sweep_ms: AtomicI64::new(0),
        })
    }
}

/// Takes Gatehouse's own `schema` parameter out of the URL (the driver would refuse it) and checks
/// it is a plain identifier, since it ends up in `SET search_path`.
fn split_schema(url: &str) -> Result<(String, Option<String>)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut schema = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.strip_prefix("schema=") {
            Some(name) => schema = Some(name.to_owned()),
            None => kept.push(pair),
        }
    }
    if let Some(name) = &schema {
        let valid = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(StoreError::Config(format!(
                "schema {name:?} must be lower-case letters, digits and '_' (not starting with a digit)"
            )));
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, schema))
}

const INSERT_RECORD: &str = "INSERT INTO records (id, collection_id, email, email_visibility, verified, password_hash, token_key, data, created, updated) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)";

fn map_err(err: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        let constraint = db.constraint().unwrap_or_default();
        let target = match constraint {
            "records_email" => "email".to_owned(),
            "records_token_key" => "tokenKey".to_owned(),
            "collections_name" => "name".to_owned(),
            "factors_record_kind" => "kind".to_owned(),
            name if name.starts_with("gh_uniq_") => unique_target(name),
            _ => "id".to_owned(),
        };
        return StoreError::Unique { target };
    }
    StoreError::Backend(err)
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn list_collections(&self) -> Result<Vec<CollectionRow>> {
        Ok(sqlx::query_as(sql::LIST_COLLECTIONS)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn insert_collection(&self, row: &CollectionRow) -> Result<()> {
        sqlx::query(sql::INSERT_COLLECTION)
            .bind(&row.id)
            .bind(&row.name)
            .bind(&row.kind)
            .bind(row.system)
            .bind(&row.definition)
            .bind(&row.created)
            .bind(&row.updated)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn update_collection(&self, row: &CollectionRow) -> Result<()> {
        let done = sqlx::query(sql::UPDATE_COLLECTION)
            .bind(&row.id)
            .bind(&row.name)
            .bind(&row.kind)
            .bind(row.system)
            .bind(&row.definition)
            .bind(&row.updated)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_collection(&self, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for name in index_names(&mut tx, id).await? {
            sqlx::query(AssertSqlSafe(format!("DROP INDEX IF EXISTS \"{name}\"")))
                .execute(&mut *tx)
                .await?;
        }
        for statement in [
            sql::DELETE_COLLECTION,
            record_write::DELETE_COLLECTION_TICKETS,
        ] {
            sqlx::query(statement).bind(id).execute(&mut *tx).await?;
        }
        factors::delete_of_collection(&mut tx, id).await?;
        devices::delete_of_collection(&mut tx, id).await?;
        external_auths::delete_of_collection(&mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn sync_unique_indexes(&self, collection_id: &str, wanted: &[UniqueIndex]) -> Result<()> {
        let wanted_names: Vec<String> = wanted
            .iter()
            .map(|i| i.physical_name(collection_id))
            .collect();
        let mut tx = self.pool.begin().await?;
        for name in index_names(&mut tx, collection_id).await? {
            if !wanted_names.contains(&name) {
                sqlx::query(AssertSqlSafe(format!("DROP INDEX IF EXISTS \"{name}\"")))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        // Names are built from checked identifiers ([A-Za-z0-9_]); the partial index keeps the
        // constraint inside one collection and lets empty values repeat, like PocketBase's.
        for (index, name) in wanted.iter().zip(&wanted_names) {
            let field = &index.field;
            let value = if index.nocase {
                format!("lower(data ->> '{field}')")
            } else {
                format!("(data ->> '{field}')")
            };
            let ddl = format!(
                "CREATE UNIQUE INDEX IF NOT EXISTS \"{name}\" ON records ({value}) \
                 WHERE collection_id = '{collection_id}' AND COALESCE(data ->> '{field}', '') <> ''"
            );
            sqlx::query(AssertSqlSafe(ddl))
                .execute(&mut *tx)
                .await
                .map_err(|e| name_index_field(map_err(e), wanted, collection_id))?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn find_record(&self, collection_id: &str, id: &str) -> Result<Option<RecordRow>> {
        const Q: &str = "SELECT id, collection_id, email, email_visibility, verified, password_hash, token_key, data::text AS data, created, updated \
                         FROM records WHERE collection_id = $1 AND id = $2";
        Ok(sqlx::query_as(Q)
            .bind(collection_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn find_record_by_email(
        &self,
        collection_id: &str,
        email: &str,
    ) -> Result<Option<RecordRow>> {
        const Q: &str = "SELECT id, collection_id, email, email_visibility, verified, password_hash, token_key, data::text AS data, created, updated \
                         FROM records WHERE collection_id = $1 AND email = $2 AND email <> ''";
        Ok(sqlx::query_as(Q)
            .bind(collection_id)
            .bind(email)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn find_record_by_field(
        &self,
        collection_id: &str,
        field: &str,
        value: &str,
        nocase: bool,
    ) -> Result<Option<RecordRow>> {
        let compare = if nocase {
            "lower(data ->> $2) = lower($3)"
        } else {
            "(data ->> $2) = $3"
        };
        let q = format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE collection_id = $1 AND {compare} LIMIT 1"
        );
        Ok(sqlx::query_as(AssertSqlSafe(q))
            .bind(collection_id)
            .bind(field)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn insert_record(&self, row: &RecordRow) -> Result<()> {
        bind_record(sqlx::query(INSERT_RECORD), row)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn update_record(
        &self,
        collection_id: &str,
        id: &str,
        changes: &RecordChanges,
        expected_token_key: Option<&str>,
        events: &[AuditRow],
    ) -> Result<()> {
        let (q, params) = record_write::update(
            collection_id,
            id,
            changes,
            expected_token_key,
            Dialect::Postgres,
        );
        let mut update = sqlx::query(AssertSqlSafe(q));
        for p in &params {
            update = bind!(update, p);
        }
        let mut tx = self.pool.begin().await?;
        let done = update.execute(&mut *tx).await.map_err(map_err)?;
        if done.rows_affected() == 0 {
            let exists: i64 = sqlx::query_scalar(record_write::RECORD_EXISTS)
                .bind(collection_id)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            return Err(if exists > 0 {
                StoreError::Stale
            } else {
                StoreError::NotFound
            });
        }
        for event in events {
            bind_audit(sqlx::query(sql::INSERT_AUDIT), event)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn replace_password_hash(
        &self,
        id: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool> {
        let done = sqlx::query(sql::REPLACE_PASSWORD_HASH)
            .bind(id)
            .bind(old_hash)
            .bind(new_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_record(&self, collection_id: &str, id: &str, keep_last: bool) -> Result<bool> {
        // The count locks the collection's rows (in one order, so two deletes cannot deadlock):
        // a concurrent delete waits, then counts without the row the first one deleted.
        const KEEPING_ONE: &str = "DELETE FROM records WHERE collection_id = $1 AND id = $2 AND (SELECT COUNT(*) \
                                   FROM (SELECT 1 FROM records WHERE collection_id = $1 ORDER BY id FOR UPDATE) AS locked) > 1";
        let delete = if keep_last {
            KEEPING_ONE
        } else {
            record_write::DELETE
        };
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(delete)
            .bind(collection_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let deleted = done.rows_affected() == 1;
        if deleted {
            sqlx::query(record_write::DELETE_TICKETS)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            factors::delete_of_record(&mut tx, id).await?;
            devices::delete_of_record(&mut tx, id).await?;
            external_auths::delete_of_record(&mut tx, id).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn count_records(&self, collection_id: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(sql::COUNT_RECORDS)
            .bind(collection_id)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn list_records(&self, query: &ListQuery) -> Result<Page> {
        let list = sql::list_records(query, Dialect::Postgres);
        let mut rows = sqlx::query_as::<_, RecordRow>(AssertSqlSafe(list.page(RECORD_COLUMNS)));
        for p in &list.params {
            rows = bind!(rows, p);
        }
        let rows = rows.fetch_all(&self.pool).await?;
        let total = if query.skip_total {
            None
        } else {
            let mut count = sqlx::query_scalar::<_, i64>(AssertSqlSafe(list.count()));
            for p in &list.params[..list.count_params] {
                count = bind!(count, p);
            }
            Some(count.fetch_one(&self.pool).await?)
        };
        Ok(Page { rows, total })
    }

    async fn counter_hit(&self, key: &str, now_ms: i64, window_ms: i64) -> Result<i64> {
        let due = self.next_sweep_ms.load(Ordering::Relaxed);
        if now_ms >= due
            && self
                .next_sweep_ms
                .compare_exchange(
                    due,
                    now_ms.saturating_add(SWEEP_EVERY_MS),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            sqlx::query("DELETE FROM counters WHERE window_end <= $1")
                .bind(now_ms)
                .execute(&self.pool)
                .await?;
        }
        // One statement, so concurrent hits from several instances count exactly.
        // The window's end saturates here: bigint arithmetic in SQL would fail instead.
        Ok(sqlx::query_scalar(
            "INSERT INTO counters (key, window_end, hits) VALUES ($1, $3, 1) \
             ON CONFLICT (key) DO UPDATE SET \
               hits = CASE WHEN counters.window_end <= $2 THEN 1 ELSE counters.hits + 1 END, \
               window_end = CASE WHEN counters.window_end <= $2 THEN $3 ELSE counters.window_end END \
             RETURNING hits",
        )
        .bind(key)
        .bind(now_ms)
        .bind(now_ms.saturating_add(window_ms))
        .fetch_one(&self.pool)
        .await?)
    }

    async fn counter_get(&self, key: &str, now_ms: i64) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT hits FROM counters WHERE key = $1 AND window_end > $2")
                .bind(key)
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or(0),
        )
    }

    async fn counter_unhit(&self, key: &str, now_ms: i64) -> Result<()> {
        sqlx::query(
            "UPDATE counters SET hits = hits - 1 WHERE key = $1 AND window_end > $2 AND hits > 0",
        )
        .bind(key)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn counter_reset(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM counters WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn counters_clear(&self, prefix: &str) -> Result<()> {
        sqlx::query("DELETE FROM counters WHERE starts_with(key, $1)")
            .bind(prefix)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_ticket(&self, row: &TicketRow, events: &[AuditRow]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(sql::INSERT_TICKET)
            .bind(&row.id)
            .bind(&row.kind)
            .bind(&row.collection_id)
            .bind(&row.record_id)
            .bind(&row.secret_hash)
            .bind(&row.data)
            .bind(row.created_ms)
            .bind(row.expires_ms)
            .bind(row.failures)
            .execute(&mut *tx)
            .await?;
        for event in events {
            bind_audit(sqlx::query(sql::INSERT_AUDIT), event)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn find_ticket(&self, id: &str, kind: &str, now_ms: i64) -> Result<Option<TicketRow>> {
        Ok(sqlx::query_as(sql::FIND_TICKET)
            .bind(id)
            .bind(kind)
            .bind(now_ms)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn consume_ticket(
        &self,
        key: TicketKey<'_>,
        secret_hash: &str,
        max_failures: i64,
        now_ms: i64,
    ) -> Result<Option<TicketRow>> {
        Ok(sqlx::query_as(sql::CONSUME_TICKET)
            .bind(key.id)
            .bind(key.kind)
            .bind(key.record_id)
            .bind(secret_hash)
            .bind(now_ms)
            .bind(max_failures)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn fail_ticket(
        &self,
        key: TicketKey<'_>,
        limit: i64,
        now_ms: i64,
    ) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(sql::FAIL_TICKET)
            .bind(key.id)
            .bind(key.kind)
            .bind(key.record_id)
            .bind(now_ms)
            .bind(limit)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn delete_ticket(&self, key: TicketKey<'_>) -> Result<()> {
        sqlx::query(sql::DELETE_TICKET)
            .bind(key.id)
            .bind(key.kind)
            .bind(key.record_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_record_tickets(&self, record_id: &str, kind: &str) -> Result<()> {
        sqlx::query(sql::DELETE_RECORD_TICKETS)
            .bind(record_id)
            .bind(kind)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn live_tickets(
        &self,
        record_id: &str,
        kind: &str,
        now_ms: i64,
    ) -> Result<Vec<TicketRow>> {
        Ok(sqlx::query_as(sql::LIVE_TICKETS)
            .bind(record_id)
            .bind(kind)
            .bind(now_ms)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn delete_expired_tickets(&self, now_ms: i64) -> Result<()> {
        sqlx::query(sql::DELETE_EXPIRED_TICKETS)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_factors(&self, record_id: &str) -> Result<Vec<FactorRow>> {
        factors::rows_where(self, crate::factors_sql::LIST_FACTORS, record_id).await
    }

    async fn put_pending_factor(&self, row: &FactorRow, events: &[AuditRow]) -> Result<()> {
        factors::put_pending(self, row, events).await
    }

    async fn verify_factor(
        &self,
        record_id: &str,
        id: &str,
        last_step: i64,
        backup: Option<(&FactorRow, &[String])>,
        events: &[AuditRow],
    ) -> Result<bool> {
        factors::verify(self, record_id, id, last_step, backup, events).await
    }

    async fn replace_backup_codes(
        &self,
        row: &FactorRow,
        code_hashes: &[String],
        events: &[AuditRow],
    ) -> Result<()> {
        factors::replace_backup_codes(self, row, code_hashes, events).await
    }

    async fn consume_backup_code(
        &self,
        record_id: &str,
        code_hashes: &[String],
        used_at: &str,
    ) -> Result<Option<i64>> {
        factors::consume_backup_code(self, record_id, code_hashes, used_at).await
    }

    async fn count_backup_codes(&self, record_id: &str) -> Result<i64> {
        factors::count_codes(self, record_id).await
    }

    async fn use_totp_step(&self, factor_id: &str, step: i64, used_at: &str) -> Result<bool> {
        factors::use_totp_step(self, factor_id, step, used_at).await
    }

    async fn complete_second_step(
        &self,
        session: TicketKey<'_>,
        max_failures: i64,
        now_ms: i64,
        spend: crate::Spend<'_>,
        events: &[AuditRow],
    ) -> Result<crate::StepOutcome> {
        factors::complete_second_step(self, session, max_failures, now_ms, spend, events).await
    }

    async fn touch_factor(&self, factor_id: &str, used_at: &str) -> Result<()> {
        factors::change(
            self,
            crate::factors_sql::TOUCH_FACTOR,
            &[factor_id, used_at],
        )
        .await
        .map(drop)
    }

    async fn delete_factor(
        &self,
        record_id: &str,
        kind: &str,
        events: &[AuditRow],
    ) -> Result<bool> {
        factors::delete_one(self, record_id, kind, events).await
    }

    async fn delete_factors(&self, record_id: &str, events: &[AuditRow]) -> Result<u64> {
        factors::delete_all(self, record_id, events).await
    }

    async fn factors_of_kind(&self, kind: &str) -> Result<Vec<FactorRow>> {
        factors::rows_where(self, crate::factors_sql::FACTORS_OF_KIND, kind).await
    }

    async fn replace_factor_secret(&self, id: &str, old: &str, new: &str) -> Result<bool> {
        factors::change(
            self,
            crate::factors_sql::REPLACE_FACTOR_SECRET,
            &[id, old, new],
        )
        .await
    }

    async fn insert_device(&self, row: &DeviceRow, events: &[AuditRow]) -> Result<()> {
        devices::insert(self, row, events).await
    }

    async fn find_device(
        &self,
        record_id: &str,
        token_hashes: &[String],
        now_ms: i64,
    ) -> Result<Option<DeviceRow>> {
        devices::find(self, record_id, token_hashes, now_ms).await
    }

    async fn touch_device(&self, id: &str, used_at: &str) -> Result<()> {
        devices::touch(self, id, used_at).await
    }

    async fn list_devices(&self, record_id: &str, now_ms: i64) -> Result<Vec<DeviceRow>> {
        devices::list(self, record_id, now_ms).await
    }

    async fn delete_device(&self, record_id: &str, id: &str, events: &[AuditRow]) -> Result<bool> {
        devices::delete_one(self, record_id, id, events).await
    }

    async fn delete_devices(&self, record_id: &str) -> Result<u64> {
        devices::delete_all(self, record_id).await
    }

    async fn delete_expired_devices(&self, now_ms: i64) -> Result<u64> {
        devices::delete_expired(self, now_ms).await
    }

    async fn delete_audit_before(&self, created_before: &str) -> Result<u64> {
        let done = sqlx::query(sql::DELETE_AUDIT_BEFORE)
            .bind(created_before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn find_external_auth(
        &self,
        collection_id: &str,
        provider: &str,
        provider_id: &str,
    ) -> Result<Option<ExternalAuthRow>> {
        external_auths::find(self, collection_id, provider, provider_id).await
    }

    async fn list_external_auths(&self, record_id: &str) -> Result<Vec<ExternalAuthRow>> {
        external_auths::list(self, record_id).await
    }

    async fn find_external_auth_by_id(&self, id: &str) -> Result<Option<ExternalAuthRow>> {
        external_auths::find_by_id(self, id).await
    }

    async fn list_all_external_auths(&self, limit: i64) -> Result<Vec<ExternalAuthRow>> {
        external_auths::list_all(self, limit).await
    }

    async fn delete_external_auth(&self, id: &str, events: &[AuditRow]) -> Result<bool> {
        external_auths::delete(self, id, events).await
    }

    async fn save_oauth2_login(&self, write: &OAuth2Write) -> Result<()> {
        external_auths::save(self, write).await
    }

    async fn insert_audit(&self, row: &AuditRow) -> Result<()> {
        bind_audit(sqlx::query(sql::INSERT_AUDIT), row)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_audit(&self, query: &AuditQuery) -> Result<AuditPage> {
        let (filter, params) = sql::audit_filter(query, Dialect::Postgres);
        let n = params.len();
        let select = format!(
            "SELECT id, type, created, collection_id, record_id, method, ip, user_agent, data \
             FROM audit{filter} ORDER BY created DESC, seq DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut rows = sqlx::query_as::<_, AuditRow>(AssertSqlSafe(select));
        let mut count = sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM audit{filter}"
        )));
        for p in &params {
            rows = bind!(rows, p);
            count = bind!(count, p);
        }
        Ok(AuditPage {
            rows: rows
                .bind(query.limit)
                .bind(query.offset)
                .fetch_all(&self.pool)
                .await?,
            total: count.fetch_one(&self.pool).await?,
        })
    }

    async fn get_setting(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(sql::GET_SETTING)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(sql::PUT_SETTING)
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Binds every column of a record, in table order ($1 = id … $10 = updated).
fn bind_record<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    row: &'q RecordRow,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    query
        .bind(&row.id)
        .bind(&row.collection_id)
        .bind(&row.email)
        .bind(row.email_visibility)
        .bind(row.verified)
        .bind(&row.password_hash)
        .bind(&row.token_key)
        .bind(&row.data)
        .bind(&row.created)
        .bind(&row.updated)
}

/// Our unique indexes on one collection's custom fields, under current or legacy names.
async fn index_names(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    collection_id: &str,
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'records' \
         AND (left(indexname, length($1)) = $1 OR left(indexname, length($2)) = $2)",
    )
    .bind(UniqueIndex::collection_prefix(collection_id))
    .bind(UniqueIndex::legacy_prefix(collection_id))
    .fetch_all(&mut **tx)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::split_schema;

    #[test]
    fn schema_parameter_is_taken_out_of_the_url() {
        let (url, schema) =
            split_schema("postgres://u@h/db?schema=gh_1&sslmode=disable").unwrap_or_default();
        assert_eq!(url, "postgres://u@h/db?sslmode=disable");
        assert_eq!(schema.as_deref(), Some("gh_1"));
        assert!(split_schema("postgres://u@h/db?schema=a\";drop").is_err());
        assert!(split_schema("postgres://u@h/db?schema=1abc").is_err());
    }
}
