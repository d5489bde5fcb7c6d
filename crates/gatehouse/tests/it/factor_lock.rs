//! Failed second-factor codes: an MFA session dies after 5, a record's second steps (and
//! step-ups) lock after 10 within 15 minutes — refused unchecked, nothing consumed — while the
//! password step answers as usual; and the step-up itself.

use crate::both_backends;
use crate::support::*;
use crate::totp::{challenge, code, enrolled_user, login_with_totp, mfa_id, second_step};
use serde_json::json;

/// A code that is not the current one (nor, but by a one-in-a-million chance, a neighbour).
fn wrong(right: &str) -> String {
    let n: u32 = right.parse().unwrap();
    format!("{:06}", (n + 500_000) % 1_000_000)
}

both_backends!(
    ten_wrong_codes_lock_the_second_steps_but_not_the_password,
    |app: TestApp| async move {
        let (id, token, secret, codes) = enrolled_user(&app, "ann@example.com").await;
        app.clock.advance_secs(90);
        // Ten failures over two sessions (a session takes five).
        for n in 0..10 {
            let session = mfa_id(&app, "ann@example.com").await;
            let r = second_step(&app, "totp", &session, &wrong(&code(&app, &secret, 0))).await;
            assert_eq!(r.status, 400, "failure {n}: {}", r.text);
            assert_eq!(r.body["message"], "Invalid or expired code.");
        }
        // The 11th: refused even with right codes, and nothing is spent.
        let session = mfa_id(&app, "ann@example.com").await;
        let r = second_step(&app, "totp", &session, &code(&app, &secret, 0)).await;
        assert_eq!(r.status, 429, "{}", r.text);
        let r = second_step(&app, "backup-code", &session, &codes[0]).await;
        assert_eq!(r.status, 429, "{}", r.text);
        let r = app
            .post(
                "/api/collections/users/step-up",
                Some(&token),
                json!({"code": code(&app, &secret, 0)}),
            )
            .await;
        assert_eq!(r.status, 429, "{}", r.text);
        // The password step is not locked.
        let body = challenge(&app, "ann@example.com").await;
        assert_eq!(body["methods"][1]["remaining"], 10, "{body}");
        let wrong_password = app.login("users", "ann@example.com", "not-it").await;
        assert_eq!(wrong_password.status, 400, "{}", wrong_password.text);

        // After the window both work again, and the backup code refused above was not spent.
        app.clock.advance_secs(15 * 60 + 1);
        let fresh = login_with_totp(&app, "ann@example.com", &secret).await;
        assert_eq!(claims(&fresh)["aal"], 2);
        let session = mfa_id(&app, "ann@example.com").await;
        let r = second_step(&app, "backup-code", &session, &codes[0]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["meta"]["backupCodesRemaining"], 9);
        assert_eq!(r.body["record"]["id"], id);
    }
);

both_backends!(
    five_wrong_codes_end_the_mfa_session,
    |app: TestApp| async move {
        let (_, _, secret, _) = enrolled_user(&app, "ann@example.com").await;
        app.clock.advance_secs(90);
        let session = mfa_id(&app, "ann@example.com").await;
        for n in 0..5 {
            let r = second_step(&app, "totp", &session, &wrong(&code(&app, &secret, 0))).await;
            assert_eq!(r.status, 400, "failure {n}: {}", r.text);
            assert_eq!(r.body["message"], "Invalid or expired code.");
        }
        let r = second_step(&app, "totp", &session, &code(&app, &secret, 0)).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["message"], "Invalid or expired MFA session.");
        // The record is not locked (5 < 10): a new session logs in with the same code.
        let session = mfa_id(&app, "ann@example.com").await;
        let r = second_step(&app, "totp", &session, &code(&app, &secret, 0)).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
);

both_backends!(
    a_step_up_gives_aal_2_and_a_new_auth_time,
    |app: TestApp| async move {
        let (_, token, secret, codes) = enrolled_user(&app, "ann@example.com").await;
        let before = claims(&token);
        assert_eq!(before["aal"], 1, "{before}");
        app.clock.advance_secs(120);
        let step_up = |body: serde_json::Value, token: Option<String>| {
            let app = &app;
            async move {
                app.post("/api/collections/users/step-up", token.as_deref(), body)
                    .await
            }
        };
        let r = step_up(json!({"code": code(&app, &secret, 0)}), None).await;
        assert_eq!(r.status, 401, "{}", r.text);
        // One code for both calls: a step boundary between them must not make a fresh one.
        let now = code(&app, &secret, 0);
        let r = step_up(json!({"code": now}), Some(token.clone())).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let after = claims(r.body["token"].as_str().unwrap());
        assert_eq!(after["aal"], 2, "{after}");
        assert_eq!(after["amr"], json!(["password", "totp"]));
        let (t0, t1) = (
            before["authTime"].as_i64().unwrap(),
            after["authTime"].as_i64().unwrap(),
        );
        assert!(t1 >= t0 + 120, "{t0} -> {t1}");
        // The same step again is a replay.
        let r = step_up(json!({"code": now}), Some(token.clone())).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["message"], "Invalid or expired code.");
        // A backup code steps up too.
        let r = step_up(
            json!({"code": codes[0], "type": "backupCode"}),
            Some(token.clone()),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["meta"]["backupCodesRemaining"], 9);
        // Wrong codes count: one replay above and nine here make ten, then the lock.
        for n in 0..9 {
            let r = step_up(
                json!({"code": wrong(&code(&app, &secret, 0))}),
                Some(token.clone()),
            )
            .await;
            assert_eq!(r.status, 400, "failure {n}: {}", r.text);
        }
        app.clock.advance_secs(30);
        let r = step_up(json!({"code": code(&app, &secret, 0)}), Some(token.clone())).await;
        assert_eq!(r.status, 429, "{}", r.text);
    }
);
