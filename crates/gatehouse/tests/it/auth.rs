//! Password login, refresh, impersonation and what they store.

use crate::both_backends;
use crate::support::*;
use gatehouse_domain::collection::USERS_ID;
use serde_json::json;

both_backends!(
    password_login_issues_a_pocketbase_token,
    |app: TestApp| async move {
        let (id, token) = app.user("ann@example.com", "ann-password-1").await;
        let c = claims(&token);
        let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "aal",
                "amr",
                "authTime",
                "collectionId",
                "exp",
                "id",
                "refreshable",
                "type"
            ]
        );
        assert_eq!(c["id"], id.as_str());
        assert_eq!(c["collectionId"], USERS_ID);
        assert_eq!(c["type"], "auth");
        assert_eq!(c["refreshable"], true);
        assert_eq!(c["amr"], json!(["password"]));
        assert_eq!(c["aal"], 1);
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["authTime"].as_i64().unwrap(),
            432_000
        );
        // The password is stored as argon2id with at least OWASP's minimum parameters.
        let row = app
            .gh
            .store()
            .find_record(USERS_ID, &id)
            .await
            .unwrap()
            .unwrap();
        assert!(
            row.password_hash
                .starts_with("$argon2id$v=19$m=19456,t=2,p=2$"),
            "{}",
            row.password_hash
        );
        assert!(!row.password_hash.contains("ann-password-1"));
    }
);

both_backends!(
    wrong_password_and_unknown_identity_look_the_same,
    |app: TestApp| async move {
        app.user("bob@example.com", "bob-password-1").await;
        let wrong = app
            .login("users", "bob@example.com", "not-his-password")
            .await;
        let unknown = app
            .login("users", "nobody@example.com", "not-his-password")
            .await;
        assert_eq!(wrong.status, 400);
        assert_eq!(wrong.text, unknown.text);
        assert_eq!(
            wrong.body,
            json!({"data": {}, "message": "Failed to authenticate.", "status": 400})
        );
    }
);

both_backends!(
    pocketbase_bcrypt_hash_is_upgraded_on_login,
    |app: TestApp| async move {
        let (id, _) = app.user("carl@example.com", "first-password").await;
        let store = app.gh.store();
        let mut row = store.find_record(USERS_ID, &id).await.unwrap().unwrap();
        row.password_hash = bcrypt::hash("imported-password", 4).unwrap();
        let changes = gatehouse_store::RecordChanges {
            password_hash: Some(row.password_hash.clone()),
            updated: row.updated.clone(),
            ..Default::default()
        };
        store
            .update_record(USERS_ID, &id, &changes, None, &[])
            .await
            .unwrap();

        let r = app
            .login("users", "carl@example.com", "imported-password")
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let after = store.find_record(USERS_ID, &id).await.unwrap().unwrap();
        assert!(
            after.password_hash.starts_with("$argon2id$"),
            "{}",
            after.password_hash
        );
        // The token key did not change: the re-hash is not a password change.
        assert_eq!(after.token_key, row.token_key);
        assert_eq!(
            app.login("users", "carl@example.com", "imported-password")
                .await
                .status,
            200
        );
    }
);

both_backends!(
    refresh_renews_and_keeps_the_login_facts,
    |app: TestApp| async move {
        let (_, token) = app.user("dee@example.com", "dee-password-1").await;
        // A refresh is no login: a later refresh keeps the login's time.
        app.clock.advance_secs(90);
        let r = app
            .post(
                "/api/collections/users/auth-refresh",
                Some(&token),
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let (old, new) = (claims(&token), claims(r.body["token"].as_str().unwrap()));
        assert_eq!(new["authTime"], old["authTime"]);
        assert!(new["exp"].as_i64().unwrap() >= old["exp"].as_i64().unwrap() + 90);
        assert_eq!(new["amr"], old["amr"]);
        assert_eq!(r.body["record"]["email"], "dee@example.com");
        let guest = app
            .post("/api/collections/users/auth-refresh", None, json!({}))
            .await;
        assert_eq!(guest.status, 401);
        let su = app.superuser_token().await;
        let other = app
            .post("/api/collections/users/auth-refresh", Some(&su), json!({}))
            .await;
        assert_eq!(other.status, 403);
        assert_eq!(
            other.body["message"],
            "The request requires auth record from _superusers collection."
        );
    }
);

both_backends!(
    password_change_revokes_every_token,
    |app: TestApp| async move {
        let (id, token) = app.user("eve@example.com", "eve-password-1").await;
        let path = format!("/api/collections/users/records/{id}");
        let wrong = app
        .patch(&path, Some(&token), json!({"oldPassword": "nope-nope", "password": "eve-password-2", "passwordConfirm": "eve-password-2"}))
        .await;
        assert_eq!(wrong.status, 400);
        assert_eq!(
            wrong.body["data"]["oldPassword"]["code"],
            "validation_invalid_old_password"
        );
        let ok = app
        .patch(&path, Some(&token), json!({"oldPassword": "eve-password-1", "password": "eve-password-2", "passwordConfirm": "eve-password-2"}))
        .await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        assert_eq!(
            app.post(
                "/api/collections/users/auth-refresh",
                Some(&token),
                json!({})
            )
            .await
            .status,
            401
        );
        assert_eq!(
            app.login("users", "eve@example.com", "eve-password-1")
                .await
                .status,
            400
        );
        assert_eq!(
            app.login("users", "eve@example.com", "eve-password-2")
                .await
                .status,
            200
        );
    }
);

both_backends!(
    impersonation_is_for_superusers_and_not_refreshable,
    |app: TestApp| async move {
        let (id, user_token) = app.user("fay@example.com", "fay-password-1").await;
        let path = format!("/api/collections/users/impersonate/{id}");
        assert_eq!(app.post(&path, None, json!({})).await.status, 401);
        assert_eq!(
            app.post(&path, Some(&user_token), json!({})).await.status,
            403
        );
        let su = app.superuser_token().await;
        let negative = app.post(&path, Some(&su), json!({"duration": -1})).await;
        assert_eq!(negative.status, 400);
        assert_eq!(
            negative.body["data"]["duration"]["code"],
            "validation_min_greater_equal_than_required"
        );
        assert_eq!(
            app.post(
                "/api/collections/users/impersonate/nosuchrecord123",
                Some(&su),
                json!({})
            )
            .await
            .status,
            404
        );

        let r = app.post(&path, Some(&su), json!({"duration": 60})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let token = r.body["token"].as_str().unwrap().to_owned();
        let c = claims(&token);
        assert_eq!(c["refreshable"], false);
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["authTime"].as_i64().unwrap(),
            60
        );
        let refreshed = app
            .post(
                "/api/collections/users/auth-refresh",
                Some(&token),
                json!({}),
            )
            .await;
        assert_eq!(refreshed.status, 200);
        assert_eq!(refreshed.body["token"], token.as_str());
    }
);

both_backends!(auth_rule_null_refuses_login, |app: TestApp| async move {
    let su = app.superuser_token().await;
    app.user("gil@example.com", "gil-password-1").await;
    let r = app
        .patch(
            "/api/collections/users",
            Some(&su),
            json!({"authRule": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let login = app
        .login("users", "gil@example.com", "gil-password-1")
        .await;
    assert_eq!(login.status, 403);
    assert_eq!(
        login.body["message"],
        "The request doesn't satisfy the collection requirements to authenticate."
    );
});
