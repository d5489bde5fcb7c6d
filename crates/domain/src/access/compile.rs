//! Compiles a filter expression into a store [`Condition`], so that list rules and the records
//! `filter` parameter run in the database (with bound parameters) instead of row by row.
//!
//! `@request.*` and the date macros are known before the query runs: they become constants. What
//! is left compares record fields with values, or fields with fields. The result matches the
//! in-memory evaluator ([`crate::filter::evaluate`]) on every record, with the field's declared
//! type deciding how a value is compared (a number field compares numbers, a text field text).
//! The integration tests check the two agree on a corpus of expressions.

use super::Scope;
use crate::collection::{Collection, FieldKind};
use crate::filter::{self, Expr, Op, OpKind, Operand};
use gatehouse_store::{Column, CompareOp, Condition, Kind, Scalar};
use serde_json::Value;

/// Why an expression cannot run as SQL; the message names the culprit, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError(pub String);

pub struct Compiler<'a> {
    pub collection: &'a Collection,
    pub scope: Scope<'a>,
    /// For the `filter` parameter of a non-superuser: hidden fields are unknown, and an email
    /// only matches on records that show it (as in PocketBase).
    pub public: bool,
}

/// A record field as a comparison reads it.
#[derive(Debug, Clone)]
enum Target {
    Column(Column, Kind),
    /// A typed value in the `data` JSON; `kind` is `None` for JSON fields (the other side decides).
    Data {
        path: Vec<String>,
        kind: Option<Kind>,
    },
    /// A multi-valued field (a select with `maxSelect > 1`).
    Multi {
        path: Vec<String>,
    },
}

enum Side {
    Value(Value),
    Field {
        target: Target,
        modifier: Option<String>,
    },
}

/// The most comparisons a condition may hold once `?=` lists of values are expanded: the parser
/// caps what is written, but one `@request.*` value may be a list of any length. It keeps the
/// SQL within SQLite's expression depth (1,000) and both databases' bound parameters.
const MAX_COMPARISONS: usize = 500;
/// SQLite refuses LIKE patterns longer than this many bytes (a `~` value from `@request.*` may be).
const MAX_PATTERN_BYTES: usize = 50_000;

