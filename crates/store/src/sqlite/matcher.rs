//! A list's conditions on custom fields, answered in one call per row.
//!
//! A rule such as `active = true && (role = 'member' || plan ~ 'pro')` reads three fields of
//! every record of the collection. As SQL that is a `json_extract`/`json_type` call per field and
//! row, each of which costs SQLite about 900 instructions (a parse object, header checks, the
//! path text read again). Here the data-only part of a condition becomes a [`Test`], bound as one
//! parameter, and `gatehouse_match(data, test)` gathers the fields it reads in one walk over the
//! row's JSONB, in Rust. Measured on the bench's list rule: the rule's extra cost over the same
//! list without a rule fell from 174k to 134k instructions a request (bench/README.md).
//!
//! The SQL stays the judge: the condition is written as
//! `COALESCE(gatehouse_match(data, ?), (<the condition as SQL>))`. The matcher answers 1 or 0
//! only where it knows SQLite's answer for certain (strings, booleans, integers a double holds,
//! missing fields, `%`-only ASCII patterns) and NULL otherwise, and then SQLite evaluates the
//! condition itself. It is used only where NULL and false select the same rows (the top of a
//! WHERE, below `AND`/`OR` only), so "not true" is all it needs to know.

use super::jsonb::{self, Element, Unreadable};
use crate::condition::{CompareOp, Condition, Kind, Scalar};
use rusqlite::Connection;
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// The SQL function's name, as the SQL writer calls it.
pub const FUNCTION: &str = "gatehouse_match";

/// What the matcher checks on one row's `data`: the form bound as the function's parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Test {
    All(Vec<Test>),
    Any(Vec<Test>),
    Field { path: Vec<String>, check: Check },
}

