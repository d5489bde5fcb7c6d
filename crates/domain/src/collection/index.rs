//! PocketBase describes indexes as SQL strings in the collection JSON. Gatehouse reads the forms it
//! can enforce (unique indexes on one column, optionally `COLLATE NOCASE`) and refuses the rest,
//! rather than keeping an index it does not apply.

use regex::Regex;
use std::sync::LazyLock;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub unique: bool,
    pub name: String,
    pub columns: Vec<String>,
    pub nocase: bool,
    pub has_where: bool,
}

#[allow(clippy::expect_used)] // a constant pattern: a typo fails every test at once
static INDEX_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?is)^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?[`"']?(\w+)[`"']?\s+ON\s+[`"']?\w+[`"']?\s*\(([^)]*)\)\s*(WHERE\s+.+)?;?\s*$"#,
    )
    .expect("index regex")
});

#[allow(clippy::expect_used)]
static COLUMN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)^\s*[`"']?(\w+)[`"']?(\s+COLLATE\s+NOCASE)?(\s+(ASC|DESC))?\s*$"#)
        .expect("column regex")
});

impl IndexSpec {
    pub fn parse(sql: &str) -> Option<Self> {
        let caps = INDEX_RE.captures(sql)?;
        let mut columns = Vec::new();
        let mut nocase = false;
        for part in caps.get(3)?.as_str().split(',') {
            let col = COLUMN_RE.captures(part)?;
            columns.push(col.get(1)?.as_str().to_owned());
            nocase |= col.get(2).is_some();
        }
        Some(Self {
            unique: caps.get(1).is_some(),
            name: caps.get(2)?.as_str().to_owned(),
            columns,
            nocase,
            has_where: caps.get(4).is_some(),
        })
    }

    /// The single column of a one-column unique index.
    pub fn unique_column(&self) -> Option<&str> {
        match self.columns.as_slice() {
            [one] if self.unique => Some(one),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pocketbase_default_indexes() {
        let i = IndexSpec::parse("CREATE UNIQUE INDEX `idx_email__pb_users_auth_` ON `users` (`email`) WHERE `email` != ''").unwrap_or_else(|| unreachable!());
        assert_eq!(i.unique_column(), Some("email"));
        assert!(i.has_where && !i.nocase);
        let u = IndexSpec::parse("CREATE UNIQUE INDEX idx_u ON users (username COLLATE NOCASE)")
            .unwrap_or_else(|| unreachable!());
        assert_eq!(u.unique_column(), Some("username"));
        assert!(u.nocase);
        assert!(IndexSpec::parse("DROP TABLE users").is_none());
        assert_eq!(
            IndexSpec::parse("CREATE INDEX i ON t (a, b)").map(|i| i.columns.len()),
            Some(2)
        );
    }
}
