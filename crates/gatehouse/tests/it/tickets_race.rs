//! One-time things under concurrency: 8 concurrent uses of one valid code or one MFA session,
//! 100 times; each time exactly one succeeds. The limits are raised so that all 8 reach the
//! consume (the race is then really on the one conditional DELETE).

use crate::both_backends;
use crate::mfa::enable_mfa;
use crate::otp::{code_for, enable_otp, request_otp};
use crate::otp_attempts::concurrently;
use crate::support::*;
use gatehouse_domain::service::otp_limits::OtpLimits;
use serde_json::{Value, json};
use std::collections::HashMap;

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
            // Every loser gets PocketBase's answer for a used code (400), none a limit's 429.
            assert_eq!(statuses.iter().filter(|s| **s == 400).count(), USES - 1);
        }
    }
);

/// Codes of `email` by otpId, from mails whose template names both.
async fn codes_by_id(app: &TestApp, email: &str) -> HashMap<String, String> {
    app.mail_idle().await;
    let mut codes = HashMap::new();
    for text in app.mails_to(email) {
        if let Some(line) = text.lines().find(|l| l.contains("otp-pair ")) {
            let mut words = line
                .split("otp-pair ")
                .nth(1)
                .unwrap_or_default()
                .split(' ');
            if let (Some(id), Some(code)) = (words.next(), words.next()) {
                let code: String = code.chars().take_while(char::is_ascii_digit).collect();
                codes.insert(id.to_owned(), code);
            }
        }
    }
    codes
}

both_backends!(
    one_mfa_session_used_8_times_at_once_logs_in_once,
    |app: TestApp| async move {
        app.user("ivy@example.com", "ivy-password-1").await;
        enable_mfa(&app).await;
        let su = app.superuser_token().await;
        let template = json!({"subject": "code", "body": "<p>otp-pair {OTP_ID} {OTP}</p>"});
        let r = app
            .patch(
                "/api/collections/users",
                Some(&su),
                json!({"otp": {"emailTemplate": template}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        app.gh.set_otp_limits(everything_reaches_the_consume());
        for trial in 1..=TRIALS {
            let first = app
                .login("users", "ivy@example.com", "ivy-password-1")
                .await;
            assert_eq!(first.status, 401, "{}", first.text);
            let mfa_id = first.body["mfaId"].as_str().unwrap().to_owned();
            // Eight second steps, each with its own code (so only the session is shared).
            let mut ids = Vec::new();
            for _ in 0..USES {
                ids.push(request_otp(&app, "ivy@example.com").await);
            }
            let codes = codes_by_id(&app, "ivy@example.com").await;
            let mut tasks = Vec::new();
            for id in ids {
                let body = json!({"otpId": id, "password": codes[&id], "mfaId": mfa_id});
                let request = app
                    .client
                    .post(format!("{}/api/collections/users/auth-with-otp", app.url))
                    .json(&body);
                tasks.push(tokio::spawn(async move {
                    let r = request.send().await.unwrap();
                    (r.status().as_u16(), r.json::<Value>().await.unwrap())
                }));
            }
            let mut answers = Vec::new();
            for t in tasks {
                answers.push(t.await.unwrap());
            }
            let wins = answers.iter().filter(|(s, _)| *s == 200).count();
            assert_eq!(wins, 1, "trial {trial}: {answers:?}");
            for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
                assert_eq!(*status, 400, "{body}");
                assert_eq!(body["message"], "Invalid or expired MFA session.");
            }
        }
    }
);
