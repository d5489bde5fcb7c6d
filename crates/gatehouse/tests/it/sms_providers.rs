//! Each SMS provider against a fake of it on 127.0.0.1: the fake checks the exact request the
//! real provider expects (method, path, auth, form or JSON body, and the webhook's signature,
//! verified here with an HMAC written apart from the server's) and answers as the provider
//! does, errors included.

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use gatehouse_domain::clock::SystemClock;
use gatehouse_domain::settings::SmsSettings;
use gatehouse_domain::sms::{OutgoingSms, SmsError, SmsTransport};
use gatehouse_sms::SmsSender;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }
}

/// A provider on 127.0.0.1 that records every request and gives one fixed answer.
pub(crate) struct FakeProvider {
    pub(crate) url: String,
    pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeProvider {
    pub(crate) async fn start(
        status: u16,
        content_type: &'static str,
        answer: &'static str,
    ) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let router = axum::Router::new().fallback(move |req: Request| {
            let log = log.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
                log.lock().unwrap().push(Seen {
                    method: parts.method.to_string(),
                    path: parts.uri.to_string(),
                    headers: parts.headers,
                    body,
                });
                (
                    StatusCode::from_u16(status).unwrap(),
                    [("content-type", content_type)],
                    answer,
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, seen }
    }

    fn only_request(&self) -> Seen {
        let seen = self.seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        seen[0].clone()
    }
}

/// A sender with short timeouts, so the silent-provider test is quick.
fn sender() -> SmsSender {
    let dir = std::env::temp_dir();
    SmsSender::with_timeouts(
        &dir,
        Arc::new(SystemClock),
        Duration::from_millis(500),
        Duration::from_millis(800),
    )
    .unwrap()
}

/// The error of sending [`otp`] with `settings`.
async fn failure(settings: &SmsSettings) -> SmsError {
    sender().send(settings, &otp()).await.unwrap_err()
}

fn otp() -> OutgoingSms {
    OutgoingSms {
        to: "+15555550142".into(),
        message: "Your Acme code is 424242 & expires soon".into(),
        kind: "otp",
    }
}

fn twilio_settings(base_url: &str) -> SmsSettings {
    serde_json::from_value(json!({
        "enabled": true, "provider": "twilio", "from": "+15005550006",
        "twilio": {"accountSid": "ACtest0001", "authToken": "tw-token-1", "baseUrl": base_url},
    }))
    .unwrap()
}

fn vonage_settings(base_url: &str) -> SmsSettings {
    serde_json::from_value(json!({
        "enabled": true, "provider": "vonage", "from": "Acme",
        "vonage": {"apiKey": "vk-1", "apiSecret": "vs-secret-1", "baseUrl": base_url},
    }))
    .unwrap()
}

fn webhook_settings(url: &str) -> SmsSettings {
    serde_json::from_value(json!({
        "enabled": true, "provider": "webhook",
        "webhook": {"url": url, "secret": "wh-secret-1"},
    }))
    .unwrap()
}

/// The error must not carry the text (it holds the code) or a credential.
fn assert_clean(e: &SmsError) {
    let shown = format!("{e} {e:?}");
    for secret in ["424242", "tw-token-1", "vs-secret-1", "wh-secret-1"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

const TWILIO_CREATED: &str = r#"{"sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f", "status": "queued", "to": "+15555550142", "from": "+15005550006", "error_code": null}"#;

#[tokio::test]
async fn twilio_gets_its_form_and_basic_auth() {
    let fake = FakeProvider::start(201, "application/json", TWILIO_CREATED).await;
    sender()
        .send(&twilio_settings(&fake.url), &otp())
        .await
        .unwrap();
    let req = fake.only_request();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/2010-04-01/Accounts/ACtest0001/Messages.json");
    // base64("ACtest0001:tw-token-1")
    assert_eq!(
        req.header("authorization"),
        "Basic QUN0ZXN0MDAwMTp0dy10b2tlbi0x"
    );
    assert_eq!(
        req.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    let form = req.form();
    assert_eq!(form.len(), 3, "{form:?}");
    assert_eq!(form["To"], "+15555550142");
    assert_eq!(form["From"], "+15005550006");
    assert_eq!(form["Body"], "Your Acme code is 424242 & expires soon");
}

#[tokio::test]
async fn twilio_errors_tell_a_bad_number_from_a_broken_account() {
    let invalid_to = r#"{"code": 21211, "message": "The 'To' number +1555 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
    let fake = FakeProvider::start(400, "application/json", invalid_to).await;
    let e = failure(&twilio_settings(&fake.url)).await;
    assert!(
        matches!(&e, SmsError::Rejected(d) if d.contains("21211")),
        "{e:?}"
    );
    assert_clean(&e);

    let bad_auth = r#"{"code": 20003, "message": "Authentication Error - invalid username", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}"#;
    let fake = FakeProvider::start(401, "application/json", bad_auth).await;
    let e = failure(&twilio_settings(&fake.url)).await;
    assert!(
        matches!(&e, SmsError::Unavailable(d) if d.contains("bad credentials")),
        "{e:?}"
    );
    assert_clean(&e);

    for (status, answer) in [
        (
            500,
            r#"{"code": 20500, "message": "Internal Server Error", "status": 500}"#,
        ),
        (201, "<html>captive portal</html>"),
        (400, "not json"),
    ] {
        let fake = FakeProvider::start(status, "text/html", answer).await;
        let e = failure(&twilio_settings(&fake.url)).await;
        assert!(
            matches!(e, SmsError::Unavailable(_)),
            "{status} {answer}: {e:?}"
        );
    }
}

#[tokio::test]
async fn vonage_gets_its_form_with_the_number_in_digits() {
    let ok = r#"{"message-count": "1", "messages": [{"to": "15555550142", "message-id": "0A0000000123ABCD1", "status": "0", "remaining-balance": "3.14159265", "message-price": "0.03330000", "network": "12345"}]}"#;
    let fake = FakeProvider::start(200, "application/json", ok).await;
    sender()
        .send(&vonage_settings(&fake.url), &otp())
        .await
        .unwrap();
    let req = fake.only_request();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/sms/json");
    assert_eq!(
        req.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(req.header("authorization"), "");
    let form = req.form();
    assert_eq!(form.len(), 5, "{form:?}");
    assert_eq!(form["api_key"], "vk-1");
    assert_eq!(form["api_secret"], "vs-secret-1");
    assert_eq!(form["from"], "Acme");
    assert_eq!(form["to"], "15555550142");
    assert_eq!(form["text"], "Your Acme code is 424242 & expires soon");
}

#[tokio::test]
async fn vonage_statuses_map_to_rejected_or_unavailable() {
    let answer = |status: &str| -> &'static str {
        let body =
            json!({"message-count": "1", "messages": [{"status": status, "error-text": "…"}]});
        Box::leak(body.to_string().into_boxed_str())
    };
    for (status, rejected) in [
        ("4", false),
        ("1", false),
        ("6", true),
        ("7", true),
        ("5", false),
    ] {
        let fake = FakeProvider::start(200, "application/json", answer(status)).await;
        let e = failure(&vonage_settings(&fake.url)).await;
        assert_eq!(
            matches!(e, SmsError::Rejected(_)),
            rejected,
            "status {status}: {e:?}"
        );
        assert!(e.to_string().contains(&format!("status {status}")), "{e}");
        assert_clean(&e);
    }
    for (status, body) in [
        (200, "garbage"),
        (200, r#"{"message-count": "0"}"#),
        (503, ""),
    ] {
        let fake = FakeProvider::start(status, "application/json", body).await;
        let e = failure(&vonage_settings(&fake.url)).await;
        assert!(
            matches!(e, SmsError::Unavailable(_)),
            "{status} {body}: {e:?}"
        );
    }
}

/// HMAC-SHA256 as RFC 2104 defines it, written here so that the test does not trust the
/// server's own signing code.
pub(crate) fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn the_webhook_gets_signed_json() {
    let fake = FakeProvider::start(204, "text/plain", "").await;
    let url = format!("{}/hooks/sms?tenant=acme", fake.url);
    sender()
        .send(&webhook_settings(&url), &otp())
        .await
        .unwrap();
    let req = fake.only_request();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/hooks/sms?tenant=acme");
    assert_eq!(req.header("content-type"), "application/json");
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        json!({"to": "+15555550142", "message": "Your Acme code is 424242 & expires soon", "type": "otp"})
    );
    assert_eq!(
        req.header("x-gatehouse-signature"),
        format!("sha256={}", hmac_sha256_hex(b"wh-secret-1", &req.body))
    );
}

#[tokio::test]
async fn webhook_errors_and_silence() {
    let fake = FakeProvider::start(422, "application/json", r#"{"error": "bad number"}"#).await;
    let e = failure(&webhook_settings(&fake.url)).await;
    assert!(matches!(e, SmsError::Rejected(_)), "{e:?}");

    let fake = FakeProvider::start(500, "text/plain", "oops").await;
    let e = failure(&webhook_settings(&fake.url)).await;
    assert!(
        matches!(&e, SmsError::Unavailable(d) if d.contains("500")),
        "{e:?}"
    );
    assert_clean(&e);

    // A redirect is not followed: the message and its signature go only where configured.
    let fake = FakeProvider::start(307, "text/plain", "").await;
    let e = failure(&webhook_settings(&fake.url)).await;
    assert!(matches!(e, SmsError::Unavailable(_)), "{e:?}");

    // Accepts the connection, never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let started = std::time::Instant::now();
    let e = failure(&webhook_settings(&url)).await;
    assert!(
        matches!(&e, SmsError::Unavailable(d) if d.contains("timed out")),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    hold.abort();

    // Nothing listens.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let e = failure(&webhook_settings(&url)).await;
    assert!(matches!(e, SmsError::Unavailable(_)), "{e:?}");
}

#[tokio::test]
async fn when_sms_is_off_the_message_is_written_to_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let sender = SmsSender::new(dir.path(), Arc::new(SystemClock)).unwrap();
    let fake = FakeProvider::start(201, "application/json", TWILIO_CREATED).await;
    let mut settings = twilio_settings(&fake.url);
    settings.enabled = false;
    sender.send(&settings, &otp()).await.unwrap();
    assert!(fake.seen.lock().unwrap().is_empty());
    let files: Vec<_> = std::fs::read_dir(dir.path().join("sms"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert!(
        std::fs::read_to_string(&files[0])
            .unwrap()
            .contains("424242")
    );
}
