//! PocketBase's filter language, as API rules and (later) the records `filter` parameter use it:
//! comparisons `= != > >= < <= ~ !~` and their any-of forms `?= ?!= …`, `&&`, `||`, parentheses,
//! string/number/`true`/`false`/`null` literals, record fields, `@request.*`, and the date macros.
//!
//! Parsing never panics and refuses hostile input (too long, too many comparisons, too deep) with
//! a positioned error; evaluation works on JSON values supplied by a [`Context`]. Chains of `&&`
//! and `||` parse into one flat list each, so every walker's depth is the parentheses' depth.

mod eval;
mod lexer;
mod parser;

pub use eval::{Context, compare, evaluate, text, value};
pub use lexer::{Op, OpKind};

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Two or more parts, all true.
    And(Vec<Expr>),
    /// Two or more parts, one true.
    Or(Vec<Expr>),
    Compare {
        left: Operand,
        op: Op,
        right: Operand,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    /// A field (`name`, `data.key`), `@request.*` or a macro (`@now`), with an optional modifier.
    Ident {
        path: String,
        modifier: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset in the expression where the problem is.
    pub position: usize,
    pub message: String,
}

impl ParseError {
    fn at(position: usize, message: &str) -> Self {
        Self {
            position,
            message: message.to_owned(),
        }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at position {}", self.message, self.position)
    }
}

pub fn parse(src: &str) -> Result<Expr, ParseError> {
    parser::parse(src)
}

impl Expr {
    /// Every identifier the expression mentions, with its modifier (for checking a rule when it
    /// is saved).
    pub fn identifiers(&self) -> Vec<(&str, Option<&str>)> {
        self.ident_operands()
            .into_iter()
            .filter_map(|operand| match operand {
                Operand::Ident { path, modifier } => Some((path.as_str(), modifier.as_deref())),
                _ => None,
            })
            .collect()
    }

    /// The operands that are identifiers, left to right.
    pub fn ident_operands(&self) -> Vec<&Operand> {
        let mut out = Vec::new();
        self.collect_idents(&mut out);
        out
    }

    fn collect_idents<'a>(&'a self, out: &mut Vec<&'a Operand>) {
        match self {
            Expr::And(parts) | Expr::Or(parts) => {
                for part in parts {
                    part.collect_idents(out);
                }
            }
            Expr::Compare { left, right, .. } => {
                for operand in [left, right] {
                    if matches!(operand, Operand::Ident { .. }) {
                        out.push(operand);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