/// A check on the value at a field's path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Check {
    /// The text (a missing field or null reads as `''`) against `value`, bytewise as SQLite's
    /// BINARY collation compares.
    Text { op: Cmp, value: String },
    /// The text (missing reads as `''`) LIKE a pattern of ASCII characters and `%`, ASCII
    /// letters in either case, as SQLite's LIKE does; `negated` for NOT LIKE.
    Like { pattern: String, negated: bool },
    /// The number (anything else reads as 0) against `value`.
    Number { op: Cmp, value: f64 },
    /// 1 when the value is `true`, else 0, against `value`.
    Bool { op: Cmp, value: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cmp {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Cmp {
    fn of(op: CompareOp) -> Option<Self> {
        Some(match op {
            CompareOp::Eq => Cmp::Eq,
            CompareOp::Neq => Cmp::Neq,
            CompareOp::Gt => Cmp::Gt,
            CompareOp::Gte => Cmp::Gte,
            CompareOp::Lt => Cmp::Lt,
            CompareOp::Lte => Cmp::Lte,
            CompareOp::Like | CompareOp::NotLike => return None,
        })
    }

    fn holds(self, order: Ordering) -> bool {
        match self {
            Cmp::Eq => order.is_eq(),
            Cmp::Neq => order.is_ne(),
            Cmp::Gt => order.is_gt(),
            Cmp::Gte => order.is_ge(),
            Cmp::Lt => order.is_lt(),
            Cmp::Lte => order.is_le(),
        }
    }
}

/// The longest LIKE pattern the matcher takes on; SQLite's own limit is far above.
const MAX_PATTERN: usize = 1000;

impl Test {
    /// The test for `c`, when every part of it reads only custom fields and is one the matcher
    /// knows ([`Test::knows`]); `None` otherwise.
    pub fn of(c: &Condition) -> Option<Test> {
        match c {
            Condition::And(parts) => parts
                .iter()
                .map(Test::of)
                .collect::<Option<_>>()
                .map(Test::All),
            Condition::Or(parts) => parts
                .iter()
                .map(Test::of)
                .collect::<Option<_>>()
                .map(Test::Any),
            Condition::Compare {
                left: Scalar::Field { path, kind },
                op,
                right,
            } if !path.is_empty() => Some(Test::Field {
                path: path.clone(),
                check: Check::of(*kind, *op, right)?,
            }),
            _ => None,
        }
    }

    /// Whether [`Test::of`] gives a test for `c`, without building it.
    pub fn knows(c: &Condition) -> bool {
        match c {
            Condition::And(parts) | Condition::Or(parts) => parts.iter().all(Test::knows),
            Condition::Compare {
                left: Scalar::Field { path, kind },
                op,
                right,
            } => !path.is_empty() && Check::applies(*kind, *op, right),
            _ => false,
        }
    }

    /// Whether the test reads at most [`MAX_FIELDS`] top-level fields, so [`Prepared`] takes it.
    /// (One it refused would be parsed again on every row, to answer "ask SQLite".)
    pub fn fits(&self) -> bool {
        fn first_keys<'a>(t: &'a Test, keys: &mut Vec<&'a str>) {
            match t {
                Test::All(parts) | Test::Any(parts) => {
                    parts.iter().for_each(|p| first_keys(p, keys))
                }
                Test::Field { path, .. } => {
                    let first = path.first().map_or("", String::as_str);
                    if !keys.contains(&first) {
                        keys.push(first);
                    }
                }
            }
        }
        let mut keys = Vec::new();
        first_keys(self, &mut keys);
        keys.len() <= MAX_FIELDS
    }

    /// How many field reads `c` makes: one alone is no better than SQLite's own function.
    pub fn reads(c: &Condition) -> usize {
        match c {
            Condition::And(parts) | Condition::Or(parts) => parts.iter().map(Test::reads).sum(),
            _ => 1,
        }
    }
}

impl Check {
    fn applies(kind: Kind, op: CompareOp, right: &Scalar) -> bool {
        let like = matches!(op, CompareOp::Like | CompareOp::NotLike);
        match (kind, right) {
            (Kind::Text, Scalar::Text(pattern)) if like => {
                pattern.len() <= MAX_PATTERN
                    && pattern
                        .bytes()
                        .all(|b| b.is_ascii() && !matches!(b, 0 | b'_' | b'\\'))
            }
            (Kind::Text, Scalar::Text(_)) | (Kind::Bool, Scalar::Bool(_)) => !like,
            // SQLite binds NaN as NULL; leave that to SQLite.
            (Kind::Number, Scalar::Number(value)) => !like && !value.is_nan(),
            _ => false,
        }
    }

    fn of(kind: Kind, op: CompareOp, right: &Scalar) -> Option<Check> {
        if !Check::applies(kind, op, right) {
            return None;
        }
        match (kind, right) {
            (Kind::Text, Scalar::Text(pattern))
                if matches!(op, CompareOp::Like | CompareOp::NotLike) =>
            {
                Some(Check::Like {
                    pattern: pattern.clone(),
                    negated: op == CompareOp::NotLike,
                })
            }
            (Kind::Text, Scalar::Text(value)) => Some(Check::Text {
                op: Cmp::of(op)?,
                value: value.clone(),
            }),
            (Kind::Number, Scalar::Number(value)) => Some(Check::Number {
                op: Cmp::of(op)?,
                value: *value,
            }),
            (Kind::Bool, Scalar::Bool(value)) => Some(Check::Bool {
                op: Cmp::of(op)?,
                value: *value,
            }),
            _ => None,
        }
    }

    /// The answer for the value found at the field's path (`None`: no such value).
    fn answer(&self, found: Option<Element<'_>>) -> Answer {
        match self {
            Check::Text { op, value } => match text(found) {
                Ok(Some(text)) => Answer::of(op.holds(text.as_ref().cmp(value.as_bytes()))),
                _ => Answer::Unknown,
            },
            Check::Like { pattern, negated } => match text(found) {
                Ok(Some(text)) => Answer::of(like(&text, pattern.as_bytes()) != *negated),
                _ => Answer::Unknown,
            },
            Check::Number { op, value } => {
                let n = match found {
                    Some(e) if e.kind == jsonb::INT => match jsonb::exact_integer(e) {
                        Some(n) => n,
                        None => return Answer::Unknown,
                    },
                    // A real, as SQLite converts its text (not always correctly rounded): SQLite's.
                    Some(e) if is_number(e) => return Answer::Unknown,
                    _ => 0.0,
                };
                n.partial_cmp(value)
                    .map_or(Answer::Unknown, |o| Answer::of(op.holds(o)))
            }
            Check::Bool { op, value } => {
                let is_true = found.is_some_and(|e| e.kind == jsonb::TRUE);
                Answer::of(op.holds(is_true.cmp(value)))
            }
        }
    }
}

/// The most distinct top-level fields one test reads (the row's fields are gathered in one walk
/// into a fixed array).
const MAX_FIELDS: usize = 16;

/// A test made ready to run: the distinct top-level keys it reads, and its tree with each field
/// replaced by the index of its key.
#[derive(Debug)]
pub struct Prepared {
    keys: Vec<String>,
    root: Node,
}

#[derive(Debug)]
enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Field {
        key: usize,
        /// Keys below the top-level one (inside a JSON field).
        deeper: Vec<String>,
        check: Check,
    },
}

