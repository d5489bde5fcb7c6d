//! A WHERE condition over auth records, and its rendering to SQL for either backend.
//!
//! The domain compiles filters and API rules into a [`Condition`]; this module turns it into SQL
//! text plus a list of bound parameters. Nothing the caller wrote ever becomes SQL text: column
//! names come from a fixed list, JSON paths and values are always parameters.
//!
//! Every expression rendered here is non-NULL (fields are `COALESCE`d to their type's zero value),
//! so `NOT` and `!=` behave as two-valued logic, as the in-memory rule evaluator does.

/// A condition on one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Const(bool),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Compare {
        left: Scalar,
        op: CompareOp,
        right: Scalar,
    },
    /// Some element (or, with `every`, each element) of the JSON array at `path` equals/matches
    /// one of `rights`. An empty or missing array has no elements: `every` is then true.
    Elements {
        path: Vec<String>,
        every: bool,
        op: CompareOp,
        rights: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    /// Case-insensitive SQL LIKE (the pattern is passed as is: the caller adds the `%`s).
    Like,
    NotLike,
}

/// How a field's value is read for a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
    Bool,
}

/// The system columns a condition may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Id,
    Email,
    EmailVisibility,
    Verified,
    Created,
    Updated,
    TokenKey,
}

/// One side of a comparison. Both sides of one comparison must have the same [`Kind`].
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Column(Column),
    /// A value inside the `data` JSON (a custom field, or a key below a JSON field), read as
    /// `kind`; a missing value reads as the kind's zero value (`''`, `0`, `false`).
    Field {
        path: Vec<String>,
        kind: Kind,
    },
    /// The number of elements of the JSON array at `path` (0 when it is not an array).
    Length(Vec<String>),
    Lower(Box<Scalar>),
    Text(String),
    Number(f64),
    Bool(bool),
}

impl Column {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Column::Id => "id",
            Column::Email => "email",
            Column::EmailVisibility => "email_visibility",
            Column::Verified => "verified",
            Column::Created => "created",
            Column::Updated => "updated",
            Column::TokenKey => "token_key",
        }
    }
}

