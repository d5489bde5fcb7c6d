//! A filter as a guest's `filter` parameter and as a superuser's rule: parsed, compiled to a store
//! condition for the `users` collection, and evaluated against a record in memory. Each step must
//! answer (a value or an error), never panic, overflow its stack or run away.
#![no_main]

use gatehouse_domain::access::{Compiler, RequestInfo, Scope, Subject};
use gatehouse_domain::collection::users;
use gatehouse_domain::filter;
use gatehouse_domain::record::Record;
use gatehouse_store::RecordRow;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = filter::parse(text) else {
        return;
    };
    let collection = users("2026-01-01 00:00:00.000Z");
    let mut request = RequestInfo::default();
    request.query.insert("q".into(), serde_json::json!("x%_\\"));
    let scope = Scope {
        caller: None,
        context: "default",
        request: &request,
        now_millis: 1_795_854_471_408,
    };
    for public in [true, false] {
        let _ = Compiler {
            collection: &collection,
            scope,
            public,
        }
        .compile(&expr);
    }
    let record = Record::from_row(RecordRow {
        id: "abcdefghijklmno".into(),
        collection_id: collection.id.clone(),
        email: "a@example.com".into(),
        email_visibility: false,
        verified: true,
        password_hash: String::new(),
        token_key: String::new(),
        data: r#"{"name":"Ann 100%"}"#.into(),
        created: "2026-01-01 00:00:00.000Z".into(),
        updated: "2026-01-01 00:00:00.000Z".into(),
    });
    let subject = Subject {
        collection: &collection,
        record: &record,
        scope,
    };
    let _ = filter::evaluate(&expr, &subject);
});
