//! Expiry on the test clock: tokens, email codes, MFA sessions and the verification resend
//! marker end when their time is up, and not a second before. No test here sleeps.

use crate::both_backends;
use crate::mfa::enable_mfa;
use crate::otp::{auth_with_otp, code_for, enable_otp, request_otp};
use crate::support::*;
use serde_json::json;

both_backends!(
    an_auth_token_ends_with_its_duration,
    |app: TestApp| async move {
        let (_, token) = app.user("tess@example.com", "tess-password-1").await;
        let refresh = || async {
            app.post(
                "/api/collections/users/auth-refresh",
                Some(&token),
                json!({}),
            )
            .await
            .status
        };
        // `users` tokens last 5 days (PocketBase's default).
        let five_days = 5 * 24 * 3600;
        app.clock.advance_secs(five_days - 60);
        assert_eq!(refresh().await, 200);
        app.clock.advance_secs(61);
        assert_eq!(refresh().await, 401, "an expired token is a guest");
    }
);

both_backends!(
    an_email_code_ends_with_its_duration,
    |app: TestApp| async move {
        enable_otp(&app).await;
        app.user("otto@example.com", "otto-password-1").await;
        // `otp.duration` defaults to 180 s.
        let late = request_otp(&app, "otto@example.com").await;
        let late_code = code_for(&app, "otto@example.com", 1).await;
        app.clock.advance_secs(181);
        let (status, body) = auth_with_otp(&app, &late, &late_code, "").await;
        assert_eq!(status, 400);
        assert_eq!(body["message"], "Invalid or expired OTP.");

        let fresh = request_otp(&app, "otto@example.com").await;
        let fresh_code = code_for(&app, "otto@example.com", 2).await;
        app.clock.advance_secs(170);
        let (status, body) = auth_with_otp(&app, &fresh, &fresh_code, "").await;
        assert_eq!(status, 200, "{body}");
    }
);

both_backends!(
    an_mfa_session_ends_with_its_duration,
    |app: TestApp| async move {
        app.user("mia@example.com", "mia-password-1").await;
        enable_mfa(&app).await;
        let first_step = || async {
            let r = app
                .login("users", "mia@example.com", "mia-password-1")
                .await;
            assert_eq!(r.status, 401, "{}", r.text);
            r.body["mfaId"].as_str().unwrap().to_owned()
        };

        // `mfa.duration` defaults to 600 s: the session is gone after it, whatever the code.
        let stale = first_step().await;
        app.clock.advance_secs(601);
        let otp = request_otp(&app, "mia@example.com").await;
        let code = code_for(&app, "mia@example.com", 1).await;
        let (status, body) = auth_with_otp(&app, &otp, &code, &stale).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["message"], "Invalid or expired MFA session.");

        // Within the duration the same kind of second step completes the login.
        let live = first_step().await;
        app.clock.advance_secs(590);
        let otp = request_otp(&app, "mia@example.com").await;
        let code = code_for(&app, "mia@example.com", 2).await;
        let (status, body) = auth_with_otp(&app, &otp, &code, &live).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(claims(body["token"].as_str().unwrap())["aal"], 2);
    }
);

both_backends!(
    a_verification_mail_can_be_resent_after_two_minutes,
    |app: TestApp| async move {
        app.user("rita@example.com", "rita-password-1").await;
        let request = || async {
            let r = app
                .post(
                    "/api/collections/users/request-verification",
                    None,
                    json!({"email": "rita@example.com"}),
                )
                .await;
            assert_eq!(r.status, 204, "{}", r.text);
            app.mail_idle().await;
            app.mails_to("rita@example.com").len()
        };
        assert_eq!(request().await, 1);
        app.clock.advance_secs(110);
        assert_eq!(request().await, 1, "within two minutes nothing is resent");
        app.clock.advance_secs(11);
        assert_eq!(request().await, 2, "after two minutes the mail goes again");
    }
);
