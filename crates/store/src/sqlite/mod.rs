//! SQLite backend, on rusqlite. Reads run inline on the calling thread, on the writer connection
//! when it is free, else with a pooled read-only one: a point read in WAL mode takes microseconds
//! and never waits for a write, and handing it to another thread (as an async driver does) costs
//! more than the query. Writes go to the single
//! writer connection: on the calling thread when no other write holds it (a commit in WAL mode
//! with `synchronous=NORMAL` does not fsync, so it takes microseconds, less than a hop to another
//! thread and back), else on the blocking pool. The fsyncs happen in checkpoints, which the
//! commits never run themselves: every [`CHECKPOINT_EVERY`] writes one runs on the blocking pool,
//! on a connection of its own, so that writes go on meanwhile.

use crate::condition::{Dialect, Param, sqlite_path};
use crate::counters::MemoryCounters;
use crate::model::{name_index_field, unique_target};
use crate::{
    AuditPage, AuditQuery, AuditRow, CollectionRow, DeviceRow, ExternalAuthRow, FactorRow,
    ListQuery, OAuth2Write, Page, RecordChanges, RecordRow, Result, Store, StoreError, TicketKey,
    TicketRow, UniqueIndex, record_write, sql,
};
use async_trait::async_trait;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params, params_from_iter};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

mod devices;
mod external_auths;
mod factors;
mod jsonb;
pub(crate) mod matcher;
mod tx;

use tx::Tx;

/// Schema versions, applied in order; `PRAGMA user_version` records how far a database got.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_audit.sql"),
    include_str!("../../migrations/sqlite/0003_tickets.sql"),
    include_str!("../../migrations/sqlite/0004_jsonb.sql"),
    include_str!("../../migrations/sqlite/0005_records_collection.sql"),
    include_str!("../../migrations/sqlite/0006_factors.sql"),
    include_str!("../../migrations/sqlite/0007_devices.sql"),
    include_str!("../../migrations/sqlite/0008_external_auths.sql"),
    include_str!("../../migrations/sqlite/0009_key_ordered_tables.sql"),
];

const INSERT_RECORD: &str = "INSERT INTO records (id, collection_id, email, email_visibility, verified, password_hash, token_key, data, created, updated) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, jsonb(?8), ?9, ?10)";

const AUDIT_COLUMNS: &str =
    "id, type, created, collection_id, record_id, method, ip, user_agent, data";

/// A record's columns in [`record`]'s order; `data` is stored as binary JSON (JSONB) and read back
/// as text. A macro, so that statements can `concat!` it.
macro_rules! record_columns {
    () => {
        "id, collection_id, email, email_visibility, verified, password_hash, token_key, json(data) AS data, created, updated"
    };
}
const RECORD_COLUMNS: &str = record_columns!();
const FIND_RECORD: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM records WHERE collection_id = ?1 AND id = ?2"
);
/// `?1` is a JSON array of rowids. (Not rusqlite's `rarray`: in rusqlite 0.39 the destructor of a
/// bound `Rc` pointer does not know its type and leaks the array, about 650 bytes a list.)
const RECORDS_BY_ROWID: &str = concat!(
    "SELECT ",
    record_columns!(),
    ", rowid FROM records WHERE rowid IN (SELECT value FROM json_each(?1))"
);

/// Writes between two checkpoints. SQLite's own default (a checkpoint once the WAL holds 1000
/// pages) would run inside whichever commit crossed it, on a request's thread. Part of a
/// checkpoint's cost is fixed (its `fsync`s, the pages it copies: the writes of a busy server keep
/// touching the same few, a table's last leaf, an index's), so one every 1000 writes rather than
/// every 100 halved the checkpoints' CPU per write (measured per thread with
/// `bench/second_step.py`: about 12 µs a write instead of 24), for a longer WAL (some 36 MB
/// after 1000 second steps, of nine pages each).
const CHECKPOINT_EVERY: u32 = 1000;

pub struct SqliteStore {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    writer: Arc<Mutex<Connection>>,
    /// The connection checkpoints run on, opened by the first. Held while one runs.
    checkpointer: Arc<Mutex<Option<Connection>>>,
    /// Writes since the last checkpoint was started.
    writes: AtomicU32,
    counters: MemoryCounters,
}

