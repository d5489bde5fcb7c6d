//! Email OTP and MFA with the log mailer (SMTP off): codes are read from `<data dir>/mail/`.
//! The SDK suite covers the same flows over a real SMTP exchange.

use crate::both_backends;
use crate::support::*;
use serde_json::{Value, json};

/// The code in the `nth` mail to `to` (1-based).
pub(crate) async fn code_for(app: &TestApp, to: &str, nth: usize) -> String {
    let text = app.mail_to(to, nth).await;
    let after = text
        .split("one-time password is: ")
        .nth(1)
        .unwrap_or_default();
    after.chars().take_while(char::is_ascii_digit).collect()
}

pub(crate) async fn enable_otp(app: &TestApp) {
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

pub(crate) async fn request_otp(app: &TestApp, email: &str) -> String {
    let r = app
        .post(
            "/api/collections/users/request-otp",
            None,
            json!({"email": email}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["otpId"].as_str().unwrap().to_owned()
}

pub(crate) async fn auth_with_otp(
    app: &TestApp,
    otp_id: &str,
    code: &str,
    mfa_id: &str,
) -> (u16, Value) {
    let path = if mfa_id.is_empty() {
        "/api/collections/users/auth-with-otp".to_owned()
    } else {
        format!("/api/collections/users/auth-with-otp?mfaId={mfa_id}")
    };
    let r = app
        .post(&path, None, json!({"otpId": otp_id, "password": code}))
        .await;
    (r.status.as_u16(), r.body)
}

both_backends!(
    an_otp_is_used_once_and_dies_after_five_wrong_codes,
    |app: TestApp| async move {
        enable_otp(&app).await;
        app.user("ola@example.com", "ola-password-1").await;

        // Unknown email: the same answer, no mail.
        let fake = request_otp(&app, "nobody@example.com").await;
        assert_eq!(fake.len(), 15);
        assert_eq!(auth_with_otp(&app, &fake, "12345678", "").await.0, 400);

        // Eight concurrent uses of one code: exactly one wins.
        let otp_id = request_otp(&app, "ola@example.com").await;
        let code = code_for(&app, "ola@example.com", 1).await;
        assert_eq!(code.len(), 8);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let url = app.url.clone();
            let client = app.client.clone();
            let body = json!({"otpId": otp_id, "password": code});
            tasks.push(tokio::spawn(async move {
                client
                    .post(format!("{url}/api/collections/users/auth-with-otp"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        // The losers get 400, or 429 once PocketBase's guard (5 tries per record and IP) trips.
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| [200, 400, 429].contains(s)),
            "{statuses:?}"
        );

        // Five wrong codes kill an OTP: the right one then gets 429 (another record, so the
        // guard above is not what answers).
        app.user("pat@example.com", "pat-password-1").await;
        let otp_id = request_otp(&app, "pat@example.com").await;
        let code = code_for(&app, "pat@example.com", 1).await;
        for _ in 0..5 {
            let (status, body) = auth_with_otp(&app, &otp_id, "00000000", "").await;
            assert_eq!(status, 400);
            assert_eq!(body["message"], "Invalid or expired OTP.");
        }
        let (status, body) = auth_with_otp(&app, &otp_id, &code, "").await;
        assert_eq!(status, 429);
        assert_eq!(
            body["message"],
            "Too many attempts, please try again later with a new OTP."
        );
        app.mail_idle().await;
        assert_eq!(app.mails_to("nobody@example.com").len(), 0);
    }
);

both_backends!(mfa_needs_two_different_methods, |app: TestApp| async move {
    let su = app.superuser_token().await;
    let (ivy, _) = app.user("ivy@example.com", "ivy-password-1").await;
    app.user("max@example.com", "max-password-1").await;
    let r = app
        .patch(
            "/api/collections/users",
            Some(&su),
            json!({"otp": {"enabled": true}, "mfa": {"enabled": true, "rule": "email ~ 'ivy'"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // mfa.rule selects who needs a second step.
    assert_eq!(
        app.login("users", "max@example.com", "max-password-1")
            .await
            .status,
        200
    );
    let first = app
        .login("users", "ivy@example.com", "ivy-password-1")
        .await;
    assert_eq!(first.status, 401, "{}", first.text);
    let mfa_id = first.body["mfaId"].as_str().unwrap().to_owned();
    assert_eq!(
        first.body["methods"],
        json!([{"type": "otp", "sentTo": "i***@e******.com"}])
    );
    assert!(first.body.get("message").is_none());

    // The same method again is refused; the session survives it.
    let again = app
        .post(
            &format!("/api/collections/users/auth-with-password?mfaId={mfa_id}"),
            None,
            json!({"identity": "ivy@example.com", "password": "ivy-password-1"}),
        )
        .await;
    assert_eq!(again.status, 400);
    assert_eq!(
        again.body["message"],
        "A different authentication method is required."
    );

    let otp_id = request_otp(&app, "ivy@example.com").await;
    let code = code_for(&app, "ivy@example.com", 1).await;
    let (status, body) = auth_with_otp(&app, &otp_id, &code, &mfa_id).await;
    assert_eq!(status, 200, "{body}");
    let claims = claims(body["token"].as_str().unwrap());
    assert_eq!(claims["amr"], json!(["password", "otp"]));
    assert_eq!(claims["aal"], 2);
    assert_eq!(body["record"]["id"], ivy.as_str());

    // Single use.
    let otp_id = request_otp(&app, "ivy@example.com").await;
    let code = code_for(&app, "ivy@example.com", 2).await;
    let (status, body) = auth_with_otp(&app, &otp_id, &code, &mfa_id).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "Invalid or expired MFA session.");
});
