//! The whole HTTP API in process, on SQLite in a temp dir: a route picked by the first byte,
//! then the query string (`fields`, `filter`, `sort`, …) and the body (JSON or form) from the
//! rest. Any answer of 500 or more is a finding (a handler panic becomes a 500), and so is a
//! crash or a hang.
#![no_main]

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tower::ServiceExt;

const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/health"),
    ("GET", "/api/collections/users/auth-methods"),
    ("POST", "/api/collections/users/auth-with-password"),
    ("POST", "/api/collections/users/request-otp"),
    ("POST", "/api/collections/users/auth-with-otp"),
    ("POST", "/api/collections/users/request-verification"),
    ("POST", "/api/collections/users/confirm-verification"),
    ("POST", "/api/collections/users/request-password-reset"),
    ("POST", "/api/collections/users/confirm-password-reset"),
    ("POST", "/api/collections/users/confirm-email-change"),
    ("GET", "/api/collections/users/records"),
    ("POST", "/api/collections/users/records"),
    ("GET", "/api/collections/users/records/fuzzrecord00001"),
    ("PATCH", "/api/collections/users/records/fuzzrecord00001"),
    ("POST", "/_/auth/confirm-password-reset"),
    ("POST", "/_/auth/confirm-email-change"),
];

struct App {
    runtime: tokio::runtime::Runtime,
    router: Router,
    _dir: tempfile::TempDir,
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = gatehouse::StoreConfig {
            data_dir: dir.path().join("data"),
            db_url: None,
        };
        let router = runtime.block_on(async {
            let gh = gatehouse::open(&config).await.unwrap();
            // Limits off: a limited request stops at the limiter and exercises nothing.
            let mut settings = gh.settings().await.unwrap();
            settings.rate_limits.enabled = false;
            settings.lockout.enabled = false;
            gh.store()
                .put_setting("settings", &serde_json::to_string(&settings).unwrap())
                .await
                .unwrap();
            gatehouse_http::router(gh)
        });
        App { runtime, router, _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (method, path) = ROUTES[usize::from(pick) % ROUTES.len()];
    let (query, body) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let query = String::from_utf8_lossy(query);
    let uri = format!("{path}?{}", query.replace(['#', ' '], "%20"));
    let content_type = if pick & 0x80 == 0 {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    let Ok(request) = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(uri)
        .header("content-type", content_type)
        .body(Body::from(body.to_vec()))
    else {
        return;
    };
    let app = app();
    let status = app
        .runtime
        .block_on(app.router.clone().oneshot(request))
        .unwrap()
        .status();
    assert!(status.as_u16() < 500, "{method} {path}: {status}");
});