impl SqliteStore {
    /// Opens (creating it if needed) `data.db` inside `dir`.
    pub async fn open_dir(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Config(format!("cannot create data dir {}: {e}", dir.display()))
        })?;
        Self::open(dir.join("data.db")).await
    }

    /// `sqlite:PATH` or `sqlite://PATH`.
    pub async fn open_url(url: &str) -> Result<Self> {
        let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() {
            return Err(StoreError::Config(
                "sqlite URL without a file path".to_owned(),
            ));
        }
        Self::open(PathBuf::from(path)).await
    }

    async fn open(path: PathBuf) -> Result<Self> {
        let writer_path = path.clone();
        let writer = tokio::task::spawn_blocking(move || -> Result<Connection> {
            let mut conn = connect(&writer_path, false)?;
            migrate(&mut conn)?;
            Ok(conn)
        })
        .await
        .map_err(|e| StoreError::Config(format!("opening sqlite: {e}")))??;
        Ok(Self {
            path,
            readers: Mutex::new(Vec::new()),
            writer: Arc::new(Mutex::new(writer)),
            checkpointer: Arc::new(Mutex::new(None)),
            writes: AtomicU32::new(0),
            counters: MemoryCounters::default(),
        })
    }

    /// Runs a read on this thread: on the writer connection when no write holds it, else with a
    /// pooled read-only connection. A reader's page cache is dropped whenever another
    /// connection has written (SQLite cannot tell which pages changed), so after each write its
    /// next read fetched every page again from the WAL, a system call each; the writer's cache
    /// stays valid across its own writes. Reads only ever run SELECTs, so the writer's
    /// connection serves them as well as a read-only one. For point reads only: a scan
    /// ([`Self::read_scan`]) would hold every write up while it runs.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        if let Some(conn) = self.free_writer() {
            return f(&conn).map_err(map_err);
        }
        self.read_scan(f)
    }

    /// Runs a read that may walk many rows (a list, a count) on this thread with a pooled
    /// read-only connection, so that writes never wait for it.
    fn read_scan<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let pooled = self
            .readers
            .lock()
            .map(|mut pool| pool.pop())
            .unwrap_or(None);
        let conn = match pooled {
            Some(conn) => conn,
            None => connect(&self.path, true)?,
        };
        let result = f(&conn).map_err(map_err);
        if let Ok(mut pool) = self.readers.lock() {
            pool.push(conn);
        }
        result
    }

    /// Runs a write on the writer connection: here when it is free, else on the blocking pool,
    /// where waiting for the write before it does not hold up this thread's other tasks.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        self.count_write();
        let f = match self.write_here(f) {
            Ok(done) => return done,
            Err(busy) => busy,
        };
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || f(&mut lock_writer(&writer)).map_err(map_err))
            .await
            .map_err(|e| StoreError::Config(format!("sqlite writer task: {e}")))?
    }

    /// Runs `f` on the writer connection on this thread if no other write holds it; else hands
    /// `f` back. Another process writing the same file (a `gatehouse` command beside the
    /// server) could still make this wait, up to the busy timeout: rare, short, and bounded.
    fn write_here<T, F>(&self, f: F) -> std::result::Result<Result<T>, F>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T>,
    {
        match self.free_writer() {
            Some(mut conn) => Ok(f(&mut conn).map_err(map_err)),
            None => Err(f),
        }
    }

    /// The writer connection if no one holds it (also after a panic in an earlier write:
    /// SQLite rolled that one back).
    fn free_writer(&self) -> Option<std::sync::MutexGuard<'_, Connection>> {
        match self.writer.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Counts a write, and every [`CHECKPOINT_EVERY`] starts a checkpoint on the blocking pool:
    /// it copies the WAL back into the database and fsyncs, which commits leave undone. PASSIVE
    /// never waits for readers or the writer; what it could not copy, the next one does. It runs
    /// on its own connection: on the writer's, every write had to wait out its `fsync`s (on the
    /// blocking pool, a thread hop each). One still running when the next is due covers it.
    fn count_write(&self) {
        if self.writes.fetch_add(1, Ordering::Relaxed) + 1 < CHECKPOINT_EVERY {
            return;
        }
        self.writes.store(0, Ordering::Relaxed);
        let (checkpointer, path) = (self.checkpointer.clone(), self.path.clone());
        tokio::task::spawn_blocking(move || {
            let mut slot = match checkpointer.try_lock() {
                Ok(slot) => slot,
                Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return,
            };
            if slot.is_none() {
                *slot = connect(&path, false)
                    .inspect_err(|e| tracing::warn!(error = %e, "sqlite checkpoint: cannot open"))
                    .ok();
            }
            let Some(conn) = slot.as_ref() else { return };
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "sqlite checkpoint failed");
            }
        });
    }
}

