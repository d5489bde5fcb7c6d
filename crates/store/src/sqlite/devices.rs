//! Trusted devices on SQLite. A revoke and the audit event it writes share one transaction on the
//! writer connection, so an event is written only for a device that was there.

use super::factors::{self, insert_events};
use super::{SqliteStore, Tx, positional};
use crate::devices_sql as q;
use crate::{AuditRow, DeviceRow, Result};
use rusqlite::{Connection, OptionalExtension, params};

fn device(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceRow> {
    Ok(DeviceRow {
        id: r.get(0)?,
        collection_id: r.get(1)?,
        record_id: r.get(2)?,
        token_hash: r.get(3)?,
        name: r.get(4)?,
        created: r.get(5)?,
        last_used: r.get(6)?,
        expires_ms: r.get(7)?,
    })
}

/// A record's devices, inside its delete's transaction; how many.
pub(super) fn delete_of_record(c: &Connection, record_id: &str) -> rusqlite::Result<usize> {
    c.prepare_cached(positional!(q::DELETE_RECORD_DEVICES))?
        .execute([record_id])
}

/// A collection's devices, inside its delete's transaction.
pub(super) fn delete_of_collection(c: &Connection, collection_id: &str) -> rusqlite::Result<()> {
    c.execute(positional!(q::DELETE_COLLECTION_DEVICES), [collection_id])
        .map(drop)
}

pub(super) async fn insert(
    store: &SqliteStore,
    row: &DeviceRow,
    events: &[AuditRow],
) -> Result<()> {
    let row = row.clone();
    let events = events.to_vec();
    store
        .write(move |c| {
            let tx = Tx::begin(c)?;
            tx.prepare_cached(positional!(q::INSERT_DEVICE))?
                .execute(params![
                    row.id,
                    row.collection_id,
                    row.record_id,
                    row.token_hash,
                    row.name,
                    row.created,
                    row.last_used,
                    row.expires_ms,
                ])?;
            insert_events(&tx, &events)?;
            tx.commit()
        })
        .await
}

pub(super) fn find(
    store: &SqliteStore,
    record_id: &str,
    token_hashes: &[String],
    now_ms: i64,
) -> Result<Option<DeviceRow>> {
    let hashes = serde_json::Value::from(token_hashes.to_vec()).to_string();
    store.read(|c| {
        c.prepare_cached(positional!(q::FIND_DEVICE_SQLITE))?
            .query_row(params![record_id, now_ms, hashes], device)
            .optional()
    })
}

pub(super) fn list(store: &SqliteStore, record_id: &str, now_ms: i64) -> Result<Vec<DeviceRow>> {
    store.read(|c| {
        c.prepare_cached(positional!(q::LIST_DEVICES))?
            .query_map(params![record_id, now_ms], device)?
            .collect()
    })
}

pub(super) async fn touch(store: &SqliteStore, id: &str, used_at: &str) -> Result<()> {
    let args = [id.to_owned(), used_at.to_owned()].map(rusqlite::types::Value::Text);
    factors::change(store, positional!(q::TOUCH_DEVICE), args)
        .await
        .map(drop)
}

pub(super) async fn delete_one(
    store: &SqliteStore,
    record_id: &str,
    id: &str,
    events: &[AuditRow],
) -> Result<bool> {
    let key = [record_id.to_owned(), id.to_owned()];
    let events = events.to_vec();
    store
        .write(move |c| {
            let tx = Tx::begin(c)?;
            if tx
                .prepare_cached(positional!(q::DELETE_DEVICE))?
                .execute(params![key[0], key[1]])?
                == 0
            {
                return Ok(false);
            }
            insert_events(&tx, &events)?;
            tx.commit()?;
            Ok(true)
        })
        .await
}

pub(super) async fn delete_all(store: &SqliteStore, record_id: &str) -> Result<u64> {
    let record_id = record_id.to_owned();
    store
        .write(move |c| delete_of_record(c, &record_id))
        .await
        .map(count)
}

pub(super) async fn delete_expired(store: &SqliteStore, now_ms: i64) -> Result<u64> {
    store
        .write(move |c| {
            c.prepare_cached(positional!(q::DELETE_EXPIRED_DEVICES))?
                .execute([now_ms])
        })
        .await
        .map(count)
}

fn count(rows: usize) -> u64 {
    u64::try_from(rows).unwrap_or(u64::MAX)
}
