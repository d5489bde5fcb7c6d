//! Who may touch a record's second factors, over HTTP: re-authentication for changes (an old
//! token, a password or code in the body, a fresh login, impersonation), guests, other records,
//! superusers and their reset, with the owner's mails and audit rows.

use crate::both_backends;
use crate::support::*;
use crate::totp::{PASSWORD, code, enrolled_user, login_with_totp};
use reqwest::Method;
use serde_json::{Value, json};

const REAUTH_MESSAGE: &str = "Please authenticate again to change your second factors.";

fn base(id: &str) -> String {
    format!("/api/collections/users/records/{id}/mfa")
}

/// The three calls that need a recent authentication, each with `body`.
async fn changes(app: &TestApp, id: &str, token: &str, body: Value) -> [Reply; 3] {
    let b = base(id);
    [
        app.send(
            Method::GET,
            &format!("{b}/totp/uri"),
            Some(token),
            Some(body.clone()),
        )
        .await,
        app.send(
            Method::POST,
            &format!("{b}/backup-codes"),
            Some(token),
            Some(body.clone()),
        )
        .await,
        app.send(
            Method::DELETE,
            &format!("{b}/totp"),
            Some(token),
            Some(body),
        )
        .await,
    ]
}

fn assert_reauth_refusal(r: &Reply) {
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"status": 403, "message": REAUTH_MESSAGE, "data": {}, "reauthRequired": true})
    );
}