impl CompareOp {
    fn sql(self, dialect: Dialect) -> &'static str {
        match (self, dialect) {
            (CompareOp::Eq, _) => "=",
            (CompareOp::Neq, _) => "<>",
            (CompareOp::Gt, _) => ">",
            (CompareOp::Gte, _) => ">=",
            (CompareOp::Lt, _) => "<",
            (CompareOp::Lte, _) => "<=",
            (CompareOp::Like, Dialect::Sqlite) => "LIKE",
            (CompareOp::NotLike, Dialect::Sqlite) => "NOT LIKE",
            (CompareOp::Like, Dialect::Postgres) => "ILIKE",
            (CompareOp::NotLike, Dialect::Postgres) => "NOT ILIKE",
        }
    }

    fn is_like(self) -> bool {
        matches!(self, CompareOp::Like | CompareOp::NotLike)
    }
}

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Real(f64),
    Int(i64),
    Bool(bool),
    /// A path into the `data` JSON: `$."a"."b"` on SQLite, a `text[]` on PostgreSQL.
    Path(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// SQL text being built and the parameters it binds, numbered `?n` (SQLite) or `$n` (PostgreSQL).
pub struct SqlBuilder {
    pub dialect: Dialect,
    pub params: Vec<Param>,
}

impl SqlBuilder {
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            params: Vec::new(),
        }
    }

    /// Adds a parameter and returns its placeholder.
    pub fn bind(&mut self, param: Param) -> String {
        let param = match (self.dialect, param) {
            (Dialect::Sqlite, Param::Bool(b)) => Param::Int(i64::from(b)),
            (_, p) => p,
        };
        self.params.push(param);
        let n = self.params.len();
        match self.dialect {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    pub fn condition(&mut self, c: &Condition) -> String {
        match c {
            Condition::Const(true) => "1 = 1".to_owned(),
            Condition::Const(false) => "1 = 0".to_owned(),
            Condition::And(parts) => self.join(parts, " AND ", true),
            Condition::Or(parts) => self.join(parts, " OR ", false),
            Condition::Not(inner) => format!("NOT ({})", self.condition(inner)),
            Condition::Compare { left, op, right } => {
                let l = self.scalar(left);
                let r = self.scalar(right);
                let escape = if op.is_like() { " ESCAPE '\\'" } else { "" };
                format!("{l} {} {r}{escape}", op.sql(self.dialect))
            }
            Condition::Elements {
                path,
                every,
                op,
                rights,
            } => self.elements(path, *every, *op, rights),
        }
    }

    fn join(&mut self, parts: &[Condition], sep: &str, empty: bool) -> String {
        if parts.is_empty() {
            return self.condition(&Condition::Const(empty));
        }
        let rendered: Vec<String> = parts
            .iter()
            .map(|p| format!("({})", self.condition(p)))
            .collect();
        rendered.join(sep)
    }

    fn elements(
        &mut self,
        path: &[String],
        every: bool,
        op: CompareOp,
        rights: &[String],
    ) -> String {
        let p = self.bind(Param::Path(path.to_vec()));
        let (source, value) = match self.dialect {
            Dialect::Sqlite => (
                format!("json_each(records.data, {p}) AS e"),
                "COALESCE(CAST(e.value AS TEXT), '')",
            ),
            Dialect::Postgres => (
                format!(
                    "jsonb_array_elements_text(CASE WHEN jsonb_typeof(records.data #> {p}) = 'array' \
                     THEN records.data #> {p} ELSE '[]'::jsonb END) AS e(value)"
                ),
                "COALESCE(e.value, '')",
            ),
        };
        let escape = if op.is_like() { " ESCAPE '\\'" } else { "" };
        let sql_op = op.sql(self.dialect);
        let matches: Vec<String> = rights
            .iter()
            .map(|r| {
                let r = self.bind(Param::Text(r.clone()));
                format!("{value} {sql_op} {r}{escape}")
            })
            .collect();
        let matches = if matches.is_empty() {
            "1 = 0".to_owned()
        } else {
            matches.join(" OR ")
        };
        if every {
            format!("NOT EXISTS (SELECT 1 FROM {source} WHERE NOT ({matches}))")
        } else {
            format!("EXISTS (SELECT 1 FROM {source} WHERE {matches})")
        }
    }

    fn scalar(&mut self, s: &Scalar) -> String {
        match s {
            Scalar::Column(c) => c.name().to_owned(),
            Scalar::Text(t) => self.bind(Param::Text(t.clone())),
            Scalar::Number(n) => self.bind(Param::Real(*n)),
            Scalar::Bool(b) => self.bind(Param::Bool(*b)),
            Scalar::Lower(inner) => format!("LOWER({})", self.scalar(inner)),
            Scalar::Length(path) => {
                let p = self.bind(Param::Path(path.clone()));
                match self.dialect {
                    Dialect::Sqlite => format!(
                        "COALESCE(CASE WHEN json_type(data, {p}) = 'array' THEN json_array_length(data, {p}) END, 0)"
                    ),
                    Dialect::Postgres => format!(
                        "(CASE WHEN jsonb_typeof(data #> {p}) = 'array' THEN jsonb_array_length(data #> {p}) ELSE 0 END)"
                    ),
                }
            }
            Scalar::Field { path, kind } => {
                let p = self.bind(Param::Path(path.clone()));
                match (self.dialect, kind) {
                    // Objects and arrays come back as their JSON text, strings unquoted.
                    (Dialect::Sqlite, Kind::Text) => {
                        format!("COALESCE(CAST(json_extract(data, {p}) AS TEXT), '')")
                    }
                    (Dialect::Sqlite, Kind::Number) => format!(
                        "(CASE WHEN json_type(data, {p}) IN ('integer', 'real') THEN json_extract(data, {p}) ELSE 0 END)"
                    ),
                    (Dialect::Sqlite, Kind::Bool) => {
                        format!("(CASE WHEN json_type(data, {p}) = 'true' THEN 1 ELSE 0 END)")
                    }
                    (Dialect::Postgres, Kind::Text) => format!("COALESCE(data #>> {p}, '')"),
                    (Dialect::Postgres, Kind::Number) => format!(
                        "(CASE WHEN jsonb_typeof(data #> {p}) = 'number' THEN (data #>> {p})::float8 ELSE 0 END)"
                    ),
                    (Dialect::Postgres, Kind::Bool) => {
                        format!("COALESCE(data #> {p} = 'true'::jsonb, FALSE)")
                    }
                }
            }
        }
    }
}

/// A JSON path for SQLite's json functions, every key quoted.
pub fn sqlite_path(path: &[String]) -> String {
    let mut out = String::from("$");
    for key in path {
        out.push_str(".\"");
        out.push_str(&key.replace('"', ""));
        out.push('"');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_paths_are_bound_never_inlined() {
        let c = Condition::And(vec![
            Condition::Compare {
                left: Scalar::Field {
                    path: vec!["name".into()],
                    kind: Kind::Text,
                },
                op: CompareOp::Eq,
                right: Scalar::Text("x' OR 1=1 --".into()),
            },
            Condition::Compare {
                left: Scalar::Column(Column::Verified),
                op: CompareOp::Eq,
                right: Scalar::Bool(true),
            },
        ]);
        let mut b = SqlBuilder::new(Dialect::Postgres);
        let sql = b.condition(&c);
        assert_eq!(sql, "(COALESCE(data #>> $1, '') = $2) AND (verified = $3)");
        assert_eq!(b.params.len(), 3);
        let mut b = SqlBuilder::new(Dialect::Sqlite);
        let sql = b.condition(&c);
        assert!(!sql.contains("OR 1=1"));
        assert_eq!(b.params[2], Param::Int(1));
        assert_eq!(
            sqlite_path(&["meta".into(), "plan".into()]),
            "$.\"meta\".\"plan\""
        );
    }
}
