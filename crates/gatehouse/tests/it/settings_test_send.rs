//! `POST /api/settings/test/email` (PocketBase's) and `POST /api/settings/test/sms` (Gatehouse's)
//! over HTTP: a mail through a real SMTP exchange with the sink, a text through the signed
//! webhook on 127.0.0.1, superusers only, field errors for bad bodies, and failures that say what
//! went wrong without a secret.

use crate::both_backends;
use crate::sms_login::{PHONE, messages, sink, sms_on};
use crate::sms_providers::FakeProvider;
use crate::smtp_sink::SmtpSink;
use crate::support::*;
use serde_json::{Value, json};

const EMAIL: &str = "/api/settings/test/email";
const SMS: &str = "/api/settings/test/sms";
const SMTP_SECRET: &str = "smtp-secret-1";

/// Points SMTP at `port` on 127.0.0.1 with a password, plain text (`tlsMode` none) unless
/// `tls_mode` says otherwise.
pub(crate) async fn smtp_to(app: &TestApp, su: &str, port: u16, tls_mode: &str) {
    let smtp = json!({"enabled": true, "host": "127.0.0.1", "port": port, "tlsMode": tls_mode,
        "username": "mailer", "password": SMTP_SECRET});
    let r = app
        .patch("/api/settings", Some(su), json!({ "smtp": smtp }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// The `settings.tested` rows of the audit log, newest first.
async fn tested_events(app: &TestApp, su: &str) -> Vec<Value> {
    let r = app.get("/api/audit?type=settings.tested", Some(su)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().unwrap().clone()
}

/// Every message the sink accepted, quoted-printable soft line breaks undone.
pub(crate) fn sunk(sink: &SmtpSink) -> Vec<String> {
    sink.sessions()
        .iter()
        .flat_map(|s| s.messages.iter().map(|m| m.replace("=\n", "")))
        .collect()
}

/// A 400 in PocketBase's shape whose message is `message` and holds no secret.
fn assert_clear_400(r: &Reply, message: &str) {
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["message"], message, "{}", r.text);
    assert!(r.body["data"].is_object(), "{}", r.text);
    assert!(!r.text.contains(SMTP_SECRET), "{}", r.text);
}

both_backends!(a_test_mail_goes_out_over_smtp, |app: TestApp| async move {
    let su = app.superuser_token().await;
    let sink = SmtpSink::start(false).await;
    smtp_to(&app, &su, sink.port, "none").await;

    let r = app
        .post(
            EMAIL,
            Some(&su),
            json!({"email": "ann@example.com", "template": "otp"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // Sent before the answer: the sink already has it.
    let all = sunk(&sink);
    let message = all.first().expect("a message");
    assert!(message.contains("To: ann@example.com"), "{message}");
    assert!(message.contains("Subject: OTP for Gatehouse"), "{message}");
    assert!(message.contains("123456"), "{message}");

    // Another collection's template, with a stand-in token that opens nothing.
    let r = app
        .post(
            EMAIL,
            Some(&su),
            json!({"email": "bob@example.com", "template": "verification", "collection": "users"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let all = sunk(&sink);
    let verification = all.iter().find(|m| m.contains("bob@example.com")).unwrap();
    assert!(
        verification.contains("_GATEHOUSE_TEST_TOKEN_"),
        "{verification}"
    );
    let r = app
        .post(
            "/api/collections/users/confirm-verification",
            None,
            json!({"token": "_GATEHOUSE_TEST_TOKEN_"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);

    let events = tested_events(&app, &su).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["data"]["channel"], "email");
    assert_eq!(events[1]["data"]["template"], "otp");
    assert_eq!(events[1]["data"]["sentTo"], "a***@e******.com");
});

both_backends!(
    with_smtp_off_the_test_mail_lands_in_the_mail_folder,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let r = app
            .post(
                EMAIL,
                Some(&su),
                json!({"email": "cid@example.com", "template": "password-reset"}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
        let mail = app.mail_to("cid@example.com", 1).await;
        assert!(mail.contains("Reset your Gatehouse password"), "{mail}");
    }
);

both_backends!(
    test_mails_are_for_superusers_with_a_valid_body,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let (_, user) = app.user("dee@example.com", "dee-password-1").await;
        let sink = SmtpSink::start(false).await;
        smtp_to(&app, &su, sink.port, "none").await;
        let good = json!({"email": "dee@example.com", "template": "otp"});

        let r = app.post(EMAIL, None, good.clone()).await;
        assert_eq!(r.status, 401, "{}", r.text);
        let r = app.post(EMAIL, Some(&user), good.clone()).await;
        assert_eq!(r.status, 403, "{}", r.text);

        let r = app.post(EMAIL, Some(&su), json!({})).await;
        assert_clear_400(&r, "Failed to send the test email.");
        assert_eq!(r.body["data"]["email"]["code"], "validation_required");
        assert_eq!(r.body["data"]["template"]["code"], "validation_required");

        let r = app
            .post(
                EMAIL,
                Some(&su),
                json!({"email": "not an address", "template": "welcome", "collection": "nope"}),
            )
            .await;
        assert_clear_400(&r, "Failed to send the test email.");
        assert_eq!(r.body["data"]["email"]["code"], "validation_is_email");
        assert_eq!(r.body["data"]["template"]["code"], "validation_in_invalid");
        assert_eq!(
            r.body["data"]["collection"]["code"],
            "validation_invalid_auth_collection"
        );

        let r = app
            .post(
                EMAIL,
                Some(&su),
                json!({"email": format!("{}@example.com", "a".repeat(300)), "template": "otp"}),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.body["data"]["email"].is_object(), "{}", r.text);

        let r = app
            .send_with_headers(
                reqwest::Method::POST,
                EMAIL,
                Some(&su),
                None,
                &[("Content-Type", "application/json")],
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        let raw = app
            .client
            .post(format!("{}{EMAIL}", app.url))
            .header("Authorization", &su)
            .header("Content-Type", "application/json")
            .body("{\"email\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), 400);

        assert!(sunk(&sink).is_empty(), "nothing was sent");
        assert!(tested_events(&app, &su).await.is_empty());
    }
);

both_backends!(
    a_failed_smtp_exchange_says_what_failed_without_the_password,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let body = json!({"email": "eve@example.com", "template": "verification"});

        // Nothing listens on the port.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        smtp_to(&app, &su, port, "none").await;
        let r = app.post(EMAIL, Some(&su), body.clone()).await;
        assert_clear_400(
            &r,
            "Failed to send the test email: the SMTP server could not be reached.",
        );

        // A server without STARTTLS while the settings require it: nothing goes out.
        let sink = SmtpSink::start(false).await;
        smtp_to(&app, &su, sink.port, "starttls").await;
        let r = app.post(EMAIL, Some(&su), body.clone()).await;
        assert_clear_400(
            &r,
            "Failed to send the test email: the SMTP server does not offer STARTTLS, which smtp.tlsMode requires.",
        );
        assert!(
            sink.sessions()
                .iter()
                .all(|s| !s.saw("AUTH") && s.messages.is_empty())
        );
        assert!(tested_events(&app, &su).await.is_empty());
    }
);

/// The webhook sink's messages of type `test`.
fn test_messages(sink: &FakeProvider) -> Vec<Value> {
    messages(sink)
        .into_iter()
        .filter(|m| m["type"] == "test")
        .collect()
}

both_backends!(
    a_test_text_goes_through_the_provider,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let provider = sink().await;
        sms_on(&app, &provider, Value::Null).await;

        let r = app
            .post(SMS, Some(&su), json!({"phone": "+1 (415) 555-2671"}))
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
        let sent = test_messages(&provider);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0]["to"], PHONE);
        assert_eq!(sent[0]["message"], "This is a test message from Gatehouse.");

        let events = tested_events(&app, &su).await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["data"]["channel"], "sms");
        assert_eq!(events[0]["data"]["sentTo"], "+1 *** *** **71");
        assert!(!events[0].to_string().contains(PHONE));
    }
);

both_backends!(
    test_texts_are_for_superusers_with_a_valid_phone,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let (_, user) = app.user("fay@example.com", "fay-password-1").await;

        // Off: a clear refusal, nothing sent anywhere.
        let r = app.post(SMS, Some(&su), json!({"phone": PHONE})).await;
        assert_clear_400(
            &r,
            "Text messages are off: turn on settings.sms and choose a provider first.",
        );

        let provider = sink().await;
        sms_on(&app, &provider, Value::Null).await;
        let r = app.post(SMS, None, json!({"phone": PHONE})).await;
        assert_eq!(r.status, 401, "{}", r.text);
        let r = app.post(SMS, Some(&user), json!({"phone": PHONE})).await;
        assert_eq!(r.status, 403, "{}", r.text);

        for (phone, code) in [
            ("", "validation_required"),
            ("4155552671", "validation_invalid_phone"),
            ("+1 555 000 0000", "validation_invalid_phone"),
        ] {
            let r = app.post(SMS, Some(&su), json!({ "phone": phone })).await;
            assert_eq!(r.status, 400, "{phone}: {}", r.text);
            assert_eq!(r.body["data"]["phone"]["code"], code, "{phone}: {}", r.text);
        }
        let r = app
            .post(SMS, Some(&su), json!({"phone": "9".repeat(5000)}))
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        let r = app
            .post(SMS, Some(&su), json!({"phone": 14155552671_i64}))
            .await;
        assert_clear_400(&r, "An error occurred while loading the submitted data.");
        assert!(test_messages(&provider).is_empty());

        // Over the number's cap: 429, and nothing more goes out.
        let r = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"sms": {"caps": {"perNumberPerHour": 1}}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app.post(SMS, Some(&su), json!({"phone": PHONE})).await;
        assert_eq!(r.status, 204, "{}", r.text);
        let r = app.post(SMS, Some(&su), json!({"phone": PHONE})).await;
        assert_eq!(r.status, 429, "{}", r.text);
        assert_eq!(test_messages(&provider).len(), 1);
    }
);

both_backends!(
    a_provider_that_refuses_is_named_in_a_400,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        for (status, message) in [
            (
                422,
                "The SMS provider refused the test message (the SMS webhook answered HTTP 422).",
            ),
            (
                500,
                "The SMS provider could not send the test message (the SMS webhook answered HTTP 500).",
            ),
        ] {
            let provider = FakeProvider::start(status, "application/json", "{}").await;
            sms_on(&app, &provider, Value::Null).await;
            let r = app.post(SMS, Some(&su), json!({"phone": PHONE})).await;
            assert_clear_400(&r, message);
            assert!(!r.text.contains("sink-hmac-secret"), "{}", r.text);
            assert_eq!(provider.seen.lock().unwrap().len(), 1);
        }
        assert!(tested_events(&app, &su).await.is_empty());
    }
);
