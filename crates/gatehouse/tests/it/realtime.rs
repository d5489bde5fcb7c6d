//! `/api/realtime` and `/api/oauth2-redirect` answered as PocketBase 0.40.6 answers them (each
//! status and body below was checked against its binary): the stream's first event, the
//! subscription request's checks (client, IP, auth, sizes), the places and timeouts, and the
//! popup's redirect handing the code to the client named by `state`.

use crate::both_backends;
use crate::support::*;
use gatehouse::{ListenerLimits, serve_with};
use gatehouse_domain::realtime::{IDLE_MS, LIFETIME_MS, RealtimeLimits};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The address other-IP requests come from (all of 127/8 is this machine).
const OTHER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// An open `/api/realtime` stream.
pub struct Stream {
    pub id: String,
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    pub async fn open(url: &str) -> Self {
        let response = reqwest::get(format!("{url}/api/realtime")).await.unwrap();
        assert_eq!(response.status(), 200);
        let mut stream = Self {
            id: String::new(),
            response,
            buffer: String::new(),
        };
        let (name, data, id) = stream.next().await.expect("PB_CONNECT");
        assert_eq!(name, "PB_CONNECT");
        let client_id = data["clientId"].as_str().unwrap().to_owned();
        assert_eq!(id, client_id);
        stream.id = client_id;
        stream
    }

    /// The next piece of the stream: `Some(raw)` up to a blank line, `None` once it ended.
    async fn piece(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let piece = self.buffer[..end + 2].to_owned();
                self.buffer.drain(..end + 2);
                return Some(piece);
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("the stream stayed silent")
                .ok()??;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event as `(name, data, id)`, keep-alives skipped; `None` once the stream ended.
    pub async fn next(&mut self) -> Option<(String, Value, String)> {
        loop {
            let piece = self.piece().await?;
            if piece.starts_with(':') {
                continue;
            }
            let field = |name: &str| {
                piece
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}:")))
                    .unwrap_or_else(|| panic!("no {name} in {piece:?}"))
                    .to_owned()
            };
            let data = serde_json::from_str(&field("data")).unwrap();
            return Some((field("event"), data, field("id")));
        }
    }

    /// The next raw piece, keep-alives included.
    pub async fn raw(&mut self) -> Option<String> {
        self.piece().await
    }
}

async fn subscribe(app: &TestApp, token: Option<&str>, body: Value) -> Reply {
    app.post("/api/realtime", token, body).await
}

