//! How many guesses an email code allows, and that the answers never tell whether an address
//! has an account.

use crate::both_backends;
use crate::otp::{auth_with_otp, request_otp};
use crate::support::*;
use serde_json::{Value, json};

async fn enable_otp(app: &TestApp) {
    let su = app.superuser_token().await;
    let r = app
        .patch(
            "/api/collections/users",
            Some(&su),
            json!({"otp": {"enabled": true}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// What a client can see of an answer: the status, the message and the body's keys.
fn seen(status: u16, body: &Value) -> String {
    let mut keys: Vec<&String> = body
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    keys.sort();
    format!("{status} {} {keys:?}", body["message"])
}

/// One fixed sequence of requests about `target`, after priming with wrong codes for another
/// (unknown) address `primer`; returns what the client saw.
async fn probe(app: &TestApp, primer: &str, target: &str) -> Vec<String> {
    let mut trace = Vec::new();
    let primed = request_otp(app, primer).await;
    for _ in 0..5 {
        let (status, body) = auth_with_otp(app, &primed, "00000000", "").await;
        trace.push(seen(status, &body));
    }
    let mut ids = Vec::new();
    for _ in 0..11 {
        ids.push(request_otp(app, target).await);
    }
    let (status, body) = auth_with_otp(app, &ids[0], "00000000", "").await;
    trace.push(seen(status, &body));
    // PocketBase: past 10 live codes the newest id is answered again.
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    trace.push(format!(
        "{} distinct ids, last repeated: {}",
        distinct.len(),
        ids[10] == ids[9]
    ));
    for _ in 0..5 {
        let (status, body) = auth_with_otp(app, &ids[10], "00000000", "").await;
        trace.push(seen(status, &body));
    }
    trace
}

both_backends!(
    known_and_unknown_addresses_answer_alike,
    |app: TestApp| async move {
        enable_otp(&app).await;
        app.user("ola@example.com", "ola-password-1").await;
        let known = probe(&app, "primer-a@example.com", "ola@example.com").await;
        let unknown = probe(&app, "primer-b@example.com", "nobody@example.com").await;
        assert_eq!(known, unknown);
        assert_eq!(known[6], "10 distinct ids, last repeated: true");
        assert_eq!(app.mails_to("nobody@example.com").len(), 0);
    }
);
