//! Parses tokens into an expression tree. `&&` binds tighter than `||`, as in SQL, which is what
//! PocketBase's rules compile to. A chain `a || b || c` is one `Or` of three parts (not nested
//! pairs), so the tree is only as deep as the parentheses.

use super::lexer::{Op, Token, tokenize};
use super::{Expr, Operand, ParseError};

/// Deeper nesting than this is refused (a hostile rule must not exhaust the stack).
const MAX_DEPTH: usize = 64;
/// PocketBase's own limits on a filter: its length in bytes and its number of comparisons. They
/// also keep the SQL a filter becomes within the databases' expression and parameter limits.
pub const MAX_LENGTH: usize = 3500;
pub const MAX_COMPARISONS: usize = 200;

pub fn parse(src: &str) -> Result<Expr, ParseError> {
    if src.len() > MAX_LENGTH {
        return Err(ParseError::at(MAX_LENGTH, "expression too long"));
    }
    let tokens = tokenize(src)?;
    if tokens.is_empty() {
        return Err(ParseError::at(0, "empty expression"));
    }
    let mut p = Parser {
        tokens,
        pos: 0,
        end: src.len(),
        comparisons: 0,
    };
    let expr = p.or(0)?;
    match p.tokens.get(p.pos) {
        None => Ok(expr),
        Some((at, _)) => Err(ParseError::at(*at, "unexpected token")),
    }
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    pos: usize,
    end: usize,
    comparisons: usize,
}

impl Parser {
    fn here(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |(at, _)| *at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).map(|(_, t)| t.clone());
        self.pos += 1;
        t
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(_, t)| t)
    }

    fn or(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut parts = vec![self.and(depth)?];
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            parts.push(self.and(depth)?);
        }
        Ok(joined(parts, Expr::Or))
    }

    fn and(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut parts = vec![self.unary(depth)?];
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            parts.push(self.unary(depth)?);
        }
        Ok(joined(parts, Expr::And))
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        if self.peek() == Some(&Token::Open) {
            if depth >= MAX_DEPTH {
                return Err(ParseError::at(self.here(), "expression nested too deeply"));
            }
            self.pos += 1;
            let inner = self.or(depth + 1)?;
            let at = self.here();
            return match self.next() {
                Some(Token::Close) => Ok(inner),
                _ => Err(ParseError::at(at, "expected ')'")),
            };
        }
        if self.comparisons >= MAX_COMPARISONS {
            return Err(ParseError::at(self.here(), "too many comparisons"));
        }
        self.comparisons += 1;
        let left = self.operand()?;
        let at = self.here();
        let op: Op = match self.next() {
            Some(Token::Op(op)) => op,
            _ => return Err(ParseError::at(at, "expected a comparison operator")),
        };
        let right = self.operand()?;
        Ok(Expr::Compare { left, op, right })
    }

    fn operand(&mut self) -> Result<Operand, ParseError> {
        let at = self.here();
        match self.next() {
            Some(Token::Str(s)) => Ok(Operand::Str(s)),
            Some(Token::Num(n)) => Ok(Operand::Num(n)),
            Some(Token::Ident { path, modifier }) => Ok(match (path.as_str(), &modifier) {
                ("true", None) => Operand::Bool(true),
                ("false", None) => Operand::Bool(false),
                ("null", None) => Operand::Null,
                _ => Operand::Ident { path, modifier },
            }),
            _ => Err(ParseError::at(at, "expected a value or a field")),
        }
    }
}

/// One part as itself, several as `join(parts)`.
fn joined(mut parts: Vec<Expr>, join: fn(Vec<Expr>) -> Expr) -> Expr {
    if parts.len() == 1
        && let Some(only) = parts.pop()
    {
        return only;
    }
    join(parts)
}
