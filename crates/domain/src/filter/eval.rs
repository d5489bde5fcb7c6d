//! Evaluation against JSON values. The comparison rules follow what PocketBase's SQL does:
//! `null` equals `""`, numbers compare as numbers (numeric strings included), `~` is a
//! case-insensitive "contains" unless the pattern has `%` or `_`, and a multi-valued left side
//! (`field:each`, or a `@request` array) must match for every value (`=`) or for one of them (`?=`).

use super::lexer::{Op, OpKind};
use super::{Expr, Operand};
use serde_json::Value;

/// Resolves identifiers for one evaluation.
pub trait Context {
    /// The value of a field, `@request.*` path or macro; `None` when it is not set (read as null).
    fn lookup(&self, path: &str) -> Option<Value>;
    /// Whether `path` (e.g. `@request.body.role`) was set at all, for `:isset`.
    fn is_set(&self, path: &str) -> bool {
        self.lookup(path).is_some()
    }
    /// For `@request.body.x:changed`: the record's current value of `x`.
    fn current(&self, _field: &str) -> Option<Value> {
        None
    }
}

pub fn evaluate(expr: &Expr, ctx: &dyn Context) -> bool {
    match expr {
        Expr::And(parts) => parts.iter().all(|p| evaluate(p, ctx)),
        Expr::Or(parts) => parts.iter().any(|p| evaluate(p, ctx)),
        Expr::Compare { left, op, right } => compare(&value(left, ctx), *op, &value(right, ctx)),
    }
}

/// The value of one operand (with its modifier applied).
pub fn value(operand: &Operand, ctx: &dyn Context) -> Value {
    match operand {
        Operand::Str(s) => Value::String(s.clone()),
        Operand::Num(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
        Operand::Bool(b) => Value::Bool(*b),
        Operand::Null => Value::Null,
        Operand::Ident { path, modifier } => match modifier.as_deref() {
            // As in PocketBase, a record's multi-valued or JSON field is compared as its JSON
            // text unless `:each` asks for its elements.
            None if !path.starts_with('@') => match ctx.lookup(path) {
                Some(v @ (Value::Array(_) | Value::Object(_))) => Value::String(v.to_string()),
                other => other.unwrap_or(Value::Null),
            },
            None | Some("each") => ctx.lookup(path).unwrap_or(Value::Null),
            Some("isset") => Value::Bool(ctx.is_set(path)),
            Some("length") => match ctx.lookup(path) {
                Some(Value::Array(items)) => Value::from(items.len()),
                Some(Value::Null) | None => Value::from(0),
                Some(_) => Value::from(1),
            },
            Some("lower") => match ctx.lookup(path) {
                Some(Value::String(s)) => Value::String(s.to_lowercase()),
                other => other.unwrap_or(Value::Null),
            },
            Some("changed") => {
                let field = path.rsplit('.').next().unwrap_or(path);
                let submitted = ctx.is_set(path) && ctx.lookup(path) != ctx.current(field);
                Value::Bool(submitted)
            }
            // Unknown modifiers are refused when a rule is saved; here they match nothing.
            Some(_) => Value::Null,
        },
    }
}

/// Past this many value pairs a comparison is false (a rule denies): two lists from a request
/// body could otherwise ask for billions of comparisons in one evaluation.
const MAX_PAIRS: usize = 1_000_000;

/// One comparison, with the any-of and multi-value rules of the module comment.
pub fn compare(left: &Value, op: Op, right: &Value) -> bool {
    let lefts: Vec<&Value> = match left {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let rights: Vec<&Value> = match right {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    if lefts.is_empty() || rights.is_empty() {
        // An empty list compares like an empty value.
        let l = if lefts.is_empty() {
            &Value::Null
        } else {
            lefts[0]
        };
        let r = if rights.is_empty() {
            &Value::Null
        } else {
            rights[0]
        };
        return scalar(l, op.kind, r);
    }
    if lefts.len().saturating_mul(rights.len()) > MAX_PAIRS {
        return false;
    }
    let pair = |l: &Value| rights.iter().any(|r| scalar(l, op.kind, r));
    if op.any {
        lefts.iter().any(|l| pair(l))
    } else {
        lefts.iter().all(|l| pair(l))
    }
}

fn scalar(left: &Value, kind: OpKind, right: &Value) -> bool {
    match kind {
        OpKind::Eq => equal(left, right),
        OpKind::Neq => !equal(left, right),
        // Past the work bound neither `~` nor `!~` holds, so a rule denies either way.
        OpKind::Like => like(&text(left), &text(right)).unwrap_or(false),
        OpKind::NotLike => like(&text(left), &text(right)).is_some_and(|m| !m),
        OpKind::Gt => order(left, right).is_some_and(|o| o.is_gt()),
        OpKind::Gte => order(left, right).is_some_and(|o| o.is_ge()),
        OpKind::Lt => order(left, right).is_some_and(|o| o.is_lt()),
        OpKind::Lte => order(left, right).is_some_and(|o| o.is_le()),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// How a value reads as text in a comparison (`null` is `""`).
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, Value::String(s)) | (Value::String(s), Value::Null) => s.is_empty(),
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Bool(x), Value::String(s)) | (Value::String(s), Value::Bool(x)) => {
            s == if *x { "true" } else { "false" }
        }
        (Value::String(x), Value::String(y)) => x == y,
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x == y,
            _ => text(a) == text(b),
        },
    }
}

fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            match (x.trim().parse::<f64>(), y.trim().parse::<f64>()) {
                (Ok(x), Ok(y)) => x.partial_cmp(&y),
                _ => Some(x.cmp(y)),
            }
        }
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => Some(text(a).cmp(&text(b))),
        },
    }
}

/// The most `value` × `pattern` characters one `~` may work through (the matching below is
/// quadratic in the worst case, and both sides may come from a request).
const MAX_LIKE_WORK: usize = 100_000_000;

/// SQL LIKE semantics (ASCII case-insensitive, `%` any run, `_` one character); a pattern with
/// neither wildcard means "contains". `None` past [`MAX_LIKE_WORK`].
fn like(value: &str, pattern: &str) -> Option<bool> {
    if value.len().saturating_mul(pattern.len()) > MAX_LIKE_WORK {
        return None;
    }
    let value: Vec<char> = value.to_lowercase().chars().collect();
    let pattern = pattern.to_lowercase();
    let pattern: Vec<char> = if pattern.contains(['%', '_']) {
        pattern.chars().collect()
    } else {
        format!("%{pattern}%").chars().collect()
    };
    // Iterative wildcard matching with backtracking to the last '%'.
    let (mut v, mut p) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while v < value.len() {
        if p < pattern.len() && (pattern[p] == '_' || pattern[p] == value[v]) {
            v += 1;
            p += 1;
        } else if p < pattern.len() && pattern[p] == '%' {
            star = Some(p);
            mark = v;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            v = mark;
        } else {
            return Some(false);
        }
    }
    while p < pattern.len() && pattern[p] == '%' {
        p += 1;
    }
    Some(p == pattern.len())
}
