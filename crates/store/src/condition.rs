//! A WHERE condition over auth records, and its rendering to SQL for either backend.
//!
//! The domain compiles filters and API rules into a [`Condition`]; this module turns it into SQL
//! text plus a list of bound parameters. Nothing the caller wrote ever becomes SQL text: column
//! names come from a fixed list, JSON paths and values are always parameters.
//!
//! A missing field reads as its type's zero value (`COALESCE`), so that `NOT` and `!=` behave as
//! two-valued logic, as the in-memory rule evaluator does. Where NULL and false select the same
//! rows (see [`Logic`]) a comparison that the zero value cannot satisfy skips the `COALESCE`.

use crate::sqlite::matcher::{self, Test};
use std::fmt::Write as _;

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
    /// SQLite: answer groups of custom-field tests in one `gatehouse_match` call per row.
    matcher: bool,
}

/// Whether a rendered condition may be NULL where it is not true. At the top of a WHERE clause,
/// and below `AND`/`OR` only, NULL and false select the same rows (a row is kept only when the
/// whole condition is true, and an `AND`/`OR` tree is true exactly when true leaves make it so).
/// Below a `NOT` they differ, so every leaf there must be exactly true or false.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Logic {
    NullIsFalse,
    TwoValued,
}

impl SqlBuilder {
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            params: Vec::new(),
            matcher: dialect == Dialect::Sqlite,
        }
    }

    /// Binds after `params`, which an earlier builder wrote placeholders for.
    pub fn continuing(dialect: Dialect, params: Vec<Param>) -> Self {
        Self {
            params,
            ..Self::new(dialect)
        }
    }

    /// SQLite without the matcher: the SQL it stands in for, which tests compare it with.
    #[cfg(test)]
    pub fn without_matcher(dialect: Dialect) -> Self {
        Self {
            matcher: false,
            ..Self::new(dialect)
        }
    }

    /// Adds a parameter and returns its placeholder.
    pub fn bind(&mut self, param: Param) -> String {
        let mut out = String::new();
        self.bind_into(&mut out, param);
        out
    }

    /// The condition as SQL for a WHERE clause.
    pub fn condition(&mut self, c: &Condition) -> String {
        let mut out = String::with_capacity(256);
        self.write_condition(&mut out, c, Logic::NullIsFalse);
        out
    }

    fn bind_into(&mut self, out: &mut String, param: Param) {
        let param = match (self.dialect, param) {
            (Dialect::Sqlite, Param::Bool(b)) => Param::Int(i64::from(b)),
            (_, p) => p,
        };
        self.params.push(param);
        let sigil = match self.dialect {
            Dialect::Sqlite => '?',
            Dialect::Postgres => '$',
        };
        let _ = write!(out, "{sigil}{}", self.params.len());
    }

    fn write_condition(&mut self, out: &mut String, c: &Condition, logic: Logic) {
        if self.matcher && logic == Logic::NullIsFalse && self.write_matched(out, c) {
            return;
        }
        match c {
            Condition::Const(true) => out.push_str("1 = 1"),
            Condition::Const(false) => out.push_str("1 = 0"),
            Condition::And(parts) => self.write_join(out, parts, " AND ", true, logic),
            Condition::Or(parts) => self.write_join(out, parts, " OR ", false, logic),
            Condition::Not(inner) => {
                out.push_str("NOT (");
                self.write_condition(out, inner, Logic::TwoValued);
                out.push(')');
            }
            Condition::Compare { left, op, right } => {
                self.write_compare(out, left, *op, right, logic)
            }
            Condition::Elements {
                path,
                every,
                op,
                rights,
            } => self.write_elements(out, path, *every, *op, rights),
        }
    }

    /// Writes `c`, or the custom-field tests among its `AND`/`OR` parts, as
    /// `COALESCE(gatehouse_match(data, ?), (<the same as SQL>))` (see `sqlite/matcher.rs`), when
    /// that saves at least one field read per row. Only where NULL counts as false: the matcher
    /// answers "true" or "not true". Returns whether it wrote anything.
    fn write_matched(&mut self, out: &mut String, c: &Condition) -> bool {
        let (parts, sep): (&[Condition], _) = match c {
            Condition::And(parts) => (parts, " AND "),
            Condition::Or(parts) => (parts, " OR "),
            _ => (std::slice::from_ref(c), ""),
        };
        let (known, rest): (Vec<&Condition>, Vec<&Condition>) =
            parts.iter().partition(|p| Test::knows(p));
        if known.iter().map(|p| Test::reads(p)).sum::<usize>() < 2 {
            return false;
        }
        let Some(mut tests) = known
            .iter()
            .map(|p| Test::of(p))
            .collect::<Option<Vec<_>>>()
        else {
            return false;
        };
        let test = match c {
            _ if tests.len() == 1 => tests.pop(),
            Condition::Or(_) => Some(Test::Any(tests)),
            _ => Some(Test::All(tests)),
        };
        let Some(Ok(test)) = test.filter(Test::fits).map(|t| serde_json::to_string(&t)) else {
            return false;
        };
        // The other parts first: a column comparison may decide the row without the call.
        for part in rest {
            out.push('(');
            self.write_condition(out, part, Logic::NullIsFalse);
            out.push(')');
            out.push_str(sep);
        }
        let _ = write!(out, "COALESCE({}(data, ", matcher::FUNCTION);
        self.bind_into(out, Param::Text(test));
        out.push_str("), (");
        self.matcher = false;
        for (i, part) in known.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            out.push('(');
            self.write_condition(out, part, Logic::NullIsFalse);
            out.push(')');
        }
        self.matcher = true;
        out.push_str("))");
        true
    }

    fn write_join(
        &mut self,
        out: &mut String,
        parts: &[Condition],
        sep: &str,
        empty: bool,
        logic: Logic,
    ) {
        if parts.is_empty() {
            return self.write_condition(out, &Condition::Const(empty), logic);
        }
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            out.push('(');
            self.write_condition(out, part, logic);
            out.push(')');
        }
    }

    fn write_compare(
        &mut self,
        out: &mut String,
        left: &Scalar,
        op: CompareOp,
        right: &Scalar,
        logic: Logic,
    ) {
        match (left, right) {
            // A bool field read as two values in one step: `IS` is never NULL.
            (
                Scalar::Field {
                    path,
                    kind: Kind::Bool,
                },
                Scalar::Bool(b),
            ) if self.dialect == Dialect::Sqlite
                && matches!(op, CompareOp::Eq | CompareOp::Neq) =>
            {
                out.push_str("json_type(data, ");
                self.bind_into(out, Param::Path(path.clone()));
                let is_true = *b == (op == CompareOp::Eq);
                out.push_str(if is_true {
                    ") IS 'true'"
                } else {
                    ") IS NOT 'true'"
                });
                return;
            }
            // A missing text field reads as ''. When '' cannot match the value anyway, the
            // missing field may read as NULL instead, where NULL counts as false.
            (
                Scalar::Field {
                    path,
                    kind: Kind::Text,
                },
                Scalar::Text(value),
            ) if logic == Logic::NullIsFalse && !empty_text_matches(op, value) => {
                self.write_text_field(out, path, false);
            }
            _ => self.write_scalar(out, left),
        }
        let escape = if op.is_like() { " ESCAPE '\\'" } else { "" };
        out.push(' ');
        out.push_str(op.sql(self.dialect));
        out.push(' ');
        self.write_scalar(out, right);
        out.push_str(escape);
    }

    fn write_elements(
        &mut self,
        out: &mut String,
        path: &[String],
        every: bool,
        op: CompareOp,
        rights: &[String],
    ) {
        let mut p = String::new();
        self.bind_into(&mut p, Param::Path(path.to_vec()));
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
        let _ = write!(
            out,
            "{}EXISTS (SELECT 1 FROM {source} WHERE {}",
            if every { "NOT " } else { "" },
            if every { "NOT (" } else { "" }
        );
        if rights.is_empty() {
            out.push_str("1 = 0");
        }
        for (i, r) in rights.iter().enumerate() {
            if i > 0 {
                out.push_str(" OR ");
            }
            let _ = write!(out, "{value} {sql_op} ");
            self.bind_into(out, Param::Text(r.clone()));
            out.push_str(escape);
        }
        out.push_str(if every { "))" } else { ")" });
    }

    /// A text field's value: NULL for a missing one, or `''` with `coalesce`.
    fn write_text_field(&mut self, out: &mut String, path: &[String], coalesce: bool) {
        let (open, close) = match (self.dialect, coalesce) {
            // Objects and arrays come back as their JSON text, strings unquoted.
            (Dialect::Sqlite, true) => ("COALESCE(CAST(json_extract(data, ", ") AS TEXT), '')"),
            (Dialect::Sqlite, false) => ("CAST(json_extract(data, ", ") AS TEXT)"),
            (Dialect::Postgres, true) => ("COALESCE(data #>> ", ", '')"),
            (Dialect::Postgres, false) => ("(data #>> ", ")"),
        };
        out.push_str(open);
        self.bind_into(out, Param::Path(path.to_vec()));
        out.push_str(close);
    }

    fn write_scalar(&mut self, out: &mut String, s: &Scalar) {
        match s {
            Scalar::Column(c) => out.push_str(c.name()),
            Scalar::Text(t) => self.bind_into(out, Param::Text(t.clone())),
            Scalar::Number(n) => self.bind_into(out, Param::Real(*n)),
            Scalar::Bool(b) => self.bind_into(out, Param::Bool(*b)),
            Scalar::Lower(inner) => {
                out.push_str("LOWER(");
                self.write_scalar(out, inner);
                out.push(')');
            }
            Scalar::Length(path) => {
                let mut p = String::new();
                self.bind_into(&mut p, Param::Path(path.clone()));
                let _ = match self.dialect {
                    Dialect::Sqlite => write!(
                        out,
                        "COALESCE(CASE WHEN json_type(data, {p}) = 'array' THEN json_array_length(data, {p}) END, 0)"
                    ),
                    Dialect::Postgres => write!(
                        out,
                        "(CASE WHEN jsonb_typeof(data #> {p}) = 'array' THEN jsonb_array_length(data #> {p}) ELSE 0 END)"
                    ),
                };
            }
            Scalar::Field {
                path,
                kind: Kind::Text,
            } => self.write_text_field(out, path, true),
            Scalar::Field { path, kind } => {
                let mut p = String::new();
                self.bind_into(&mut p, Param::Path(path.clone()));
                let _ = match (self.dialect, kind) {
                    (Dialect::Sqlite, Kind::Number) => write!(
                        out,
                        "(CASE WHEN json_type(data, {p}) IN ('integer', 'real') THEN json_extract(data, {p}) ELSE 0 END)"
                    ),
                    (Dialect::Sqlite, _) => {
                        write!(
                            out,
                            "(CASE WHEN json_type(data, {p}) = 'true' THEN 1 ELSE 0 END)"
                        )
                    }
                    (Dialect::Postgres, Kind::Number) => write!(
                        out,
                        "(CASE WHEN jsonb_typeof(data #> {p}) = 'number' THEN (data #>> {p})::float8 ELSE 0 END)"
                    ),
                    (Dialect::Postgres, _) => {
                        write!(out, "COALESCE(data #> {p} = 'true'::jsonb, FALSE)")
                    }
                };
            }
        }
    }
}

