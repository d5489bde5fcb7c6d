//! A list's condition with its SQL written at most once per backend.
//!
//! Writing a rule's SQL and its matcher test costs about as much as SQLite spends testing a
//! dozen rows, on every list request. The same rule for the same caller is the same condition,
//! so a caller that keeps a [`ListCondition`] and runs it again (the domain does, per rule,
//! caller and filter) reuses the text and parameters written the first time.

use crate::condition::{Condition, Dialect, Param, SqlBuilder};
use std::sync::{Arc, OnceLock};

/// Cheap to clone: clones share the condition and its written SQL.
#[derive(Debug, Clone)]
pub struct ListCondition(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    condition: Condition,
    sqlite: OnceLock<Written>,
    postgres: OnceLock<Written>,
}

/// ` WHERE collection_id = <1st placeholder> AND (<condition>)`, and the parameters the
/// condition binds (the 2nd placeholder onwards); the collection's id is bound per query.
#[derive(Debug)]
pub(crate) struct Written {
    pub filter: String,
    pub params: Vec<Param>,
}

impl ListCondition {
    pub fn new(condition: Condition) -> Self {
        Self(Arc::new(Inner {
            condition,
            sqlite: OnceLock::new(),
            postgres: OnceLock::new(),
        }))
    }

    pub fn condition(&self) -> &Condition {
        &self.0.condition
    }

    /// Whether no record can match (the list is empty without asking the database).
    pub fn is_never(&self) -> bool {
        self.0.condition == Condition::Const(false)
    }

    pub(crate) fn written(&self, dialect: Dialect) -> &Written {
        let cell = match dialect {
            Dialect::Sqlite => &self.0.sqlite,
            Dialect::Postgres => &self.0.postgres,
        };
        cell.get_or_init(|| {
            let mut b = SqlBuilder::new(dialect);
            let collection = b.bind(Param::Text(String::new()));
            let condition = b.condition(&self.0.condition);
            let mut params = b.params;
            params.remove(0);
            Written {
                filter: format!(" WHERE collection_id = {collection} AND ({condition})"),
                params,
            }
        })
    }
}

impl From<Condition> for ListCondition {
    fn from(condition: Condition) -> Self {
        Self::new(condition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::{CompareOp, Kind, Scalar};

    #[test]
    fn writes_once_per_dialect_and_numbers_after_the_collection() {
        let c = ListCondition::new(Condition::Compare {
            left: Scalar::Field {
                path: vec!["plan".into()],
                kind: Kind::Text,
            },
            op: CompareOp::Eq,
            right: Scalar::Text("pro".into()),
        });
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let first = c.written(dialect);
            assert!(std::ptr::eq(first, c.clone().written(dialect)));
            let mut b = SqlBuilder::new(dialect);
            let collection = b.bind(Param::Text("users".into()));
            let expected = b.condition(c.condition());
            assert_eq!(
                first.filter,
                format!(" WHERE collection_id = {collection} AND ({expected})")
            );
            assert_eq!(first.params, b.params[1..]);
        }
    }
}