impl Prepared {
    /// `None` when the test reads more than [`MAX_FIELDS`] top-level fields.
    fn new(test: Test) -> Option<Prepared> {
        let mut keys = Vec::new();
        let root = Self::node(test, &mut keys);
        (keys.len() <= MAX_FIELDS).then_some(Prepared { keys, root })
    }

    fn node(test: Test, keys: &mut Vec<String>) -> Node {
        match test {
            Test::All(parts) => Node::All(parts.into_iter().map(|p| Self::node(p, keys)).collect()),
            Test::Any(parts) => Node::Any(parts.into_iter().map(|p| Self::node(p, keys)).collect()),
            Test::Field { mut path, check } => {
                let deeper = path.split_off(1.min(path.len()));
                let first = path.pop().unwrap_or_default();
                let key = keys.iter().position(|k| *k == first).unwrap_or_else(|| {
                    keys.push(first);
                    keys.len() - 1
                });
                Node::Field { key, deeper, check }
            }
        }
    }

    /// The answer for one row's `data`.
    pub fn answer(&self, data: &[u8]) -> Answer {
        let mut found = [None; MAX_FIELDS];
        let found = &mut found[..self.keys.len()];
        match jsonb::members(data, &self.keys, found) {
            Ok(()) => answer(&self.root, found),
            Err(Unreadable) => Answer::Unknown,
        }
    }
}

/// What the matcher knows of a condition on one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    True,
    /// False or NULL: the row is not selected either way.
    NotTrue,
    /// Only SQLite can tell.
    Unknown,
}

impl Answer {
    fn of(b: bool) -> Self {
        if b { Answer::True } else { Answer::NotTrue }
    }
}