/// The writer connection, also after a panic in an earlier write (SQLite rolled that one back).
fn lock_writer(writer: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    match writer.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// SQLite reads `$1` as a *named* parameter numbered by first appearance; `?1` is positional,
/// which is what the shared statements mean. The rewrite happens at compile time, so a hot
/// statement costs no allocation before its prepared-statement cache lookup.
macro_rules! positional {
    ($sql:expr) => {{
        const SQL: &str = $sql;
        const BYTES: [u8; SQL.len()] = $crate::sqlite::positional_bytes(SQL);
        const POSITIONAL: &str = match ::core::str::from_utf8(&BYTES) {
            Ok(sql) => sql,
            Err(_) => panic!("a statement rewritten to positional parameters is not UTF-8"),
        };
        POSITIONAL
    }};
}
pub(crate) use positional;

/// `sql` with every `$` that starts a parameter number turned into `?` (an ASCII byte for an
/// ASCII byte, so the length and the UTF-8 stay as they were).
pub(crate) const fn positional_bytes<const N: usize>(sql: &str) -> [u8; N] {
    let src = sql.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = if src[i] == b'$' && i + 1 < N && src[i + 1].is_ascii_digit() {
            b'?'
        } else {
            src[i]
        };
        i += 1;
    }
    out
}

fn connect(path: &Path, read_only: bool) -> Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    matcher::register(&conn)?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoints run on their own (`SqliteStore::count_write`), never inside a commit.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    }
    // Without the query-planner stability guarantee SQLite re-prepares a statement whenever a
    // LIKE pattern parameter is re-bound (to try its LIKE optimisation), which made every list
    // whose rule or filter has a `~` parse its SQL again on each request.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let done: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(done).unwrap_or(0))
    {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// Turns SQLite's unique-constraint message into the name of what clashed.
fn map_err(err: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(e, Some(msg)) = &err
        && e.code == rusqlite::ErrorCode::ConstraintViolation
        && msg.starts_with("UNIQUE constraint failed")
    {
        let target = if let Some(idx) = msg.split("index '").nth(1) {
            unique_target(idx.trim_end_matches('\''))
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
    StoreError::Sqlite(err)
}

pub(crate) fn sqlite_value(p: Param) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match p {
        Param::Text(s) => Value::Text(s),
        Param::Real(n) => Value::Real(n),
        Param::Int(n) => Value::Integer(n),
        Param::Bool(b) => Value::Integer(i64::from(b)),
        Param::Path(path) => Value::Text(sqlite_path(&path)),
    }
}

fn audit_params(e: &AuditRow) -> [String; 9] {
    [
        e.id.clone(),
        e.kind.clone(),
        e.created.clone(),
        e.collection_id.clone(),
        e.record_id.clone(),
        e.method.clone(),
        e.ip.clone(),
        e.user_agent.clone(),
        e.data.clone(),
    ]
}

/// A ticket key the write thread can own.
fn owned_key(key: TicketKey<'_>) -> [String; 3] {
    [
        key.id.to_owned(),
        key.kind.to_owned(),
        key.record_id.to_owned(),
    ]
}

fn ticket(r: &rusqlite::Row<'_>) -> rusqlite::Result<TicketRow> {
    Ok(TicketRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        collection_id: r.get(2)?,
        record_id: r.get(3)?,
        secret_hash: r.get(4)?,
        data: r.get(5)?,
        created_ms: r.get(6)?,
        expires_ms: r.get(7)?,
        failures: r.get(8)?,
    })
}

fn audit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        created: r.get(2)?,
        collection_id: r.get(3)?,
        record_id: r.get(4)?,
        method: r.get(5)?,
        ip: r.get(6)?,
        user_agent: r.get(7)?,
        data: r.get(8)?,
    })
}

/// The most page slots reserved before any match is found: a large `perPage` over a small
/// result should not allocate room for rows that do not exist.
const MAX_PAGE_HINT: usize = 100;

