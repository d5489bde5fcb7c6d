//! SQL both backends share word for word, written with PostgreSQL's `$n` placeholders (the SQLite
//! backend turns them into its positional `?n`). Statements whose dialects differ live in the
//! backend's own module.

use crate::condition::{Dialect, Param, SqlBuilder};

pub const LIST_COLLECTIONS: &str = "SELECT id, name, kind, system, definition, created, updated FROM collections ORDER BY created, id";
pub const INSERT_COLLECTION: &str = "INSERT INTO collections (id, name, kind, system, definition, created, updated) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const UPDATE_COLLECTION: &str = "UPDATE collections SET name = $2, kind = $3, system = $4, definition = $5, updated = $6 WHERE id = $1";
pub const DELETE_COLLECTION: &str = "DELETE FROM collections WHERE id = $1";

pub const DELETE_RECORD: &str = "DELETE FROM records WHERE collection_id = $1 AND id = $2";
pub const COUNT_RECORDS: &str = "SELECT COUNT(*) FROM records WHERE collection_id = $1";
pub const REPLACE_PASSWORD_HASH: &str =
    "UPDATE records SET password_hash = $3 WHERE id = $1 AND password_hash = $2";

pub const GET_SETTING: &str = "SELECT value FROM settings WHERE key = $1";
pub const PUT_SETTING: &str = "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/// The statements of one records list: the page and (unless skipped) the total, sharing the
/// condition's parameters, which come first so that the count can bind a prefix of them.
pub struct ListSql {
    pub select: String,
    pub count: Option<String>,
    /// SQLite, when a total is wanted under a real condition: the page with the total in an extra
    /// last column, so the condition runs over the collection once instead of twice (page and
    /// count). Only the page's rows are fully read. An empty page carries no total: use `count`.
    pub select_with_total: Option<String>,
    pub params: Vec<Param>,
    pub count_params: usize,
}

/// `columns` is the backend's record column list.
pub fn list_records(query: &crate::ListQuery, dialect: Dialect, columns: &str) -> ListSql {
    use crate::SortKey;
    let mut b = SqlBuilder::new(dialect);
    let collection = b.bind(Param::Text(query.collection_id.clone()));
    let condition = b.condition(&query.condition);
    let filter = format!(" WHERE collection_id = {collection} AND ({condition})");
    let count_params = b.params.len();
    let mut terms = Vec::new();
    for term in &query.sort {
        let expr = match &term.key {
            SortKey::Column(c) => c.name().to_owned(),
            SortKey::Field(name) => {
                let p = b.bind(Param::Path(vec![name.clone()]));
                match dialect {
                    Dialect::Sqlite => format!("json_extract(data, {p})"),
                    // `#>` keeps JSON types, so numbers sort as numbers and strings as strings.
                    Dialect::Postgres => format!("(data #> {p})"),
                }
            }
        };
        let dir = if term.descending { "DESC" } else { "ASC" };
        terms.push(format!("{expr} {dir}"));
    }
    terms.push(
        match dialect {
            Dialect::Sqlite => "rowid ASC",
            Dialect::Postgres => "seq ASC",
        }
        .to_owned(),
    );
    let limit = b.bind(Param::Int(query.limit));
    let offset = b.bind(Param::Int(query.offset));
    let order = terms.join(", ");
    let select_with_total = (dialect == Dialect::Sqlite
        && !query.skip_total
        && query.condition != crate::Condition::Const(true))
    .then(|| {
        format!(
            "SELECT {columns}, page.total FROM (SELECT rowid AS rid, COUNT(*) OVER () AS total, \
             ROW_NUMBER() OVER (ORDER BY {order}) AS n FROM records{filter} ORDER BY n LIMIT {limit} OFFSET {offset}) AS page \
             JOIN records ON records.rowid = page.rid ORDER BY page.n"
        )
    });
    ListSql {
        select: format!(
            "SELECT {columns} FROM records{filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
        ),
        select_with_total,
        count: (!query.skip_total).then(|| format!("SELECT COUNT(*) FROM records{filter}")),
        params: b.params,
        count_params,
    }
}

pub const INSERT_AUDIT: &str = "INSERT INTO audit (id, type, created, collection_id, record_id, method, ip, user_agent, data) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// The WHERE clause of an audit list and its parameters (all text), numbered from `$1`.
pub fn audit_filter(q: &crate::AuditQuery, dialect: Dialect) -> (String, Vec<Param>) {
    let mut b = SqlBuilder::new(dialect);
    let mut parts = vec!["1 = 1".to_owned()];
    for (column, value) in [
        ("record_id", &q.record_id),
        ("collection_id", &q.collection_id),
    ] {
        if let Some(v) = value {
            parts.push(format!("{column} = {}", b.bind(Param::Text(v.clone()))));
        }
    }
    if !q.kinds.is_empty() {
        let kinds: Vec<String> = q
            .kinds
            .iter()
            .map(|k| b.bind(Param::Text(k.clone())))
            .collect();
        parts.push(format!("type IN ({})", kinds.join(", ")));
    }
    if let Some(since) = &q.since {
        parts.push(format!("created >= {}", b.bind(Param::Text(since.clone()))));
    }
    if let Some(until) = &q.until {
        parts.push(format!("created <= {}", b.bind(Param::Text(until.clone()))));
    }
    (format!(" WHERE {}", parts.join(" AND ")), b.params)
}

pub const INSERT_TICKET: &str = "INSERT INTO tickets (id, kind, collection_id, record_id, secret_hash, data, created_ms, expires_ms, failures) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
pub const FIND_TICKET: &str = "SELECT id, kind, collection_id, record_id, secret_hash, data, created_ms, expires_ms, failures \
     FROM tickets WHERE id = $1 AND kind = $2 AND expires_ms > $3";
/// The consume: one statement, so two concurrent uses cannot both get the row.
pub const CONSUME_TICKET: &str = "DELETE FROM tickets WHERE id = $1 AND kind = $2 AND secret_hash = $3 AND expires_ms > $4 \
     RETURNING id, kind, collection_id, record_id, secret_hash, data, created_ms, expires_ms, failures";
pub const FAIL_TICKET: &str =
    "UPDATE tickets SET failures = failures + 1 WHERE id = $1 RETURNING failures";
pub const DELETE_TICKET: &str = "DELETE FROM tickets WHERE id = $1";
pub const DELETE_RECORD_TICKETS: &str = "DELETE FROM tickets WHERE record_id = $1 AND kind = $2";
pub const LIVE_TICKETS: &str = "SELECT id, kind, collection_id, record_id, secret_hash, data, created_ms, expires_ms, failures \
     FROM tickets WHERE record_id = $1 AND kind = $2 AND expires_ms > $3 ORDER BY created_ms DESC";
pub const DELETE_EXPIRED_TICKETS: &str = "DELETE FROM tickets WHERE expires_ms <= $1";
