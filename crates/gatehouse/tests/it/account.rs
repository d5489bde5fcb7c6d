//! Verification, password reset, email change, their confirm pages and the new-location alert,
//! with the log mailer: links are read from `<data dir>/mail/`. The SDK suite runs the same
//! flows over a real SMTP exchange.

use crate::both_backends;
use crate::support::*;
use reqwest::Method;
use serde_json::json;

/// The token in the `nth` mail to `to`, from its `/_/auth/{flow}/` link.
async fn link_token(app: &TestApp, to: &str, nth: usize, flow: &str) -> String {
    let text = app.mail_to(to, nth).await;
    let marker = format!("/_/auth/{flow}/");
    let after = text.split(&marker).nth(1).unwrap_or_default();
    after
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect()
}

fn token_code(r: &Reply) -> String {
    r.body["data"]["token"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

both_backends!(verification_flow, |app: TestApp| async move {
    let (id, _) = app.user("vera@example.com", "vera-password-1").await;
    let su = app.superuser_token().await;
    let request = |email: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/api/collections/users/request-verification",
                None,
                json!({"email": email}),
            )
            .await
        }
    };
    // Unknown and known addresses get the same 204; only the known one gets a mail.
    assert_eq!(request("nobody@example.com").await.status, 204);
    assert_eq!(request("vera@example.com").await.status, 204);
    let token = link_token(&app, "vera@example.com", 1, "confirm-verification").await;
    let payload = claims(&token);
    assert_eq!(payload["type"], "verification");
    assert_eq!(payload["email"], "vera@example.com");
    assert_eq!(payload["id"], id.as_str());
    // The resend marker: a second request within two minutes sends nothing.
    assert_eq!(request("vera@example.com").await.status, 204);
    app.mail_idle().await;
    assert_eq!(app.mails_to("vera@example.com").len(), 1);
    assert!(app.mails_to("nobody@example.com").is_empty());

    let confirm = |token: String| {
        let app = &app;
        async move {
            app.post(
                "/api/collections/users/confirm-verification",
                None,
                json!({"token": token}),
            )
            .await
        }
    };
    let r = confirm("garbage".into()).await;
    assert_eq!(r.status, 400);
    assert_eq!(token_code(&r), "validation_invalid_token_claims");
    let forged = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(
        token_code(&confirm(forged).await),
        "validation_invalid_token"
    );
    let r = app
        .post(
            "/api/collections/_superusers/confirm-verification",
            None,
            json!({"token": token}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["message"], "All superusers are verified by default.");

    assert_eq!(confirm(token.clone()).await.status, 204);
    let record = app
        .get(&format!("/api/collections/users/records/{id}"), Some(&su))
        .await;
    assert_eq!(record.body["verified"], true);
    // Still usable until it expires, as in PocketBase; a verified address gets no new mail.
    assert_eq!(confirm(token).await.status, 204);
    let events = app.get("/api/audit?type=email.verified", Some(&su)).await;
    assert_eq!(events.body["totalItems"], 1, "{}", events.text);
});

both_backends!(password_reset_revokes_sessions, |app: TestApp| async move {
    let (id, old_token) = app.user("rita@example.com", "rita-password-1").await;
    let r = app
        .post(
            "/api/collections/users/request-password-reset",
            None,
            json!({"email": "rita@example.com"}),
        )
        .await;
    assert_eq!(r.status, 204);
    let token = link_token(&app, "rita@example.com", 1, "confirm-password-reset").await;
    let reset = |password: &'static str, confirm: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            app.post(
                "/api/collections/users/confirm-password-reset",
                None,
                json!({"token": token, "password": password, "passwordConfirm": confirm}),
            )
            .await
        }
    };
    let r = reset("short", "short").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["data"]["password"]["code"],
        "validation_length_out_of_range"
    );
    let r = reset("rita-new-password", "something-else").await;
    assert_eq!(
        r.body["data"]["passwordConfirm"]["code"],
        "validation_values_mismatch"
    );
    assert_eq!(
        reset("rita-new-password", "rita-new-password").await.status,
        204
    );
    // The link works once, and every session of the record has ended.
    assert_eq!(
        token_code(&reset("rita-newer-password", "rita-newer-password").await),
        "validation_invalid_token"
    );
    let refresh = app
        .post(
            "/api/collections/users/auth-refresh",
            Some(&old_token),
            json!({}),
        )
        .await;
    assert_eq!(refresh.status, 401);
    assert_eq!(
        app.login("users", "rita@example.com", "rita-password-1")
            .await
            .status,
        400
    );
    let login = app
        .login("users", "rita@example.com", "rita-new-password")
        .await;
    assert_eq!(login.status, 200);
    // The link proved the address.
    assert_eq!(login.body["record"]["verified"], true);
    let su = app.superuser_token().await;
    let events = app
        .get(
            &format!("/api/audit?type=password.changed&recordId={id}"),
            Some(&su),
        )
        .await;
    assert_eq!(
        events.body["items"][0]["method"], "reset",
        "{}",
        events.text
    );
});