fn answer(node: &Node, found: &[Option<Element<'_>>]) -> Answer {
    match node {
        Node::All(parts) => {
            let mut unknown = false;
            for part in parts {
                match answer(part, found) {
                    Answer::NotTrue => return Answer::NotTrue,
                    Answer::Unknown => unknown = true,
                    Answer::True => {}
                }
            }
            if unknown {
                Answer::Unknown
            } else {
                Answer::True
            }
        }
        Node::Any(parts) => {
            let mut unknown = false;
            for part in parts {
                match answer(part, found) {
                    Answer::True => return Answer::True,
                    Answer::Unknown => unknown = true,
                    Answer::NotTrue => {}
                }
            }
            if unknown {
                Answer::Unknown
            } else {
                Answer::NotTrue
            }
        }
        Node::Field { key, deeper, check } => {
            let mut at = found.get(*key).copied().flatten();
            for k in deeper {
                at = match at.map(|e| jsonb::member(e, k.as_bytes())) {
                    Some(Ok(next)) => next,
                    Some(Err(Unreadable)) => return Answer::Unknown,
                    None => None,
                };
            }
            check.answer(at)
        }
    }
}

fn is_number(e: Element<'_>) -> bool {
    // INT, INT5, FLOAT, FLOAT5.
    (jsonb::INT..=jsonb::INT + 3).contains(&e.kind)
}

/// A value as the SQL reads it for a text comparison: a missing field or null as `''`; `None`
/// for any other non-string (a number's text is SQLite's to format).
fn text(found: Option<Element<'_>>) -> Result<Option<Cow<'_, [u8]>>, Unreadable> {
    match found {
        None => Ok(Some(Cow::Borrowed(b""))),
        Some(e) if e.kind == jsonb::NULL => Ok(Some(Cow::Borrowed(b""))),
        Some(e) => jsonb::string(e),
    }
}

/// SQLite's LIKE for a pattern of ASCII characters and `%`: ASCII letters match in either case,
/// every other byte only itself. (An ASCII byte never occurs inside a multi-byte UTF-8
/// character, so comparing bytes is comparing characters.) Like SQLite, it reads the text as a
/// C string: up to its first NUL.
fn like(text: &[u8], pattern: &[u8]) -> bool {
    let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())];
    // `first%middle…%last`: `first` starts the text, `last` ends it, and the middle pieces
    // come in order between them (each at its leftmost place, which leaves the most room).
    let (Some(start), Some(end)) = (
        pattern.iter().position(|&b| b == b'%'),
        pattern.iter().rposition(|&b| b == b'%'),
    ) else {
        return text.eq_ignore_ascii_case(pattern);
    };
    let (first, last) = (&pattern[..start], &pattern[end + 1..]);
    if text.len() < first.len() + last.len() || !starts_with(text, first) || !ends_with(text, last)
    {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    if start == end {
        return true;
    }
    for piece in pattern[start + 1..end].split(|&b| b == b'%') {
        match find(rest, piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

fn starts_with(text: &[u8], prefix: &[u8]) -> bool {
    text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn ends_with(text: &[u8], suffix: &[u8]) -> bool {
    text.len() >= suffix.len() && text[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

fn find(text: &[u8], piece: &[u8]) -> Option<usize> {
    if piece.is_empty() {
        return Some(0);
    }
    text.windows(piece.len())
        .position(|w| w.eq_ignore_ascii_case(piece))
}

/// Registers `gatehouse_match(data, test)` on `conn`: 1, 0, or NULL for "ask SQLite".
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8
        | FunctionFlags::SQLITE_DETERMINISTIC
        | FunctionFlags::SQLITE_INNOCUOUS;
    conn.create_scalar_function(FUNCTION, 2, flags, |ctx| -> rusqlite::Result<Option<i64>> {
        let (ValueRef::Blob(data), Some(test)) = (ctx.get_raw(0), prepared(ctx)?) else {
            return Ok(None);
        };
        Ok(match test.answer(data) {
            Answer::True => Some(1),
            Answer::NotTrue => Some(0),
            Answer::Unknown => None,
        })
    })
}

/// Prepared tests by their text. A list binds the same text on every request; SQLite keeps the
/// prepared test with the parameter for the rest of that statement's run, and this keeps it for
/// the next run. Bounded: when full it starts again.
static PREPARED: LazyLock<Mutex<HashMap<String, Arc<Prepared>>>> = LazyLock::new(Default::default);
const MAX_PREPARED: usize = 256;

/// The test parameter, prepared; `None` for one the matcher cannot run (SQLite then decides).
/// (Two `Arc`s: SQLite's auxiliary data keeps its own `Arc` of the registry's.)
#[allow(clippy::redundant_allocation)]
fn prepared(ctx: &Context<'_>) -> rusqlite::Result<Option<Arc<Arc<Prepared>>>> {
    if let Some(test) = ctx.get_aux::<Arc<Prepared>>(1)? {
        return Ok(Some(test));
    }
    let Ok(text) = ctx.get_raw(1).as_str() else {
        return Ok(None);
    };
    let cached = PREPARED
        .lock()
        .map_or(None, |cache| cache.get(text).cloned());
    let test = match cached {
        Some(test) => test,
        None => {
            let Some(test) = serde_json::from_str(text).ok().and_then(Prepared::new) else {
                return Ok(None);
            };
            let test = Arc::new(test);
            if let Ok(mut cache) = PREPARED.lock() {
                if cache.len() >= MAX_PREPARED {
                    cache.clear();
                }
                cache.insert(text.to_owned(), Arc::clone(&test));
            }
            test
        }
    };
    ctx.set_aux(1, test).map(Some)
}

#[cfg(test)]
mod tests;
