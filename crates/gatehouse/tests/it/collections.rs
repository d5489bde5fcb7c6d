//! Auth collections created and changed by superusers.

use crate::both_backends;
use crate::support::*;
use gatehouse_store::RecordRow;
use serde_json::json;

both_backends!(
    custom_collection_with_username_identity,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let r = app
        .post(
            "/api/collections",
            Some(&su),
            json!({
                "name": "service_accounts",
                "type": "auth",
                "fields": [
                    {"name": "username", "type": "text", "min": 3, "max": 30, "pattern": "^[a-z0-9_]+$"},
                    {"name": "tier", "type": "select", "values": ["free", "pro"], "maxSelect": 1},
                    {"name": "quota", "type": "number", "onlyInt": true},
                    {"name": "active", "type": "bool"},
                    {"name": "homepage", "type": "url"},
                    {"name": "since", "type": "date"},
                    {"name": "extra", "type": "json"}
                ],
                "indexes": ["CREATE UNIQUE INDEX idx_username ON service_accounts (username COLLATE NOCASE)"],
                "passwordAuth": {"identityFields": ["email", "username"]}
            }),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(!r.text.contains("secret"), "secrets leaked: {}", r.text);
        assert_eq!(r.body["listRule"], json!(null));
        assert!(
            r.body["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == "tokenKey" && f["hidden"] == true)
        );
        let id = r.body["id"].as_str().unwrap().to_owned();

        let create = app
        .post(
            "/api/collections/service_accounts/records",
            Some(&su),
            json!({"email": "bot@example.com", "username": "build bot", "password": "bot-password", "passwordConfirm": "bot-password",
                   "tier": "pro", "quota": "12", "active": true, "since": "2026-01-02T03:04:05.678Z", "extra": {"k": [1, 2]}}),
        )
        .await;
        // A space breaks the pattern.
        assert_eq!(
            create.body["data"]["username"]["code"], "validation_match_invalid",
            "{}",
            create.text
        );
        let create = app
        .post(
            "/api/collections/service_accounts/records",
            Some(&su),
            json!({"email": "bot@example.com", "username": "build_bot", "password": "bot-password", "passwordConfirm": "bot-password",
                   "tier": "pro", "quota": "12", "active": true, "since": "2026-01-02T03:04:05.678Z", "extra": {"k": [1, 2]}}),
        )
        .await;
        assert_eq!(create.status, 200, "{}", create.text);
        assert_eq!(create.body["quota"], 12);
        assert_eq!(create.body["since"], "2026-01-02 03:04:05.678Z");
        assert_eq!(create.body["extra"], json!({"k": [1, 2]}));
        assert_eq!(create.body["homepage"], "");

        // Login by username; the unique index is case-insensitive, so lookups are too.
        let login = app
            .login("service_accounts", "BUILD_BOT", "bot-password")
            .await;
        assert_eq!(login.status, 200, "{}", login.text);
        assert_eq!(login.body["record"]["email"], "bot@example.com");

        let dup = app
        .post(
            "/api/collections/service_accounts/records",
            Some(&su),
            json!({"email": "bot2@example.com", "username": "build_bot", "password": "bot-password", "passwordConfirm": "bot-password"}),
        )
        .await;
        assert_eq!(
            dup.body["data"]["username"]["code"], "validation_not_unique",
            "{}",
            dup.text
        );

        // The database itself enforces the index, not only the pre-check.
        let raw = RecordRow {
            id: "rawrecord000001".into(),
            collection_id: id.clone(),
            email: "raw@example.com".into(),
            email_visibility: false,
            verified: false,
            password_hash: "x".into(),
            token_key: "raw-token-key-raw-token-key-raw-token-key".into(),
            data: json!({"username": "Build_BOT"}).to_string(),
            created: "2026-01-01 00:00:00.000Z".into(),
            updated: "2026-01-01 00:00:00.000Z".into(),
        };
        assert!(matches!(
            app.gh.store().insert_record(&raw).await,
            Err(gatehouse_store::StoreError::Unique { .. })
        ));

        // PATCH merges objects and replaces arrays.
        let p = app
            .patch(
                "/api/collections/service_accounts",
                Some(&su),
                json!({"otp": {"enabled": true}}),
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.text);
        assert_eq!(p.body["otp"]["duration"], 180);
        assert_eq!(p.body["otp"]["length"], 8);
        assert_eq!(
            p.body["passwordAuth"]["identityFields"],
            json!(["email", "username"])
        );
    }
);

both_backends!(
    unsupported_definitions_are_refused_clearly,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let file = app
        .post("/api/collections", Some(&su), json!({"name": "pics", "type": "auth", "fields": [{"name": "avatar", "type": "file"}]}))
        .await;
        assert_eq!(file.status, 400);
        assert!(
            file.body["data"]["fields"]["0"]["type"]["message"]
                .as_str()
                .unwrap()
                .contains("\"file\"")
        );
        let base = app
            .post(
                "/api/collections",
                Some(&su),
                json!({"name": "posts", "type": "base"}),
            )
            .await;
        assert_eq!(base.status, 400);
        assert_eq!(
            base.body["data"]["type"]["code"],
            "validation_unsupported_collection_type"
        );
        let identity = app
            .patch(
                "/api/collections/users",
                Some(&su),
                json!({"passwordAuth": {"identityFields": ["name"]}}),
            )
            .await;
        assert_eq!(
            identity.body["data"]["passwordAuth"]["identityFields"]["code"],
            "validation_missing_unique_constraint"
        );
        let manage = app
            .patch(
                "/api/collections/users",
                Some(&su),
                json!({"manageRule": ""}),
            )
            .await;
        assert_eq!(
            manage.body["data"]["manageRule"]["code"],
            "validation_nil_or_not_empty_required"
        );
        let short = app
            .patch(
                "/api/collections/users",
                Some(&su),
                json!({"otp": {"enabled": true, "duration": 5}}),
            )
            .await;
        assert_eq!(
            short.body["data"]["otp"]["duration"]["code"],
            "validation_min_greater_equal_than_required"
        );
        let system = app
            .patch(
                "/api/collections/_superusers",
                Some(&su),
                json!({"listRule": ""}),
            )
            .await;
        assert_eq!(
            system.body["data"]["listRule"]["code"],
            "validation_collection_system_rule_change"
        );
        let guest = app.get("/api/collections", None).await;
        assert_eq!(guest.status, 401);
    }
);

