//! Tokens of PocketBase's filter language.

use super::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// A field, `@request.*`, `@collection.*` or a macro such as `@now`, with an optional
    /// `:modifier` (`isset`, `length`, `lower`, `each`, `changed`).
    Ident {
        path: String,
        modifier: Option<String>,
    },
    Str(String),
    Num(f64),
    Op(Op),
    And,
    Or,
    Open,
    Close,
}

/// A comparison operator; `any` is the `?` prefix (true if any of several values matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    pub kind: OpKind,
    pub any: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    Like,
    NotLike,
}

/// Tokens with their byte positions in the source.
pub fn tokenize(src: &str) -> Result<Vec<(usize, Token)>, ParseError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' => {
                out.push((start, Token::Open));
                i += 1;
            }
            b')' => {
                out.push((start, Token::Close));
                i += 1;
            }
            b'&' if bytes.get(i + 1) == Some(&b'&') => {
                out.push((start, Token::And));
                i += 2;
            }
            b'|' if bytes.get(i + 1) == Some(&b'|') => {
                out.push((start, Token::Or));
                i += 2;
            }
            b'\'' | b'"' => {
                let (text, next) = string(src, i)?;
                out.push((start, Token::Str(text)));
                i = next;
            }
            b'0'..=b'9' => {
                let (n, next) = number(src, i)?;
                out.push((start, Token::Num(n)));
                i = next;
            }
            b'-' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let (n, next) = number(src, i + 1)?;
                out.push((start, Token::Num(-n)));
                i = next;
            }
            b'=' | b'!' | b'>' | b'<' | b'~' | b'?' => {
                let (op, next) =
                    operator(bytes, i).ok_or_else(|| ParseError::at(start, "invalid operator"))?;
                out.push((start, Token::Op(op)));
                i = next;
            }
            c if c == b'@' || c == b'_' || c.is_ascii_alphabetic() => {
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b'.' | b'@'))
                {
                    i += 1;
                }
                let path = src[start..i].to_owned();
                let mut modifier = None;
                if bytes.get(i) == Some(&b':') {
                    let m = i + 1;
                    let mut j = m;
                    while j < bytes.len() && bytes[j].is_ascii_alphabetic() {
                        j += 1;
                    }
                    if j == m {
                        return Err(ParseError::at(i, "expected a modifier after ':'"));
                    }
                    modifier = Some(src[m..j].to_owned());
                    i = j;
                }
                if path.ends_with('.') || path.contains("..") {
                    return Err(ParseError::at(start, "invalid identifier"));
                }
                out.push((start, Token::Ident { path, modifier }));
            }
            _ => return Err(ParseError::at(start, "unexpected character")),
        }
    }
    Ok(out)
}

fn string(src: &str, start: usize) -> Result<(String, usize), ParseError> {
    let quote = src.as_bytes()[start] as char;
    let mut text = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((offset, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, escaped)) => text.push(escaped),
                None => break,
            },
            c if c == quote => return Ok((text, start + 1 + offset + 1)),
            c => text.push(c),
        }
    }
    Err(ParseError::at(start, "unterminated string"))
}

fn number(src: &str, start: usize) -> Result<(f64, usize), ParseError> {
    let bytes = src.as_bytes();
    let mut i = start;
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
        i += 1;
    }
    src[start..i]
        .parse::<f64>()
        .map(|n| (n, i))
        .map_err(|_| ParseError::at(start, "invalid number"))
}

fn operator(bytes: &[u8], start: usize) -> Option<(Op, usize)> {
    let (any, i) = if bytes[start] == b'?' {
        (true, start + 1)
    } else {
        (false, start)
    };
    let two = (bytes.get(i).copied(), bytes.get(i + 1).copied());
    let (kind, len) = match two {
        (Some(b'!'), Some(b'=')) => (OpKind::Neq, 2),
        (Some(b'!'), Some(b'~')) => (OpKind::NotLike, 2),
        (Some(b'>'), Some(b'=')) => (OpKind::Gte, 2),
        (Some(b'<'), Some(b'=')) => (OpKind::Lte, 2),
        (Some(b'='), _) => (OpKind::Eq, 1),
        (Some(b'>'), _) => (OpKind::Gt, 1),
        (Some(b'<'), _) => (OpKind::Lt, 1),
        (Some(b'~'), _) => (OpKind::Like, 1),
        _ => return None,
    };
    Some((Op { kind, any }, i + len))
}
