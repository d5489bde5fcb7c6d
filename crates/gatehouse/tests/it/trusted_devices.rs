//! Trusted devices over HTTP: `trustDevice` on a second step answers a device token that lets the
//! next password login skip the second step (header or cookie); the list never shows a token;
//! revoking one (the owner, or a superuser), a new password, removing a factor, a superuser reset
//! and expiry end it; a token
//! that is not this record's (another record's or collection's, garbage, oversized) is ignored
//! and leaves the challenge exactly as without it.

use crate::both_backends;
use crate::support::*;
use crate::totp::{PASSWORD, code, enrolled_user, second_step, secret_of};
use reqwest::Method;
use serde_json::{Value, json};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const HEADER: &str = "X-Gatehouse-Device";

fn devices_path(collection: &str, id: &str) -> String {
    format!("/api/collections/{collection}/records/{id}/mfa/devices")
}

/// A TOTP second step of a fresh login of `email` in `collection` with `trustDevice`: the reply.
/// The clock first moves past the skew, so that the code has not been used.
async fn trusted_login(
    app: &TestApp,
    collection: &str,
    email: &str,
    password: &str,
    secret: &[u8],
) -> Reply {
    app.clock.advance_secs(90);
    let r = app.login(collection, email, password).await;
    assert_eq!(r.status, 401, "{}", r.text);
    let mfa_id = r.body["mfaId"].as_str().unwrap().to_owned();
    app.send_with_headers(
        Method::POST,
        &format!("/api/collections/{collection}/auth-with-totp"),
        None,
        Some(json!({"mfaId": mfa_id, "code": code(app, secret, 0), "trustDevice": true})),
        &[("User-Agent", FIREFOX)],
    )
    .await
}