impl Compiler<'_> {
    pub fn compile(&self, expr: &Expr) -> Result<Condition, CompileError> {
        let condition = self.compile_expr(expr)?;
        if comparisons(&condition) > MAX_COMPARISONS {
            return Err(too_many_comparisons());
        }
        if longest_pattern(&condition) > MAX_PATTERN_BYTES {
            return Err(CompileError("a ~ pattern is too long".into()));
        }
        Ok(condition)
    }

    fn compile_expr(&self, expr: &Expr) -> Result<Condition, CompileError> {
        match expr {
            Expr::And(parts) => parts.iter().try_fold(Condition::Const(true), |acc, p| {
                Ok(and(acc, self.compile(p)?))
            }),
            Expr::Or(parts) => parts.iter().try_fold(Condition::Const(false), |acc, p| {
                Ok(or(acc, self.compile(p)?))
            }),
            Expr::Compare { left, op, right } => match (self.side(left)?, self.side(right)?) {
                (Side::Value(l), Side::Value(r)) => {
                    Ok(Condition::Const(filter::compare(&l, *op, &r)))
                }
                (Side::Field { target, modifier }, Side::Value(v)) => {
                    self.field_vs_value(target, modifier.as_deref(), *op, &v)
                }
                (Side::Value(v), Side::Field { target, modifier }) => {
                    let flipped = flip(*op).ok_or_else(|| {
                        CompileError("a pattern (~) must be the right-hand side".into())
                    })?;
                    self.field_vs_value(target, modifier.as_deref(), flipped, &v)
                }
                (
                    Side::Field {
                        target: l,
                        modifier: lm,
                    },
                    Side::Field {
                        target: r,
                        modifier: rm,
                    },
                ) => {
                    let email = is_email(&l) || is_email(&r);
                    let condition = field_vs_field(l, lm.as_deref(), *op, r, rm.as_deref())?;
                    Ok(self.email_shown_if(email, condition))
                }
            },
        }
    }

    fn side(&self, operand: &Operand) -> Result<Side, CompileError> {
        let Operand::Ident { path, modifier } = operand else {
            return Ok(Side::Value(filter::value(operand, &self.scope)));
        };
        if path.starts_with("@collection") {
            return Err(CompileError(
                "@collection is not supported in filters yet".into(),
            ));
        }
        if path.starts_with('@') {
            return Ok(Side::Value(filter::value(operand, &self.scope)));
        }
        let unknown = || CompileError(format!("unknown field {path:?}"));
        let mut parts = path.split('.');
        let name = parts.next().unwrap_or_default();
        let rest: Vec<String> = parts.map(str::to_owned).collect();
        let column = |c, k| match rest.is_empty() {
            true => Ok(Target::Column(c, k)),
            false => Err(unknown()),
        };
        let target = match name {
            "id" => column(Column::Id, Kind::Text)?,
            "email" => column(Column::Email, Kind::Text)?,
            "emailVisibility" => column(Column::EmailVisibility, Kind::Bool)?,
            "verified" => column(Column::Verified, Kind::Bool)?,
            "created" => column(Column::Created, Kind::Text)?,
            "tokenKey" if !self.public => column(Column::TokenKey, Kind::Text)?,
            "updated" => column(Column::Updated, Kind::Text)?,
            "collectionId" if rest.is_empty() => {
                return Ok(Side::Value(Value::String(self.collection.id.clone())));
            }
            "collectionName" if rest.is_empty() => {
                return Ok(Side::Value(Value::String(self.collection.name.clone())));
            }
            _ => {
                let field = self
                    .collection
                    .custom_fields()
                    .find(|f| f.name == name)
                    .filter(|f| !(self.public && f.hidden))
                    .ok_or_else(unknown)?;
                let mut path = vec![field.name.clone()];
                match &field.kind {
                    FieldKind::Json { .. } => {
                        path.extend(rest);
                        Target::Data { path, kind: None }
                    }
                    _ if !rest.is_empty() => return Err(unknown()),
                    FieldKind::Password { .. } => return Err(unknown()),
                    FieldKind::Select { max_select, .. } if *max_select > 1 => {
                        Target::Multi { path }
                    }
                    FieldKind::Number { .. } => Target::Data {
                        path,
                        kind: Some(Kind::Number),
                    },
                    FieldKind::Bool { .. } => Target::Data {
                        path,
                        kind: Some(Kind::Bool),
                    },
                    _ => Target::Data {
                        path,
                        kind: Some(Kind::Text),
                    },
                }
            }
        };
        match modifier.as_deref() {
            None | Some("lower" | "length" | "each") => Ok(Side::Field {
                target,
                modifier: modifier.clone(),
            }),
            Some(other) => Err(CompileError(format!(
                "the :{other} modifier does not apply to {path:?}"
            ))),
        }
    }

    fn field_vs_value(
        &self,
        target: Target,
        modifier: Option<&str>,
        op: Op,
        value: &Value,
    ) -> Result<Condition, CompileError> {
        let rights: Vec<Value> = match value {
            Value::Array(items) if items.len() > MAX_COMPARISONS => {
                return Err(too_many_comparisons());
            }
            Value::Array(items) if items.is_empty() => vec![Value::Null],
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        let email = is_email(&target);
        let condition = match (target, modifier) {
            (Target::Multi { path } | Target::Data { path, kind: None }, Some("length")) => {
                let length = Scalar::Length(path);
                any_of(&rights, |r| {
                    typed_compare(length.clone(), Kind::Number, op, r)
                })
            }
            // `:each` reads the elements; without it a multi-valued field is its JSON text.
            (Target::Multi { path }, Some("each")) => multi(path, op, !op.any, &rights)?,
            (Target::Multi { path }, None | Some("lower")) => scalar_compare(
                |_| Scalar::Field {
                    path: path.clone(),
                    kind: Kind::Text,
                },
                Some(Kind::Text),
                modifier,
                op,
                &rights,
            ),
            (Target::Column(c, kind), None | Some("lower")) => {
                scalar_compare(|_| Scalar::Column(c), Some(kind), modifier, op, &rights)
            }
            (Target::Data { path, kind }, None | Some("lower")) => scalar_compare(
                |kind| Scalar::Field {
                    path: path.clone(),
                    kind,
                },
                kind,
                modifier,
                op,
                &rights,
            ),
            (_, Some(m)) => {
                return Err(CompileError(format!(":{m} does not apply to this field")));
            }
        };
        Ok(self.email_shown_if(email, condition))
    }

    /// For the public, a comparison that reads the email holds only where the address is shown,
    /// whatever the other side is (a value or another field), so hidden addresses reveal nothing.
    fn email_shown_if(&self, reads_email: bool, condition: Condition) -> Condition {
        match reads_email && self.public {
            true => and(condition, visible_email()),
            false => condition,
        }
    }
}

