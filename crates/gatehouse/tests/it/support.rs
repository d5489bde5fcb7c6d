//! `TestApp`: the real server on 127.0.0.1:0 with a fresh SQLite dir or PostgreSQL schema, and the
//! actors the tests need (guest, superuser, users).

use gatehouse::{StoreConfig, open_with_clock, serve};
use gatehouse_domain::Gatehouse;
use gatehouse_domain::clock::{Clock, SystemClock};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use tokio::sync::oneshot;

/// The test app's clock: the wall clock plus an offset the test moves forward, so that expiry,
/// lockout and rate-limit windows are crossed without sleeping while timestamps still advance.
#[derive(Default)]
pub struct TestClock {
    offset_ms: AtomicI64,
}

impl TestClock {
    pub fn advance_secs(&self, secs: i64) {
        self.offset_ms.fetch_add(secs * 1000, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_millis(&self) -> i64 {
        SystemClock.now_millis() + self.offset_ms.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const SU_EMAIL: &str = "root@example.com";
pub const SU_PASSWORD: &str = "root-password-123";

pub struct TestApp {
    pub url: String,
    pub client: Client,
    pub gh: Arc<Gatehouse>,
    pub clock: Arc<TestClock>,
    pub config: StoreConfig,
    _dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

/// The PostgreSQL URL for tests. Every test that needs it has `postgres` in its name.
pub fn pg_url() -> Option<String> {
    std::env::var("GATEHOUSE_TEST_PG_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

/// Runs `test` against a fresh app on `backend`, then removes the app's PostgreSQL schema even if
/// the test failed.
pub async fn with_app<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestApp) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let schema = format!("gh_it_{}", gatehouse_domain::random::record_id());
    let db_url = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => match pg_url() {
            Some(url) => Some(with_schema(&url, &schema)),
            // A test that did not run must not pass: without PostgreSQL, filter these tests
            // out (`-- --skip postgres`, as `scripts/test` does) so they count as skipped.
            None => panic!(
                "GATEHOUSE_TEST_PG_URL is not set: run PostgreSQL tests with it, or skip them with `-- --skip postgres`"
            ),
        },
    };
    let app = TestApp::start(db_url.clone()).await;
    let outcome = tokio::spawn(test(app)).await;
    if let (Some(_), Some(base)) = (&db_url, pg_url()) {
        drop_schema(&base, &schema).await;
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

pub fn with_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}schema={schema}")
}

async fn drop_schema(url: &str, schema: &str) {
    use sqlx::{AssertSqlSafe, Connection};
    if let Ok(mut conn) = sqlx::PgConnection::connect(url).await {
        let _ = sqlx::query(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
        )))
        .execute(&mut conn)
        .await;
    }
}

impl TestApp {
    pub async fn start(db_url: Option<String>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = StoreConfig {
            data_dir: dir.path().join("data"),
            db_url,
        };
        Self::start_with(config, dir, Arc::default()).await
    }

    /// A second server on the same database and clock (multi-instance tests).
    pub async fn sibling(&self) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_with(self.config.clone(), dir, self.clock.clone()).await
    }

    async fn start_with(
        config: StoreConfig,
        dir: tempfile::TempDir,
        clock: Arc<TestClock>,
    ) -> Self {
        let gh = open_with_clock(&config, clock.clone())
            .await
            .expect("open gatehouse");
        gh.upsert_superuser(SU_EMAIL, &gatehouse_domain::Password(SU_PASSWORD.into()))
            .await
            .expect("superuser");
        // Bound before serving: the port is ready when this returns, no sleep needed.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(serve(gh.clone(), listener, async {
            let _ = rx.await;
        }));
        let app = Self {
            url,
            client: Client::new(),
            gh,
            clock,
            config,
            _dir: dir,
            shutdown: Some(tx),
        };
        // Shipped on; the tests log in far more often than a person. Tests of the limits turn
        // them back on with the rules they need.
        let su = app.superuser_token().await;
        let r = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"rateLimits": {"enabled": false}, "lockout": {"enabled": false}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        app
    }

    /// What the log mailer wrote to `to` (SMTP is off in these tests), oldest first.
    pub fn mails_to(&self, to: &str) -> Vec<String> {
        let mut found: Vec<((u128, u64), String)> = Vec::new();
        let entries = std::fs::read_dir(self.config.data_dir.join("mail"));
        for entry in entries.into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            // Files are named `<millis>-<counter>.txt`.
            let name = entry
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".txt")
                .to_owned();
            let (ms, n) = name.split_once('-').unwrap_or_default();
            if text.contains(&format!("To: {to}\n")) {
                found.push(((ms.parse().unwrap_or(0), n.parse().unwrap_or(0)), text));
            }
        }
        found.sort_by_key(|(order, _)| *order);
        found.into_iter().map(|(_, text)| text).collect()
    }

    /// The `nth` (1-based) mail to `to`, once the background sends are done.
    pub async fn mail_to(&self, to: &str, nth: usize) -> String {
        self.mail_idle().await;
        match self.mails_to(to).into_iter().nth(nth - 1) {
            Some(text) => text,
            None => panic!("no mail number {nth} to {to}"),
        }
    }

    /// Waits (bounded) until no mail is being sent in the background: after it, "no mail was
    /// sent" means none will be.
    pub async fn mail_idle(&self) {
        tokio::time::timeout(std::time::Duration::from_secs(20), self.gh.mail_idle())
            .await
            .expect("the background mail sender never went idle");
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.send_with_headers(method, path, token, body, &[]).await
    }

    pub async fn send_with_headers(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.client.request(method, format!("{}{path}", self.url));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(t) = token {
            req = req.header("Authorization", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            text,
            headers,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::DELETE, path, token, None).await
    }

    pub async fn login(&self, collection: &str, identity: &str, password: &str) -> Reply {
        let path = format!("/api/collections/{collection}/auth-with-password");
        self.post(
            &path,
            None,
            json!({"identity": identity, "password": password}),
        )
        .await
    }

    pub async fn superuser_token(&self) -> String {
        let r = self.login("_superusers", SU_EMAIL, SU_PASSWORD).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["token"].as_str().expect("token").to_owned()
    }

    /// Signs a user up in `users` and returns `(id, token)`.
    pub async fn user(&self, email: &str, password: &str) -> (String, String) {
        let r = self
            .post(
                "/api/collections/users/records",
                None,
                json!({"email": email, "password": password, "passwordConfirm": password}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let id = r.body["id"].as_str().expect("id").to_owned();
        let login = self.login("users", email, password).await;
        assert_eq!(login.status, 200, "{}", login.text);
        (id, login.body["token"].as_str().expect("token").to_owned())
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The claims of a JWT, unverified.
pub fn claims(token: &str) -> Value {
    jsonwebtoken_claims(token).unwrap_or(Value::Null)
}

fn jsonwebtoken_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64_url_decode(payload)?;
    serde_json::from_slice(&bytes).ok()
}

fn base64_url_decode(s: &str) -> Option<Vec<u8>> {
    base64_decode(s, b'-', b'_')
}

/// Base64 with `c62` and `c63` as the last two digits (`+/` standard, `-_` URL-safe).
pub fn base64_decode(s: &str, c62: u8, c63: u8) -> Option<Vec<u8>> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let digit = |c: u8| match c {
        _ if c == c62 => Some(62),
        _ if c == c63 => Some(63),
        _ => alphabet.iter().position(|&a| a == c).map(|v| v as u32),
    };
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = digit(c)?;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    Some(out)
}

/// Declares a test once and runs it on both backends.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::support::with_app($crate::support::Backend::Sqlite, $body).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::support::with_app($crate::support::Backend::Postgres, $body).await;
            }
        }
    };
}