both_backends!(email_change_flow, |app: TestApp| async move {
    let (_, token) = app.user("emil@example.com", "emil-password-1").await;
    app.user("taken@example.com", "taken-password-1").await;
    let ask = |email: &'static str, auth: Option<String>| {
        let app = &app;
        async move {
            app.post(
                "/api/collections/users/request-email-change",
                auth.as_deref(),
                json!({"newEmail": email}),
            )
            .await
        }
    };
    assert_eq!(ask("new@example.com", None).await.status, 401);
    let r = ask("taken@example.com", Some(token.clone())).await;
    assert_eq!(
        r.body["data"]["newEmail"]["code"],
        "validation_invalid_new_email"
    );
    let r = ask("emil@example.com", Some(token.clone())).await;
    assert_eq!(
        r.body["data"]["newEmail"]["code"],
        "validation_not_in_invalid"
    );
    assert_eq!(
        ask("emil.new@example.com", Some(token.clone()))
            .await
            .status,
        204
    );
    // Sent synchronously, to the new address.
    assert_eq!(app.mails_to("emil.new@example.com").len(), 1);
    let link = link_token(&app, "emil.new@example.com", 1, "confirm-email-change").await;
    assert_eq!(claims(&link)["newEmail"], "emil.new@example.com");

    let confirm = |password: &'static str| {
        let app = &app;
        let link = link.clone();
        async move {
            app.post(
                "/api/collections/users/confirm-email-change",
                None,
                json!({"token": link, "password": password}),
            )
            .await
        }
    };
    let r = confirm("wrong-password").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["data"]["password"]["code"],
        "validation_invalid_password"
    );
    assert_eq!(confirm("emil-password-1").await.status, 204);
    let refresh = app
        .post(
            "/api/collections/users/auth-refresh",
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(refresh.status, 401, "the old session must end");
    let login = app
        .login("users", "emil.new@example.com", "emil-password-1")
        .await;
    assert_eq!(login.status, 200);
    assert_eq!(login.body["record"]["verified"], true);
    assert_eq!(
        token_code(&confirm("emil-password-1").await),
        "validation_invalid_token"
    );
});

