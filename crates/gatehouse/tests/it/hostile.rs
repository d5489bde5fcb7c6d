//! Hostile input on every route: oversized and deeply nested query parameters, headers and
//! bodies. Each must get an answer below 500 within a bounded time, errors in PocketBase's shape,
//! and the server must still answer `/api/health` afterwards (a crash of the in-process server
//! aborts this test binary, so a crash cannot pass unnoticed).

use crate::both_backends;
use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// Every route, with its path parameters filled in (`{id}` and `{token}` by the caller).
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/health"),
    ("HEAD", "/api/health"),
    ("GET", "/api/collections/users/auth-methods"),
    ("POST", "/api/collections/users/auth-with-password"),
    ("POST", "/api/collections/users/request-otp"),
    ("POST", "/api/collections/users/auth-with-otp"),
    ("POST", "/api/collections/users/request-verification"),
    ("POST", "/api/collections/users/confirm-verification"),
    ("POST", "/api/collections/users/request-password-reset"),
    ("POST", "/api/collections/users/confirm-password-reset"),
    ("POST", "/api/collections/users/request-email-change"),
    ("POST", "/api/collections/users/confirm-email-change"),
    ("POST", "/api/collections/users/auth-refresh"),
    ("POST", "/api/collections/users/impersonate/{id}"),
    ("GET", "/api/collections/users/records"),
    ("POST", "/api/collections/users/records"),
    ("GET", "/api/collections/users/records/{id}"),
    ("PATCH", "/api/collections/users/records/{id}"),
    ("DELETE", "/api/collections/users/records/{id}"),
    ("GET", "/api/collections/users/records/{id}/security-events"),
    ("GET", "/api/collections"),
    ("POST", "/api/collections"),
    ("GET", "/api/collections/users"),
    ("PATCH", "/api/collections/users"),
    ("GET", "/api/settings"),
    ("PATCH", "/api/settings"),
    ("POST", "/api/settings/test/email"),
    ("POST", "/api/settings/test/sms"),
    ("GET", "/api/audit"),
    ("GET", "/_/"),
    ("GET", "/_/admin.js"),
    ("GET", "/_/admin/{token}"),
    ("GET", "/_/auth/confirm-verification/{token}"),
    ("POST", "/_/auth/confirm-verification"),
    ("GET", "/_/auth/confirm-password-reset/{token}"),
    ("POST", "/_/auth/confirm-password-reset"),
    ("GET", "/_/auth/confirm-email-change/{token}"),
    ("POST", "/_/auth/confirm-email-change"),
];

