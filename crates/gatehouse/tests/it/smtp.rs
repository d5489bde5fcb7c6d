//! Mail over a real SMTP exchange with the sink: TLS modes (`settings.smtp.tlsMode`), AUTH never
//! in clear unless allowed, and PocketBase's `tls` flag kept as implicit TLS.

use crate::both_backends;
use crate::smtp_sink::{SmtpSink, plain_credentials};
use crate::support::*;
use serde_json::{Value, json};

/// Points SMTP at `sink` with `extra` merged into `settings.smtp`, as a superuser.
async fn use_sink(app: &TestApp, sink: &SmtpSink, extra: Value) -> Reply {
    let su = app.superuser_token().await;
    let mut smtp = json!({
        "enabled": true, "host": "127.0.0.1", "port": sink.port, "tls": false,
        "username": "mailer", "password": "smtp-secret-1",
    });
    for (k, v) in extra.as_object().unwrap() {
        smtp[k] = v.clone();
    }
    patch_smtp(app, &su, smtp).await
}

async fn patch_smtp(app: &TestApp, su: &str, smtp: Value) -> Reply {
    app.patch("/api/settings", Some(su), json!({"smtp": smtp}))
        .await
}

/// Asks for a verification mail to a new user (sent in the background).
pub async fn request_mail(app: &TestApp, email: &str) {
    app.user(email, "pass-1234567").await;
    let r = app
        .post(
            "/api/collections/users/request-verification",
            None,
            json!({"email": email}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
}

both_backends!(
    without_starttls_nothing_is_sent_by_default,
    |app: TestApp| async move {
        let sink = SmtpSink::start(false).await;
        let r = use_sink(&app, &sink, json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["smtp"]["tlsMode"], "starttls");
        assert_eq!(r.body["smtp"]["tls"], false);
        request_mail(&app, "ann@example.com").await;
        let sessions = sink.wait_for(|s| s.iter().any(|s| s.closed)).await;
        for s in &sessions {
            assert!(s.saw("EHLO"), "{s:?}");
            assert!(!s.saw("AUTH") && !s.saw("MAIL"), "{s:?}");
            assert!(s.messages.is_empty());
        }
    }
);

both_backends!(
    a_refused_starttls_sends_nothing,
    |app: TestApp| async move {
        let sink = SmtpSink::start(true).await;
        assert_eq!(use_sink(&app, &sink, json!({})).await.status, 200);
        request_mail(&app, "bea@example.com").await;
        let sessions = sink.wait_for(|s| s.iter().any(|s| s.closed)).await;
        assert!(sessions.iter().all(|s| !s.saw("AUTH") && !s.saw("MAIL")));
    }
);

both_backends!(
    tls_mode_none_sends_in_clear_to_loopback,
    |app: TestApp| async move {
        let sink = SmtpSink::start(false).await;
        let r = use_sink(&app, &sink, json!({"tlsMode": "none"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        request_mail(&app, "cid@example.com").await;
        let sessions = sink
            .wait_for(|s| s.iter().any(|s| !s.messages.is_empty()))
            .await;
        let session = sessions.iter().find(|s| !s.messages.is_empty()).unwrap();
        assert!(session.messages[0].contains("cid@example.com"));
        let auth = session
            .commands
            .iter()
            .find(|c| c.starts_with("AUTH PLAIN"))
            .unwrap();
        assert_eq!(
            plain_credentials(auth),
            Some(("mailer".to_owned(), "smtp-secret-1".to_owned()))
        );
    }
);

both_backends!(
    pocketbase_tls_flag_is_implicit_tls,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let smtp_of = |r: Reply| {
            (
                r.body["smtp"]["tls"].clone(),
                r.body["smtp"]["tlsMode"].clone(),
            )
        };
        let patch = |smtp: Value| patch_smtp(&app, &su, smtp);
        assert_eq!(
            smtp_of(app.get("/api/settings", Some(&su)).await),
            (json!(false), json!("starttls"))
        );
        assert_eq!(
            smtp_of(patch(json!({"tls": true})).await),
            (json!(true), json!("implicit"))
        );
        assert_eq!(
            smtp_of(patch(json!({"tls": false})).await),
            (json!(false), json!("starttls"))
        );
        assert_eq!(
            smtp_of(patch(json!({"tlsMode": "none", "tls": false})).await),
            (json!(false), json!("none"))
        );
        // An SDK that only knows `tls` sends it back as it read it: the mode stays.
        assert_eq!(
            smtp_of(patch(json!({"tls": false, "host": "mx.example.com"})).await),
            (json!(false), json!("none"))
        );
        assert_eq!(
            smtp_of(patch(json!({"tlsMode": "implicit"})).await),
            (json!(true), json!("implicit"))
        );
        // Saved by a version without tlsMode: `tls` says which.
        let mut stored: Value = serde_json::from_str(&stored_settings(&app).await).unwrap();
        stored["smtp"]["tls"] = json!(true);
        stored["smtp"].as_object_mut().unwrap().remove("tlsMode");
        app.gh
            .store()
            .put_setting("settings", &stored.to_string())
            .await
            .unwrap();
        assert_eq!(
            smtp_of(app.get("/api/settings", Some(&su)).await),
            (json!(true), json!("implicit"))
        );
        let bad = patch(json!({"tlsMode": "sometimes"})).await;
        assert_eq!(bad.status, 400, "{}", bad.text);
        assert_eq!(
            bad.body["data"]["smtp"]["tlsMode"]["code"],
            "validation_in_invalid"
        );
    }
);

/// The stored settings document, as the database holds it.
async fn stored_settings(app: &TestApp) -> String {
    app.gh
        .store()
        .get_setting("settings")
        .await
        .unwrap()
        .unwrap()
}

/// The password of the last AUTH the sink saw, once a message went through after it.
async fn password_sent(sink: &SmtpSink, messages: usize) -> String {
    let sessions = sink
        .wait_for(|s| s.iter().map(|s| s.messages.len()).sum::<usize>() >= messages)
        .await;
    let auth = sessions
        .iter()
        .flat_map(|s| s.commands.iter())
        .rfind(|c| c.starts_with("AUTH PLAIN"))
        .unwrap();
    plain_credentials(auth).unwrap().1
}

both_backends!(
    smtp_password_is_encrypted_at_rest,
    |app: TestApp| async move {
        let sink = SmtpSink::start(false).await;
        let r = use_sink(&app, &sink, json!({"tlsMode": "none"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.body["smtp"].get("password").is_none());
        let raw = stored_settings(&app).await;
        assert!(!raw.contains("smtp-secret-1"), "{raw}");
        let stored: Value = serde_json::from_str(&raw).unwrap();
        assert!(
            stored["smtp"]["password"]
                .as_str()
                .unwrap()
                .starts_with("gh-enc:v1:"),
            "{raw}"
        );
        request_mail(&app, "dan@example.com").await;
        assert_eq!(password_sent(&sink, 1).await, "smtp-secret-1");
    }
);

both_backends!(
    a_plain_stored_smtp_password_still_works_and_is_encrypted_on_save,
    |app: TestApp| async move {
        let sink = SmtpSink::start(false).await;
        assert_eq!(
            use_sink(&app, &sink, json!({"tlsMode": "none"}))
                .await
                .status,
            200
        );
        // As an older version stored it.
        let mut stored: Value = serde_json::from_str(&stored_settings(&app).await).unwrap();
        stored["smtp"]["password"] = json!("legacy-plain-pw");
        app.gh
            .store()
            .put_setting("settings", &stored.to_string())
            .await
            .unwrap();
        app.clock.advance_secs(5); // past the settings cache
        request_mail(&app, "eve@example.com").await;
        assert_eq!(password_sent(&sink, 1).await, "legacy-plain-pw");
        let su = app.superuser_token().await;
        let r = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"meta": {"appName": "Renamed"}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let raw = stored_settings(&app).await;
        assert!(!raw.contains("legacy-plain-pw"), "{raw}");
        assert!(raw.contains("gh-enc:v1:"), "{raw}");
    }
);

both_backends!(
    a_new_smtp_destination_needs_the_password_again,
    |app: TestApp| async move {
        let sink = SmtpSink::start(false).await;
        assert_eq!(use_sink(&app, &sink, json!({})).await.status, 200);
        let su = app.superuser_token().await;
        let patch = |smtp: Value| patch_smtp(&app, &su, smtp);
        // Otherwise whoever holds a superuser token could send the stored password anywhere.
        for moved in [
            json!({"host": "mx.attacker.example"}),
            json!({"port": 2525}),
            json!({"username": "other"}),
            json!({"host": "mx.attacker.example", "password": ""}),
            // Or let it cross the network in clear, for whoever listens on the path.
            json!({"tlsMode": "none"}),
            json!({"allowInsecureAuth": true}),
        ] {
            let r = patch(moved.clone()).await;
            assert_eq!(r.status, 400, "{moved}: {}", r.text);
            assert_eq!(
                r.body,
                json!({"status": 400, "message": "An error occurred while saving the new settings.",
                       "data": {"smtp": {"password": {"code": "validation_required", "message": "Cannot be blank."}}}})
            );
        }
        // The same destination keeps the password; a new one with its password is fine.
        assert_eq!(
            patch(json!({"enabled": false, "host": "127.0.0.1"}))
                .await
                .status,
            200
        );
        let r = patch(json!({"host": "mx.example.com", "password": "new-secret"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["smtp"]["host"], "mx.example.com");
    }
);
