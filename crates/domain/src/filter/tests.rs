#![allow(clippy::panic)] // a parse failure in a test names the expression
use super::*;
use serde_json::{Value, json};
use std::collections::HashMap;

struct Vars(HashMap<&'static str, Value>);

impl Context for Vars {
    fn lookup(&self, path: &str) -> Option<Value> {
        self.0.get(path).cloned()
    }
}

fn vars() -> Vars {
    Vars(HashMap::from([
        ("id", json!("abc")),
        ("verified", json!(true)),
        ("age", json!(42)),
        ("name", json!("Ann Lee")),
        ("roles", json!(["admin", "staff"])),
        ("created", json!("2026-01-02 03:04:05.000Z")),
        ("@request.auth.id", json!("abc")),
        ("@request.context", json!("password")),
        ("@request.body.role", json!("x")),
    ]))
}

fn eval(src: &str) -> bool {
    let expr = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    evaluate(&expr, &vars())
}

#[test]
fn every_operator() {
    assert!(eval("id = 'abc'"));
    assert!(eval("id != 'x'"));
    assert!(eval("age > 41 && age >= 42 && age < 43 && age <= 42"));
    assert!(!eval("age > 42"));
    assert!(eval("name ~ 'ann'"));
    assert!(eval("name ~ 'A%Lee'"));
    assert!(eval("name !~ 'bob'"));
    assert!(eval("verified = true"));
    assert!(eval("verified != false"));
    assert!(eval("created > '2026-01-01'"));
    assert!(eval("missing = null && missing = ''"));
    assert!(eval("age = '42'"));
}

#[test]
fn any_of_and_all_of() {
    // As in PocketBase: the elements with `:each`, otherwise the field's JSON text.
    assert!(eval("roles:each ?= 'admin'"));
    assert!(!eval("roles:each = 'admin'"));
    assert!(eval("roles:each ?!= 'admin'"));
    assert!(eval("roles:each ?~ 'adm'"));
    assert!(!eval("roles ?= 'admin'"));
    assert!(eval("roles ~ 'admin'"));
    assert!(eval("roles:length = 2"));
}

#[test]
fn precedence_and_parentheses() {
    // && binds tighter: false || (true && true)
    assert!(eval("id = 'x' || id = 'abc' && age = 42"));
    assert!(!eval("(id = 'x' || id = 'abc') && age = 1"));
    assert!(eval("((((id = 'abc'))))"));
}

#[test]
fn request_values_and_modifiers() {
    assert!(eval("@request.auth.id != '' && id = @request.auth.id"));
    assert!(eval("@request.context != 'oauth2'"));
    assert!(eval(
        "@request.body.role:isset = true && @request.body.other:isset = false"
    ));
    assert!(eval("name:lower = 'ann lee'"));
    assert!(eval("// a comment\nid = \"abc\""));
}

#[test]
fn errors_point_at_the_problem() {
    let e = parse("id = ").err();
    assert_eq!(e.map(|e| e.position), Some(5));
    assert_eq!(parse("id = 'x' &&").err().map(|e| e.position), Some(11));
    assert_eq!(parse("id 'x'").err().map(|e| e.position), Some(3));
    assert_eq!(
        parse("id = 'x").err().map(|e| e.message),
        Some("unterminated string".to_owned())
    );
    assert!(parse("").is_err());
    assert!(parse("(id = 'x'").is_err());
    assert!(parse("id = 'x')").is_err());
    assert!(parse(&format!("{}id = 1{}", "(".repeat(500), ")".repeat(500))).is_err());
}

#[test]
fn random_input_never_panics() {
    use rand::{RngExt, SeedableRng};
    let pieces = [
        "(",
        ")",
        "&&",
        "||",
        "=",
        "!=",
        "?=",
        "~",
        "!~",
        ">",
        "<=",
        "'",
        "\"",
        "id",
        "@request.auth.id",
        ":isset",
        ":",
        "12",
        "-3.5",
        "true",
        "null",
        " ",
        "//",
        "\n",
        "\\",
        "é",
        "?",
        "!",
        "@",
        ".",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..20_000 {
        let len = rng.random_range(0..12);
        let src: String = (0..len)
            .map(|_| pieces[rng.random_range(0..pieces.len())])
            .collect();
        if let Ok(expr) = parse(&src) {
            let _ = evaluate(&expr, &vars());
        }
    }
}

#[test]
fn chains_are_flat_and_capped() {
    let chain = |n: usize, join: &str| vec!["id = 'x'"; n].join(join);
    let Ok(Expr::Or(parts)) = parse(&chain(parser::MAX_COMPARISONS, " || ")) else {
        panic!("a chain of || is one Or");
    };
    assert_eq!(parts.len(), parser::MAX_COMPARISONS);
    assert!(
        matches!(parse("a = 1 && b = 2 || c = 3"), Ok(Expr::Or(p)) if matches!(p[0], Expr::And(_)))
    );
    for join in ["||", "&&"] {
        for n in [parser::MAX_COMPARISONS + 1, 5_000, 20_000] {
            let src = chain(n, join);
            let Err(err) = parse(&src) else {
                panic!("{n} comparisons were accepted");
            };
            assert!(err.message.contains("too"), "{n}: {err}");
        }
    }
    let long = format!("name = '{}'", "x".repeat(parser::MAX_LENGTH));
    assert!(matches!(parse(&long), Err(e) if e.message == "expression too long"));
}

#[test]
fn two_huge_lists_are_not_compared_pair_by_pair() {
    let ids = |n: usize| Value::from((0..n).map(|i| i.to_string()).collect::<Vec<_>>());
    let any_eq = Op {
        kind: OpKind::Eq,
        any: true,
    };
    // Within the bound the lists are compared; past it the comparison is false (a rule denies).
    assert!(compare(&ids(1_000), any_eq, &json!(["999"])));
    assert!(compare(&ids(1_000), any_eq, &ids(1_000)));
    assert!(!compare(&ids(2_000), any_eq, &ids(2_000)));
}

#[test]
fn a_pattern_too_costly_to_match_denies() {
    let op = |kind| Op { kind, any: false };
    let value = json!(format!("{}b", "a".repeat(20_000)));
    let cheap = json!(format!("{}b", "a".repeat(100)));
    assert!(compare(&value, op(OpKind::Like), &cheap));
    assert!(!compare(&value, op(OpKind::NotLike), &cheap));
    // 20,000 × 10,000 characters is past the bound: neither ~ nor !~ holds.
    let costly = json!(format!("{}b", "a".repeat(10_000)));
    assert!(!compare(&value, op(OpKind::Like), &costly));
    assert!(!compare(&value, op(OpKind::NotLike), &costly));
}