/// A full login of `email` (users) with `password` and a TOTP code: the token.
async fn totp_token(app: &TestApp, email: &str, password: &str, secret: &[u8]) -> String {
    app.clock.advance_secs(90);
    let r = app.login("users", email, password).await;
    assert_eq!(r.status, 401, "{}", r.text);
    let mfa_id = r.body["mfaId"].as_str().unwrap();
    let r = second_step(app, "totp", mfa_id, &code(app, secret, 0)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["token"].as_str().unwrap().to_owned()
}

/// A device token of `email` (users, TOTP enrolled).
async fn device_token(app: &TestApp, email: &str, secret: &[u8]) -> String {
    let r = trusted_login(app, "users", email, PASSWORD, secret).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["meta"]["deviceToken"]
        .as_str()
        .expect("deviceToken")
        .to_owned()
}

/// A password login of `email` in users with `headers`.
async fn login_with(app: &TestApp, email: &str, password: &str, headers: &[(&str, &str)]) -> Reply {
    app.send_with_headers(
        Method::POST,
        "/api/collections/users/auth-with-password",
        None,
        Some(json!({"identity": email, "password": password})),
        headers,
    )
    .await
}

/// The 401 challenge without its `mfaId` (which differs per login).
fn challenge_shape(r: &Reply) -> Value {
    assert_eq!(r.status, 401, "{}", r.text);
    let mut body = r.body.clone();
    assert!(body["mfaId"].is_string(), "{}", r.text);
    body.as_object_mut().unwrap().remove("mfaId");
    body
}

/// The device token is ignored: the login answers exactly the challenge of a login without it.
async fn assert_ignored(app: &TestApp, email: &str, password: &str, headers: &[(&str, &str)]) {
    let with = login_with(app, email, password, headers).await;
    let without = login_with(app, email, password, &[]).await;
    assert_eq!(
        challenge_shape(&with),
        challenge_shape(&without),
        "{headers:?}"
    );
}

fn assert_skipped(r: &Reply) {
    assert_eq!(r.status, 200, "{}", r.text);
    let claims = claims(r.body["token"].as_str().unwrap());
    assert_eq!(claims["amr"], json!(["password", "device"]), "{claims}");
    assert_eq!(claims["aal"], 2, "{claims}");
}

async fn listed(app: &TestApp, id: &str, token: &str) -> Vec<Value> {
    let r = app.get(&devices_path("users", id), Some(token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body.as_array().unwrap().clone()
}

both_backends!(
    a_trusted_device_skips_the_second_step_until_revoked,
    |app: TestApp| async move {
        let (id, token, secret, _) = enrolled_user(&app, "ann@example.com").await;
        let device = device_token(&app, "ann@example.com", &secret).await;
        assert_eq!(device.len(), 50);
        let header = [(HEADER, device.as_str())];

        assert_skipped(&login_with(&app, "ann@example.com", PASSWORD, &header).await);
        let cookie = format!("theme=dark; gh_device={device}");
        assert_skipped(
            &login_with(&app, "ann@example.com", PASSWORD, &[("Cookie", &cookie)]).await,
        );
        // Not without it, and never without the password.
        assert_eq!(
            login_with(&app, "ann@example.com", PASSWORD, &[])
                .await
                .status,
            401
        );
        let r = login_with(&app, "ann@example.com", "wrong password", &header).await;
        assert_eq!(r.status, 400, "{}", r.text);

        let r = app.get(&devices_path("users", &id), Some(&token)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(!r.text.contains(&device), "{}", r.text);
        let list = r.body.as_array().unwrap();
        assert_eq!(list.len(), 1, "{}", r.text);
        let mut keys: Vec<_> = list[0].as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["created", "expires", "id", "lastUsedAt", "name"]);
        assert_eq!(list[0]["name"], "Firefox on Linux");
        assert_ne!(list[0]["lastUsedAt"], "", "{}", r.text);
        let events = crate::factor_access::event_types(&app, &id).await;
        assert!(events.contains(&"device.trusted".to_owned()), "{events:?}");

        // Nobody else can revoke it, not even through their own record.
        let device_id = list[0]["id"].as_str().unwrap();
        let (bob, bob_token) = app.user("bob@example.com", PASSWORD).await;
        for (record, token) in [(&bob, &bob_token), (&id, &bob_token)] {
            let r = app
                .delete(
                    &format!("{}/{device_id}", devices_path("users", record)),
                    Some(token),
                )
                .await;
            assert!(r.status == 403 || r.status == 404, "{}", r.text);
        }
        assert_eq!(listed(&app, &id, &token).await.len(), 1);

        // Revoked: the header changes nothing, and the answer does not say why.
        let r = app
            .delete(
                &format!("{}/{device_id}", devices_path("users", &id)),
                Some(&token),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert_ignored(&app, "ann@example.com", PASSWORD, &header).await;
        assert!(listed(&app, &id, &token).await.is_empty());
        let r = app
            .delete(
                &format!("{}/{device_id}", devices_path("users", &id)),
                Some(&token),
            )
            .await;
        assert_eq!(r.status, 404, "{}", r.text);
        let events = crate::factor_access::event_types(&app, &id).await;
        assert!(events.contains(&"device.revoked".to_owned()), "{events:?}");
    }
);

both_backends!(
    a_new_password_a_removed_factor_and_a_reset_revoke_every_device,
    |app: TestApp| async move {
        let (id, token, secret, _) = enrolled_user(&app, "ann@example.com").await;
        let record = format!("/api/collections/users/records/{id}");

        // A new password.
        let device = device_token(&app, "ann@example.com", &secret).await;
        let new_password = "a brand new password";
        let r = app
            .patch(
                &record,
                Some(&token),
                json!({"oldPassword": PASSWORD, "password": new_password, "passwordConfirm": new_password}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_ignored(&app, "ann@example.com", new_password, &[(HEADER, &device)]).await;
        let r = app
            .patch(
                &record,
                Some(&totp_token(&app, "ann@example.com", new_password, &secret).await),
                json!({"oldPassword": new_password, "password": PASSWORD, "passwordConfirm": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);

        // Removing the authenticator app (then enrolling it again).
        let token = crate::totp::login_with_totp(&app, "ann@example.com", &secret).await;
        let device = device_token(&app, "ann@example.com", &secret).await;
        let r = app
            .delete(&format!("{record}/mfa/totp"), Some(&token))
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert!(listed(&app, &id, &token).await.is_empty());
        let r = app
            .post(&format!("{record}/mfa/totp"), Some(&token), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let secret = secret_of(r.body["uri"].as_str().unwrap());
        let r = app
            .post(
                &format!("{record}/mfa/totp/confirm"),
                Some(&token),
                json!({"code": code(&app, &secret, 0)}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_ignored(&app, "ann@example.com", PASSWORD, &[(HEADER, &device)]).await;

        // A superuser's reset.
        let device = device_token(&app, "ann@example.com", &secret).await;
        let su = app.superuser_token().await;
        assert_eq!(
            app.delete(&format!("{record}/mfa"), Some(&su)).await.status,
            204
        );
        assert!(listed(&app, &id, &su).await.is_empty());
        let _ = device;
    }
);

both_backends!(
    a_superuser_revokes_a_users_device_but_not_another_superusers,
    |app: TestApp| async move {
        let (id, token, secret, _) = enrolled_user(&app, "ann@example.com").await;
        let device = device_token(&app, "ann@example.com", &secret).await;
        let su = app.superuser_token().await;
        let list = listed(&app, &id, &su).await;
        assert_eq!(list.len(), 1);
        let path = format!(
            "{}/{}",
            devices_path("users", &id),
            list[0]["id"].as_str().unwrap()
        );
        let r = app.delete(&path, Some(&su)).await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert!(listed(&app, &id, &token).await.is_empty());
        assert_ignored(&app, "ann@example.com", PASSWORD, &[(HEADER, &device)]).await;
        let events = crate::factor_access::event_types(&app, &id).await;
        assert!(events.contains(&"device.revoked".to_owned()), "{events:?}");

        // Another superuser's devices are theirs (as their reset is the server's).
        let r = app
            .post(
                "/api/collections/_superusers/records",
                Some(&su),
                json!({"email": "ops@example.com", "password": PASSWORD, "passwordConfirm": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let other = r.body["id"].as_str().unwrap();
        let r = app
            .delete(
                &format!("{}/any-device", devices_path("_superusers", other)),
                Some(&su),
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.text);
    }
);

/// Sets `users`' `mfa.trustedDeviceDuration`.
async fn device_duration(app: &TestApp, secs: i64) {
    let su = app.superuser_token().await;
    let r = app
        .patch(
            "/api/collections/users",
            Some(&su),
            json!({"mfa": {"trustedDeviceDuration": secs}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

both_backends!(
    devices_expire_and_a_zero_duration_trusts_none,
    |app: TestApp| async move {
        device_duration(&app, 3600).await;
        let (id, _, secret, _) = enrolled_user(&app, "ann@example.com").await;
        let device = device_token(&app, "ann@example.com", &secret).await;
        let header = [(HEADER, device.as_str())];
        assert_skipped(&login_with(&app, "ann@example.com", PASSWORD, &header).await);
        app.clock.advance_secs(3601);
        assert_ignored(&app, "ann@example.com", PASSWORD, &header).await;
        let su = app.superuser_token().await;
        assert!(listed(&app, &id, &su).await.is_empty());

        device_duration(&app, 0).await;
        let r = trusted_login(&app, "users", "ann@example.com", PASSWORD, &secret).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.body["meta"]["deviceToken"].is_null(), "{}", r.text);
        assert!(listed(&app, &id, &su).await.is_empty());
    }
);

/// The superuser's id, after enrolling an authenticator app for it: `(id, secret)`.
async fn superuser_with_totp(app: &TestApp) -> (String, Vec<u8>) {
    let r = app.login("_superusers", SU_EMAIL, SU_PASSWORD).await;
    let token = r.body["token"].as_str().unwrap().to_owned();
    let id = r.body["record"]["id"].as_str().unwrap().to_owned();
    let base = format!("/api/collections/_superusers/records/{id}/mfa/totp");
    let r = app.post(&base, Some(&token), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let secret = secret_of(r.body["uri"].as_str().unwrap());
    let r = app
        .post(
            &format!("{base}/confirm"),
            Some(&token),
            json!({"code": code(app, &secret, 0)}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    (id, secret)
}

both_backends!(
    a_token_not_of_this_record_is_ignored,
    |app: TestApp| async move {
        let (_, _, ann_secret, _) = enrolled_user(&app, "ann@example.com").await;
        let (_, _, bob_secret, _) = enrolled_user(&app, "bob@example.com").await;
        let bobs = device_token(&app, "bob@example.com", &bob_secret).await;
        let (_, su_secret) = superuser_with_totp(&app).await;
        let r = trusted_login(&app, "_superusers", SU_EMAIL, SU_PASSWORD, &su_secret).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let superusers = r.body["meta"]["deviceToken"].as_str().unwrap().to_owned();
        let anns = device_token(&app, "ann@example.com", &ann_secret).await;

        let huge = "a".repeat(10 * 1024);
        let odd = format!("{anns}x");
        for value in [
            bobs.as_str(),
            superusers.as_str(),
            "garbage",
            "",
            huge.as_str(),
            odd.as_str(),
            &anns[..49],
            "' OR 1=1 --",
        ] {
            assert_ignored(&app, "ann@example.com", PASSWORD, &[(HEADER, value)]).await;
            let cookie = format!("gh_device={value}");
            assert_ignored(&app, "ann@example.com", PASSWORD, &[("Cookie", &cookie)]).await;
        }
        // Bob's own still works, and ann's for ann.
        let bob = login_with(&app, "bob@example.com", PASSWORD, &[(HEADER, &bobs)]).await;
        assert_skipped(&bob);
        assert_skipped(&login_with(&app, "ann@example.com", PASSWORD, &[(HEADER, &anns)]).await);
        // A superuser's token, used on the superuser login, still skips.
        let r = app
            .send_with_headers(
                Method::POST,
                "/api/collections/_superusers/auth-with-password",
                None,
                Some(json!({"identity": SU_EMAIL, "password": SU_PASSWORD})),
                &[(HEADER, &superusers)],
            )
            .await;
        assert_skipped(&r);
    }
);

both_backends!(
    the_owner_is_mailed_when_a_device_is_trusted,
    |app: TestApp| async move {
        let (_, _, secret, _) = enrolled_user(&app, "ann@example.com").await;
        app.mail_idle().await;
        let trusted = |mails: Vec<String>| {
            mails
                .into_iter()
                .filter(|m| m.contains("A device (Firefox on Linux) was trusted"))
                .count()
        };
        assert_eq!(trusted(app.mails_to("ann@example.com")), 0);
        let token = device_token(&app, "ann@example.com", &secret).await;
        app.mail_idle().await;
        let mails = app.mails_to("ann@example.com");
        assert!(!mails.iter().any(|m| m.contains(&token)));
        assert_eq!(trusted(mails), 1);
    }
);