/// Whether `'' op value` holds: the empty text is below every other text in any collation, and
/// matches a LIKE pattern only when the pattern is all `%`.
fn empty_text_matches(op: CompareOp, value: &str) -> bool {
    match op {
        CompareOp::Eq | CompareOp::Gte => value.is_empty(),
        CompareOp::Neq | CompareOp::Lt => !value.is_empty(),
        CompareOp::Gt => false,
        CompareOp::Lte => true,
        CompareOp::Like => value.chars().all(|c| c == '%'),
        CompareOp::NotLike => !value.chars().all(|c| c == '%'),
    }
}

/// A JSON path for SQLite's json functions. Field names (letters, digits, `_`) go in as they are;
/// any other key is quoted. SQLite finds a plain key a little faster than a quoted one, which it
/// must unescape and compare as it walks the object.
pub fn sqlite_path(path: &[String]) -> String {
    let mut out = String::from("$");
    for key in path {
        let plain = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if plain {
            out.push('.');
            out.push_str(key);
        } else {
            out.push_str(".\"");
            out.push_str(&key.replace('"', ""));
            out.push('"');
        }
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
        assert_eq!(sql, "((data #>> $1) = $2) AND (verified = $3)");
        assert_eq!(b.params.len(), 3);
        let mut b = SqlBuilder::new(Dialect::Sqlite);
        let sql = b.condition(&c);
        assert!(!sql.contains("OR 1=1"));
        assert_eq!(b.params[2], Param::Int(1));
        assert_eq!(
            sqlite_path(&["meta".into(), "plan".into(), "a b".into(), "2x".into()]),
            "$.meta.plan.\"a b\".\"2x\""
        );
    }

    fn text(name: &str, op: CompareOp, value: &str) -> Condition {
        Condition::Compare {
            left: Scalar::Field {
                path: vec![name.into()],
                kind: Kind::Text,
            },
            op,
            right: Scalar::Text(value.into()),
        }
    }

    fn sqlite(c: &Condition) -> String {
        SqlBuilder::new(Dialect::Sqlite).condition(c)
    }

    #[test]
    fn a_missing_field_reads_as_empty_wherever_that_could_change_the_answer() {
        let plain = "CAST(json_extract(data, ?1) AS TEXT)";
        let coalesced = "COALESCE(CAST(json_extract(data, ?1) AS TEXT), '')";
        // Whether '' satisfies the comparison decides: when it cannot, NULL for a missing field
        // selects the same rows; when it can, the missing field must read as ''.
        for (op, value, empty_matches) in [
            (CompareOp::Eq, "a", false),
            (CompareOp::Gt, "", false),
            (CompareOp::Gte, "a", false),
            (CompareOp::Like, "%a%", false),
            (CompareOp::Like, "\\%", false),
            (CompareOp::NotLike, "%", false),
            (CompareOp::Eq, "", true),
            (CompareOp::Neq, "a", true),
            (CompareOp::Lt, "a", true),
            (CompareOp::Lte, "", true),
            (CompareOp::Like, "%%", true),
            (CompareOp::NotLike, "%a%", true),
        ] {
            let expected = if empty_matches { coalesced } else { plain };
            assert!(
                sqlite(&text("f", op, value)).starts_with(expected),
                "{op:?} {value:?}"
            );
        }
        // Below NOT, false and NULL differ: always the two-valued form.
        let negated = Condition::Not(Box::new(Condition::Or(vec![text("f", CompareOp::Eq, "a")])));
        assert!(sqlite(&negated).starts_with(&format!("NOT (({coalesced}")));
    }

    #[test]
    fn a_bool_field_is_compared_in_one_never_null_step() {
        let active = |op, b| Condition::Compare {
            left: Scalar::Field {
                path: vec!["active".into()],
                kind: Kind::Bool,
            },
            op,
            right: Scalar::Bool(b),
        };
        assert_eq!(
            sqlite(&active(CompareOp::Eq, true)),
            "json_type(data, ?1) IS 'true'"
        );
        assert_eq!(
            sqlite(&active(CompareOp::Neq, false)),
            "json_type(data, ?1) IS 'true'"
        );
        assert_eq!(
            sqlite(&active(CompareOp::Eq, false)),
            "json_type(data, ?1) IS NOT 'true'"
        );
        assert_eq!(
            sqlite(&Condition::Not(Box::new(active(CompareOp::Neq, true)))),
            "NOT (json_type(data, ?1) IS NOT 'true')"
        );
    }
}