/// The overview's factor types, sorted.
async fn factor_types(app: &TestApp, id: &str, token: &str) -> Vec<String> {
    let o = app.get(&base(id), Some(token)).await;
    assert_eq!(o.status, 200, "{}", o.text);
    let mut types: Vec<String> = o.body["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    types
}

/// The types of the record's audit rows, oldest first.
pub async fn event_types(app: &TestApp, id: &str) -> Vec<String> {
    let su = app.superuser_token().await;
    let r = app
        .get(
            &format!("/api/collections/users/records/{id}/security-events?perPage=500"),
            Some(&su),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut items: Vec<(String, String)> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["created"].as_str().unwrap().to_owned(),
                e["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    items.sort();
    items.into_iter().map(|(_, t)| t).collect()
}

both_backends!(
    an_old_token_must_prove_the_password_or_a_code_to_change_factors,
    |app: TestApp| async move {
        let (id, token, secret, _) = enrolled_user(&app, "ann@example.com").await;
        app.clock.advance_secs(601);
        for r in changes(&app, &id, &token, json!({})).await {
            assert_reauth_refusal(&r);
        }
        assert_eq!(
            factor_types(&app, &id, &token).await,
            ["backupCode", "totp"]
        );

        // The password in the body: the URI and a new set (the DELETE comes last).
        let b = base(&id);
        let r = app
            .send(
                Method::GET,
                &format!("{b}/totp/uri"),
                Some(&token),
                Some(json!({"password": PASSWORD})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.body["uri"]
                .as_str()
                .unwrap()
                .starts_with("otpauth://totp/")
        );
        let r = app
            .post(
                &format!("{b}/backup-codes"),
                Some(&token),
                json!({"password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["backupCodes"].as_array().unwrap().len(), 10);

        // A wrong password: the same refusal, and nothing changed.
        for r in changes(&app, &id, &token, json!({"password": "not-the-password"})).await {
            assert_reauth_refusal(&r);
        }
        assert_eq!(
            factor_types(&app, &id, &token).await,
            ["backupCode", "totp"]
        );

        // A current code in the body works.
        let r = app
            .post(
                &format!("{b}/backup-codes"),
                Some(&token),
                json!({"code": code(&app, &secret, 0)}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);

        // A fresh login (new authTime) needs nothing in the body.
        let fresh = login_with_totp(&app, "ann@example.com", &secret).await;
        let r = app.delete(&format!("{b}/totp"), Some(&fresh)).await;
        assert_eq!(r.status, 204, "{}", r.text);
        // The last TOTP-like factor took the backup codes along.
        assert!(factor_types(&app, &id, &fresh).await.is_empty());
    }
);

both_backends!(
    wrong_reauth_passwords_count_towards_the_lockout,
    |app: TestApp| async move {
        let (id, token, _, _) = enrolled_user(&app, "ann@example.com").await;
        let su = app.superuser_token().await;
        let r = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"lockout": {"enabled": true, "maxFailures": 2, "duration": 600, "slowdownAfter": 1000}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        app.clock.advance_secs(601);
        let path = format!("{}/backup-codes", base(&id));
        for _ in 0..2 {
            let r = app
                .post(&path, Some(&token), json!({"password": "wrong-1"}))
                .await;
            assert_reauth_refusal(&r);
        }
        // Locked: even the right password is not checked now.
        let r = app
            .post(&path, Some(&token), json!({"password": PASSWORD}))
            .await;
        assert_eq!(r.status, 429, "{}", r.text);
        app.clock.advance_secs(601);
        let r = app
            .post(&path, Some(&token), json!({"password": PASSWORD}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
);

both_backends!(
    an_impersonation_token_is_never_recent,
    |app: TestApp| async move {
        let (id, _, secret, _) = enrolled_user(&app, "ann@example.com").await;
        let su = app.superuser_token().await;
        let r = app
            .post(
                &format!("/api/collections/users/impersonate/{id}"),
                Some(&su),
                json!({"duration": 60}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let imp = r.body["token"].as_str().unwrap().to_owned();
        for r in changes(&app, &id, &imp, json!({})).await {
            assert_reauth_refusal(&r);
        }
        // It reads, but a new app needs the owner too.
        assert_eq!(app.get(&base(&id), Some(&imp)).await.status, 200);
        let r = app
            .post(&format!("{}/totp", base(&id)), Some(&imp), json!({}))
            .await;
        assert_reauth_refusal(&r);
        let fresh = login_with_totp(&app, "ann@example.com", &secret).await;
        assert_eq!(
            factor_types(&app, &id, &fresh).await,
            ["backupCode", "totp"]
        );
    }
);

both_backends!(
    guests_strangers_and_superusers_get_what_they_may,
    |app: TestApp| async move {
        let (ann, ann_token, _, _) = enrolled_user(&app, "ann@example.com").await;
        let (_, bob_token) = app.user("bob@example.com", PASSWORD).await;
        let b = base(&ann);
        let calls: [(Method, String); 7] = [
            (Method::GET, b.clone()),
            (Method::POST, format!("{b}/totp")),
            (Method::POST, format!("{b}/totp/confirm")),
            (Method::GET, format!("{b}/totp/uri")),
            (Method::DELETE, format!("{b}/totp")),
            (Method::POST, format!("{b}/backup-codes")),
            (Method::DELETE, b.clone()),
        ];
        for (method, path) in &calls {
            let body = Some(json!({"code": "123456"}));
            let guest = app.send(method.clone(), path, None, body.clone()).await;
            assert_eq!(guest.status, 401, "{method} {path}: {}", guest.text);
            let bob = app
                .send(method.clone(), path, Some(&bob_token), body.clone())
                .await;
            assert_eq!(bob.status, 403, "{method} {path}: {}", bob.text);
        }
        let unknown = app
            .get(
                "/api/collections/users/records/nosuchrecord123/mfa",
                Some(&ann_token),
            )
            .await;
        assert_eq!(unknown.status, 404, "{}", unknown.text);
        // The owner may not reset herself (that is the superuser's recovery).
        assert_eq!(app.delete(&b, Some(&ann_token)).await.status, 403);

        let su = app.superuser_token().await;
        let o = app.get(&b, Some(&su)).await;
        assert_eq!(o.status, 200, "{}", o.text);
        assert_eq!(o.body["required"], true);
        assert_eq!(o.body["backupCodesRemaining"], 10);
        // A superuser reads and resets, but does not enrol or change.
        let r = app.post(&format!("{b}/totp"), Some(&su), json!({})).await;
        assert_eq!(r.status, 403, "{}", r.text);
        let r = app.delete(&format!("{b}/totp"), Some(&su)).await;
        assert_eq!(r.status, 403, "{}", r.text);

        app.mail_idle().await;
        let mails_before = app.mails_to("ann@example.com").len();
        let r = app.delete(&b, Some(&su)).await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert!(factor_types(&app, &ann, &su).await.is_empty());
        let o = app.get(&b, Some(&su)).await;
        assert_eq!(o.body["backupCodesRemaining"], 0);
        assert_eq!(o.body["required"], false);
        let login = app.login("users", "ann@example.com", PASSWORD).await;
        assert_eq!(login.status, 200, "{}", login.text);
        assert!(
            event_types(&app, &ann)
                .await
                .contains(&"mfa.reset".to_owned())
        );
        app.mail_idle().await;
        let mails = app.mails_to("ann@example.com");
        assert_eq!(mails.len(), mails_before + 1);
        assert!(
            mails.last().unwrap().contains("administrator reset"),
            "{}",
            mails.last().unwrap()
        );

        // A superuser's own factors are reset on the server only.
        let me = app.login("_superusers", SU_EMAIL, SU_PASSWORD).await;
        let su_id = me.body["record"]["id"].as_str().unwrap();
        let r = app
            .delete(
                &format!("/api/collections/_superusers/records/{su_id}/mfa"),
                Some(&su),
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.text);
    }
);

both_backends!(
    factor_changes_mail_the_owner_and_are_audited,
    |app: TestApp| async move {
        let (id, token, secret, codes) = enrolled_user(&app, "ann@example.com").await;
        let b = base(&id);
        let r = app
            .post(&format!("{b}/backup-codes"), Some(&token), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let fresh: Vec<String> = serde_json::from_value(r.body["backupCodes"].clone()).unwrap();
        assert_ne!(fresh, codes);
        let mfa = crate::totp::mfa_id(&app, "ann@example.com").await;
        let r = crate::totp::second_step(&app, "backup-code", &mfa, &fresh[0]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let token = login_with_totp(&app, "ann@example.com", &secret).await;
        let r = app.delete(&format!("{b}/totp"), Some(&token)).await;
        assert_eq!(r.status, 204, "{}", r.text);

        let types = event_types(&app, &id).await;
        let factor_events: Vec<&str> = types
            .iter()
            .map(String::as_str)
            .filter(|t| {
                [
                    "factor.enrolled",
                    "factor.removed",
                    "backupCodes.regenerated",
                    "backupCode.used",
                ]
                .contains(t)
            })
            .collect();
        assert_eq!(
            factor_events,
            [
                "factor.enrolled",
                "backupCodes.regenerated",
                "backupCode.used",
                "factor.removed",
                "factor.removed"
            ],
            "{types:?}"
        );
        app.mail_idle().await;
        let mails = app.mails_to("ann@example.com");
        let says = |what: &str| mails.iter().filter(|m| m.contains(what)).count();
        assert_eq!(says("An authenticator app was added."), 1, "{mails:#?}");
        assert_eq!(
            says("A second factor was removed (authenticator app)."),
            1,
            "{mails:#?}"
        );
        assert_eq!(says("New backup codes were generated"), 1, "{mails:#?}");
        assert_eq!(says("A backup code was used; 9 left."), 1, "{mails:#?}");
        // No mail holds a code.
        for m in &mails {
            assert!(
                !fresh.iter().chain(&codes).any(|c| m.contains(c.as_str())),
                "{m}"
            );
        }
    }
);
