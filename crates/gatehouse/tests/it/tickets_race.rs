//! One-time things under concurrency: 8 concurrent uses of one valid code or one MFA session,
//! 100 times; each time exactly one succeeds. The limits are raised so that all 8 reach the
//! consume (the race is then really on the one conditional DELETE).

use crate::both_backends;
use crate::mfa::{enable_mfa, password_step};
use crate::otp::{auth_with_otp, code_for, enable_otp, request_otp};
use crate::otp_attempts::concurrently;
use crate::support::*;
use gatehouse_domain::service::otp_limits::OtpLimits;
use serde_json::json;

const TRIALS: usize = 100;
const USES: usize = 8;

fn everything_reaches_the_consume() -> OtpLimits {
    OtpLimits {
        per_code: USES as i64,
        per_ip: i64::MAX,
        per_ip_window_ms: 1,
        per_owner: i64::MAX,
        per_owner_window_ms: 1,
    }
}

both_backends!(
    one_code_used_8_times_at_once_logs_in_once,
    |app: TestApp| async move {
        enable_otp(&app).await;
        app.user("ola@example.com", "ola-password-1").await;
        app.gh.set_otp_limits(everything_reaches_the_consume());
        for trial in 1..=TRIALS {
            let otp_id = request_otp(&app, "ola@example.com").await;
            let code = code_for(&app, "ola@example.com", trial).await;
            let body = json!({"otpId": otp_id, "password": code});
            let statuses =
                concurrently(&app, USES, "/api/collections/users/auth-with-otp", body).await;
            let wins = statuses.iter().filter(|s| **s == 200).count();
            assert_eq!(wins, 1, "trial {trial}: {statuses:?}");
            // Every loser was compared and lost the consume: 400, not a limit's 429.
            assert_eq!(statuses.iter().filter(|s| **s == 400).count(), USES - 1);
        }
    }
);

both_backends!(
    one_mfa_session_used_8_times_at_once_logs_in_once,
    |app: TestApp| async move {
        app.user("ivy@example.com", "ivy-password-1").await;
        enable_mfa(&app).await;
        app.gh.set_otp_limits(everything_reaches_the_consume());
        for trial in 1..=TRIALS {
            let otp_id = request_otp(&app, "ivy@example.com").await;
            let code = code_for(&app, "ivy@example.com", trial).await;
            let (status, body) = auth_with_otp(&app, &otp_id, &code, "").await;
            assert_eq!(status, 401, "{body}");
            let mfa_id = body["mfaId"].as_str().unwrap().to_owned();
            let body = json!({"identity": "ivy@example.com", "password": "ivy-password-1"});
            let path = format!("/api/collections/users/auth-with-password?mfaId={mfa_id}");
            let statuses = concurrently(&app, USES, &path, body).await;
            assert_eq!(
                statuses.iter().filter(|s| **s == 200).count(),
                1,
                "trial {trial}: {statuses:?}"
            );
            assert_eq!(statuses.iter().filter(|s| **s == 400).count(), USES - 1);
        }
        // The loser's answer is PocketBase's for a used session.
        let (status, body) = password_step(&app, "ivy@example.com", "ivy-password-1", "x").await;
        assert_eq!(
            (status, &body["message"]),
            (400, &json!("Invalid or expired MFA session."))
        );
    }
);
