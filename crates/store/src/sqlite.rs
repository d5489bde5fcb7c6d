//! SQLite backend: one file in the data directory, WAL mode, a single writer connection (SQLite
//! allows one writer at a time; queuing in the pool beats "database is locked" errors) and a small
//! pool of readers.

use crate::{
    CollectionRow, ListQuery, Page, RecordRow, Result, Store, StoreError, UniqueIndex, sql,
};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

const RECORD_COLUMNS: &str = "id, collection_id, email, email_visibility, verified, password_hash, token_key, data, created, updated";

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it if needed) `data.db` inside `dir`.
    pub async fn open_dir(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Config(format!("cannot create data dir {}: {e}", dir.display()))
        })?;
        let options = SqliteConnectOptions::new().filename(dir.join("data.db"));
        Self::open(options).await
    }

    pub async fn open_url(url: &str) -> Result<Self> {
        Self::open(SqliteConnectOptions::from_str(url)?).await
    }

    async fn open(options: SqliteConnectOptions) -> Result<Self> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self { writer, reader })
    }
}

/// Turns SQLite's unique-constraint message into the name of what clashed.
fn map_err(err: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        let msg = db.message();
        let target = if let Some(idx) = msg.split("index '").nth(1) {
            // Our custom-field indexes: gh_uniq_<collection>__<field>[_ci]
            let name = idx.trim_end_matches('\'');
            let field = name.split("__").nth(1).unwrap_or(name);
            field.strip_suffix("_ci").unwrap_or(field).to_owned()
        } else if msg.contains("records.email") {
            "email".to_owned()
        } else if msg.contains("records.token_key") {
            "tokenKey".to_owned()
        } else if msg.contains("collections.name") {
            "name".to_owned()
        } else {
            "id".to_owned()
        };
        return StoreError::Unique { target };
    }
    StoreError::Backend(err)
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn list_collections(&self) -> Result<Vec<CollectionRow>> {
        Ok(sqlx::query_as(sql::LIST_COLLECTIONS)
            .fetch_all(&self.reader)
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
            .execute(&self.writer)
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
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_collection(&self, id: &str) -> Result<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        for name in index_names(&mut tx, id).await? {
            sqlx::query(AssertSqlSafe(format!("DROP INDEX IF EXISTS \"{name}\"")))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(sql::DELETE_COLLECTION)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn sync_unique_indexes(&self, collection_id: &str, wanted: &[UniqueIndex]) -> Result<()> {
        let wanted_names: Vec<String> = wanted
            .iter()
            .map(|i| i.physical_name(collection_id))
            .collect();
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
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
            let collate = if index.nocase { " COLLATE NOCASE" } else { "" };
            let field = &index.field;
            let ddl = format!(
                "CREATE UNIQUE INDEX IF NOT EXISTS \"{name}\" ON records \
                 (json_extract(data, '$.{field}'){collate}) \
                 WHERE collection_id = '{collection_id}' AND COALESCE(json_extract(data, '$.{field}'), '') <> ''"
            );
            sqlx::query(AssertSqlSafe(ddl))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn find_record(&self, collection_id: &str, id: &str) -> Result<Option<RecordRow>> {
        const Q: &str = "SELECT id, collection_id, email, email_visibility, verified, password_hash, token_key, data, created, updated \
                         FROM records WHERE collection_id = $1 AND id = $2";
        Ok(sqlx::query_as(Q)
            .bind(collection_id)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn find_record_by_email(
        &self,
        collection_id: &str,
        email: &str,
    ) -> Result<Option<RecordRow>> {
        const Q: &str = "SELECT id, collection_id, email, email_visibility, verified, password_hash, token_key, data, created, updated \
                         FROM records WHERE collection_id = $1 AND email = $2 AND email <> ''";
        Ok(sqlx::query_as(Q)
            .bind(collection_id)
            .bind(email)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn find_record_by_field(
        &self,
        collection_id: &str,
        field: &str,
        value: &str,
        nocase: bool,
    ) -> Result<Option<RecordRow>> {
        let collate = if nocase { " COLLATE NOCASE" } else { "" };
        let q = format!(
            "SELECT {RECORD_COLUMNS} FROM records \
             WHERE collection_id = $1 AND json_extract(data, $2){collate} = $3 LIMIT 1"
        );
        Ok(sqlx::query_as(AssertSqlSafe(q))
            .bind(collection_id)
            .bind(format!("$.{field}"))
            .bind(value)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn insert_record(&self, row: &RecordRow) -> Result<()> {
        const Q: &str = "INSERT INTO records (id, collection_id, email, email_visibility, verified, password_hash, token_key, data, created, updated) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        sqlx::query(Q)
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
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn update_record(&self, row: &RecordRow) -> Result<()> {
        const Q: &str = "UPDATE records SET email = $3, email_visibility = $4, verified = $5, password_hash = $6, \
                         token_key = $7, data = $8, updated = $9 WHERE collection_id = $1 AND id = $2";
        let done = sqlx::query(Q)
            .bind(&row.collection_id)
            .bind(&row.id)
            .bind(&row.email)
            .bind(row.email_visibility)
            .bind(row.verified)
            .bind(&row.password_hash)
            .bind(&row.token_key)
            .bind(&row.data)
            .bind(&row.updated)
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
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
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_record(&self, collection_id: &str, id: &str) -> Result<bool> {
        let done = sqlx::query(sql::DELETE_RECORD)
            .bind(collection_id)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_records(&self, collection_id: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(sql::COUNT_RECORDS)
            .bind(collection_id)
            .fetch_one(&self.reader)
            .await?)
    }

    async fn list_records(&self, query: &ListQuery) -> Result<Page> {
        let mut filter = String::from(" WHERE collection_id = $1");
        let mut next = 2;
        if query.only_id.is_some() {
            filter.push_str(" AND id = $2");
            next = 3;
        }
        let (order, sort_params) = sql::order_by(
            &query.sort,
            next,
            |n| format!("json_extract(data, ${n})"),
            "rowid ASC",
        );
        let next = next + sort_params.len();
        let q = format!(
            "SELECT {RECORD_COLUMNS} FROM records{filter}{order} LIMIT ${next} OFFSET ${}",
            next + 1
        );
        let mut rows = sqlx::query_as::<_, RecordRow>(AssertSqlSafe(q)).bind(&query.collection_id);
        if let Some(id) = &query.only_id {
            rows = rows.bind(id);
        }
        for field in &sort_params {
            rows = rows.bind(format!("$.{field}"));
        }
        let rows = rows
            .bind(query.limit)
            .bind(query.offset)
            .fetch_all(&self.reader)
            .await?;
        let total = if query.skip_total {
            None
        } else {
            let q = format!("SELECT COUNT(*) FROM records{filter}");
            let mut count =
                sqlx::query_scalar::<_, i64>(AssertSqlSafe(q)).bind(&query.collection_id);
            if let Some(id) = &query.only_id {
                count = count.bind(id);
            }
            Some(count.fetch_one(&self.reader).await?)
        };
        Ok(Page { rows, total })
    }

    async fn get_setting(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(sql::GET_SETTING)
            .bind(key)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(sql::PUT_SETTING)
            .bind(key)
            .bind(value)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

/// Our unique indexes on one collection's custom fields.
async fn index_names(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    collection_id: &str,
) -> Result<Vec<String>> {
    let prefix = UniqueIndex {
        field: String::new(),
        nocase: false,
    }
    .physical_name(collection_id);
    Ok(sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' AND substr(name, 1, length($1)) = $1",
    )
    .bind(prefix)
    .fetch_all(&mut **tx)
    .await?)
}