/// A single-valued field (built by `scalar` for the kind it is read as) against each of `rights`.
fn scalar_compare(
    scalar: impl Fn(Kind) -> Scalar,
    declared: Option<Kind>,
    modifier: Option<&str>,
    op: Op,
    rights: &[Value],
) -> Condition {
    any_of(rights, |r| {
        let kind = declared.unwrap_or_else(|| kind_of(r));
        if modifier == Some("lower") {
            let r = Value::String(filter::text(r).to_lowercase());
            typed_compare(
                Scalar::Lower(Box::new(scalar(Kind::Text))),
                Kind::Text,
                op,
                &r,
            )
        } else {
            typed_compare(scalar(kind), kind, op, r)
        }
    })
}

fn is_email(target: &Target) -> bool {
    matches!(target, Target::Column(Column::Email, _))
}

fn visible_email() -> Condition {
    Condition::Compare {
        left: Scalar::Column(Column::EmailVisibility),
        op: CompareOp::Eq,
        right: Scalar::Bool(true),
    }
}

/// True when one of `rights` matches (the evaluator's "any right value" rule).
fn any_of(rights: &[Value], f: impl Fn(&Value) -> Condition) -> Condition {
    rights.iter().map(f).fold(Condition::Const(false), or)
}

/// The kind a JSON value compares as, for JSON fields whose type is not declared.
fn kind_of(v: &Value) -> Kind {
    match v {
        Value::Number(_) => Kind::Number,
        Value::Bool(_) => Kind::Bool,
        _ => Kind::Text,
    }
}

/// `scalar op value`, with `value` converted to `kind`. A value that has no such reading (the
/// text `abc` against a number field) matches nothing, or everything for `!=`, as in the evaluator.
fn typed_compare(scalar: Scalar, kind: Kind, op: Op, value: &Value) -> Condition {
    let cmp = store_op(op.kind);
    if matches!(op.kind, OpKind::Like | OpKind::NotLike) {
        let left = match kind {
            Kind::Text => scalar,
            // Numbers and booleans are rarely matched by pattern; compare their text.
            _ => return Condition::Const(op.kind == OpKind::NotLike),
        };
        return Condition::Compare {
            left,
            op: cmp,
            right: Scalar::Text(like_pattern(&filter::text(value))),
        };
    }
    let right = match (kind, value) {
        (Kind::Text, Value::Number(n)) => n.as_f64().map(|n| Scalar::Text(number_text(n))),
        (Kind::Text, v) => Some(Scalar::Text(filter::text(v))),
        (Kind::Number, Value::Number(n)) => n.as_f64().map(Scalar::Number),
        (Kind::Number, Value::Bool(b)) => Some(Scalar::Number(f64::from(u8::from(*b)))),
        (Kind::Number, Value::String(s)) => s.trim().parse().ok().map(Scalar::Number),
        (Kind::Bool, Value::Bool(b)) => Some(Scalar::Bool(*b)),
        (Kind::Bool, Value::String(s)) if s == "true" || s == "false" => {
            Some(Scalar::Bool(s == "true"))
        }
        (Kind::Bool, Value::Number(n)) => match n.as_f64() {
            Some(x) if x == 0.0 || x == 1.0 => Some(Scalar::Bool(x == 1.0)),
            _ => None,
        },
        _ => None,
    };
    match right {
        Some(right) => Condition::Compare {
            left: scalar,
            op: cmp,
            right,
        },
        None => Condition::Const(op.kind == OpKind::Neq),
    }
}

/// A multi-valued field's elements (`:each`) against values: some element (`?=`) or every one.
/// An empty field compares like an empty value, as in the evaluator.
fn multi(
    path: Vec<String>,
    op: Op,
    every: bool,
    rights: &[Value],
) -> Result<Condition, CompileError> {
    let like = matches!(op.kind, OpKind::Like | OpKind::NotLike);
    if !like && !matches!(op.kind, OpKind::Eq | OpKind::Neq) {
        return Err(CompileError(
            "a multi-valued field can only be compared with = != ~ !~".into(),
        ));
    }
    let texts: Vec<String> = rights
        .iter()
        .map(|r| match r {
            Value::Number(n) => n.as_f64().map(number_text).unwrap_or_default(),
            other => filter::text(other),
        })
        .map(|t| if like { like_pattern(&t) } else { t })
        .collect();
    let when_empty = filter::compare(&Value::Null, op, rights.first().unwrap_or(&Value::Null));
    let elements = Condition::Elements {
        path: path.clone(),
        every,
        op: store_op(op.kind),
        rights: texts,
    };
    let is_empty = Condition::Compare {
        left: Scalar::Length(path),
        op: CompareOp::Eq,
        right: Scalar::Number(0.0),
    };
    Ok(match (every, when_empty) {
        (true, true) => elements,
        (true, false) => and(Condition::Not(Box::new(is_empty)), elements),
        (false, true) => or(is_empty, elements),
        (false, false) => elements,
    })
}