/// One hostile request: extra query, extra headers, and a body with its content type.
struct Attack {
    name: &'static str,
    query: String,
    headers: Vec<(String, String)>,
    body: Option<(&'static str, Vec<u8>)>,
}

fn attacks() -> Vec<Attack> {
    let query = |name, query: String| Attack {
        name,
        query,
        headers: Vec::new(),
        body: None,
    };
    let header = |name, headers: Vec<(String, String)>| Attack {
        name,
        query: String::new(),
        headers,
        body: None,
    };
    let body = |name, content_type, bytes: Vec<u8>| Attack {
        name,
        query: String::new(),
        headers: Vec::new(),
        body: Some((content_type, bytes)),
    };
    let nested_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let wide_json = {
        let members: Vec<String> = (0..100_000).map(|i| format!("\"k{i}\":{i}")).collect();
        format!("{{{}}}", members.join(","))
    };
    let wide_form: Vec<String> = (0..50_000).map(|i| format!("f{i}=v")).collect();
    vec![
        query("deep fields", format!("fields={}", "a.".repeat(20_000))),
        query("wide fields", format!("fields={}", "a,".repeat(20_000))),
        query(
            "long or-chain",
            format!("filter={}", "id='x'||".repeat(5_000) + "id='x'"),
        ),
        query(
            "long and-chain",
            format!("filter={}", "id!='x'%26%26".repeat(5_000) + "id!='x'"),
        ),
        query(
            "deep parentheses",
            format!("filter={}id='x'{}", "(".repeat(5_000), ")".repeat(5_000)),
        ),
        query(
            "many sort terms",
            format!("sort={}", "-id,".repeat(5_000) + "id"),
        ),
        query("deep expand", format!("expand={}", "a.".repeat(10_000))),
        query(
            "huge page",
            "page=99999999999999999999999&perPage=99999999999999999999".into(),
        ),
        query(
            "negative page",
            "page=-9223372036854775808&perPage=-1".into(),
        ),
        query(
            "many parameters",
            (0..5_000)
                .map(|i| format!("p{i}=1"))
                .collect::<Vec<_>>()
                .join("&"),
        ),
        query(
            "bad percent-encoding",
            "filter=%ZZ%&fields=%C3%28&sort=%FF".into(),
        ),
        query("mfaId everywhere", format!("mfaId={}", "m".repeat(60_000))),
        header("long header", vec![("x-long".into(), "a".repeat(60_000))]),
        header(
            "many headers",
            (0..300).map(|i| (format!("x-h{i}"), "v".into())).collect(),
        ),
        header(
            "long bearer token",
            vec![(
                "authorization".into(),
                format!("Bearer {}", "e".repeat(60_000)),
            )],
        ),
        header(
            "forged token parts",
            vec![(
                "authorization".into(),
                format!(
                    "{}.{}.{}",
                    "a".repeat(9_000),
                    "b".repeat(9_000),
                    "c".repeat(9_000)
                ),
            )],
        ),
        header(
            "long forwarded-for",
            vec![(
                "x-forwarded-for".into(),
                "1.2.3.4, ".repeat(5_000) + "5.6.7.8",
            )],
        ),
        header(
            "bad user agent",
            vec![("user-agent".into(), "\u{7f}".repeat(10_000))],
        ),
        body("nested json", "application/json", nested_json.into_bytes()),
        body("wide json", "application/json", wide_json.into_bytes()),
        body("huge json string", "application/json", {
            let mut s = b"{\"email\":\"".to_vec();
            s.extend(std::iter::repeat_n(b'a', 3 * 1024 * 1024));
            s.extend(b"\"}");
            s
        }),
        body(
            "wide form",
            "application/x-www-form-urlencoded",
            wide_form.join("&").into_bytes(),
        ),
        body(
            "invalid utf-8",
            "application/json",
            vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'],
        ),
        body(
            "unknown content type",
            "application/x-unknown",
            b"\x00\x01\x02".to_vec(),
        ),
        body(
            "wrong types",
            "application/json",
            br#"{"email":[1],"password":{"a":1},"fields":[],"identity":null,"token":7}"#.to_vec(),
        ),
    ]
}

both_backends!(
    hostile_input_never_fails_the_server,
    |app: TestApp| async move {
        // An ordinary user attacks another user's record (the attacker's own token would let a
        // DELETE on its own record succeed, which is no failure).
        let (id, _) = app.user("target@example.com", "target-password-1").await;
        let (_, token) = app
            .user("attacker@example.com", "attacker-password-1")
            .await;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        // Every failure is collected, so one run lists them all.
        let mut failures = Vec::new();
        for attack in attacks() {
            for (method, route) in ROUTES {
                let path = route.replace("{id}", &id).replace("{token}", "x");
                let sep = if attack.query.is_empty() { "" } else { "?" };
                let url = format!("{}{path}{sep}{}", app.url, attack.query);
                let mut req = client
                    .request(Method::from_bytes(method.as_bytes()).unwrap(), url)
                    .header("authorization", token.as_str());
                for (name, value) in &attack.headers {
                    req = req.header(name.as_str(), value.as_str());
                }
                if let Some((content_type, bytes)) = &attack.body {
                    req = req
                        .header("content-type", *content_type)
                        .body(bytes.clone());
                }
                let what = format!("{} on {method} {route}", attack.name);
                // A refused connection or reset counts too: what matters is no 5xx and a live server.
                if let Ok(resp) = req.send().await {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    if status.as_u16() >= 500 {
                        failures.push(format!("{what}: {status} {text:.200}"));
                    } else if status.is_client_error() && text.starts_with('{') {
                        let body: Value = serde_json::from_str(&text).unwrap_or_default();
                        let shaped = body["status"] == status.as_u16()
                            && body["message"].is_string()
                            && body["data"].is_object();
                        if !shaped {
                            failures
                                .push(format!("{what}: not PocketBase's error shape: {text:.200}"));
                        }
                    }
                }
                let health = app.get("/api/health", None).await;
                assert_eq!(health.status, 200, "the server died after {what}");
            }
        }
        assert!(
            failures.is_empty(),
            "{} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
        // The target account is untouched by all of it.
        let login = app
            .login("users", "target@example.com", "target-password-1")
            .await;
        assert_eq!(login.status, 200, "{}", login.text);
    }
);

both_backends!(
    hostile_input_that_must_be_refused,
    |app: TestApp| async move {
        // These are not ignored: each names something the server would otherwise work on.
        let list = "/api/collections/users/records";
        for (what, query) in [
            ("deep fields", format!("fields={}", "a.".repeat(20_000))),
            (
                "long or-chain",
                format!("filter={}", "id='x'||".repeat(5_000) + "id='x'"),
            ),
            (
                "many sort terms",
                format!("sort={}", "-id,".repeat(5_000) + "id"),
            ),
        ] {
            let r = app.get(&format!("{list}?{query}"), None).await;
            assert_eq!(r.status, 400, "{what}: {}", r.text);
            assert_eq!(r.body["status"], 400, "{what}: {}", r.text);
        }
        let r = app
            .get(&format!("/api/health?fields={}", "a.".repeat(20_000)), None)
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        // A rule saved by a superuser gets the same limits as a guest's filter.
        let su = app.superuser_token().await;
        let rule = "id='x'||".repeat(5_000) + "id='x'";
        let r = app
            .patch(
                "/api/collections/users",
                Some(&su),
                json!({"listRule": rule}),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.body["data"]["listRule"].is_object(), "{}", r.text);
    }
);
