//! Trusted devices on PostgreSQL. A revoke and the audit event it writes share one transaction, and
//! the event is written only when the delete found the device.

use super::factors::{self, insert_events};
use super::{PostgresStore, map_err};
use crate::devices_sql as q;
use crate::{AuditRow, DeviceRow, Result};
use sqlx::PgConnection;

/// A record's devices, inside its delete's transaction; how many.
pub(super) async fn delete_of_record(c: &mut PgConnection, record_id: &str) -> Result<u64> {
    let done = sqlx::query(q::DELETE_RECORD_DEVICES)
        .bind(record_id)
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected())
}

/// A collection's devices, inside its delete's transaction.
pub(super) async fn delete_of_collection(c: &mut PgConnection, collection_id: &str) -> Result<()> {
    sqlx::query(q::DELETE_COLLECTION_DEVICES)
        .bind(collection_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub(super) async fn insert(
    store: &PostgresStore,
    row: &DeviceRow,
    events: &[AuditRow],
) -> Result<()> {
    let mut tx = store.pool.begin().await?;
    sqlx::query(q::INSERT_DEVICE)
        .bind(&row.id)
        .bind(&row.collection_id)
        .bind(&row.record_id)
        .bind(&row.token_hash)
        .bind(&row.name)
        .bind(&row.created)
        .bind(&row.last_used)
        .bind(row.expires_ms)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    insert_events(&mut tx, events).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn find(
    store: &PostgresStore,
    record_id: &str,
    token_hashes: &[String],
    now_ms: i64,
) -> Result<Option<DeviceRow>> {
    Ok(sqlx::query_as(q::FIND_DEVICE_PG)
        .bind(record_id)
        .bind(now_ms)
        .bind(token_hashes)
        .fetch_optional(&store.pool)
        .await?)
}

pub(super) async fn list(
    store: &PostgresStore,
    record_id: &str,
    now_ms: i64,
) -> Result<Vec<DeviceRow>> {
    Ok(sqlx::query_as(q::LIST_DEVICES)
        .bind(record_id)
        .bind(now_ms)
        .fetch_all(&store.pool)
        .await?)
}

pub(super) async fn touch(store: &PostgresStore, id: &str, used_at: &str) -> Result<()> {
    factors::change(store, q::TOUCH_DEVICE, &[id, used_at])
        .await
        .map(drop)
}

pub(super) async fn delete_one(
    store: &PostgresStore,
    record_id: &str,
    id: &str,
    events: &[AuditRow],
) -> Result<bool> {
    let mut tx = store.pool.begin().await?;
    let done = sqlx::query(q::DELETE_DEVICE)
        .bind(record_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    insert_events(&mut tx, events).await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn delete_all(store: &PostgresStore, record_id: &str) -> Result<u64> {
    let mut c = store.pool.acquire().await?;
    delete_of_record(&mut c, record_id).await
}

pub(super) async fn delete_expired(store: &PostgresStore, now_ms: i64) -> Result<u64> {
    let done = sqlx::query(q::DELETE_EXPIRED_DEVICES)
        .bind(now_ms)
        .execute(&store.pool)
        .await?;
    Ok(done.rows_affected())
}