/// The records with these rowids, in this order.
fn records_by_rowid(c: &Connection, rowids: &[i64]) -> rusqlite::Result<Vec<RecordRow>> {
    if rowids.is_empty() {
        return Ok(Vec::new());
    }
    let position: std::collections::HashMap<i64, usize> =
        rowids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
    let mut list = String::with_capacity(rowids.len() * 8 + 2);
    list.push('[');
    for (i, id) in rowids.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        let _ = write!(list, "{id}");
    }
    list.push(']');
    let mut rows = c
        .prepare_cached(RECORDS_BY_ROWID)?
        .query_map([list], |r| Ok((r.get::<_, i64>(10)?, record(r)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.sort_by_key(|(rowid, _)| position.get(rowid).copied().unwrap_or(usize::MAX));
    Ok(rows.into_iter().map(|(_, row)| row).collect())
}

fn record(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecordRow> {
    Ok(RecordRow {
        id: r.get(0)?,
        collection_id: r.get(1)?,
        email: r.get(2)?,
        email_visibility: r.get(3)?,
        verified: r.get(4)?,
        password_hash: r.get(5)?,
        token_key: r.get(6)?,
        data: r.get(7)?,
        created: r.get(8)?,
        updated: r.get(9)?,
    })
}

/// Every column of a record, in table order (?1 = id … ?10 = updated).
fn record_params(r: &RecordRow) -> impl rusqlite::Params + '_ {
    (
        &r.id,
        &r.collection_id,
        &r.email,
        r.email_visibility,
        r.verified,
        &r.password_hash,
        &r.token_key,
        &r.data,
        &r.created,
        &r.updated,
    )
}

fn collection(r: &rusqlite::Row<'_>) -> rusqlite::Result<CollectionRow> {
    Ok(CollectionRow {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: r.get(2)?,
        system: r.get(3)?,
        definition: r.get(4)?,
        created: r.get(5)?,
        updated: r.get(6)?,
    })
}

/// Our unique indexes on one collection's custom fields, under current or legacy names.
fn index_names(conn: &Connection, collection_id: &str) -> rusqlite::Result<Vec<String>> {
    let prefixes = [
        UniqueIndex::collection_prefix(collection_id),
        UniqueIndex::legacy_prefix(collection_id),
    ];
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' \
         AND (substr(name, 1, length(?1)) = ?1 OR substr(name, 1, length(?2)) = ?2)",
    )?;
    // Bound to a name so the row iterator is dropped before `stmt`.
    #[allow(clippy::let_and_return)]
    let names = stmt.query_map(prefixes, |r| r.get(0))?.collect();
    names
}

fn drop_indexes(conn: &Connection, names: &[String]) -> rusqlite::Result<()> {
    for name in names {
        conn.execute(&format!("DROP INDEX IF EXISTS \"{name}\""), [])?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn list_collections(&self) -> Result<Vec<CollectionRow>> {
        self.read(|c| {
            c.prepare_cached(positional!(sql::LIST_COLLECTIONS))?
                .query_map([], collection)?
                .collect()
        })
    }

    async fn insert_collection(&self, row: &CollectionRow) -> Result<()> {
        let row = row.clone();
        self.write(move |c| {
            c.execute(
                positional!(sql::INSERT_COLLECTION),
                params![
                    row.id,
                    row.name,
                    row.kind,
                    row.system,
                    row.definition,
                    row.created,
                    row.updated
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn update_collection(&self, row: &CollectionRow) -> Result<()> {
        let row = row.clone();
        let changed = self
            .write(move |c| {
                c.execute(
                    positional!(sql::UPDATE_COLLECTION),
                    params![
                        row.id,
                        row.name,
                        row.kind,
                        row.system,
                        row.definition,
                        row.updated
                    ],
                )
            })
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_collection(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.write(move |c| {
            let tx = Tx::begin(c)?;
            drop_indexes(&tx, &index_names(&tx, &id)?)?;
            tx.execute(positional!(sql::DELETE_COLLECTION), [&id])?;
            tx.execute(positional!(record_write::DELETE_COLLECTION_TICKETS), [&id])?;
            factors::delete_of_collection(&tx, &id)?;
            devices::delete_of_collection(&tx, &id)?;
            external_auths::delete_of_collection(&tx, &id)?;
            tx.commit()
        })
        .await
    }

    async fn sync_unique_indexes(&self, collection_id: &str, wanted: &[UniqueIndex]) -> Result<()> {
        let (collection, wanted_indexes) = (collection_id, wanted);
        let collection_id = collection_id.to_owned();
        let wanted = wanted.to_vec();
        self.write(move |c| {
            let wanted_names: Vec<String> = wanted.iter().map(|i| i.physical_name(&collection_id)).collect();
            let tx = Tx::begin(c)?;
            let stale: Vec<String> =
                index_names(&tx, &collection_id)?.into_iter().filter(|n| !wanted_names.contains(n)).collect();
            drop_indexes(&tx, &stale)?;
            // Names are built from checked identifiers ([A-Za-z0-9_]); the partial index keeps the
            // constraint inside one collection and lets empty values repeat, like PocketBase's.
            for (index, name) in wanted.iter().zip(&wanted_names) {
                let collate = if index.nocase { " COLLATE NOCASE" } else { "" };
                let field = &index.field;
                tx.execute(
                    &format!(
                        "CREATE UNIQUE INDEX IF NOT EXISTS \"{name}\" ON records \
                         (json_extract(data, '$.{field}'){collate}) \
                         WHERE collection_id = '{collection_id}' AND COALESCE(json_extract(data, '$.{field}'), '') <> ''"
                    ),
                    [],
                )?;
            }
            tx.commit()
        })
        .await
        .map_err(|e| name_index_field(e, wanted_indexes, collection))
    }

    async fn find_record(&self, collection_id: &str, id: &str) -> Result<Option<RecordRow>> {
        self.read(|c| {
            c.prepare_cached(FIND_RECORD)?
                .query_row([collection_id, id], record)
                .optional()
        })
    }

    async fn find_record_by_email(
        &self,
        collection_id: &str,
        email: &str,
    ) -> Result<Option<RecordRow>> {
        const FIND: &str = concat!(
            "SELECT ",
            record_columns!(),
            " FROM records WHERE collection_id = ?1 AND email = ?2 AND email <> ''"
        );
        self.read(|c| {
            c.prepare_cached(FIND)?
                .query_row([collection_id, email], record)
                .optional()
        })
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
            "SELECT {RECORD_COLUMNS} FROM records WHERE collection_id = ?1 AND json_extract(data, ?2){collate} = ?3 LIMIT 1"
        );
        let path = format!("$.{field}");
        self.read(|c| {
            c.prepare_cached(&q)?
                .query_row([collection_id, path.as_str(), value], record)
                .optional()
        })
    }

    async fn insert_record(&self, row: &RecordRow) -> Result<()> {
        let row = row.clone();
        self.write(move |c| {
            c.prepare_cached(INSERT_RECORD)?
                .execute(record_params(&row))
                .map(drop)
        })
        .await
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
            Dialect::Sqlite,
        );
        let args: Vec<rusqlite::types::Value> = params.into_iter().map(sqlite_value).collect();
        let key = [collection_id.to_owned(), id.to_owned()];
        let events = events.to_vec();
        self.write(move |c| {
            let tx = Tx::begin(c)?;
            if tx.prepare_cached(&q)?.execute(params_from_iter(&args))? == 0 {
                let exists: i64 = tx
                    .prepare_cached(positional!(record_write::RECORD_EXISTS))?
                    .query_row(key, |r| r.get(0))?;
                return Ok(Err(if exists > 0 {
                    StoreError::Stale
                } else {
                    StoreError::NotFound
                }));
            }
            for event in &events {
                tx.prepare_cached(positional!(sql::INSERT_AUDIT))?
                    .execute(audit_params(event))?;
            }
            tx.commit()?;
            Ok(Ok(()))
        })
        .await?
    }

    async fn replace_password_hash(
        &self,
        id: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool> {
        let args = [id.to_owned(), old_hash.to_owned(), new_hash.to_owned()];
        Ok(self
            .write(move |c| {
                c.prepare_cached(positional!(sql::REPLACE_PASSWORD_HASH))?
                    .execute(args)
            })
            .await?
            == 1)
    }

    async fn delete_record(&self, collection_id: &str, id: &str, keep_last: bool) -> Result<bool> {
        // One writer: the count and the delete of one statement see the same rows.
        const KEEPING_ONE: &str = "DELETE FROM records WHERE collection_id = ?1 AND id = ?2 \
                                   AND (SELECT COUNT(*) FROM records WHERE collection_id = ?1) > 1";
        let delete = if keep_last {
            KEEPING_ONE
        } else {
            positional!(record_write::DELETE)
        };
        let args = [collection_id.to_owned(), id.to_owned()];
        self.write(move |c| {
            let tx = Tx::begin(c)?;
            let deleted = tx
                .prepare_cached(delete)?
                .execute(params![args[0], args[1]])?
                == 1;
            if deleted {
                tx.prepare_cached(positional!(record_write::DELETE_TICKETS))?
                    .execute([&args[1]])?;
                factors::delete_of_record(&tx, &args[1])?;
                devices::delete_of_record(&tx, &args[1])?;
                external_auths::delete_of_record(&tx, &args[1])?;
            }
            tx.commit()?;
            Ok(deleted)
        })
        .await
    }

    async fn count_records(&self, collection_id: &str) -> Result<i64> {
        self.read_scan(|c| {
            c.prepare_cached(positional!(sql::COUNT_RECORDS))?
                .query_row([collection_id], |r| r.get(0))
        })
    }

    async fn list_records(&self, query: &ListQuery) -> Result<Page> {
        let mut list = sql::list_records(query, Dialect::Sqlite);
        let args: Vec<rusqlite::types::Value> = std::mem::take(&mut list.params)
            .into_iter()
            .map(sqlite_value)
            .collect();
        let offset = usize::try_from(query.offset).unwrap_or(0);
        let limit = usize::try_from(query.limit).unwrap_or(0);
        self.read_scan(|c| {
            // The rowids and the rows they name come from one snapshot.
            let tx = c.unchecked_transaction()?;
            let (page, total) = if query.skip_total {
                let page = tx
                    .prepare_cached(&list.rowids(true))?
                    .query_map(params_from_iter(&args), |r| r.get::<_, i64>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                (page, None)
            } else {
                // The total needs every match anyway: walk them once, keeping the page's.
                let mut select = tx.prepare_cached(&list.rowids(false))?;
                let mut matches = select.query(params_from_iter(&args[..list.order_params]))?;
                let mut page = Vec::with_capacity(limit.min(MAX_PAGE_HINT));
                let mut total = 0usize;
                while let Some(row) = matches.next()? {
                    if total >= offset && page.len() < limit {
                        page.push(row.get::<_, i64>(0)?);
                    }
                    total += 1;
                }
                (page, Some(i64::try_from(total).unwrap_or(i64::MAX)))
            };
            let rows = records_by_rowid(&tx, &page)?;
            tx.finish()?;
            Ok(Page { rows, total })
        })
    }

    async fn counter_hit(&self, key: &str, now_ms: i64, window_ms: i64) -> Result<i64> {
        Ok(self.counters.hit(key, now_ms, window_ms))
    }

    async fn counter_get(&self, key: &str, now_ms: i64) -> Result<i64> {
        Ok(self.counters.get(key, now_ms))
    }

    async fn counter_unhit(&self, key: &str, now_ms: i64) -> Result<()> {
        self.counters.unhit(key, now_ms);
        Ok(())
    }

    async fn counter_reset(&self, key: &str) -> Result<()> {
        self.counters.reset(key);
        Ok(())
    }

    async fn counters_clear(&self, prefix: &str) -> Result<()> {
        self.counters.clear_prefix(prefix);
        Ok(())
    }

    async fn insert_ticket(&self, row: &TicketRow, events: &[AuditRow]) -> Result<()> {
        let row = row.clone();
        let events = events.to_vec();
        self.write(move |c| {
            let tx = Tx::begin(c)?;
            tx.prepare_cached(positional!(sql::INSERT_TICKET))?
                .execute(params![
                    row.id,
                    row.kind,
                    row.collection_id,
                    row.record_id,
                    row.secret_hash,
                    row.data,
                    row.created_ms,
                    row.expires_ms,
                    row.failures
                ])?;
            for event in &events {
                tx.prepare_cached(positional!(sql::INSERT_AUDIT))?
                    .execute(audit_params(event))?;
            }
            tx.commit()
        })
        .await
    }

    async fn find_ticket(&self, id: &str, kind: &str, now_ms: i64) -> Result<Option<TicketRow>> {
        self.read(|c| {
            c.prepare_cached(positional!(sql::FIND_TICKET))?
                .query_row(params![id, kind, now_ms], ticket)
                .optional()
        })
    }

    async fn consume_ticket(
        &self,
        key: TicketKey<'_>,
        secret_hash: &str,
        max_failures: i64,
        now_ms: i64,
    ) -> Result<Option<TicketRow>> {
        let key = owned_key(key);
        let hash = secret_hash.to_owned();
        self.write(move |c| {
            c.prepare_cached(positional!(sql::CONSUME_TICKET))?
                .query_row(
                    params![key[0], key[1], key[2], hash, now_ms, max_failures],
                    ticket,
                )
                .optional()
        })
        .await
    }

    async fn fail_ticket(
        &self,
        key: TicketKey<'_>,
        limit: i64,
        now_ms: i64,
    ) -> Result<Option<i64>> {
        let key = owned_key(key);
        self.write(move |c| {
            c.prepare_cached(positional!(sql::FAIL_TICKET))?
                .query_row(params![key[0], key[1], key[2], now_ms, limit], |r| r.get(0))
                .optional()
        })
        .await
    }

    async fn delete_ticket(&self, key: TicketKey<'_>) -> Result<()> {
        let key = owned_key(key);
        self.write(move |c| {
            c.prepare_cached(positional!(sql::DELETE_TICKET))?
                .execute(key)
                .map(drop)
        })
        .await
    }

    async fn delete_record_tickets(&self, record_id: &str, kind: &str) -> Result<()> {
        let args = [record_id.to_owned(), kind.to_owned()];
        self.write(move |c| {
            c.prepare_cached(positional!(sql::DELETE_RECORD_TICKETS))?
                .execute(args)
                .map(drop)
        })
        .await
    }

    async fn live_tickets(
        &self,
        record_id: &str,
        kind: &str,
        now_ms: i64,
    ) -> Result<Vec<TicketRow>> {
        self.read(|c| {
            c.prepare_cached(positional!(sql::LIVE_TICKETS))?
                .query_map(params![record_id, kind, now_ms], ticket)?
                .collect()
        })
    }

    async fn delete_expired_tickets(&self, now_ms: i64) -> Result<()> {
        self.write(move |c| {
            c.prepare_cached(positional!(sql::DELETE_EXPIRED_TICKETS))?
                .execute([now_ms])
                .map(drop)
        })
        .await
    }

    async fn list_factors(&self, record_id: &str) -> Result<Vec<FactorRow>> {
        factors::list(self, record_id)
    }

    async fn second_step_rows(
        &self,
        id: &str,
        kind: &str,
        collection_id: &str,
        now_ms: i64,
    ) -> Result<Option<crate::StepRows>> {
        self.read(|c| {
            let snapshot = Tx::snapshot(c)?;
            let Some(ticket) = snapshot
                .prepare_cached(positional!(sql::FIND_TICKET))?
                .query_row(params![id, kind, now_ms], ticket)
                .optional()?
            else {
                return Ok(None);
            };
            let Some(record) = snapshot
                .prepare_cached(FIND_RECORD)?
                .query_row([collection_id, ticket.record_id.as_str()], record)
                .optional()?
            else {
                return Ok(None);
            };
            let factors = factors::of_record(&snapshot, &record.id)?;
            snapshot.commit()?;
            Ok(Some(crate::StepRows {
                ticket,
                record,
                factors,
            }))
        })
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
        factors::count_codes(self, record_id)
    }

    async fn use_totp_step(&self, factor_id: &str, step: i64, used_at: &str) -> Result<bool> {
        use rusqlite::types::Value;
        let args = [
            Value::Text(factor_id.to_owned()),
            Value::Integer(step),
            Value::Text(used_at.to_owned()),
        ];
        factors::change(self, positional!(crate::factors_sql::USE_TOTP_STEP), args).await
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
        let args = [factor_id.to_owned(), used_at.to_owned()].map(rusqlite::types::Value::Text);
        factors::change(self, positional!(crate::factors_sql::TOUCH_FACTOR), args)
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
        factors::of_kind(self, kind)
    }

    async fn replace_factor_secret(&self, id: &str, old: &str, new: &str) -> Result<bool> {
        let args =
            [id.to_owned(), old.to_owned(), new.to_owned()].map(rusqlite::types::Value::Text);
        factors::change(
            self,
            positional!(crate::factors_sql::REPLACE_FACTOR_SECRET),
            args,
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
        devices::find(self, record_id, token_hashes, now_ms)
    }

    async fn touch_device(&self, id: &str, used_at: &str) -> Result<()> {
        devices::touch(self, id, used_at).await
    }

    async fn list_devices(&self, record_id: &str, now_ms: i64) -> Result<Vec<DeviceRow>> {
        devices::list(self, record_id, now_ms)
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
        let cutoff = created_before.to_owned();
        self.write(move |c| {
            c.prepare_cached(positional!(sql::DELETE_AUDIT_BEFORE))?
                .execute([cutoff])
                .map(|n| n as u64)
        })
        .await
    }

    async fn find_external_auth(
        &self,
        collection_id: &str,
        provider: &str,
        provider_id: &str,
    ) -> Result<Option<ExternalAuthRow>> {
        external_auths::find(self, collection_id, provider, provider_id)
    }

    async fn list_external_auths(&self, record_id: &str) -> Result<Vec<ExternalAuthRow>> {
        external_auths::list(self, record_id)
    }

    async fn find_external_auth_by_id(&self, id: &str) -> Result<Option<ExternalAuthRow>> {
        external_auths::find_by_id(self, id)
    }

    async fn list_all_external_auths(&self, limit: i64) -> Result<Vec<ExternalAuthRow>> {
        external_auths::list_all(self, limit)
    }

    async fn delete_external_auth(&self, id: &str, events: &[AuditRow]) -> Result<bool> {
        external_auths::delete(self, id, events).await
    }

    async fn save_oauth2_login(&self, write: &OAuth2Write) -> Result<()> {
        external_auths::save(self, write).await
    }

    async fn insert_audit(&self, row: &AuditRow) -> Result<()> {
        let row = row.clone();
        self.write(move |c| {
            c.prepare_cached(positional!(sql::INSERT_AUDIT))?
                .execute(audit_params(&row))
                .map(drop)
        })
        .await
    }

    async fn list_audit(&self, query: &AuditQuery) -> Result<AuditPage> {
        let (filter, params) = sql::audit_filter(query, Dialect::Sqlite);
        let args: Vec<rusqlite::types::Value> = params.into_iter().map(sqlite_value).collect();
        let select = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit{filter} ORDER BY created DESC, rowid DESC LIMIT {} OFFSET {}",
            query.limit, query.offset
        );
        let count = format!("SELECT COUNT(*) FROM audit{filter}");
        self.read_scan(|c| {
            let rows = c
                .prepare_cached(&select)?
                .query_map(params_from_iter(&args), audit_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let total = c
                .prepare_cached(&count)?
                .query_row(params_from_iter(&args), |r| r.get(0))?;
            Ok(AuditPage { rows, total })
        })
    }

    async fn get_setting(&self, key: &str) -> Result<Option<String>> {
        self.read(|c| {
            c.prepare_cached(positional!(sql::GET_SETTING))?
                .query_row([key], |r| r.get(0))
                .optional()
        })
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<()> {
        let args = [key.to_owned(), value.to_owned()];
        self.write(move |c| {
            c.prepare_cached(positional!(sql::PUT_SETTING))?
                .execute(args)
                .map(drop)
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod migration_tests {
    use super::*;

    /// A database made before the key-ordered tables keeps its tickets and backup codes, which
    /// are then stored in their primary key.
    #[test]
    fn tickets_and_codes_survive_the_move_to_key_ordered_tables() {
        let mut conn = Connection::open_in_memory().expect("open");
        let before = MIGRATIONS.len() - 1;
        for sql in &MIGRATIONS[..before] {
            conn.execute_batch(sql).expect("older migration");
        }
        conn.pragma_update(None, "user_version", i64::try_from(before).unwrap_or(0))
            .expect("version");
        conn.execute_batch(
            "INSERT INTO tickets (id, kind, collection_id, record_id, secret_hash, created_ms, expires_ms) \
               VALUES ('t1', 'mfa', 'c1', 'r1', 'h', 1, 2); \
             INSERT INTO factor_codes (factor_id, record_id, code_hash) VALUES ('f1', 'r1', 'x'), ('f1', 'r1', 'y');",
        )
        .expect("rows");
        migrate(&mut conn).expect("migrate");
        let ticket: (String, i64) = conn
            .query_row(
                "SELECT record_id, expires_ms FROM tickets WHERE id = 't1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("ticket kept");
        assert_eq!(ticket, ("r1".to_owned(), 2));
        let codes: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM factor_codes WHERE record_id = 'r1'",
                [],
                |r| r.get(0),
            )
            .expect("codes");
        assert_eq!(codes, 2);
        for table in ["tickets", "factor_codes"] {
            let sql: String = conn
                .query_row(
                    "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                    [table],
                    |r| r.get(0),
                )
                .expect("schema");
            assert!(sql.ends_with("WITHOUT ROWID"), "{table}: {sql}");
        }
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(usize::try_from(version).ok(), Some(MIGRATIONS.len()));
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod checkpoint_tests {
    use super::*;
    use crate::Store;
    use std::time::{Duration, Instant};

    fn fresh_dir(name: &str) -> PathBuf {
        let unique: u64 = rand::random();
        std::env::temp_dir().join(format!("gh-{name}-{}-{unique:x}", std::process::id()))
    }

    fn file_len(path: &Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    /// Every `CHECKPOINT_EVERY` writes the WAL is copied into the database file, on a
    /// connection of the checkpoint's own; while one runs, writes still go through the writer
    /// on the calling thread.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checkpoints_copy_the_wal_without_holding_the_writer() {
        let dir = fresh_dir("checkpoint");
        let store = SqliteStore::open_dir(&dir).await.expect("open");
        let db = dir.join("data.db");
        let before = file_len(&db);
        let value = "x".repeat(2000);
        for i in 0..CHECKPOINT_EVERY {
            store
                .put_setting(&format!("k{i}"), &value)
                .await
                .expect("write");
        }
        // ~2 MB of settings now in the WAL: the database file grows once they are copied.
        let deadline = Instant::now() + Duration::from_secs(10);
        while file_len(&db) < before + 1_000_000 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            file_len(&db) >= before + 1_000_000,
            "no checkpoint: {} bytes",
            file_len(&db)
        );
        {
            // A checkpoint running (its connection held): a write does not wait for it.
            let running = store.checkpointer.lock().expect("checkpointer");
            assert!(running.is_some(), "checkpoints run on their own connection");
            assert!(store.free_writer().is_some(), "the writer is free");
            let written = store.write_here(|c| {
                c.execute(
                    "INSERT INTO settings (key, value) VALUES ('during', '1')",
                    [],
                )
            });
            assert!(matches!(written, Ok(Ok(1))), "written on this thread");
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