fn field_vs_field(
    left: Target,
    lm: Option<&str>,
    op: Op,
    right: Target,
    rm: Option<&str>,
) -> Result<Condition, CompileError> {
    if lm.is_some() || rm.is_some() || matches!(op.kind, OpKind::Like | OpKind::NotLike) {
        return Err(CompileError(
            "comparing two fields supports = != > >= < <= only".into(),
        ));
    }
    let declared = |t: &Target| match t {
        Target::Column(_, k) => Ok(Some(*k)),
        Target::Data { kind, .. } => Ok(*kind),
        Target::Multi { .. } => Err(CompileError(
            "comparing two multi-valued fields is not supported".into(),
        )),
    };
    let kind = declared(&left)?.or(declared(&right)?).unwrap_or(Kind::Text);
    let scalar = |t: Target| match t {
        Target::Column(c, k) if k == kind => Ok(Scalar::Column(c)),
        Target::Data { path, kind: k } if k.is_none_or(|k| k == kind) => {
            Ok(Scalar::Field { path, kind })
        }
        _ => Err(CompileError("the two fields have different types".into())),
    };
    Ok(Condition::Compare {
        left: scalar(left)?,
        op: store_op(op.kind),
        right: scalar(right)?,
    })
}

fn too_many_comparisons() -> CompileError {
    CompileError("the condition has too many comparisons".into())
}

/// How many comparisons the database evaluates for `c`.
fn comparisons(c: &Condition) -> usize {
    match c {
        Condition::Const(_) => 0,
        Condition::Compare { .. } => 1,
        Condition::Elements { rights, .. } => rights.len().max(1),
        Condition::Not(inner) => comparisons(inner),
        Condition::And(parts) | Condition::Or(parts) => parts.iter().map(comparisons).sum(),
    }
}

/// The length of the longest LIKE pattern in `c`, in bytes.
fn longest_pattern(c: &Condition) -> usize {
    match c {
        Condition::Compare {
            op: CompareOp::Like | CompareOp::NotLike,
            right: Scalar::Text(pattern),
            ..
        } => pattern.len(),
        Condition::Elements {
            op: CompareOp::Like | CompareOp::NotLike,
            rights,
            ..
        } => rights.iter().map(String::len).max().unwrap_or(0),
        Condition::Const(_) | Condition::Compare { .. } | Condition::Elements { .. } => 0,
        Condition::Not(inner) => longest_pattern(inner),
        Condition::And(parts) | Condition::Or(parts) => {
            parts.iter().map(longest_pattern).max().unwrap_or(0)
        }
    }
}

/// `value op field` as `field op' value`; `None` for patterns, which are not symmetric.
fn flip(op: Op) -> Option<Op> {
    let kind = match op.kind {
        OpKind::Gt => OpKind::Lt,
        OpKind::Gte => OpKind::Lte,
        OpKind::Lt => OpKind::Gt,
        OpKind::Lte => OpKind::Gte,
        OpKind::Like | OpKind::NotLike => return None,
        same => same,
    };
    Some(Op { kind, any: op.any })
}

fn store_op(kind: OpKind) -> CompareOp {
    match kind {
        OpKind::Eq => CompareOp::Eq,
        OpKind::Neq => CompareOp::Neq,
        OpKind::Gt => CompareOp::Gt,
        OpKind::Gte => CompareOp::Gte,
        OpKind::Lt => CompareOp::Lt,
        OpKind::Lte => CompareOp::Lte,
        OpKind::Like => CompareOp::Like,
        OpKind::NotLike => CompareOp::NotLike,
    }
}

/// The evaluator's `~`: a pattern without `%` or `_` means "contains". Backslashes are escaped
/// because the SQL uses `ESCAPE '\'`.
fn like_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\");
    if text.contains(['%', '_']) {
        escaped
    } else {
        format!("%{escaped}%")
    }
}

/// `5` rather than `5.0`, so a number literal matches the text a text field holds.
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

pub fn and(a: Condition, b: Condition) -> Condition {
    match (a, b) {
        (Condition::Const(false), _) | (_, Condition::Const(false)) => Condition::Const(false),
        (Condition::Const(true), x) | (x, Condition::Const(true)) => x,
        (Condition::And(mut xs), y) => {
            xs.push(y);
            Condition::And(xs)
        }
        (x, y) => Condition::And(vec![x, y]),
    }
}

pub fn or(a: Condition, b: Condition) -> Condition {
    match (a, b) {
        (Condition::Const(true), _) | (_, Condition::Const(true)) => Condition::Const(true),
        (Condition::Const(false), x) | (x, Condition::Const(false)) => x,
        (Condition::Or(mut xs), y) => {
            xs.push(y);
            Condition::Or(xs)
        }
        (x, y) => Condition::Or(vec![x, y]),
    }
}
