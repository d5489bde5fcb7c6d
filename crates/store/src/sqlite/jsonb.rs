//! Reading SQLite's binary JSON (JSONB, <https://sqlite.org/jsonb.html>) in place: the element
//! at a list of object keys, found the way SQLite's `json_extract` finds it. Used by the list
//! matcher (`matcher.rs`) to read a record's `data` without a call into SQLite per field.

use std::borrow::Cow;

/// Element types, the low four bits of an element's first byte.
pub const NULL: u8 = 0;
pub const TRUE: u8 = 1;
pub const INT: u8 = 3;
pub const TEXT: u8 = 7;
pub const TEXTJ: u8 = 8;
pub const TEXTRAW: u8 = 10;
pub const OBJECT: u8 = 12;

/// Why a blob cannot be read. The matcher then leaves the answer to SQLite.
#[derive(Debug, PartialEq, Eq)]
pub struct Unreadable;

/// One element: its type and its payload.
#[derive(Clone, Copy, Debug)]
pub struct Element<'a> {
    pub kind: u8,
    pub payload: &'a [u8],
}

/// The element at the start of `bytes`, and the bytes after it.
#[inline]
fn element(bytes: &[u8]) -> Result<(Element<'_>, &[u8]), Unreadable> {
    let (&first, rest) = bytes.split_first().ok_or(Unreadable)?;
    // The high four bits: the payload size itself (0-11), or how many big-endian bytes hold it.
    let (size, rest) = match first >> 4 {
        n @ 0..=11 => (usize::from(n), rest),
        12 => size_bytes(rest, 1)?,
        13 => size_bytes(rest, 2)?,
        14 => size_bytes(rest, 4)?,
        _ => size_bytes(rest, 8)?,
    };
    if size > rest.len() || first & 0x0f > OBJECT {
        return Err(Unreadable);
    }
    let (payload, after) = rest.split_at(size);
    let kind = first & 0x0f;
    Ok((Element { kind, payload }, after))
}

#[inline]
fn size_bytes(bytes: &[u8], n: usize) -> Result<(usize, &[u8]), Unreadable> {
    if bytes.len() < n {
        return Err(Unreadable);
    }
    let (head, rest) = bytes.split_at(n);
    let size = head.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
    Ok((usize::try_from(size).map_err(|_| Unreadable)?, rest))
}

/// The element of `data` (one whole JSONB value) under `keys`, read as the matcher reads it;
/// `None` when a key is missing or names a member of something that is not an object.
#[cfg(test)]
pub fn lookup<'a>(data: &'a [u8], keys: &[String]) -> Result<Option<Element<'a>>, Unreadable> {
    let Some((first, deeper)) = keys.split_first() else {
        let (whole, rest) = element(data)?;
        return if rest.is_empty() {
            Ok(Some(whole))
        } else {
            Err(Unreadable)
        };
    };
    let mut found = [None];
    members(data, std::slice::from_ref(first), &mut found)?;
    let mut at = found[0];
    for key in deeper {
        at = match at {
            Some(e) => member(e, key.as_bytes())?,
            None => None,
        };
    }
    Ok(at)
}

/// The values of the first members named `keys` of the object `data` (one whole JSONB value),
/// in one walk over its members: `found[i]` for `keys[i]`, `None` when there is none or `data`
/// is not an object. `keys` must be distinct and `found` as long as `keys`.
pub fn members<'a>(
    data: &'a [u8],
    keys: &[String],
    found: &mut [Option<Element<'a>>],
) -> Result<(), Unreadable> {
    let (object, rest) = element(data)?;
    if !rest.is_empty() {
        return Err(Unreadable);
    }
    found.fill(None);
    if object.kind != OBJECT {
        return Ok(());
    }
    let mut missing = keys.len();
    let mut rest = object.payload;
    while missing > 0 && !rest.is_empty() {
        let (label, after) = element(rest)?;
        let (value, after) = element(after)?;
        rest = after;
        for (key, slot) in keys.iter().zip(found.iter_mut()) {
            if slot.is_some() {
                continue;
            }
            let named = match label.kind {
                // The common case, without a call.
                TEXT | TEXTRAW => label.payload == key.as_bytes(),
                _ => label_is(label, key.as_bytes())?,
            };
            if named {
                *slot = Some(value);
                missing -= 1;
                // The keys are distinct: no other one is this label.
                break;
            }
        }
    }
    Ok(())
}

/// The value of the first member of `object` named `key` (SQLite's lookup also takes the first);
/// `None` when there is none or `object` is not an object.
pub fn member<'a>(object: Element<'a>, key: &[u8]) -> Result<Option<Element<'a>>, Unreadable> {
    if object.kind != OBJECT {
        return Ok(None);
    }
    let mut rest = object.payload;
    while !rest.is_empty() {
        let (label, after) = element(rest)?;
        let (value, after) = element(after)?;
        if label_is(label, key)? {
            return Ok(Some(value));
        }
        rest = after;
    }
    Ok(None)
}

#[inline]
fn label_is(label: Element<'_>, key: &[u8]) -> Result<bool, Unreadable> {
    match label.kind {
        TEXT | TEXTRAW => Ok(label.payload == key),
        // SQLite compares an escaped label character by character and stops at the first NUL
        // of either side, so `"\u0000x"` names the key `""`. Gatehouse's keys hold no NUL; this
        // keeps even that answer SQLite's.
        TEXTJ => Ok(before_nul(&unescape(label.payload)?) == before_nul(key)),
        // JSON5 labels: Gatehouse never writes them.
        _ => Err(Unreadable),
    }
}

fn before_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

/// The text of a string element, as `json_extract` returns it; `None` for other elements.
pub fn string(e: Element<'_>) -> Result<Option<Cow<'_, [u8]>>, Unreadable> {
    match e.kind {
        TEXT | TEXTRAW => Ok(Some(Cow::Borrowed(e.payload))),
        TEXTJ => unescape(e.payload).map(Some),
        _ => Ok(None),
    }
}

/// The string a TEXTJ payload (JSON string contents, escapes included) stands for.
fn unescape(payload: &[u8]) -> Result<Cow<'_, [u8]>, Unreadable> {
    if !payload.contains(&b'\\') {
        return Ok(Cow::Borrowed(payload));
    }
    let text = std::str::from_utf8(payload).map_err(|_| Unreadable)?;
    let quoted = format!("\"{text}\"");
    // A lone surrogate escape is JSON to SQLite but not to serde_json: unreadable, then.
    let s: String = serde_json::from_str(&quoted).map_err(|_| Unreadable)?;
    Ok(Cow::Owned(s.into_bytes()))
}

/// An INT element's value when a double holds it exactly (|n| ≤ 2⁵³), so that comparing it with a
/// double gives SQLite's answer; `None` otherwise.
pub fn exact_integer(e: Element<'_>) -> Option<f64> {
    if e.kind != INT {
        return None;
    }
    let text = std::str::from_utf8(e.payload).ok()?;
    let n: i64 = text.parse().ok()?;
    const EXACT: i64 = 1 << 53;
    (-EXACT..=EXACT).contains(&n).then_some(n as f64)
}

#[cfg(test)]
pub(crate) mod tests;
