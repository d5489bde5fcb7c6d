//! CORS: a browser app on another origin may call the JSON API (PocketBase's default `*`, or the
//! `--origins` list), never the hosted pages, and never with cookies.

use crate::support::*;
use gatehouse::{AllowedOrigins, ListenerLimits, serve_for};
use reqwest::Method;

const APP: &str = "https://app.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_other_origins_and_the_pages_do_not() {
    with_app(Backend::Sqlite, |app: TestApp| async move {
        // The SDK's preflight before a login with a token header.
        let preflight = app
            .send_with_headers(
                Method::OPTIONS,
                "/api/collections/users/auth-with-password",
                None,
                None,
                &[
                    ("origin", APP),
                    ("access-control-request-method", "POST"),
                    ("access-control-request-headers", "content-type,authorization"),
                ],
            )
            .await;
        assert_eq!(preflight.status, 200, "{}", preflight.text);
        let h = &preflight.headers;
        assert_eq!(h["access-control-allow-origin"], APP);
        assert!(h["access-control-allow-methods"].to_str().unwrap().contains("POST"));
        assert_eq!(h["access-control-allow-headers"], "content-type,authorization");
        assert!(h.get("access-control-allow-credentials").is_none());

        // The request itself: the answer is readable by the app.
        app.user("cors@example.com", "cors-password-1").await;
        let login = app
            .send_with_headers(
                Method::POST,
                "/api/collections/users/auth-with-password",
                None,
                Some(serde_json::json!({"identity": "cors@example.com", "password": "cors-password-1"})),
                &[("origin", APP)],
            )
            .await;
        assert_eq!(login.status, 200, "{}", login.text);
        assert_eq!(login.headers["access-control-allow-origin"], APP);
        // An error answer too, so that the SDK can read PocketBase's error shape.
        let wrong = app
            .send_with_headers(
                Method::POST,
                "/api/collections/users/auth-with-password",
                None,
                Some(serde_json::json!({"identity": "cors@example.com", "password": "nope-nope-1"})),
                &[("origin", APP)],
            )
            .await;
        assert_eq!(wrong.status, 400);
        assert_eq!(wrong.headers["access-control-allow-origin"], APP);

        // The hosted pages are not for other origins.
        let page = app
            .send_with_headers(Method::GET, "/_/login", None, None, &[("origin", APP)])
            .await;
        assert_eq!(page.status, 200);
        assert!(page.headers.get("access-control-allow-origin").is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origins_list_answers_only_its_origins() {
    with_app(Backend::Sqlite, |app: TestApp| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let origins = AllowedOrigins::parse(APP).unwrap();
        tokio::spawn(serve_for(
            app.gh.clone(),
            listener,
            std::future::pending(),
            ListenerLimits::default(),
            origins,
        ));
        let client = reqwest::Client::new();
        let health = |origin: &'static str| {
            client
                .get(format!("http://{addr}/api/health"))
                .header("origin", origin)
                .send()
        };
        let allowed = health(APP).await.unwrap();
        assert_eq!(allowed.headers()["access-control-allow-origin"], APP);
        let other = health("https://evil.example").await.unwrap();
        assert_eq!(other.status(), 200);
        assert!(other.headers().get("access-control-allow-origin").is_none());
    })
    .await;
}
