//! Second factors on PostgreSQL. Instances write concurrently, so every use of a one-time thing is
//! one conditional statement: the row lock it takes makes a concurrent use wait, then find the
//! row changed (a newer step) or gone (a used code), and change nothing.

use super::{PostgresStore, bind_audit, map_err};
use crate::factors_sql as q;
use crate::{AuditRow, FactorRow, Result, Spend, StepOutcome, StoreError, TicketKey};
use sqlx::{PgConnection, Postgres};

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

/// A backup code's use: one row of the record whose hash is any of `$2`, deleted by its tuple id so
/// that one call never takes two codes. A concurrent delete of the same row makes this one wait,
/// then find the row gone and delete nothing.
const CONSUME_BACKUP_CODE: &str = "DELETE FROM factor_codes WHERE ctid = (SELECT ctid FROM factor_codes \
     WHERE record_id = $1 AND code_hash = ANY($2) LIMIT 1)";

/// Binds every column of a factor, in table order ($1 = id … $11 = last_step).
fn bind_factor<'q>(query: PgQuery<'q>, row: &'q FactorRow) -> PgQuery<'q> {
    query
        .bind(&row.id)
        .bind(&row.collection_id)
        .bind(&row.record_id)
        .bind(&row.kind)
        .bind(&row.status)
        .bind(&row.secret)
        .bind(&row.target)
        .bind(&row.data)
        .bind(&row.created)
        .bind(&row.last_used)
        .bind(row.last_step)
}

