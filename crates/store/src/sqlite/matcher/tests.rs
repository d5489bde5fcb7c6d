//! The matcher against the SQL it stands in for: random conditions on random documents select
//! the same rows with and without it, and where it answers, its answer is SQLite's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{Answer, Prepared, Test, like, register};
use crate::condition::{Column, CompareOp, Condition, Dialect, Kind, Scalar, SqlBuilder};
use crate::sqlite::jsonb::tests::{jsonb, keys, object};
use crate::sqlite::sqlite_value;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rusqlite::{Connection, params_from_iter};

fn connection() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    register(&conn).unwrap();
    conn.execute_batch("CREATE TABLE records (data BLOB NOT NULL, email TEXT NOT NULL)")
        .unwrap();
    conn
}

/// Whether the row with this rowid is selected by `c`, written by `builder`.
fn selects(conn: &Connection, mut builder: SqlBuilder, c: &Condition, rowid: i64) -> bool {
    let sql = builder.condition(c);
    let mut args: Vec<rusqlite::types::Value> =
        builder.params.into_iter().map(sqlite_value).collect();
    args.push(rowid.into());
    let n = args.len();
    conn.query_row(
        &format!("SELECT EXISTS (SELECT 1 FROM records WHERE ({sql}) AND rowid = ?{n})"),
        params_from_iter(args),
        |r| r.get(0),
    )
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

const PATTERNS: [&str; 14] = [
    "%a%", "a%", "%A", "ro%e", "%", "%%", "", "role", "é%", "a_b", "\\%", "%k%y%", "%0", "K%",
];
const TEXTS: [&str; 8] = ["", "a", "A", "role", "key", "é", "b", "\u{0}"];
const NUMBERS: [f64; 8] = [
    0.0,
    -1.0,
    7.0,
    1.5,
    9_007_199_254_740_992.0,
    -20.0,
    1e308,
    -0.0,
];

fn leaf(rng: &mut StdRng) -> Condition {
    let path = {
        let mut k = keys(rng);
        if k.is_empty() {
            k.push("a".into());
        }
        k
    };
    let ops = [
        CompareOp::Eq,
        CompareOp::Neq,
        CompareOp::Gt,
        CompareOp::Gte,
        CompareOp::Lt,
        CompareOp::Lte,
    ];
    let op = ops[rng.random_range(0..ops.len())];
    let (kind, op, right) = match rng.random_range(0..7) {
        // Combinations the matcher leaves to SQLite.
        6 if rng.random() => (Kind::Bool, CompareOp::Like, Scalar::Bool(true)),
        6 => (Kind::Number, CompareOp::NotLike, Scalar::Number(1.0)),
        0 => {
            let like = if rng.random() {
                CompareOp::Like
            } else {
                CompareOp::NotLike
            };
            let p = PATTERNS[rng.random_range(0..PATTERNS.len())];
            (Kind::Text, like, Scalar::Text(p.into()))
        }
        1 | 2 => (
            Kind::Text,
            op,
            Scalar::Text(TEXTS[rng.random_range(0..TEXTS.len())].into()),
        ),
        3 => (
            Kind::Number,
            op,
            Scalar::Number(NUMBERS[rng.random_range(0..NUMBERS.len())]),
        ),
        4 => (Kind::Bool, op, Scalar::Bool(rng.random())),
        _ => {
            return Condition::Compare {
                left: Scalar::Column(Column::Email),
                op,
                right: Scalar::Text(TEXTS[rng.random_range(0..TEXTS.len())].into()),
            };
        }
    };
    Condition::Compare {
        left: Scalar::Field { path, kind },
        op,
        right,
    }
}

fn condition(rng: &mut StdRng, depth: u32) -> Condition {
    match rng.random_range(0..if depth > 2 { 1 } else { 5 }) {
        0 => leaf(rng),
        1 => Condition::Not(Box::new(condition(rng, depth + 1))),
        2 | 3 => {
            let n = rng.random_range(1..4);
            Condition::And((0..n).map(|_| condition(rng, depth + 1)).collect())
        }
        _ => {
            let n = rng.random_range(1..4);
            Condition::Or((0..n).map(|_| condition(rng, depth + 1)).collect())
        }
    }
}

#[test]
fn random_conditions_select_what_sqlite_selects() {
    let conn = connection();
    let mut rng = StdRng::seed_from_u64(3);
    let mut docs = Vec::new();
    for i in 0..100 {
        let json = object(&mut rng, 0);
        let data = jsonb(&conn, &json);
        let email = ["a", "role", ""][i % 3];
        conn.execute(
            "INSERT INTO records (data, email) VALUES (?1, ?2)",
            rusqlite::params![data, email],
        )
        .unwrap();
        docs.push((conn.last_insert_rowid(), data, json));
    }
    let (mut answered, mut asked, mut matched) = (0, 0, 0);
    for _ in 0..300 {
        let c = condition(&mut rng, 0);
        let uses_matcher = SqlBuilder::new(Dialect::Sqlite)
            .condition(&c)
            .contains("gatehouse_match");
        matched += usize::from(uses_matcher);
        for (rowid, data, json) in &docs {
            let plain = selects(
                &conn,
                SqlBuilder::without_matcher(Dialect::Sqlite),
                &c,
                *rowid,
            );
            if uses_matcher {
                let fast = selects(&conn, SqlBuilder::new(Dialect::Sqlite), &c, *rowid);
                assert_eq!(fast, plain, "{c:?} on {json}");
            }
            // Where the matcher answers for the whole condition, the answer is SQLite's.
            if let Some(test) = Test::of(&c).and_then(Prepared::new) {
                asked += 1;
                match test.answer(data) {
                    Answer::True => assert!(plain, "{c:?} on {json}"),
                    Answer::NotTrue => assert!(!plain, "{c:?} on {json}"),
                    Answer::Unknown => continue,
                }
                answered += 1;
            }
        }
    }
    // The generator must exercise the matcher, and the matcher must decide most rows itself.
    assert!(matched > 60, "only {matched} conditions used the matcher");
    assert!(answered * 10 > asked * 8, "answered {answered} of {asked}");
}

#[test]
fn like_is_sqlites_like_for_ascii_and_percent_patterns() {
    let conn = Connection::open_in_memory().unwrap();
    let mut rng = StdRng::seed_from_u64(9);
    let alphabet = ["a", "A", "b", "%", "é", "É", "ab", "Ab", "z"];
    for _ in 0..20_000 {
        let mut pick = |n| -> String {
            (0..rng.random_range(0..n))
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect()
        };
        let text = pick(6).replace('%', "");
        let pattern: String = pick(5).chars().filter(char::is_ascii).collect();
        let theirs: bool = conn
            .query_row("SELECT ?1 LIKE ?2 ESCAPE '\\'", [&text, &pattern], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(
            like(text.as_bytes(), pattern.as_bytes()),
            theirs,
            "{text:?} LIKE {pattern:?}"
        );
    }
}

#[test]
fn only_custom_field_tests_it_knows_become_a_test() {
    let field = |kind| Scalar::Field {
        path: vec!["f".into()],
        kind,
    };
    let compare = |left, op, right| Condition::Compare { left, op, right };
    let known = compare(field(Kind::Text), CompareOp::Eq, Scalar::Text("x".into()));
    assert!(Test::of(&known).is_some());
    for unknown in [
        compare(
            Scalar::Column(Column::Email),
            CompareOp::Eq,
            Scalar::Text("x".into()),
        ),
        compare(
            field(Kind::Text),
            CompareOp::Like,
            Scalar::Text("a_b".into()),
        ),
        compare(
            field(Kind::Text),
            CompareOp::Like,
            Scalar::Text("%é%".into()),
        ),
        compare(field(Kind::Number), CompareOp::Eq, Scalar::Number(f64::NAN)),
        compare(field(Kind::Text), CompareOp::Eq, field(Kind::Text)),
        Condition::Not(Box::new(known.clone())),
        Condition::Const(true),
    ] {
        assert_eq!(Test::of(&unknown), None, "{unknown:?}");
        assert_eq!(
            Test::of(&Condition::And(vec![known.clone(), unknown.clone()])),
            None
        );
    }
}

#[test]
fn the_sql_asks_the_matcher_first_and_keeps_the_condition() {
    let field = |name: &str, kind| Scalar::Field {
        path: vec![name.into()],
        kind,
    };
    let c = Condition::And(vec![
        Condition::Compare {
            left: Scalar::Column(Column::Verified),
            op: CompareOp::Eq,
            right: Scalar::Bool(true),
        },
        Condition::Compare {
            left: field("active", Kind::Bool),
            op: CompareOp::Eq,
            right: Scalar::Bool(true),
        },
        Condition::Compare {
            left: field("role", Kind::Text),
            op: CompareOp::Eq,
            right: Scalar::Text("member".into()),
        },
    ]);
    let mut b = SqlBuilder::new(Dialect::Sqlite);
    let sql = b.condition(&c);
    assert_eq!(
        sql,
        "(verified = ?1) AND COALESCE(gatehouse_match(data, ?2), ((json_type(data, ?3) IS 'true') \
         AND (CAST(json_extract(data, ?4) AS TEXT) = ?5)))"
    );
    // One field read alone is left to SQLite's own function.
    let one = Condition::Compare {
        left: field("role", Kind::Text),
        op: CompareOp::Eq,
        right: Scalar::Text("member".into()),
    };
    assert!(
        !SqlBuilder::new(Dialect::Sqlite)
            .condition(&one)
            .contains("gatehouse_match")
    );
    assert!(
        !SqlBuilder::new(Dialect::Postgres)
            .condition(&c)
            .contains("gatehouse_match")
    );
}

#[test]
fn knows_agrees_with_of() {
    let mut rng = StdRng::seed_from_u64(21);
    for _ in 0..5_000 {
        let c = condition(&mut rng, 0);
        assert_eq!(Test::knows(&c), Test::of(&c).is_some(), "{c:?}");
    }
}

#[test]
fn a_test_of_more_fields_than_a_row_walk_gathers_is_left_to_sqlite() {
    let leaf = |i: usize| Condition::Compare {
        left: Scalar::Field {
            path: vec![format!("f{i}")],
            kind: Kind::Bool,
        },
        op: CompareOp::Eq,
        right: Scalar::Bool(true),
    };
    let fits = Condition::And((0..16).map(leaf).collect());
    let too_many = Condition::And((0..17).map(leaf).collect());
    assert!(
        SqlBuilder::new(Dialect::Sqlite)
            .condition(&fits)
            .contains("gatehouse_match")
    );
    assert!(
        !SqlBuilder::new(Dialect::Sqlite)
            .condition(&too_many)
            .contains("gatehouse_match")
    );
    assert!(Test::of(&too_many).is_some_and(|t| !t.fits() && Prepared::new(t).is_none()));
}
