//! Bad input on every second-factor endpoint: missing, empty, over-long and wrong-typed fields,
//! malformed JSON and huge bodies get 400 (or 413) in PocketBase's shape, never a 500; calls out
//! of order are refused; a failed code changes nothing.

use crate::both_backends;
use crate::support::*;
use crate::totp::{PASSWORD, challenge, code, enrolled_user, mfa_id, second_step, secret_of};
use reqwest::Method;
use serde_json::{Value, json};

/// Sends `body` as raw bytes with a JSON content type.
async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut req = app
        .client
        .request(method, format!("{}{path}", app.url))
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = token {
        req = req.header("Authorization", t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        body,
        text,
        headers,
    }
}

/// PocketBase's error shape with `status`.
fn assert_error(r: &Reply, status: u16, what: &str) {
    assert_eq!(r.status.as_u16(), status, "{what}: {}", r.text);
    assert_eq!(r.body["status"], status, "{what}: {}", r.text);
    assert!(r.body["message"].is_string(), "{what}: {}", r.text);
    assert!(r.body["data"].is_object(), "{what}: {}", r.text);
}

both_backends!(
    every_factor_endpoint_answers_bad_input_with_a_400_or_413,
    |app: TestApp| async move {
        let (id, token, _, _) = enrolled_user(&app, "ann@example.com").await;
        // An old token: the well-formed bodies below must not change anything.
        app.clock.advance_secs(601);
        let b = format!("/api/collections/users/records/{id}/mfa");
        let c = "/api/collections/users";
        let endpoints: Vec<(Method, String, Option<&str>)> = vec![
            (Method::POST, format!("{c}/auth-with-totp"), None),
            (Method::POST, format!("{c}/auth-with-backup-code"), None),
            (Method::POST, format!("{c}/step-up"), Some(&token)),
            (Method::POST, format!("{b}/totp"), Some(&token)),
            (Method::POST, format!("{b}/totp/confirm"), Some(&token)),
            (Method::GET, format!("{b}/totp/uri"), Some(&token)),
            (Method::DELETE, format!("{b}/totp"), Some(&token)),
            (Method::POST, format!("{b}/backup-codes"), Some(&token)),
            (Method::POST, format!("{b}/email"), Some(&token)),
            (Method::POST, format!("{b}/email/confirm"), Some(&token)),
            (Method::DELETE, format!("{b}/email"), Some(&token)),
        ];
        let huge = format!("{{\"code\": \"{}\"}}", "1".repeat(2 * 1024 * 1024)).into_bytes();
        let bad: [(&str, Vec<u8>); 6] = [
            ("malformed", b"{\"code\": ".to_vec()),
            ("not an object", b"[1, 2]".to_vec()),
            ("wrong types", br#"{"mfaId": 5, "code": ["1"], "password": {}, "verify": "yes", "email": 7, "otpId": 1, "type": 2}"#.to_vec()),
            ("null code", br#"{"code": null, "mfaId": null}"#.to_vec()),
            ("nul bytes", "{\"code\": \"12\\u000034\", \"mfaId\": \"a\\u0000b\"}".as_bytes().to_vec()),
            ("huge", huge),
        ];
        let mut failures = Vec::new();
        for (method, path, tok) in &endpoints {
            for (what, body) in &bad {
                let r = raw(&app, method.clone(), path, *tok, body.clone()).await;
                let what = format!("{method} {path} {what}");
                if r.status.as_u16() >= 500 {
                    failures.push(format!("{what}: {}", r.text));
                    continue;
                }
                match &what {
                    w if w.ends_with("huge") => assert_error(&r, 413, w),
                    // Well-formed: an endpoint that ignores the fields may answer 2xx.
                    w if w.ends_with("nul bytes") => {}
                    _ => assert!(
                        r.status.is_client_error() && r.body["data"].is_object(),
                        "{what}: {}",
                        r.text
                    ),
                }
            }
        }
        // An mfaId no session can have, on the password step too: 400, not a database error.
        for odd in ["a%00b", "a%20b", "%C3%A9t%C3%A9"] {
            let r = app
                .post(
                    &format!("{c}/auth-with-password?mfaId={odd}"),
                    None,
                    json!({"identity": "ann@example.com", "password": PASSWORD}),
                )
                .await;
            assert_error(&r, 400, odd);
            assert_eq!(
                r.body["message"], "Invalid or expired MFA session.",
                "{odd}"
            );
        }
        assert!(failures.is_empty(), "{failures:#?}");
        // Nothing above changed ann's factors.
        let o = app.get(&b, Some(&token)).await;
        assert_eq!(o.body["backupCodesRemaining"], 10, "{}", o.text);
        assert_eq!(o.body["factors"].as_array().unwrap().len(), 2, "{}", o.text);
    }
);

both_backends!(
    missing_empty_and_over_long_fields_get_field_errors,
    |app: TestApp| async move {
        let (id, token, _, _) = enrolled_user(&app, "ann@example.com").await;
        let c = "/api/collections/users";
        for kind in ["totp", "backup-code"] {
            let path = format!("{c}/auth-with-{kind}");
            for body in [json!({}), json!({"mfaId": "", "code": ""})] {
                let r = app.post(&path, None, body).await;
                assert_error(&r, 400, &path);
                assert_eq!(
                    r.body["data"]["mfaId"]["code"], "validation_required",
                    "{}",
                    r.text
                );
                assert_eq!(
                    r.body["data"]["code"]["code"], "validation_required",
                    "{}",
                    r.text
                );
            }
            let r = app
                .post(
                    &path,
                    None,
                    json!({"mfaId": "m".repeat(256), "code": "1".repeat(65)}),
                )
                .await;
            assert_error(&r, 400, &path);
            assert_eq!(
                r.body["data"]["mfaId"]["code"], "validation_length_out_of_range",
                "{}",
                r.text
            );
            assert_eq!(
                r.body["data"]["code"]["code"], "validation_length_out_of_range",
                "{}",
                r.text
            );
        }
        let r = app
            .post(&format!("{c}/step-up"), Some(&token), json!({}))
            .await;
        assert_error(&r, 400, "step-up");
        assert_eq!(
            r.body["data"]["code"]["code"], "validation_required",
            "{}",
            r.text
        );
        let r = app
            .post(
                &format!("{c}/step-up"),
                Some(&token),
                json!({"code": "1".repeat(65)}),
            )
            .await;
        assert_eq!(
            r.body["data"]["code"]["code"], "validation_length_out_of_range",
            "{}",
            r.text
        );
        let confirm = format!("{c}/records/{id}/mfa/totp/confirm");
        let r = app.post(&confirm, Some(&token), json!({"code": ""})).await;
        assert_error(&r, 400, "confirm");
        assert_eq!(
            r.body["data"]["code"]["code"], "validation_required",
            "{}",
            r.text
        );
    }
);

both_backends!(
    calls_out_of_order_are_refused_and_failures_change_nothing,
    |app: TestApp| async move {
        let (id, token, secret, codes) = enrolled_user(&app, "ann@example.com").await;
        let b = format!("/api/collections/users/records/{id}/mfa");
        // Enrolling again while an app is verified.
        let r = app
            .post(&format!("{b}/totp"), Some(&token), json!({}))
            .await;
        assert_error(&r, 400, "enrol twice");
        // Confirming with nothing pending.
        let r = app
            .post(
                &format!("{b}/totp/confirm"),
                Some(&token),
                json!({"code": code(&app, &secret, 0)}),
            )
            .await;
        assert_error(&r, 400, "confirm without pending");
        // An expired MFA session.
        let session = mfa_id(&app, "ann@example.com").await;
        app.clock.advance_secs(601);
        let r = second_step(&app, "totp", &session, &code(&app, &secret, 0)).await;
        assert_error(&r, 400, "expired mfaId");
        assert_eq!(r.body["message"], "Invalid or expired MFA session.");
        let r = second_step(&app, "backup-code", "nosuchsession12", &codes[0]).await;
        assert_eq!(r.body["message"], "Invalid or expired MFA session.");

        // Wrong codes write nothing: the set is whole, the app unused.
        let session = mfa_id(&app, "ann@example.com").await;
        let r = second_step(&app, "backup-code", &session, "aaaaa-aaaaa").await;
        assert_error(&r, 400, "wrong backup code");
        let r = second_step(&app, "totp", &session, "12345").await;
        assert_error(&r, 400, "short totp code");
        let o = app.get(&b, Some(&token)).await;
        assert_eq!(o.body["backupCodesRemaining"], 10, "{}", o.text);
        for f in o.body["factors"].as_array().unwrap() {
            assert_eq!(f["lastUsedAt"], "", "{}", o.text);
        }
        assert_eq!(
            challenge(&app, "ann@example.com").await["methods"][1]["remaining"],
            10
        );

        // A failed confirm leaves the pending app usable.
        let (bob, bob_token) = app.user("bob@example.com", PASSWORD).await;
        let bb = format!("/api/collections/users/records/{bob}/mfa");
        let r = app
            .post(&format!("{bb}/totp"), Some(&bob_token), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let bob_secret = secret_of(r.body["uri"].as_str().unwrap());
        let right = code(&app, &bob_secret, 0);
        let wrong = format!(
            "{:06}",
            (right.parse::<u32>().unwrap() + 500_000) % 1_000_000
        );
        let r = app
            .post(
                &format!("{bb}/totp/confirm"),
                Some(&bob_token),
                json!({"code": wrong}),
            )
            .await;
        assert_error(&r, 400, "wrong confirm");
        assert_eq!(r.body["message"], "Invalid or expired code.");
        let o = app.get(&bb, Some(&bob_token)).await;
        assert_eq!(o.body["factors"][0]["status"], "pending", "{}", o.text);
        assert_eq!(o.body["backupCodesRemaining"], 0, "{}", o.text);
        assert_eq!(
            app.login("users", "bob@example.com", PASSWORD).await.status,
            200
        );
        let r = app
            .post(
                &format!("{bb}/totp/confirm"),
                Some(&bob_token),
                json!({"code": right}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["backupCodes"].as_array().unwrap().len(), 10);
    }
);