both_backends!(
    confirm_pages_work_without_javascript,
    |app: TestApp| async move {
        app.user("page@example.com", "page-password-1").await;
        app.post(
            "/api/collections/users/request-password-reset",
            None,
            json!({"email": "page@example.com"}),
        )
        .await;
        let token = link_token(&app, "page@example.com", 1, "confirm-password-reset").await;
        // Opening the link changes nothing: it only shows the form.
        let form = app
            .get(&format!("/_/auth/confirm-password-reset/{token}"), None)
            .await;
        assert_eq!(form.status, 200);
        assert!(
            form.text
                .contains("action=\"/_/auth/confirm-password-reset\""),
            "{}",
            form.text
        );
        assert!(form.text.contains(&format!("value=\"{token}\"")));
        assert_eq!(form.headers["referrer-policy"], "no-referrer");
        assert_eq!(form.headers["cache-control"], "no-store");

        let post = |body: String| {
            let app = &app;
            async move {
                app.client
                    .request(
                        Method::POST,
                        format!("{}/_/auth/confirm-password-reset", app.url),
                    )
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let mismatch = post(format!(
            "token={token}&password=page-new-password&passwordConfirm=other-password"
        ))
        .await;
        assert_eq!(mismatch.status(), 400);
        assert!(
            mismatch
                .text()
                .await
                .unwrap()
                .contains("Values don&#39;t match.")
        );
        let ok = post(format!(
            "token={token}&password=page-new-password&passwordConfirm=page-new-password"
        ))
        .await;
        assert_eq!(ok.status(), 200);
        assert!(ok.text().await.unwrap().contains("Password changed"));
        assert_eq!(
            app.login("users", "page@example.com", "page-new-password")
                .await
                .status,
            200
        );
        let again = post(format!(
            "token={token}&password=page-newer-password&passwordConfirm=page-newer-password"
        ))
        .await;
        assert_eq!(again.status(), 400);
        assert!(
            again
                .text()
                .await
                .unwrap()
                .contains("invalid or has expired")
        );
        // Escaping of what the pages echo: `routes::pages_escape_what_they_echo`.
    }
);

both_backends!(new_location_alert, |app: TestApp| async move {
    app.user("al@example.com", "al-password-1").await;
    let login_from = |agent: &'static str| {
        let app = &app;
        async move {
            app.send_with_headers(
                Method::POST,
                "/api/collections/users/auth-with-password",
                None,
                Some(json!({"identity": "al@example.com", "password": "al-password-1"})),
                &[("user-agent", agent)],
            )
            .await
        }
    };
    // `user()` logged in once already (the first login: no alert). Same place again: none.
    assert_eq!(login_from("").await.status, 200);
    app.mail_idle().await;
    assert!(app.mails_to("al@example.com").is_empty());
    // A new user agent is a new place.
    assert_eq!(login_from("Firefox/200 <b>").await.status, 200);
    let alert = app.mail_to("al@example.com", 1).await;
    assert!(
        alert.contains("Subject: Login from a new location"),
        "{alert}"
    );
    assert!(alert.contains("127.0.0.1 Firefox/200 &lt;b&gt;"), "{alert}");
    // Known now.
    assert_eq!(login_from("Firefox/200 <b>").await.status, 200);
    app.mail_idle().await;
    assert_eq!(app.mails_to("al@example.com").len(), 1);
    // At most five places are remembered: after five more, the first is new again.
    for agent in ["a1", "a2", "a3", "a4", "a5"] {
        assert_eq!(login_from(agent).await.status, 200);
    }
    let sixth = app.mail_to("al@example.com", 6).await;
    assert!(sixth.contains("Login from a new location"));
    assert_eq!(login_from("").await.status, 200);
    let seventh = app.mail_to("al@example.com", 7).await;
    assert!(seventh.contains("Login from a new location"));
});

both_backends!(
    a_forged_email_change_token_costs_no_password_hash,
    |app: TestApp| async move {
        let (_, auth) = app.user("fay@example.com", "fay-password-1").await;
        let r = app
            .post(
                "/api/collections/users/request-email-change",
                Some(&auth),
                json!({"newEmail": "fay.new@example.com"}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
        let link = link_token(&app, "fay.new@example.com", 1, "confirm-email-change").await;
        let confirm = |token: String| {
            let app = &app;
            async move {
                app.post(
                    "/api/collections/users/confirm-email-change",
                    None,
                    json!({"token": token, "password": "any-password"}),
                )
                .await
            }
        };
        let forged = format!("{}x", &link[..link.len() - 1]);
        let before = app.gh.password_hashes_run();
        for _ in 0..5 {
            let r = confirm(forged.clone()).await;
            // PocketBase's answer is unchanged: a bad token and a bad password.
            assert_eq!(r.status, 400);
            assert_eq!(token_code(&r), "validation_invalid_token");
            assert_eq!(
                r.body["data"]["password"]["code"],
                "validation_invalid_password"
            );
        }
        assert_eq!(
            app.gh.password_hashes_run(),
            before,
            "no hash for a forged token"
        );
        // A good token with a wrong password is checked against the record's hash.
        let r = confirm(link).await;
        assert_eq!(
            r.body["data"]["password"]["code"],
            "validation_invalid_password"
        );
        assert_eq!(app.gh.password_hashes_run(), before + 1);
    }
);
