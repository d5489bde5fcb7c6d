//! `settings.sms` through `/api/settings`: the provider credentials are write-only like the SMTP
//! password (never shown, kept by a PATCH that leaves them out, sealed in the database, re-sealed
//! by a key rotation), and bad values get PocketBase's field errors.

use crate::both_backends;
use crate::cli::gatehouse;
use crate::support::*;
use serde_json::{Value, json};

const SECRETS: [(&str, &str); 3] = [
    ("/sms/twilio/authToken", "tw-token-secret"),
    ("/sms/vonage/apiSecret", "vo-api-secret"),
    ("/sms/webhook/secret", "wh-hmac-secret"),
];

fn full_sms() -> Value {
    json!({"sms": {
        "enabled": true, "provider": "twilio", "from": "+15005550006",
        "twilio": {"accountSid": "ACtest0001", "authToken": "tw-token-secret"},
        "vonage": {"apiKey": "vk-1", "apiSecret": "vo-api-secret"},
        "webhook": {"url": "https://hooks.example.com/sms", "secret": "wh-hmac-secret"},
        "allowedCountries": ["+1", "+44"],
        "caps": {"perNumberPerHour": 3},
    }})
}

/// A superuser token, after saving [`full_sms`].
async fn configured(app: &TestApp) -> String {
    let su = app.superuser_token().await;
    let r = app.patch("/api/settings", Some(&su), full_sms()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    su
}

async fn stored_settings(app: &TestApp) -> Value {
    let raw = app
        .gh
        .store()
        .get_setting("settings")
        .await
        .unwrap()
        .unwrap();
    serde_json::from_str(&raw).unwrap()
}

/// The credentials the service reads back (opened with the server key).
async fn credentials(app: &TestApp) -> Vec<String> {
    let sms = app.gh.settings().await.unwrap().sms;
    vec![
        sms.twilio.auth_token,
        sms.vonage.api_secret,
        sms.webhook.secret,
    ]
}

fn assert_no_secrets(shown: &Value) {
    let text = shown.to_string();
    for (pointer, secret) in SECRETS {
        assert!(!text.contains(secret), "{text}");
        assert!(shown.pointer(pointer).is_none(), "{pointer} shown: {text}");
    }
}

both_backends!(
    sms_credentials_are_write_only_and_sealed,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let defaults = app.get("/api/settings", Some(&su)).await;
        assert_eq!(
            defaults.body["sms"]["caps"],
            json!({"perNumberPerHour": 5, "perRecordPerDay": 10, "perDay": 1000})
        );
        assert_eq!(defaults.body["sms"]["provider"], "log");
        assert_eq!(defaults.body["sms"]["enabled"], false);

        let r = app.patch("/api/settings", Some(&su), full_sms()).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_no_secrets(&r.body);
        assert_eq!(r.body["sms"]["twilio"]["accountSid"], "ACtest0001");
        assert_eq!(r.body["sms"]["twilio"]["baseUrl"], "https://api.twilio.com");
        assert_eq!(r.body["sms"]["caps"]["perNumberPerHour"], 3);
        assert_eq!(r.body["sms"]["caps"]["perDay"], 1000);
        assert_no_secrets(&app.get("/api/settings", Some(&su)).await.body);

        let stored = stored_settings(&app).await;
        assert_no_secrets_in_plain(&stored);
        assert_eq!(
            credentials(&app).await,
            ["tw-token-secret", "vo-api-secret", "wh-hmac-secret"]
        );

        // A PATCH without them, or with them empty (what a client echoes back), keeps them.
        for patch in [
            json!({"sms": {"from": "+15005550007", "caps": {"perDay": 50}}}),
            json!({"sms": {"twilio": {"authToken": ""}, "vonage": {"apiSecret": ""}, "webhook": {"secret": ""}}}),
            json!({"meta": {"appName": "Renamed"}}),
        ] {
            let r = app.patch("/api/settings", Some(&su), patch.clone()).await;
            assert_eq!(r.status, 200, "{patch}: {}", r.text);
            assert_no_secrets(&r.body);
            assert_eq!(
                credentials(&app).await,
                ["tw-token-secret", "vo-api-secret", "wh-hmac-secret"],
                "{patch}"
            );
        }
        assert_no_secrets_in_plain(&stored_settings(&app).await);

        // A new one replaces the old.
        let r = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"sms": {"webhook": {"secret": "wh-rotated"}}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(credentials(&app).await[2], "wh-rotated");
    }
);

