//! SQL both backends share word for word, written with PostgreSQL's `$n` placeholders (the SQLite
//! backend turns them into its positional `?n`). Statements whose dialects differ live in the
//! backend's own module.

use crate::condition::{Dialect, Param, SqlBuilder};

pub const LIST_COLLECTIONS: &str = "SELECT id, name, kind, system, definition, created, updated FROM collections ORDER BY created, id";
pub const INSERT_COLLECTION: &str = "INSERT INTO collections (id, name, kind, system, definition, created, updated) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const UPDATE_COLLECTION: &str = "UPDATE collections SET name = $2, kind = $3, system = $4, definition = $5, updated = $6 WHERE id = $1";
pub const DELETE_COLLECTION: &str = "DELETE FROM collections WHERE id = $1";

pub const COUNT_RECORDS: &str = "SELECT COUNT(*) FROM records WHERE collection_id = $1";
pub const REPLACE_PASSWORD_HASH: &str =
    "UPDATE records SET password_hash = $3 WHERE id = $1 AND password_hash = $2";

pub const GET_SETTING: &str = "SELECT value FROM settings WHERE key = $1";
pub const PUT_SETTING: &str = "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/// The parts of one records list's statements, sharing their parameters: the condition's come
/// first, then the sort's, then the limit and the offset, so that each statement binds a prefix.
pub struct ListSql<'q> {
    /// ` WHERE …`: the collection and the condition.
    filter: &'q str,
    /// The `ORDER BY` terms, ending with insertion order as the tie-break.
    order: String,
    limit: String,
    offset: String,
    pub params: Vec<Param>,
    /// What [`ListSql::count`] binds: `params[..count_params]`.
    pub count_params: usize,
    /// What [`ListSql::rowids`] without the page binds: `params[..order_params]`.
    pub order_params: usize,
}

impl ListSql<'_> {
    /// `columns` of the page's records, in list order.
    pub fn page(&self, columns: &str) -> String {
        let (filter, order, limit, offset) = (&self.filter, &self.order, &self.limit, &self.offset);
        format!(
            "SELECT {columns} FROM records{filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
        )
    }

    /// The number of matching records.
    pub fn count(&self) -> String {
        format!("SELECT COUNT(*) FROM records{}", self.filter)
    }

    /// SQLite: the rowids of the matching records in list order; of the page only, or of all of
    /// them. Sorting rowids is much cheaper than sorting whole rows, and walking all of them
    /// counts the total with the condition evaluated once.
    pub fn rowids(&self, page_only: bool) -> String {
        let (filter, order) = (&self.filter, &self.order);
        if page_only {
            let (limit, offset) = (&self.limit, &self.offset);
            format!(
                "SELECT rowid FROM records{filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
            )
        } else {
            format!("SELECT rowid FROM records{filter} ORDER BY {order}")
        }
    }
}

pub fn list_records(query: &crate::ListQuery, dialect: Dialect) -> ListSql<'_> {
    use crate::SortKey;
    let written = query.condition.written(dialect);
    let mut params = Vec::with_capacity(written.params.len() + query.sort.len() + 3);
    params.push(Param::Text(query.collection_id.clone()));
    params.extend_from_slice(&written.params);
    let mut b = SqlBuilder::continuing(dialect, params);
    let filter = written.filter.as_str();
    let count_params = b.params.len();
    let mut terms = Vec::new();
    for term in &query.sort {
        let expr = match &term.key {
            SortKey::Column(c) => c.name().to_owned(),
            SortKey::ShownEmail => "CASE WHEN email_visibility THEN email ELSE '' END".to_owned(),
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
    let order_params = b.params.len();
    let limit = b.bind(Param::Int(query.limit));
    let offset = b.bind(Param::Int(query.offset));
    ListSql {
        filter,
        order: terms.join(", "),
        limit,
        offset,
        params: b.params,
        count_params,
        order_params,
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
pub const CONSUME_TICKET: &str = "DELETE FROM tickets WHERE id = $1 AND kind = $2 AND record_id = $3 AND secret_hash = $4 \
     AND expires_ms > $5 AND failures <= $6 \
     RETURNING id, kind, collection_id, record_id, secret_hash, data, created_ms, expires_ms, failures";
/// Counts a failure only below the limit: the check and the count are one statement.
pub const FAIL_TICKET: &str = "UPDATE tickets SET failures = failures + 1 \
     WHERE id = $1 AND kind = $2 AND record_id = $3 AND expires_ms > $4 AND failures < $5 RETURNING failures";
pub const DELETE_TICKET: &str =
    "DELETE FROM tickets WHERE id = $1 AND kind = $2 AND record_id = $3";
pub const DELETE_RECORD_TICKETS: &str = "DELETE FROM tickets WHERE record_id = $1 AND kind = $2";
pub const LIVE_TICKETS: &str = "SELECT id, kind, collection_id, record_id, secret_hash, data, created_ms, expires_ms, failures \
     FROM tickets WHERE record_id = $1 AND kind = $2 AND expires_ms > $3 ORDER BY created_ms DESC";
pub const DELETE_EXPIRED_TICKETS: &str = "DELETE FROM tickets WHERE expires_ms <= $1";
pub const DELETE_AUDIT_BEFORE: &str = "DELETE FROM audit WHERE created < $1";