pub(super) async fn insert_events(c: &mut PgConnection, events: &[AuditRow]) -> Result<()> {
    for event in events {
        bind_audit(sqlx::query(crate::sql::INSERT_AUDIT), event)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// The record's backup-code set becomes `row` with these hashes.
async fn replace_codes(c: &mut PgConnection, row: &FactorRow, hashes: &[String]) -> Result<()> {
    for statement in [q::DELETE_BACKUP_CODES, q::DELETE_BACKUP_FACTOR] {
        sqlx::query(statement)
            .bind(&row.record_id)
            .execute(&mut *c)
            .await?;
    }
    bind_factor(sqlx::query(q::INSERT_FACTOR), row)
        .execute(&mut *c)
        .await
        .map_err(map_err)?;
    for hash in hashes {
        sqlx::query(q::INSERT_BACKUP_CODE)
            .bind(&row.id)
            .bind(&row.record_id)
            .bind(hash)
            .execute(&mut *c)
            .await
            .map_err(map_err)?;
    }
    Ok(())
}

/// A record's factors and codes, inside its delete's transaction; how many factors.
pub(super) async fn delete_of_record(c: &mut PgConnection, record_id: &str) -> Result<u64> {
    sqlx::query(q::DELETE_RECORD_CODES)
        .bind(record_id)
        .execute(&mut *c)
        .await?;
    let done = sqlx::query(q::DELETE_RECORD_FACTORS)
        .bind(record_id)
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected())
}

/// A collection's factors and codes, inside its delete's transaction.
pub(super) async fn delete_of_collection(c: &mut PgConnection, collection_id: &str) -> Result<()> {
    for statement in [q::DELETE_COLLECTION_CODES, q::DELETE_COLLECTION_FACTORS] {
        sqlx::query(statement)
            .bind(collection_id)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

pub(super) async fn rows_where(
    store: &PostgresStore,
    query: &'static str,
    arg: &str,
) -> Result<Vec<FactorRow>> {
    Ok(sqlx::query_as(query)
        .bind(arg)
        .fetch_all(&store.pool)
        .await?)
}

pub(super) async fn count_codes(store: &PostgresStore, record_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(q::COUNT_BACKUP_CODES)
        .bind(record_id)
        .fetch_one(&store.pool)
        .await?)
}

pub(super) async fn put_pending(
    store: &PostgresStore,
    row: &FactorRow,
    events: &[AuditRow],
) -> Result<()> {
    let row = row.as_pending();
    let mut tx = store.pool.begin().await?;
    let done = bind_factor(sqlx::query(q::PUT_PENDING_FACTOR), &row)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Unique {
            target: "kind".to_owned(),
        });
    }
    insert_events(&mut tx, events).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn verify(
    store: &PostgresStore,
    record_id: &str,
    id: &str,
    last_step: i64,
    backup: Option<(&FactorRow, &[String])>,
    events: &[AuditRow],
) -> Result<bool> {
    let mut tx = store.pool.begin().await?;
    let done = sqlx::query(q::VERIFY_FACTOR)
        .bind(record_id)
        .bind(id)
        .bind(last_step)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    if let Some((row, hashes)) = backup {
        replace_codes(&mut tx, row, hashes).await?;
    }
    insert_events(&mut tx, events).await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn replace_backup_codes(
    store: &PostgresStore,
    row: &FactorRow,
    code_hashes: &[String],
    events: &[AuditRow],
) -> Result<()> {
    let mut tx = store.pool.begin().await?;
    replace_codes(&mut tx, row, code_hashes).await?;
    insert_events(&mut tx, events).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn consume_backup_code(
    store: &PostgresStore,
    record_id: &str,
    code_hashes: &[String],
    used_at: &str,
) -> Result<Option<i64>> {
    let mut tx = store.pool.begin().await?;
    let left = spend_code(&mut tx, record_id, code_hashes, used_at).await?;
    if left.is_some() {
        tx.commit().await?;
    }
    Ok(left)
}

/// Spends one backup code inside the caller's transaction and stamps the set; the codes left, or
/// `None` when none matched (nothing changed).
async fn spend_code(
    c: &mut PgConnection,
    record_id: &str,
    code_hashes: &[String],
    used_at: &str,
) -> Result<Option<i64>> {
    let done = sqlx::query(CONSUME_BACKUP_CODE)
        .bind(record_id)
        .bind(code_hashes)
        .execute(&mut *c)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    sqlx::query(q::TOUCH_BACKUP_FACTOR)
        .bind(record_id)
        .bind(used_at)
        .execute(&mut *c)
        .await?;
    Ok(Some(
        sqlx::query_scalar(q::COUNT_BACKUP_CODES)
            .bind(record_id)
            .fetch_one(&mut *c)
            .await?,
    ))
}

/// Records a TOTP step inside the caller's transaction (or on its own); whether it was newer.
async fn spend_step<'c>(
    c: impl sqlx::PgExecutor<'c>,
    factor_id: &str,
    step: i64,
    used_at: &str,
) -> Result<bool> {
    let done = sqlx::query(q::USE_TOTP_STEP)
        .bind(factor_id)
        .bind(step)
        .bind(used_at)
        .execute(c)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn complete_second_step(
    store: &PostgresStore,
    session: TicketKey<'_>,
    max_failures: i64,
    now_ms: i64,
    spend: Spend<'_>,
    events: &[AuditRow],
) -> Result<StepOutcome> {
    // Dropping the transaction without a commit rolls back whatever it did so far.
    let mut tx = store.pool.begin().await?;
    let consumed = sqlx::query(crate::sql::CONSUME_TICKET)
        .bind(session.id)
        .bind(session.kind)
        .bind(session.record_id)
        .bind("")
        .bind(now_ms)
        .bind(max_failures)
        .execute(&mut *tx)
        .await?;
    if consumed.rows_affected() == 0 {
        return Ok(StepOutcome::NoSession);
    }
    let backup_codes_left = match spend {
        Spend::TotpStep {
            factor_id,
            step,
            used_at,
        } => match spend_step(&mut *tx, factor_id, step, used_at).await? {
            true => None,
            false => return Ok(StepOutcome::Refused),
        },
        Spend::BackupCode {
            record_id,
            code_hashes,
            used_at,
        } => match spend_code(&mut tx, record_id, code_hashes, used_at).await? {
            Some(left) => Some(left),
            None => return Ok(StepOutcome::Refused),
        },
    };
    insert_events(&mut tx, events).await?;
    tx.commit().await?;
    Ok(StepOutcome::Done { backup_codes_left })
}

pub(super) async fn use_totp_step(
    store: &PostgresStore,
    factor_id: &str,
    step: i64,
    used_at: &str,
) -> Result<bool> {
    spend_step(&store.pool, factor_id, step, used_at).await
}

/// One conditional statement over text parameters; whether it changed a row.
pub(super) async fn change(
    store: &PostgresStore,
    query: &'static str,
    args: &[&str],
) -> Result<bool> {
    let mut statement = sqlx::query(query);
    for arg in args {
        statement = statement.bind(*arg);
    }
    Ok(statement.execute(&store.pool).await?.rows_affected() > 0)
}

pub(super) async fn delete_one(
    store: &PostgresStore,
    record_id: &str,
    kind: &str,
    events: &[AuditRow],
) -> Result<bool> {
    let mut tx = store.pool.begin().await?;
    sqlx::query(q::DELETE_FACTOR_CODES)
        .bind(record_id)
        .bind(kind)
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query(q::DELETE_FACTOR)
        .bind(record_id)
        .bind(kind)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    insert_events(&mut tx, events).await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn delete_all(
    store: &PostgresStore,
    record_id: &str,
    events: &[AuditRow],
) -> Result<u64> {
    let mut tx = store.pool.begin().await?;
    let deleted = delete_of_record(&mut tx, record_id).await?;
    insert_events(&mut tx, events).await?;
    tx.commit().await?;
    Ok(deleted)
}
