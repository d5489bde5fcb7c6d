#![allow(clippy::unwrap_used)] // a fixed expression that does not parse fails every test at once

use super::*;
use crate::access::RequestInfo;
use crate::collection::users;
use serde_json::json;
use std::cell::Cell;

fn request(plan: &str) -> RequestInfo {
    let mut request = RequestInfo::default();
    request.query.insert("plan".into(), json!(plan));
    request
}

fn scope(request: &RequestInfo) -> Scope<'_> {
    Scope {
        caller: None,
        context: "default",
        request,
        now_millis: 1_795_854_471_408,
    }
}

/// Runs `get_or_compile` and says whether it compiled.
fn compiled(
    cache: &ListConditionCache,
    collection: &Arc<Collection>,
    variant: &str,
    expr: &Expr,
    request: &RequestInfo,
) -> bool {
    let ran = Cell::new(false);
    let result: Result<ListCondition, ()> =
        cache.get_or_compile(collection, variant, &[expr], scope(request), || {
            ran.set(true);
            Ok(Condition::Const(true))
        });
    assert!(result.is_ok());
    ran.get()
}

#[test]
fn compiles_once_per_request_value_variant_and_definition() {
    let cache = ListConditionCache::default();
    let c = Arc::new(users("x"));
    let expr = filter::parse("plan = @request.query.plan && verified = true").unwrap();
    let (pro, free) = (request("pro"), request("free"));
    assert!(compiled(&cache, &c, "a", &expr, &pro));
    assert!(!compiled(&cache, &c, "a", &expr, &pro), "same inputs: kept");
    assert!(compiled(&cache, &c, "a", &expr, &free), "another value");
    assert!(!compiled(&cache, &c, "a", &expr, &free));
    assert!(!compiled(&cache, &c, "a", &expr, &pro), "both kept");
    assert!(compiled(&cache, &c, "b", &expr, &pro), "another variant");
    // The registry gives a new definition when anything in it changes.
    let edited = Arc::new(users("x"));
    assert!(compiled(&cache, &edited, "a", &expr, &pro));
    assert!(!compiled(&cache, &edited, "a", &expr, &pro));
}

#[test]
fn rules_that_read_the_clock_compile_every_time() {
    let cache = ListConditionCache::default();
    let c = Arc::new(users("x"));
    let expr = filter::parse("created > @todayStart").unwrap();
    let r = request("pro");
    assert!(compiled(&cache, &c, "", &expr, &r));
    assert!(compiled(&cache, &c, "", &expr, &r));
}

#[test]
fn a_failed_compile_is_not_kept() {
    let cache = ListConditionCache::default();
    let c = Arc::new(users("x"));
    let expr = filter::parse("verified = true").unwrap();
    let r = request("pro");
    let failed: Result<ListCondition, &str> =
        cache.get_or_compile(&c, "", &[&expr], scope(&r), || Err("no"));
    assert!(failed.is_err());
    assert!(compiled(&cache, &c, "", &expr, &r));
}

#[test]
fn keys_do_not_run_into_each_other() {
    let one = filter::parse("@request.query.a = 1").unwrap();
    let two = filter::parse("@request.query.a = 1 && @request.query.b = 1").unwrap();
    let mut r = RequestInfo::default();
    r.query.insert("a".into(), json!("x"));
    r.query.insert("b".into(), json!("y"));
    let keys = [
        key("ab", "c", &[&one], scope(&r)),
        key("a", "bc", &[&one], scope(&r)),
        key("ab", "c", &[&two], scope(&r)),
        key("ab", "c", &[&one, &one], scope(&r)),
    ];
    for (i, a) in keys.iter().enumerate() {
        assert!(a.is_some());
        for b in &keys[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn stays_bounded() {
    let cache = ListConditionCache::default();
    let c = Arc::new(users("x"));
    let expr = filter::parse("plan = @request.query.plan").unwrap();
    for i in 0..(MAX_ENTRIES * 2) {
        compiled(&cache, &c, "", &expr, &request(&i.to_string()));
    }
    assert!(lock_read(&cache.compiled).len() <= MAX_ENTRIES);
}
