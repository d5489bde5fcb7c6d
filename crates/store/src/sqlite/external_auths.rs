//! OAuth2 links on SQLite. A sign-up's record and link are written in one transaction on the
//! writer connection, so neither exists without the other.

use super::factors::insert_events;
use super::{SqliteStore, Tx, positional, record_params};
use crate::external_auths_sql as q;
use crate::{AuditRow, ExternalAuthRow, OAuth2Write, Result};
use rusqlite::{Connection, OptionalExtension, params};

fn link(r: &rusqlite::Row<'_>) -> rusqlite::Result<ExternalAuthRow> {
    Ok(ExternalAuthRow {
        id: r.get(0)?,
        collection_id: r.get(1)?,
        record_id: r.get(2)?,
        provider: r.get(3)?,
        provider_id: r.get(4)?,
        created: r.get(5)?,
        updated: r.get(6)?,
    })
}

/// A record's links, inside its delete's transaction.
pub(super) fn delete_of_record(c: &Connection, record_id: &str) -> rusqlite::Result<usize> {
    c.prepare_cached(positional!(q::DELETE_RECORD_LINKS))?
        .execute([record_id])
}

/// A collection's links, inside its delete's transaction.
pub(super) fn delete_of_collection(c: &Connection, collection_id: &str) -> rusqlite::Result<()> {
    c.execute(positional!(q::DELETE_COLLECTION_LINKS), [collection_id])
        .map(drop)
}

pub(super) fn find(
    store: &SqliteStore,
    collection_id: &str,
    provider: &str,
    provider_id: &str,
) -> Result<Option<ExternalAuthRow>> {
    store.read(|c| {
        c.prepare_cached(positional!(q::FIND_LINK))?
            .query_row(params![collection_id, provider, provider_id], link)
            .optional()
    })
}

pub(super) fn list(store: &SqliteStore, record_id: &str) -> Result<Vec<ExternalAuthRow>> {
    store.read(|c| {
        c.prepare_cached(positional!(q::LIST_LINKS))?
            .query_map([record_id], link)?
            .collect()
    })
}

pub(super) fn find_by_id(store: &SqliteStore, id: &str) -> Result<Option<ExternalAuthRow>> {
    store.read(|c| {
        c.prepare_cached(positional!(q::FIND_LINK_BY_ID))?
            .query_row([id], link)
            .optional()
    })
}

pub(super) fn list_all(store: &SqliteStore, limit: i64) -> Result<Vec<ExternalAuthRow>> {
    store.read_scan(|c| {
        c.prepare_cached(positional!(q::LIST_ALL_LINKS))?
            .query_map([limit], link)?
            .collect()
    })
}

pub(super) async fn delete(store: &SqliteStore, id: &str, events: &[AuditRow]) -> Result<bool> {
    let (id, events) = (id.to_owned(), events.to_vec());
    store
        .write(move |c| {
            let tx = Tx::begin(c)?;
            let gone = tx
                .prepare_cached(positional!(q::DELETE_LINK))?
                .execute([&id])?;
            if gone == 0 {
                return Ok(false);
            }
            insert_events(&tx, &events)?;
            tx.commit().map(|()| true)
        })
        .await
}

pub(super) async fn save(store: &SqliteStore, write: &OAuth2Write) -> Result<()> {
    let write = write.clone();
    store
        .write(move |c| {
            let tx = Tx::begin(c)?;
            if let Some(row) = &write.new_record {
                tx.prepare_cached(super::INSERT_RECORD)?
                    .execute(record_params(row))?;
            }
            let l = &write.link;
            if write.drop_other_links {
                tx.prepare_cached(positional!(q::DELETE_OTHER_LINKS))?
                    .execute(params![l.record_id, l.provider, l.provider_id])?;
            }
            if write.link_is_new {
                tx.prepare_cached(positional!(q::INSERT_LINK))?
                    .execute(params![
                        l.id,
                        l.collection_id,
                        l.record_id,
                        l.provider,
                        l.provider_id,
                        l.created,
                        l.updated,
                    ])?;
            }
            insert_events(&tx, &write.events)?;
            tx.commit()
        })
        .await
}
