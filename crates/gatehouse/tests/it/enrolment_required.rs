//! MFA required for a record with no second factor and no email codes: the 401 carries an
//! `enrollToken` that enrols an authenticator app for that record only, then the login ends with
//! the same `mfaId`; anywhere else, and once the session is spent, the token is no token.

use crate::both_backends;
use crate::support::*;
use crate::totp::{PASSWORD, code, second_step, secret_of};
use reqwest::Method;
use serde_json::{Value, json};

/// `users` with MFA for everyone, passwords as the only first step, TOTP on.
async fn require_mfa(app: &TestApp) {
    let su = app.superuser_token().await;
    let r = app
        .patch(
            "/api/collections/users",
            Some(&su),
            json!({"mfa": {"enabled": true}, "otp": {"enabled": false},
                   "passwordAuth": {"enabled": true}, "totp": {"enabled": true}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// The calls an enrolment token must not open: `(method, path, body)`.
fn elsewhere(own: &str, other: &str) -> Vec<(Method, String, Option<Value>)> {
    let c = "/api/collections/users";
    vec![
        (Method::GET, format!("{c}/records"), None),
        (Method::GET, format!("{c}/records/{own}"), None),
        (Method::POST, format!("{c}/auth-refresh"), Some(json!({}))),
        (Method::GET, format!("{c}/records/{other}/mfa"), None),
        (
            Method::POST,
            format!("{c}/records/{other}/mfa/totp"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("{c}/records/{own}/mfa/backup-codes"),
            Some(json!({})),
        ),
        (Method::DELETE, format!("{c}/records/{own}/mfa/totp"), None),
        (Method::GET, format!("{c}/records/{own}/mfa/totp/uri"), None),
        (
            Method::POST,
            format!("{c}/step-up"),
            Some(json!({"code": "123456"})),
        ),
        (
            Method::GET,
            format!("{c}/records/{own}/security-events"),
            None,
        ),
    ]
}

/// The token gets exactly what a guest gets on `calls`.
async fn like_a_guest(app: &TestApp, token: &str, calls: &[(Method, String, Option<Value>)]) {
    for (method, path, body) in calls {
        let guest = app.send(method.clone(), path, None, body.clone()).await;
        let with = app
            .send(method.clone(), path, Some(token), body.clone())
            .await;
        assert_eq!(
            (with.status, &with.body),
            (guest.status, &guest.body),
            "{method} {path}"
        );
    }
}

both_backends!(
    an_enroll_token_enrols_the_record_and_the_login_ends_with_the_same_mfa_id,
    |app: TestApp| async move {
        let (id, _) = app.user("ann@example.com", PASSWORD).await;
        let (bob, _) = app.user("bob@example.com", PASSWORD).await;
        require_mfa(&app).await;

        let r = app.login("users", "ann@example.com", PASSWORD).await;
        assert_eq!(r.status, 401, "{}", r.text);
        let mut keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["enrollToken", "enrollmentRequired", "methods", "mfaId"],
            "{}",
            r.text
        );
        assert_eq!(r.body["methods"], json!([]));
        assert_eq!(r.body["enrollmentRequired"], true);
        let mfa = r.body["mfaId"].as_str().unwrap().to_owned();
        let enroll = r.body["enrollToken"].as_str().unwrap().to_owned();
        assert_eq!(claims(&enroll)["type"], "mfaEnroll");

        like_a_guest(&app, &enroll, &elsewhere(&id, &bob)).await;

        let base = format!("/api/collections/users/records/{id}/mfa");
        let r = app.get(&base, Some(&enroll)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["required"], true);
        let r = app
            .post(&format!("{base}/totp"), Some(&enroll), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let secret = secret_of(r.body["uri"].as_str().unwrap());
        let r = app
            .post(
                &format!("{base}/totp/confirm"),
                Some(&enroll),
                json!({"code": code(&app, &secret, 0)}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["backupCodes"].as_array().unwrap().len(), 10);

        // Enrolled, the token still opens nothing else.
        like_a_guest(&app, &enroll, &elsewhere(&id, &bob)).await;

        let r = second_step(&app, "totp", &mfa, &code(&app, &secret, 1)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let c = claims(r.body["token"].as_str().unwrap());
        assert_eq!(c["aal"], 2, "{c}");
        assert_eq!(c["amr"], json!(["password", "totp"]));

        // The session is spent: the enrolment token is no token at all.
        let own: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, base.clone(), None),
            (Method::POST, format!("{base}/totp"), Some(json!({}))),
            (
                Method::POST,
                format!("{base}/totp/confirm"),
                Some(json!({"code": "123456"})),
            ),
        ];
        like_a_guest(&app, &enroll, &own).await;
        let r = app
            .post(&format!("{base}/totp"), Some(&enroll), json!({}))
            .await;
        assert_eq!(r.status, 401, "{}", r.text);
        // The next login asks for the app.
        let r = app.login("users", "ann@example.com", PASSWORD).await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.body["methods"][0]["type"], "totp", "{}", r.text);
        assert!(r.body.get("enrollToken").is_none());
    }
);
