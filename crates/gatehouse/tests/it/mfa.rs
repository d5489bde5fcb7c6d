//! MFA sessions as seen by someone who does not hold them: a stranger's `mfaId` guesses must
//! neither lock the owner's second step nor touch the owner's other tickets.

use crate::both_backends;
use crate::otp::{auth_with_otp, code_for, request_otp};
use crate::support::*;
use serde_json::{Value, json};

/// A password login carrying `mfa_id` (as the SDK sends it, in the query string).
pub(crate) async fn password_step(
    app: &TestApp,
    email: &str,
    password: &str,
    mfa_id: &str,
) -> (u16, Value) {
    let r = app
        .post(
            &format!("/api/collections/users/auth-with-password?mfaId={mfa_id}"),
            None,
            json!({"identity": email, "password": password}),
        )
        .await;
    (r.status.as_u16(), r.body)
}

/// Turns on email codes and MFA for everyone in `users`.
pub(crate) async fn enable_mfa(app: &TestApp) {
    let su = app.superuser_token().await;
    let r = app
        .patch(
            "/api/collections/users",
            Some(&su),
            json!({"otp": {"enabled": true}, "mfa": {"enabled": true}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

both_backends!(
    a_stranger_cannot_lock_a_second_step_or_spend_an_otp,
    |app: TestApp| async move {
        app.user("ivy@example.com", "ivy-password-1").await;
        enable_mfa(&app).await;

        // Wrong passwords with made-up mfaIds: plain failures, nothing charged to ivy.
        for n in 0..12 {
            let (status, body) = password_step(
                &app,
                "ivy@example.com",
                "wrong-pass",
                &format!("madeup{n:09}"),
            )
            .await;
            assert_eq!(status, 400);
            assert_eq!(body["message"], "Failed to authenticate.");
        }
        // Anyone may ask for a code to ivy's address; its otpId sent as an mfaId must not
        // count failures on the code nor delete it.
        let otp_id = request_otp(&app, "ivy@example.com").await;
        for _ in 0..6 {
            let (status, _) = password_step(&app, "ivy@example.com", "wrong-pass", &otp_id).await;
            assert_eq!(status, 400);
        }
        // Ivy herself passing that otpId as an mfaId: refused, and the code survives.
        let (status, body) =
            password_step(&app, "ivy@example.com", "ivy-password-1", &otp_id).await;
        assert_eq!(status, 400);
        assert_eq!(body["message"], "Invalid or expired MFA session.");

        let code = code_for(&app, "ivy@example.com", 1).await;
        let (status, body) = auth_with_otp(&app, &otp_id, &code, "").await;
        assert_eq!(status, 401, "the code still works as a first step: {body}");
        let mfa_id = body["mfaId"].as_str().unwrap().to_owned();
        let (status, body) =
            password_step(&app, "ivy@example.com", "ivy-password-1", &mfa_id).await;
        assert_eq!(status, 200, "the second step is not locked: {body}");
        assert_eq!(claims(body["token"].as_str().unwrap())["aal"], 2);
    }
);

both_backends!(
    failures_on_a_real_session_still_end_it_and_lock_the_record,
    |app: TestApp| async move {
        app.user("ivy@example.com", "ivy-password-1").await;
        enable_mfa(&app).await;
        let mut sessions = Vec::new();
        for nth in 1..=3 {
            let otp_id = request_otp(&app, "ivy@example.com").await;
            let code = code_for(&app, "ivy@example.com", nth).await;
            let (status, body) = auth_with_otp(&app, &otp_id, &code, "").await;
            assert_eq!(status, 401, "{body}");
            sessions.push(body["mfaId"].as_str().unwrap().to_owned());
        }
        // Five failed second steps end a session.
        for _ in 0..5 {
            let (status, _) =
                password_step(&app, "ivy@example.com", "wrong-pass", &sessions[0]).await;
            assert_eq!(status, 400);
        }
        let (status, body) =
            password_step(&app, "ivy@example.com", "ivy-password-1", &sessions[0]).await;
        assert_eq!(status, 400);
        assert_eq!(body["message"], "Invalid or expired MFA session.");
        // Ten across sessions lock the record's second steps, even with a live session.
        for _ in 0..5 {
            let (status, _) =
                password_step(&app, "ivy@example.com", "wrong-pass", &sessions[1]).await;
            assert_eq!(status, 400);
        }
        let (status, body) =
            password_step(&app, "ivy@example.com", "ivy-password-1", &sessions[2]).await;
        assert_eq!(status, 429, "{body}");
        assert_eq!(
            body["message"],
            "Too many failed attempts, please try again later."
        );
    }
);
