//! The account pages over raw HTTP: no session sends the browser to sign in; forms without
//! this browser's token or without a live session change nothing; an authenticator app is set
//! up from the page (a wrong code keeps the QR, a second confirm changes nothing, the backup
//! codes are shown once); backup codes are replaced; removing a factor after the
//! re-authentication window asks for the password and the second step first; a device is
//! revoked only by its owner; a new password ends the session.

mod browser;
mod code_factors;

use crate::both_backends;
use crate::support::*;
use crate::totp::{PASSWORD, code, enrolled_user, second_step};
use browser::Browser;
use gatehouse_domain::clock::Clock;
use serde_json::{Value, json};

const ACCOUNT: &str = "/_/account?collection=users";
const CHANGED: &str = "a brand new password 42";

async fn overview(app: &TestApp, id: &str, token: &str) -> Value {
    let r = app
        .get(
            &format!("/api/collections/users/records/{id}/mfa"),
            Some(token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn totp_status(overview: &Value) -> Option<String> {
    overview["factors"]
        .as_array()?
        .iter()
        .find(|f| f["type"] == "totp")
        .map(|f| f["status"].as_str().unwrap_or_default().to_owned())
}

/// The security events of `id` of type `kind`.
async fn events(app: &TestApp, id: &str, kind: &str) -> usize {
    let su = app.superuser_token().await;
    let path = format!("/api/collections/users/records/{id}/security-events?type={kind}");
    let r = app.get(&path, Some(&su)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().map(Vec::len).unwrap_or(0)
}

both_backends!(
    without_a_session_the_page_sends_the_browser_to_sign_in_and_back,
    |app: TestApp| async move {
        let (_, token) = app.user("ann@example.com", PASSWORD).await;
        let to_login = "/_/login?collection=users&redirect=%2F_%2Faccount%3Fcollection%3Dusers";
        let mut guest = Browser::new(&app);
        let page = guest.get(ACCOUNT).await;
        assert_eq!(page.status, 303, "{}", page.html);
        assert_eq!(page.location, to_login);
        // A forged token, a token of another collection: no session either.
        let mut forged = Browser::signed_in(&app, &format!("{token}x")).await;
        assert_eq!(forged.get(ACCOUNT).await.location, to_login);
        let su = app.superuser_token().await;
        let mut other = Browser::signed_in(&app, &su).await;
        assert_eq!(other.get(ACCOUNT).await.location, to_login);

        // Signing in on the page comes back here, and the page is the record's.
        let csrf = guest.get(to_login).await.field("csrf");
        let redirect = "/_/account?collection=users";
        let fields = [
            ("redirect", redirect),
            ("identity", "ann@example.com"),
            ("password", PASSWORD),
        ];
        let signed = guest.post("/_/login", &csrf, &fields).await;
        assert_eq!(signed.status, 303, "{}", signed.html);
        assert_eq!(signed.location, redirect);
        let page = guest.get(ACCOUNT).await;
        page.assert_shows(200, "ann@example.com");
        assert!(
            page.html.contains("Set up an authenticator app"),
            "{}",
            page.html
        );
        assert!(
            page.html.contains("Signed in (password)"),
            "the sign-in is an event: {}",
            page.html
        );
        assert_eq!(page.cache_control, "no-store");

        // The session's own expiry ends it: the page asks to sign in, a form changes nothing.
        let csrf = guest.csrf().await;
        app.clock.advance_secs(8 * 24 * 3600);
        assert_eq!(guest.get(ACCOUNT).await.location, to_login);
        let late = guest.post("/_/account/two-factor", &csrf, &[]).await;
        late.assert_shows(401, "Nothing was changed");
        let id = app.login("users", "ann@example.com", PASSWORD).await;
        let fresh = id.body["token"].as_str().unwrap();
        let me = id.body["record"]["id"].as_str().unwrap();
        assert_eq!(totp_status(&overview(&app, me, fresh).await), None);
    }
);

both_backends!(
    forms_without_this_browsers_token_change_nothing,
    |app: TestApp| async move {
        let (id, token, _, backup) = enrolled_user(&app, "ann@example.com").await;
        let mut browser = Browser::signed_in(&app, &token).await;
        let csrf = browser.csrf().await;
        let mut stranger = Browser::signed_in(&app, &token).await;
        for bad in ["", "00ff", csrf.as_str()] {
            // Missing, forged, and this browser's token from another browser (no cookie).
            let who = if bad == csrf {
                &mut stranger
            } else {
                &mut browser
            };
            let page = who.post("/_/account/backup-codes", bad, &[]).await;
            page.assert_shows(403, "could not be verified");
            assert!(page.codes().is_empty());
            let page = who
                .post("/_/account/factor/remove", bad, &[("factor", "totp")])
                .await;
            page.assert_shows(403, "Nothing was changed");
        }
        assert_eq!(events(&app, &id, "backupCodes.regenerated").await, 0);
        assert_eq!(
            totp_status(&overview(&app, &id, &token).await).as_deref(),
            Some("verified")
        );
        // The old codes still work: nothing was regenerated.
        let mfa_id = crate::totp::mfa_id(&app, "ann@example.com").await;
        let r = second_step(&app, "backup-code", &mfa_id, &backup[0]).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
);

both_backends!(
    an_authenticator_app_is_set_up_on_the_page_and_its_codes_shown_once,
    |app: TestApp| async move {
        let (id, token) = app.user("ann@example.com", PASSWORD).await;
        let mut browser = Browser::signed_in(&app, &token).await;
        let csrf = browser.csrf().await;
        let setup = browser.post("/_/account/two-factor", &csrf, &[]).await;
        setup.assert_shows(200, "src=\"data:image/png;base64,");
        assert!(setup.html.contains("alt=\"QR code"), "{}", setup.html);
        let secret = setup.field("secret");
        let qr = setup.field("qr");
        let bytes = crate::totp::secret_of(&format!("otpauth://x?secret={secret}"));
        // The key is shown in groups of four.
        let grouped: Vec<String> = secret
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        assert!(setup.html.contains(&grouped.join(" ")), "{}", setup.html);

        let wrong = [
            ("secret", secret.as_str()),
            ("qr", qr.as_str()),
            ("code", "000000"),
        ];
        let refused = browser
            .post("/_/account/two-factor/confirm", &csrf, &wrong)
            .await;
        refused.assert_shows(400, "Invalid or expired code.");
        assert_eq!(refused.field("secret"), secret, "the same key again");
        assert!(refused.html.contains(&qr), "the same QR code again");
        assert_eq!(
            totp_status(&overview(&app, &id, &token).await).as_deref(),
            Some("pending")
        );

        let good = code(&app, &bytes, 0);
        let right = [
            ("secret", secret.as_str()),
            ("qr", qr.as_str()),
            ("code", good.as_str()),
        ];
        let shown = browser
            .post("/_/account/two-factor/confirm", &csrf, &right)
            .await;
        shown.assert_shows(200, "Save your backup codes");
        let codes = shown.codes();
        assert_eq!(codes.len(), 10, "{}", shown.html);
        assert!(
            shown.html.contains("download=\"backup-codes.txt\""),
            "{}",
            shown.html
        );
        assert!(
            shown.html.contains(&format!("{}%0A{}", codes[0], codes[1])),
            "{}",
            shown.html
        );
        assert!(shown.html.contains("src=\"/_/print.js\""), "{}", shown.html);
        assert_eq!(
            totp_status(&overview(&app, &id, &token).await).as_deref(),
            Some("verified")
        );

        // The same form again (a double submission): the API's answer, nothing changed.
        let again = browser
            .post("/_/account/two-factor/confirm", &csrf, &right)
            .await;
        again.assert_shows(400, "There is no authenticator app to confirm.");
        assert!(again.codes().is_empty());
        assert_eq!(
            overview(&app, &id, &token).await["backupCodesRemaining"],
            10
        );
        // Shown once: the account page never shows them again, only how many are left.
        let page = browser.get(ACCOUNT).await;
        page.assert_shows(200, "10 left");
        assert!(codes.iter().all(|c| !page.html.contains(c.as_str())));
        // And they work.
        let mfa_id = crate::totp::mfa_id(&app, "ann@example.com").await;
        let r = second_step(&app, "backup-code", &mfa_id, &codes[3]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        // A cancel left open after the set-up finished does not remove the app.
        let late = browser
            .post("/_/account/two-factor/cancel", &csrf, &[])
            .await;
        late.assert_shows(400, "There is no set-up to cancel");
        assert_eq!(
            totp_status(&overview(&app, &id, &token).await).as_deref(),
            Some("verified")
        );
    }
);

both_backends!(
    cancelling_a_set_up_removes_only_the_pending_app,
    |app: TestApp| async move {
        let (id, token) = app.user("ann@example.com", PASSWORD).await;
        let mut browser = Browser::signed_in(&app, &token).await;
        let csrf = browser.csrf().await;
        let setup = browser.post("/_/account/two-factor", &csrf, &[]).await;
        assert_eq!(setup.status, 200, "{}", setup.html);
        let page = browser.get(ACCOUNT).await;
        page.assert_shows(200, "Finish setting up the authenticator app");
        let cancelled = browser
            .post("/_/account/two-factor/cancel", &csrf, &[])
            .await;
        assert_eq!(cancelled.status, 303, "{}", cancelled.html);
        assert_eq!(
            cancelled.location,
            format!("{ACCOUNT}&done=setup-cancelled")
        );
        assert_eq!(totp_status(&overview(&app, &id, &token).await), None);
        let back = browser.get(&cancelled.location).await;
        back.assert_shows(200, "The set-up was cancelled.");
        app.mail_idle().await;
        let alerts = app.mails_to("ann@example.com");
        assert!(
            alerts.iter().all(|m| !m.contains("was removed")),
            "a pending app protected nothing: no alert"
        );
    }
);

both_backends!(
    new_backup_codes_replace_the_old_set,
    |app: TestApp| async move {
        let (_, token, _, old) = enrolled_user(&app, "ann@example.com").await;
        let mut browser = Browser::signed_in(&app, &token).await;
        let csrf = browser.csrf().await;
        let page = browser.post("/_/account/backup-codes", &csrf, &[]).await;
        page.assert_shows(200, "the old ones no longer work");
        let fresh = page.codes();
        assert_eq!(fresh.len(), 10);
        assert!(fresh.iter().all(|c| !old.contains(c)));
        let mfa_id = crate::totp::mfa_id(&app, "ann@example.com").await;
        let r = second_step(&app, "backup-code", &mfa_id, &old[0]).await;
        assert_eq!(r.status, 400, "{}", r.text);
        let r = second_step(&app, "backup-code", &mfa_id, &fresh[0]).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
);

both_backends!(
    removing_a_factor_after_the_window_asks_for_the_password_and_the_second_step,
    |app: TestApp| async move {
        let (id, token, secret, _) = enrolled_user(&app, "ann@example.com").await;
        let mut browser = Browser::signed_in(&app, &token).await;
        let csrf = browser.csrf().await;
        app.clock.advance_secs(700);
        let remove = [("factor", "totp")];
        let asked = browser
            .post("/_/account/factor/remove", &csrf, &remove)
            .await;
        asked.assert_shows(403, "Confirm it");
        assert_eq!(asked.field("then"), "remove-totp");
        assert_eq!(
            totp_status(&overview(&app, &id, &token).await).as_deref(),
            Some("verified")
        );

        let wrong = [("then", "remove-totp"), ("password", "not it")];
        let refused = browser.post("/_/account/reauth", &csrf, &wrong).await;
        refused.assert_shows(400, "Failed to authenticate.");
        assert_eq!(
            totp_status(&overview(&app, &id, &token).await).as_deref(),
            Some("verified")
        );

        // This browser is a trusted device: signing in again still asks for the second step.
        let trusted = app
            .post(
                "/api/collections/users/auth-with-totp",
                None,
                json!({
                    "mfaId": crate::totp::mfa_id(&app, "ann@example.com").await,
                    "code": code(&app, &secret, 0),
                    "trustDevice": true,
                }),
            )
            .await;
        assert_eq!(trusted.status, 200, "{}", trusted.text);
        let device = trusted.body["meta"]["deviceToken"].as_str().unwrap();
        browser.jar.insert("gh_device".into(), device.into());
        let skipped = app
            .send_with_headers(
                reqwest::Method::POST,
                "/api/collections/users/auth-with-password",
                None,
                Some(json!({"identity": "ann@example.com", "password": PASSWORD})),
                &[("cookie", &format!("gh_device={device}"))],
            )
            .await;
        assert_eq!(
            skipped.status, 200,
            "a sign-in skips the step: {}",
            skipped.text
        );
        app.clock.advance_secs(90);
        let right = [("then", "remove-totp"), ("password", PASSWORD)];
        let step = browser.post("/_/account/reauth", &csrf, &right).await;
        step.assert_shows(200, "Code from your authenticator app");
        assert!(!step.html.contains("Trust this device"), "{}", step.html);
        assert!(
            step.cookie("gh_session").is_none(),
            "no session before the second step"
        );
        let mfa_id = step.field("mfaId");
        let totp = code(&app, &secret, 0);
        let answer = [
            ("then", "remove-totp"),
            ("mfaId", mfa_id.as_str()),
            ("type", "totp"),
            ("code", totp.as_str()),
        ];
        let done = browser
            .post("/_/account/reauth/factor", &csrf, &answer)
            .await;
        assert_eq!(done.status, 303, "{}", done.html);
        assert_eq!(done.location, format!("{ACCOUNT}&done=factor-removed"));
        let fresh = browser.session();
        assert_ne!(fresh, token, "the session is the fresh sign-in");
        let age = app.clock.now_secs() - claims(&fresh)["authTime"].as_i64().unwrap();
        assert!(age < 5, "a recent authentication");
        assert_eq!(totp_status(&overview(&app, &id, &fresh).await), None);
        let back = browser.get(&done.location).await;
        back.assert_shows(200, "The second step was removed.");
    }
);

both_backends!(
    a_device_is_revoked_only_by_its_owner,
    |app: TestApp| async move {
        let (ann, ann_token, ann_secret, _) = enrolled_user(&app, "ann@example.com").await;
        let (bob, bob_token, bob_secret, _) = enrolled_user(&app, "bob@example.com").await;
        for (email, secret) in [
            ("ann@example.com", &ann_secret),
            ("bob@example.com", &bob_secret),
        ] {
            app.clock.advance_secs(90);
            let mfa_id = crate::totp::mfa_id(&app, email).await;
            let r = app
                .post(
                    "/api/collections/users/auth-with-totp",
                    None,
                    json!({"mfaId": mfa_id, "code": code(&app, secret, 0), "trustDevice": true}),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        let device_of = |id: &str, token: &str| {
            let path = format!("/api/collections/users/records/{id}/mfa/devices");
            let (app, token) = (&app, token.to_owned());
            async move {
                let r = app.get(&path, Some(&token)).await;
                assert_eq!(r.status, 200, "{}", r.text);
                r.body[0]["id"].as_str().unwrap_or_default().to_owned()
            }
        };
        let ann_device = device_of(&ann, &ann_token).await;
        let bob_device = device_of(&bob, &bob_token).await;
        let mut browser = Browser::signed_in(&app, &ann_token).await;
        let page = browser.get(ACCOUNT).await;
        assert!(page.html.contains(&ann_device), "{}", page.html);
        let csrf = page.field("csrf");

        let other = [("deviceId", bob_device.as_str())];
        let refused = browser
            .post("/_/account/devices/revoke", &csrf, &other)
            .await;
        refused.assert_shows(404, "The requested resource wasn");
        assert_eq!(device_of(&bob, &bob_token).await, bob_device);

        let own = [("deviceId", ann_device.as_str())];
        let done = browser.post("/_/account/devices/revoke", &csrf, &own).await;
        assert_eq!(done.status, 303, "{}", done.html);
        assert_eq!(device_of(&ann, &ann_token).await, "");
        // Twice: the API's 404, nothing else changes.
        let again = browser.post("/_/account/devices/revoke", &csrf, &own).await;
        assert_eq!(again.status, 404, "{}", again.html);
        assert_eq!(device_of(&bob, &bob_token).await, bob_device);
    }
);

both_backends!(a_new_password_ends_the_session, |app: TestApp| async move {
    let (_, token) = app.user("ann@example.com", PASSWORD).await;
    let mut browser = Browser::signed_in(&app, &token).await;
    let csrf = browser.csrf().await;
    let wrong_old = [
        ("oldPassword", "not it"),
        ("password", CHANGED),
        ("passwordConfirm", CHANGED),
    ];
    let page = browser.post("/_/account/password", &csrf, &wrong_old).await;
    page.assert_shows(400, "Missing or invalid old password.");
    let mismatch = [
        ("oldPassword", PASSWORD),
        ("password", CHANGED),
        ("passwordConfirm", "something else entirely"),
    ];
    let page = browser.post("/_/account/password", &csrf, &mismatch).await;
    page.assert_shows(400, "Values don");
    assert_eq!(
        app.login("users", "ann@example.com", PASSWORD).await.status,
        200
    );

    let right = [
        ("oldPassword", PASSWORD),
        ("password", CHANGED),
        ("passwordConfirm", CHANGED),
    ];
    let page = browser.post("/_/account/password", &csrf, &right).await;
    page.assert_shows(200, "Password changed");
    assert!(
        page.cookie("gh_session")
            .is_some_and(|c| c.contains("Max-Age=0")),
        "the session cookie is cleared"
    );
    // The old session is dead even where the cookie is kept.
    let mut kept = Browser::signed_in(&app, &token).await;
    assert_eq!(kept.get(ACCOUNT).await.status, 303);
    assert_eq!(
        app.login("users", "ann@example.com", CHANGED).await.status,
        200
    );
    assert_eq!(
        app.login("users", "ann@example.com", PASSWORD).await.status,
        400
    );
});

both_backends!(
    the_pages_share_the_api_routes_rate_limit,
    |app: TestApp| async move {
        let (id, token, _, _) = enrolled_user(&app, "ann@example.com").await;
        let su = app.superuser_token().await;
        let rules = json!({"rateLimits": {"enabled": true, "rules": [
            {"label": "*:manageMfa", "maxRequests": 2, "duration": 60}
        ]}});
        let r = app.patch("/api/settings", Some(&su), rules).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut browser = Browser::signed_in(&app, &token).await;
        let csrf = browser.csrf().await;
        for _ in 0..2 {
            let page = browser.post("/_/account/backup-codes", &csrf, &[]).await;
            assert_eq!(page.status, 200, "{}", page.html);
        }
        let page = browser.post("/_/account/backup-codes", &csrf, &[]).await;
        page.assert_shows(429, "Too Many Requests.");
        assert!(page.codes().is_empty());
        let path = format!("/api/collections/users/records/{id}/mfa/backup-codes");
        let api = app.post(&path, Some(&token), json!({})).await;
        assert_eq!(api.status, 429, "{}", api.text);
        assert_eq!(events(&app, &id, "backupCodes.regenerated").await, 2);
    }
);

both_backends!(
    adding_an_app_after_the_window_asks_for_the_password_then_shows_the_qr,
    |app: TestApp| async move {
        let (id, token) = app.user("ann@example.com", PASSWORD).await;
        let mut browser = Browser::signed_in(&app, &token).await;
        let csrf = browser.csrf().await;
        app.clock.advance_secs(700);
        let asked = browser.post("/_/account/two-factor", &csrf, &[]).await;
        asked.assert_shows(403, "To set up an authenticator app, confirm it");
        assert_eq!(totp_status(&overview(&app, &id, &token).await), None);
        // A form naming a change the page does not know changes nothing.
        let odd = [("then", "delete-everything"), ("password", PASSWORD)];
        let refused = browser.post("/_/account/reauth", &csrf, &odd).await;
        refused.assert_shows(400, "Nothing was changed");
        assert_eq!(browser.session(), token);
        // No second step yet: the password alone signs in again, and the set-up goes on.
        let right = [("then", "add-totp"), ("password", PASSWORD)];
        let setup = browser.post("/_/account/reauth", &csrf, &right).await;
        setup.assert_shows(200, "src=\"data:image/png;base64,");
        assert_ne!(
            browser.session(),
            token,
            "the fresh session is in the cookie"
        );
        assert!(
            setup
                .cookie("gh_session")
                .is_some_and(|c| c.contains("HttpOnly") && c.contains("SameSite=Lax")),
            "{:?}",
            setup.cookies
        );
        assert_eq!(
            totp_status(&overview(&app, &id, &browser.session()).await).as_deref(),
            Some("pending")
        );
    }
);
