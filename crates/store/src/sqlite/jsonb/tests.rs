//! The reader against SQLite's own JSON functions, on random documents written the way Gatehouse
//! writes them (`jsonb(?)` of JSON text): the same element type at every path, the same text for
//! strings, the same value for integers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{Element, Unreadable, exact_integer, lookup, string};
use crate::condition::sqlite_path;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rusqlite::Connection;
use rusqlite::types::Value;

pub(crate) fn jsonb(conn: &Connection, json: &str) -> Vec<u8> {
    conn.query_row("SELECT jsonb(?1)", [json], |r| r.get(0))
        .unwrap_or_else(|e| panic!("jsonb({json}): {e}"))
}

/// The keys paths ask for; the generator writes mostly these, so that lookups find something.
pub(crate) const KEYS: [&str; 9] = ["a", "b", "role", "0", "x y", "key", "é", "", "missing"];

/// A JSON string literal: plain characters, escapes and characters that must be escaped.
pub(crate) fn string_literal(rng: &mut StdRng) -> String {
    const PIECES: [&str; 17] = [
        "a",
        "A",
        "role",
        "key",
        "é",
        "😀",
        " ",
        "0",
        "\\\"",
        "\\\\",
        "\\/",
        "\\n",
        "\\t",
        "\\u00e9",
        "\\ud83d\\ude00",
        "\\u0000",
        "k\\u0065y",
    ];
    let n = rng.random_range(0..4);
    let body: String = (0..n)
        .map(|_| PIECES[rng.random_range(0..PIECES.len())])
        .collect();
    format!("\"{body}\"")
}

fn key(rng: &mut StdRng) -> String {
    match rng.random_range(0..10) {
        0 => string_literal(rng),
        1 => "\"k\\u0065y\"".to_owned(),
        _ => format!("\"{}\"", KEYS[rng.random_range(0..KEYS.len() - 1)]),
    }
}

fn number(rng: &mut StdRng) -> String {
    const EDGES: [&str; 16] = [
        "0",
        "-0",
        "9007199254740992",
        "-9007199254740993",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "123456789012345678901234567890",
        "1.5",
        "-2.5E-10",
        "0.1",
        "1e308",
        "5e-324",
        "12345678901234567890.123",
        "1e999",
        "7",
    ];
    match rng.random_range(0..3) {
        0 => EDGES[rng.random_range(0..EDGES.len())].to_owned(),
        1 => rng.random_range(-20i64..20).to_string(),
        _ => rng.random::<i64>().to_string(),
    }
}

/// Random JSON text: objects nest up to three levels, arrays and scalars of every kind.
pub(crate) fn value(rng: &mut StdRng, depth: u32) -> String {
    match rng.random_range(0..if depth > 2 { 6 } else { 9 }) {
        0 => "null".to_owned(),
        1 => "true".to_owned(),
        2 => "false".to_owned(),
        3 => number(rng),
        4 | 5 => string_literal(rng),
        6 => {
            let n = rng.random_range(0..4);
            let items: Vec<String> = (0..n).map(|_| value(rng, depth + 1)).collect();
            format!("[{}]", items.join(","))
        }
        _ => object(rng, depth + 1),
    }
}

pub(crate) fn object(rng: &mut StdRng, depth: u32) -> String {
    let n = rng.random_range(0..6);
    let members: Vec<String> = (0..n)
        .map(|_| format!("{}:{}", key(rng), value(rng, depth)))
        .collect();
    format!("{{{}}}", members.join(","))
}

pub(crate) fn keys(rng: &mut StdRng) -> Vec<String> {
    let n = rng.random_range(0..4);
    (0..n)
        .map(|_| KEYS[rng.random_range(0..KEYS.len())].to_owned())
        .collect()
}

fn type_name(e: Option<Element<'_>>) -> Value {
    let Some(e) = e else { return Value::Null };
    let name = match e.kind {
        0 => "null",
        1 => "true",
        2 => "false",
        3 | 4 => "integer",
        5 | 6 => "real",
        7..=10 => "text",
        11 => "array",
        _ => "object",
    };
    Value::Text(name.to_owned())
}

/// Our reading of `keys` in `data` against SQLite's; how many found a value.
fn agree(conn: &Connection, data: &[u8], keys: &[String], json: &str) -> bool {
    let path = sqlite_path(keys);
    let (kind, extracted): (Value, Value) = conn
        .query_row(
            "SELECT json_type(?1, ?2), json_extract(?1, ?2)",
            rusqlite::params![data, path],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let found = lookup(data, keys).unwrap();
    assert_eq!(type_name(found), kind, "type at {path} of {json}");
    let Some(e) = found else { return false };
    if let Some(text) = string(e).unwrap() {
        let Value::Text(theirs) = &extracted else {
            panic!("{extracted:?} at {path} of {json}")
        };
        assert_eq!(&*text, theirs.as_bytes(), "text at {path} of {json}");
    }
    if let Some(n) = exact_integer(e) {
        assert_eq!(
            Value::Integer(n as i64),
            extracted,
            "integer at {path} of {json}"
        );
    }
    true
}

#[test]
fn random_documents_read_as_sqlite_reads_them() {
    let conn = Connection::open_in_memory().unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    let mut found = 0;
    for _ in 0..3_000 {
        let json = object(&mut rng, 0);
        let data = jsonb(&conn, &json);
        for _ in 0..8 {
            found += usize::from(agree(&conn, &data, &keys(&mut rng), &json));
        }
    }
    // The generator must reach values, not only missing keys.
    assert!(found > 5_000, "only {found} lookups found a value");
}

#[test]
fn chosen_documents_read_as_sqlite_reads_them() {
    let conn = Connection::open_in_memory().unwrap();
    let cases: [(&str, &[&str]); 8] = [
        (r#"{"role":"member","plan":"pro","active":true}"#, &["role"]),
        // The first of two equal keys, as SQLite takes it.
        (r#"{"a":1,"a":2}"#, &["a"]),
        // An escaped key; SQLite's NUL quirk in escaped keys.
        (r#"{"k\u0065y":"v"}"#, &["key"]),
        (r#"{"\u0000x":"v"}"#, &[""]),
        (
            r#"{"x y":{"0":[1,2.5,"s",null,{"b":true}]}}"#,
            &["x y", "0"],
        ),
        (r#"{"meta":{"plan":"pro"}}"#, &["meta", "plan", "deeper"]),
        (r#"{"n":9007199254740993}"#, &["n"]),
        (r#"{"s":"a\nb\u0000c"}"#, &["s"]),
    ];
    for (json, keys) in cases {
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        agree(&conn, &jsonb(&conn, json), &keys, json);
    }
}

#[test]
fn broken_blobs_are_unreadable_not_misread() {
    let conn = Connection::open_in_memory().unwrap();
    let mut data = jsonb(&conn, r#"{"a":"long enough text"}"#);
    data.truncate(data.len() - 3);
    assert_eq!(lookup(&data, &["a".to_owned()]).err(), Some(Unreadable));
    assert_eq!(lookup(b"", &[]).err(), Some(Unreadable));
    assert_eq!(
        lookup(br#"{"a":1}"#, &["a".to_owned()]).err(),
        Some(Unreadable)
    );
    // JSON5 text keeps its forms in JSONB; a JSON5 label is unreadable.
    let json5 = jsonb(&conn, "{'a\\x41': 1}");
    assert_eq!(lookup(&json5, &["aA".to_owned()]).err(), Some(Unreadable));
}