fn client_from(ip: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn no_redirects() -> reqwest::Client {
    client_from(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_stream_starts_with_pb_connect() {
    with_app(Backend::Sqlite, |app: TestApp| async move {
        let r = reqwest::get(format!("{}/api/realtime", app.url))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let header = |name: &str| r.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(header("content-type"), "text/event-stream");
        assert_eq!(header("cache-control"), "no-store");
        assert_eq!(header("x-accel-buffering"), "no");
        drop(r);

        let mut stream = Stream::open(&app.url).await;
        assert_eq!(stream.id.len(), 40);
        assert!(stream.id.chars().all(|c| c.is_ascii_alphanumeric()));
        // The sweep sends a comment as keep-alive; events carry the client id.
        app.gh.realtime_sweep();
        assert_eq!(stream.raw().await.as_deref(), Some(":\n\n"));
        let other = Stream::open(&app.url).await;
        assert_ne!(other.id, stream.id);
    })
    .await;
}

/// What the socket has sent once `until` shows up (at most 10 s).
async fn read_until(socket: &mut TcpStream, until: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(until) {
        let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf))
            .await
            .expect("the server stayed silent")
            .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_streams_on_a_fresh_or_a_reused_connection() {
    with_app(Backend::Sqlite, |app: TestApp| async move {
        let addr = app.url.trim_start_matches("http://").to_owned();
        const OPEN: &[u8] = b"GET /api/realtime HTTP/1.1\r\nHost: x\r\n\r\n";
        // First on its connection: served without hyper, the router's headers, then the events
        // until the connection closes.
        let mut fresh = TcpStream::connect(&addr).await.unwrap();
        fresh.write_all(OPEN).await.unwrap();
        let head = read_until(&mut fresh, "\"}\n\n").await;
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        for line in [
            "content-type: text/event-stream\r\n",
            "cache-control: no-store\r\n",
            "x-frame-options: SAMEORIGIN\r\n",
            "connection: close\r\n",
        ] {
            assert!(head.contains(line), "{line} in {head}");
        }
        assert!(!head.contains("transfer-encoding"), "{head}");
        assert!(head.contains("\r\n\r\nid:"), "{head}");
        // After another request on the connection: hyper serves it, chunked.
        let mut reused = TcpStream::connect(&addr).await.unwrap();
        reused
            .write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        read_until(&mut reused, "healthy").await;
        reused.write_all(OPEN).await.unwrap();
        let head = read_until(&mut reused, "\"}\n\n").await;
        assert!(head.contains("transfer-encoding: chunked"), "{head}");
        assert!(head.contains("event:PB_CONNECT"), "{head}");
        assert_eq!(app.gh.realtime().len(), 2);
        // A client that goes away frees its place without waiting for a keep-alive.
        drop(fresh);
        for _ in 0..100 {
            if app.gh.realtime().len() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(app.gh.realtime().len(), 1);
    })
    .await;
}

both_backends!(realtime_subscription_answers, |app: TestApp| async move {
    let stream = Stream::open(&app.url).await;
    let id = stream.id.as_str();
    let generic = "Something went wrong while processing your request.";

    let r = subscribe(
        &app,
        None,
        json!({"clientId": "nope", "subscriptions": ["@oauth2"]}),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({"data": {}, "message": "Missing or invalid client id.", "status": 404})
    );
    let r = subscribe(&app, None, json!({})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"data": {"clientId": {"code": "validation_required", "message": "Cannot be blank."}}, "message": generic, "status": 400})
    );
    for bad in [
        json!({"clientId": 5}),
        json!({"clientId": id, "subscriptions": [1]}),
    ] {
        let r = subscribe(&app, None, bad).await;
        assert_eq!(
            r.body,
            json!({"data": {}, "message": generic, "status": 400})
        );
    }
    let r = app
        .send_with_headers(
            reqwest::Method::POST,
            "/api/realtime",
            None,
            None,
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let many = vec!["users/*"; 1001];
    let r = subscribe(&app, None, json!({"clientId": id, "subscriptions": many})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["data"]["subscriptions"],
        json!({"code": "validation_length_too_long", "message": "The length must be no more than 1000.", "params": {"max": 1000, "min": 0}})
    );
    let long = "x".repeat(2501);
    let r = subscribe(
        &app,
        None,
        json!({"clientId": id, "subscriptions": ["a", long]}),
    )
    .await;
    assert_eq!(
        r.body["data"]["subscriptions"]["1"]["code"],
        "validation_length_too_long"
    );

    // Accepted: JSON, or form fields (one field is a list of one).
    let r = subscribe(
        &app,
        None,
        json!({"clientId": id, "subscriptions": ["@oauth2", "users/*"]}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        app.gh.realtime().topics(id).unwrap(),
        ["@oauth2", "users/*"]
    );
    let r = app
        .client
        .post(format!("{}/api/realtime", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("clientId={id}&subscriptions=%40oauth2"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.gh.realtime().topics(id).unwrap(), ["@oauth2"]);

    // Another IP may not touch the client.
    let r = client_from(OTHER_IP)
        .post(format!("{}/api/realtime", app.url))
        .json(&json!({"clientId": id, "subscriptions": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "Invalid realtime client.");

    // A guest client may become ann; then only ann may change its subscriptions.
    let (_ann, ann) = app.user("ann@example.com", "ann-password-1").await;
    let (_bob, bob) = app.user("bob@example.com", "bob-password-1").await;
    let r = subscribe(
        &app,
        Some(&ann),
        json!({"clientId": id, "subscriptions": ["users/*"]}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let mismatch = json!({"data": {}, "message": "The current and the previous request authorization don't match.", "status": 403});
    let r = subscribe(&app, Some(&bob), json!({"clientId": id})).await;
    assert_eq!((r.status, &r.body), (StatusCode::FORBIDDEN, &mismatch));
    let r = subscribe(&app, None, json!({"clientId": id})).await;
    assert_eq!((r.status, &r.body), (StatusCode::FORBIDDEN, &mismatch));
    let r = subscribe(&app, Some(&ann), json!({"clientId": id})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(app.gh.realtime().topics(id).unwrap(), Vec::<String>::new());
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_places_are_bounded() {
    with_app(Backend::Sqlite, |app: TestApp| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let limits = ListenerLimits {
            realtime: RealtimeLimits {
                max_clients: 3,
                max_clients_per_ip: 2,
            },
            ..ListenerLimits::default()
        };
        tokio::spawn(serve_with(
            app.gh.clone(),
            listener,
            std::future::pending(),
            limits,
        ));
        let first = Stream::open(&url).await;
        let _second = Stream::open(&url).await;
        let r = reqwest::get(format!("{url}/api/realtime")).await.unwrap();
        assert_eq!(r.status(), 429);
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body,
            json!({"data": {}, "message": "Too Many Requests.", "status": 429})
        );
        let get_from = |ip| {
            let url = url.clone();
            async move {
                client_from(ip)
                    .get(format!("{url}/api/realtime"))
                    .send()
                    .await
                    .unwrap()
            }
        };
        let third = get_from(OTHER_IP).await;
        assert_eq!(third.status(), 200);
        let full = get_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3))).await;
        assert_eq!(full.status(), 503);
        let body: Value = full.json().await.unwrap();
        assert_eq!(body["status"], 503);
        assert_eq!(
            body["message"],
            "Too many realtime connections, try again later."
        );
        drop(first);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_idle_and_old_streams_end() {
    with_app(Backend::Sqlite, |app: TestApp| async move {
        let mut idle = Stream::open(&app.url).await;
        let mut busy = Stream::open(&app.url).await;
        let r = subscribe(
            &app,
            None,
            json!({"clientId": busy.id, "subscriptions": ["@oauth2"]}),
        )
        .await;
        assert_eq!(r.status, 204);
        app.clock.advance_secs(IDLE_MS / 1000 - 10);
        // An event keeps a client alive; five minutes without one ends the stream.
        let r = no_redirects()
            .get(format!(
                "{}/api/oauth2-redirect?state={}&code=c1",
                app.url, busy.id
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 307);
        assert_eq!(busy.next().await.unwrap().0, "@oauth2");
        app.clock.advance_secs(10);
        assert_eq!(app.gh.realtime_sweep(), 1);
        assert!(idle.next().await.is_none(), "the idle stream ended");
        assert_eq!(app.gh.realtime().len(), 1);
        // However busy, a stream ends after thirty minutes.
        app.clock.advance_secs(LIFETIME_MS / 1000);
        app.gh.realtime_sweep();
        assert!(busy.next().await.is_none(), "the old stream ended");
        assert!(app.gh.realtime().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_redirect_hands_the_code_to_the_client() {
    with_app(Backend::Sqlite, |app: TestApp| async move {
        let browser = no_redirects();
        let get = |query: String| {
            let browser = browser.clone();
            let url = app.url.clone();
            async move {
                let r = browser
                    .get(format!("{url}/api/oauth2-redirect{query}"))
                    .send()
                    .await
                    .unwrap();
                let location = r.headers()["location"].to_str().unwrap().to_owned();
                (r.status(), location)
            }
        };
        let success = (
            StatusCode::TEMPORARY_REDIRECT,
            "../_/#/auth/oauth2-redirect-success".to_owned(),
        );
        let failure = (
            StatusCode::TEMPORARY_REDIRECT,
            "../_/#/auth/oauth2-redirect-failure".to_owned(),
        );

        assert_eq!(get(String::new()).await, failure);
        assert_eq!(get("?state=nobody&code=x".into()).await, failure);

        let mut popup = Stream::open(&app.url).await;
        let id = popup.id.clone();
        // Not subscribed to @oauth2 (an options suffix is another topic): refused.
        let r = subscribe(
            &app,
            None,
            json!({"clientId": id, "subscriptions": ["users/*", "@oauth2?options=%7B%7D"]}),
        )
        .await;
        assert_eq!(r.status, 204);
        assert_eq!(get(format!("?state={id}&code=abc")).await, failure);

        let r = subscribe(
            &app,
            None,
            json!({"clientId": id, "subscriptions": ["@oauth2"]}),
        )
        .await;
        assert_eq!(r.status, 204);
        assert_eq!(get(format!("?state={id}&code=abc&error=")).await, success);
        let (name, data, event_id) = popup.next().await.unwrap();
        assert_eq!((name.as_str(), event_id.as_str()), ("@oauth2", id.as_str()));
        assert_eq!(data, json!({"state": id, "code": "abc"}));
        // The subscription is spent by the first redirect.
        assert_eq!(get(format!("?state={id}&code=abc")).await, failure);
        assert!(app.gh.realtime().topics(&id).unwrap().is_empty());

        // The provider's error reaches the client; the popup goes to the failure page.
        let r = subscribe(
            &app,
            None,
            json!({"clientId": id, "subscriptions": ["@oauth2"]}),
        )
        .await;
        assert_eq!(r.status, 204);
        assert_eq!(
            get(format!("?state={id}&error=access_denied")).await,
            failure
        );
        let (_, data, _) = popup.next().await.unwrap();
        assert_eq!(
            data,
            json!({"state": id, "code": "", "error": "access_denied"})
        );

        // A redirect from another IP gets nothing and spends the subscription.
        let r = subscribe(
            &app,
            None,
            json!({"clientId": id, "subscriptions": ["@oauth2"]}),
        )
        .await;
        assert_eq!(r.status, 204);
        let r = client_from(OTHER_IP)
            .get(format!(
                "{}/api/oauth2-redirect?state={id}&code=stolen",
                app.url
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers()["location"],
            "../_/#/auth/oauth2-redirect-failure"
        );
        assert_eq!(get(format!("?state={id}&code=abc")).await, failure);

        // Apple's form_post: 303, and the name from `user` is kept for the code's exchange.
        let r = subscribe(
            &app,
            None,
            json!({"clientId": id, "subscriptions": ["@oauth2"]}),
        )
        .await;
        assert_eq!(r.status, 204);
        let user = r#"{"name":{"firstName":"Ann","lastName":"Lee"},"email":"ann@example.com"}"#;
        let form = [
            ("state", id.as_str()),
            ("code", "apple-code"),
            ("user", user),
        ];
        let r = browser
            .post(format!("{}/api/oauth2-redirect", app.url))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(
            r.headers()["location"],
            "../_/#/auth/oauth2-redirect-success"
        );
        let (_, data, _) = popup.next().await.unwrap();
        assert_eq!(data, json!({"state": id, "code": "apple-code"}));
        assert_eq!(
            app.gh.take_apple_name("apple-code").as_deref(),
            Some("Ann Lee")
        );
        assert_eq!(app.gh.take_apple_name("apple-code"), None);

        // A body that cannot be read, an oversized code: the failure page.
        let r = browser
            .post(format!("{}/api/oauth2-redirect", app.url))
            .header("content-type", "application/json")
            .body("{bad")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(
            r.headers()["location"],
            "../_/#/auth/oauth2-redirect-failure"
        );
        let r = subscribe(
            &app,
            None,
            json!({"clientId": id, "subscriptions": ["@oauth2"]}),
        )
        .await;
        assert_eq!(r.status, 204);
        let huge = "c".repeat(5000);
        assert_eq!(get(format!("?state={id}&code={huge}")).await, failure);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_redirect_pages_close_the_popup() {
    with_app(Backend::Sqlite, |app: TestApp| async move {
        let forward = app.get("/_/forward.js", None).await;
        assert!(
            forward.text.contains("oauth2-redirect-"),
            "{}",
            forward.text
        );
        let done = app.get("/_/auth/oauth2-redirect-success", None).await;
        assert_eq!(done.status, 200);
        assert!(done.text.contains("Auth completed"), "{}", done.text);
        assert!(done.text.contains("/_/close.js"), "{}", done.text);
        let failed = app.get("/_/auth/oauth2-redirect-failure", None).await;
        assert!(failed.text.contains("Auth failed"), "{}", failed.text);
        assert!(!failed.text.contains("close.js"));
        let script = app.get("/_/close.js", None).await;
        assert_eq!(script.text.trim(), "window.close();");
    })
    .await;
}
