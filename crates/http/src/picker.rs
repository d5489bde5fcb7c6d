//! PocketBase's generic `?fields=` picker: applies to every successful JSON answer.
//! `fields=a,b.c,*` keeps `a`, `b.c` and, with `*`, every other key at that level;
//! `name:excerpt(100,true)` shortens a text to plain text of at most 100 characters.
//!
//! The value is untrusted: its length, number of entries and path depth are capped before the
//! handler runs (an over-limit value answers 400), so the tree it builds stays small and shallow.

use crate::error::ApiError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// JSON answers larger than this are passed through unpicked rather than buffered.
const MAX_PICK_BYTES: usize = 16 * 1024 * 1024;
/// Limits on the `fields` value: far beyond what PocketBase's SDKs send, small enough that the
/// tree is cheap to build, walk and drop.
const MAX_FIELDS_LEN: usize = 2048;
const MAX_ENTRIES: usize = 100;
const MAX_DEPTH: usize = 16;

pub async fn pick_fields(req: Request, next: Next) -> Response {
    let fields = req.uri().query().and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == "fields")
            .map(|(_, v)| v)
    });
    let tree = match fields
        .filter(|f| !f.trim().is_empty())
        .map(|f| Tree::parse(&f))
    {
        None => None,
        Some(Ok(tree)) => Some(tree),
        Some(Err(e)) => return e.into_response(),
    };
    let response = next.run(req).await;
    let Some(tree) = tree else {
        return response;
    };
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !response.status().is_success() || !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PICK_BYTES).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let picked = pick(&value, &tree);
    let out = serde_json::to_vec(&picked).unwrap_or_default();
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

#[derive(Debug, Default)]
struct Tree {
    all: bool,
    children: BTreeMap<String, Tree>,
    excerpt: Option<(usize, bool)>,
}

impl Tree {
    fn parse(fields: &str) -> Result<Self, ApiError> {
        let too_big =
            || ApiError::bad_request("Invalid fields parameter: too long, too many or too deep.");
        if fields.len() > MAX_FIELDS_LEN {
            return Err(too_big());
        }
        let entries = split_top_level(fields);
        if entries.len() > MAX_ENTRIES {
            return Err(too_big());
        }
        let mut root = Tree::default();
        for raw in entries {
            let (path, excerpt) = match raw.split_once(':') {
                Some((path, modifier)) => (path, parse_excerpt(modifier)),
                None => (raw, None),
            };
            let mut node = &mut root;
            let parts: Vec<&str> = path.trim().split('.').filter(|p| !p.is_empty()).collect();
            if parts.len() > MAX_DEPTH {
                return Err(too_big());
            }
            for part in parts {
                if part == "*" {
                    node.all = true;
                    break;
                }
                node = node.children.entry(part.to_owned()).or_default();
            }
            if excerpt.is_some() {
                node.excerpt = excerpt;
            }
        }
        Ok(root)
    }

    fn is_leaf(&self) -> bool {
        !self.all && self.children.is_empty()
    }
}

/// Splits on commas that are not inside a modifier's parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, ch) in s.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth <= 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

fn parse_excerpt(modifier: &str) -> Option<(usize, bool)> {
    let args = modifier
        .trim()
        .strip_prefix("excerpt(")?
        .strip_suffix(')')?;
    let mut args = args.split(',').map(str::trim);
    let max = args.next()?.parse().ok()?;
    let ellipsis = args.next().is_some_and(|a| a == "true" || a == "1");
    Some((max, ellipsis))
}

fn pick(value: &Value, tree: &Tree) -> Value {
    match value {
        // A list answer: the picker applies to each item and keeps the paging keys.
        Value::Object(map) if map.contains_key("items") && map.contains_key("perPage") => {
            let mut out = map.clone();
            if let Some(Value::Array(items)) = map.get("items") {
                out.insert(
                    "items".to_owned(),
                    Value::Array(items.iter().map(|i| pick(i, tree)).collect()),
                );
            }
            Value::Object(out)
        }
        Value::Object(map) => Value::Object(pick_object(map, tree)),
        Value::Array(items) => Value::Array(items.iter().map(|i| pick(i, tree)).collect()),
        other => other.clone(),
    }
}

fn pick_object(map: &Map<String, Value>, tree: &Tree) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in map {
        match tree.children.get(key) {
            Some(child) if child.is_leaf() => {
                out.insert(key.clone(), apply_excerpt(value, child.excerpt));
            }
            Some(child) => {
                out.insert(key.clone(), pick(value, child));
            }
            None if tree.all => {
                out.insert(key.clone(), value.clone());
            }
            None => {}
        }
    }
    out
}

fn apply_excerpt(value: &Value, excerpt: Option<(usize, bool)>) -> Value {
    let (Some((max, ellipsis)), Value::String(text)) = (excerpt, value) else {
        return value.clone();
    };
    let plain = strip_tags(text);
    let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    if plain.chars().count() <= max {
        return Value::String(plain);
    }
    let mut cut: String = plain.chars().take(max).collect();
    if ellipsis {
        cut.push_str("...");
    }
    Value::String(cut)
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(v: Value, f: &str) -> Value {
        pick(&v, &Tree::parse(f).unwrap_or_default())
    }

    #[test]
    fn picks_top_level_and_nested_keys() {
        let v = json!({"token": "t", "record": {"id": "1", "email": "e", "name": "n"}, "meta": 1});
        assert_eq!(
            run(v.clone(), "token,record.id"),
            json!({"token": "t", "record": {"id": "1"}})
        );
        assert_eq!(
            run(v, "*,record.name"),
            json!({"token": "t", "record": {"name": "n"}, "meta": 1})
        );
    }

    #[test]
    fn lists_pick_inside_items() {
        let v = json!({"items": [{"id": "1", "x": 2}], "page": 1, "perPage": 30, "totalItems": 1, "totalPages": 1});
        assert_eq!(run(v, "id")["items"], json!([{"id": "1"}]));
    }

    #[test]
    fn over_limit_values_are_refused_before_building_anything() {
        assert!(Tree::parse(&vec!["a"; MAX_DEPTH].join(".")).is_ok());
        assert!(Tree::parse(&vec!["a"; MAX_DEPTH + 1].join(".")).is_err());
        assert!(Tree::parse(&vec!["a"; 30_000].join(".")).is_err());
        assert!(Tree::parse(&vec!["a"; MAX_ENTRIES + 1].join(",")).is_err());
        assert!(Tree::parse(&"a".repeat(MAX_FIELDS_LEN + 1)).is_err());
    }

    #[test]
    fn excerpt_modifier() {
        let v = json!({"body": "<p>Hello <b>world</b> again</p>"});
        assert_eq!(
            run(v, "body:excerpt(11,true)"),
            json!({"body": "Hello world..."})
        );
    }
}
