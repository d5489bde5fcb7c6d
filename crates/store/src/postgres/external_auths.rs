//! OAuth2 links on PostgreSQL. A sign-up's record and link are written in one transaction, so
//! neither exists without the other.

use super::factors::insert_events;
use super::{INSERT_RECORD, PostgresStore, bind_record, map_err};
use crate::external_auths_sql as q;
use crate::{AuditRow, ExternalAuthRow, OAuth2Write, Result};
use sqlx::PgConnection;

/// A record's links, inside its delete's transaction.
pub(super) async fn delete_of_record(c: &mut PgConnection, record_id: &str) -> Result<()> {
    sqlx::query(q::DELETE_RECORD_LINKS)
        .bind(record_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// A collection's links, inside its delete's transaction.
pub(super) async fn delete_of_collection(c: &mut PgConnection, collection_id: &str) -> Result<()> {
    sqlx::query(q::DELETE_COLLECTION_LINKS)
        .bind(collection_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub(super) async fn find(
    store: &PostgresStore,
    collection_id: &str,
    provider: &str,
    provider_id: &str,
) -> Result<Option<ExternalAuthRow>> {
    Ok(sqlx::query_as(q::FIND_LINK)
        .bind(collection_id)
        .bind(provider)
        .bind(provider_id)
        .fetch_optional(&store.pool)
        .await?)
}

pub(super) async fn list(store: &PostgresStore, record_id: &str) -> Result<Vec<ExternalAuthRow>> {
    Ok(sqlx::query_as(q::LIST_LINKS)
        .bind(record_id)
        .fetch_all(&store.pool)
        .await?)
}

pub(super) async fn find_by_id(store: &PostgresStore, id: &str) -> Result<Option<ExternalAuthRow>> {
    Ok(sqlx::query_as(q::FIND_LINK_BY_ID)
        .bind(id)
        .fetch_optional(&store.pool)
        .await?)
}

pub(super) async fn list_all(store: &PostgresStore, limit: i64) -> Result<Vec<ExternalAuthRow>> {
    Ok(sqlx::query_as(q::LIST_ALL_LINKS)
        .bind(limit)
        .fetch_all(&store.pool)
        .await?)
}

pub(super) async fn delete(store: &PostgresStore, id: &str, events: &[AuditRow]) -> Result<bool> {
    let mut tx = store.pool.begin().await?;
    let gone = sqlx::query(q::DELETE_LINK)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if gone == 0 {
        return Ok(false);
    }
    insert_events(&mut tx, events).await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn save(store: &PostgresStore, write: &OAuth2Write) -> Result<()> {
    let mut tx = store.pool.begin().await?;
    if let Some(row) = &write.new_record {
        bind_record(sqlx::query(INSERT_RECORD), row)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
    }
    let l = &write.link;
    if write.drop_other_links {
        sqlx::query(q::DELETE_OTHER_LINKS)
            .bind(&l.record_id)
            .bind(&l.provider)
            .bind(&l.provider_id)
            .execute(&mut *tx)
            .await?;
    }
    if write.link_is_new {
        sqlx::query(q::INSERT_LINK)
            .bind(&l.id)
            .bind(&l.collection_id)
            .bind(&l.record_id)
            .bind(&l.provider)
            .bind(&l.provider_id)
            .bind(&l.created)
            .bind(&l.updated)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
    }
    insert_events(&mut tx, &write.events).await?;
    tx.commit().await?;
    Ok(())
}