fn assert_no_secrets_in_plain(stored: &Value) {
    let text = stored.to_string();
    for (pointer, secret) in SECRETS {
        assert!(!text.contains(secret), "{text}");
        let sealed = stored
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("");
        assert!(sealed.starts_with("gh-enc:v1:"), "{pointer}: {text}");
    }
}

both_backends!(
    bad_sms_settings_get_field_errors,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let r = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"sms": {
                    "enabled": true, "provider": "vonage",
                    "vonage": {"baseUrl": "ftp://rest.nexmo.com"},
                    "webhook": {"url": "not a url"},
                    "allowedCountries": ["+1", "44", "+0", "+1234"],
                    "caps": {"perDay": -1},
                }}),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(
            r.body["message"],
            "An error occurred while saving the new settings."
        );
        let sms = &r.body["data"]["sms"];
        assert_eq!(sms["from"]["code"], "validation_required");
        assert_eq!(sms["vonage"]["baseUrl"]["code"], "validation_is_url");
        assert_eq!(sms["vonage"]["apiKey"]["code"], "validation_required");
        assert_eq!(sms["vonage"]["apiSecret"]["code"], "validation_required");
        assert_eq!(sms["webhook"]["url"]["code"], "validation_is_url");
        assert_eq!(
            sms["allowedCountries"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["1", "2", "3"]
        );
        assert_eq!(
            sms["caps"]["perDay"]["code"],
            "validation_min_greater_equal_than_required"
        );
        let r = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"sms": {"provider": "pigeon"}}),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(
            r.body["data"]["sms"]["provider"]["code"],
            "validation_in_invalid"
        );
        // Nothing was saved.
        assert_eq!(app.gh.settings().await.unwrap().sms.provider, "log");
    }
);

both_backends!(
    a_kept_sms_credential_does_not_follow_a_new_endpoint,
    |app: TestApp| async move {
        let su = configured(&app).await;
        // Otherwise whoever holds a superuser token could have the stored token sent anywhere.
        for (moved, field) in [
            (
                json!({"twilio": {"baseUrl": "https://attacker.example"}}),
                "/twilio/authToken",
            ),
            (
                json!({"twilio": {"accountSid": "ACother"}}),
                "/twilio/authToken",
            ),
            (
                json!({"vonage": {"baseUrl": "https://attacker.example"}}),
                "/vonage/apiSecret",
            ),
        ] {
            let r = app
                .patch("/api/settings", Some(&su), json!({"sms": moved.clone()}))
                .await;
            assert_eq!(r.status, 400, "{moved}: {}", r.text);
            let error = r.body["data"]["sms"].pointer(field);
            assert_eq!(error.unwrap()["code"], "validation_required", "{}", r.text);
        }
        let r = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"sms": {"twilio": {"baseUrl": "https://api.twilio.example", "authToken": "tw-new"}}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
);

both_backends!(
    key_rotation_reseals_sms_credentials,
    |app: TestApp| async move {
        configured(&app).await;
        let before = stored_settings(&app).await;

        let out = gatehouse(&app, &["keys", "rotate"], "").await;
        let printed = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{printed}");
        assert!(printed.contains("3 SMS credential(s)"), "{printed}");

        let after = stored_settings(&app).await;
        for (pointer, _) in SECRETS {
            let key_id = |v: &Value| {
                v.pointer(pointer)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .split(':')
                    .nth(2)
                    .map(str::to_owned)
            };
            assert_ne!(key_id(&before), key_id(&after), "{pointer}");
        }
        let fresh = app.sibling().await;
        assert_eq!(
            credentials(&fresh).await,
            ["tw-token-secret", "vo-api-secret", "wh-hmac-secret"]
        );
    }
);