both_backends!(rotating_secrets_kills_tokens, |app: TestApp| async move {
    let su = app.superuser_token().await;
    let (_, token) = app.user("lee@example.com", "lee-password").await;
    let refresh = |t: String| {
        let app = &app;
        async move {
            app.post("/api/collections/users/auth-refresh", Some(&t), json!({}))
                .await
                .status
        }
    };
    assert_eq!(refresh(token.clone()).await, 200);
    let r = app
        .patch(
            "/api/collections/users",
            Some(&su),
            json!({"authToken": {"secret": "x".repeat(40)}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains(&"x".repeat(40)));
    assert_eq!(refresh(token).await, 401);

    let (_, token) = app.user("max@example.com", "max-password").await;
    let r = app
        .patch(
            "/api/collections/users",
            Some(&su),
            json!({"authRule": "verified = true"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(refresh(token).await, 401);
    let bad = app
        .patch(
            "/api/collections/users",
            Some(&su),
            json!({"authToken": {"secret": "short"}}),
        )
        .await;
    assert_eq!(
        bad.body["data"]["authToken"]["secret"]["code"],
        "validation_length_out_of_range"
    );
});

both_backends!(settings_meta_round_trip, |app: TestApp| async move {
    let su = app.superuser_token().await;
    let r = app
        .patch(
            "/api/settings",
            Some(&su),
            json!({"meta": {"appName": "Acme Login"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["meta"]["senderAddress"], "support@example.com");
    assert_eq!(
        app.get("/api/settings", Some(&su)).await.body["meta"]["appName"],
        "Acme Login"
    );
    let bad = app
        .patch(
            "/api/settings",
            Some(&su),
            json!({"meta": {"senderAddress": "nope", "appURL": "not a url"}}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body["message"],
        "An error occurred while saving the new settings."
    );
    assert_eq!(
        bad.body["data"]["meta"]["senderAddress"]["code"],
        "validation_is_email"
    );
    assert_eq!(app.get("/api/settings", None).await.status, 401);
});
