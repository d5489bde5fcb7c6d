//! API rules written in PocketBase's filter language.

use crate::both_backends;
use crate::support::*;
use serde_json::json;

both_backends!(
    auth_and_view_rules_are_evaluated,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let (id, token) = app.user("quin@example.com", "quin-password").await;
        let r = app
        .patch(
            "/api/collections/users",
            Some(&su),
            json!({"authRule": "verified = true && @request.context = 'password'", "viewRule": "id = @request.auth.id && name != 'hidden'"}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let login = app
            .login("users", "quin@example.com", "quin-password")
            .await;
        assert_eq!(login.status, 403);
        assert_eq!(
            login.body["message"],
            "The request doesn't satisfy the collection requirements to authenticate."
        );

        let path = format!("/api/collections/users/records/{id}");
        assert_eq!(
            app.patch(&path, Some(&su), json!({"verified": true}))
                .await
                .status,
            200
        );
        let login = app
            .login("users", "quin@example.com", "quin-password")
            .await;
        assert_eq!(login.status, 200, "{}", login.text);
        let token = login.body["token"].as_str().unwrap_or(&token).to_owned();
        assert_eq!(app.get(&path, Some(&token)).await.status, 200);
        assert_eq!(
            app.patch(&path, Some(&su), json!({"name": "hidden"}))
                .await
                .status,
            200
        );
        assert_eq!(app.get(&path, Some(&token)).await.status, 404);
    }
);

both_backends!(
    bad_rules_are_refused_with_a_position,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let r = app
            .patch(
                "/api/collections/users",
                Some(&su),
                json!({"viewRule": "id = (", "listRule": "nosuchfield = 1"}),
            )
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(
            r.body["data"]["viewRule"]["code"],
            "validation_invalid_rule"
        );
        assert_eq!(r.body["data"]["viewRule"]["params"]["position"], 5);
        assert!(
            r.body["data"]["listRule"]["message"]
                .as_str()
                .unwrap()
                .contains("nosuchfield")
        );
        let m = app
            .patch(
                "/api/collections/users",
                Some(&su),
                json!({"mfa": {"rule": "verified = "}}),
            )
            .await;
        assert_eq!(
            m.body["data"]["mfa"]["rule"]["code"],
            "validation_invalid_rule"
        );
    }
);

both_backends!(
    update_rules_read_the_request_body,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let (id, token) = app.user("rho@example.com", "rho-password").await;
        // Owners may edit their record but not rename themselves to "admin".
        let r = app
            .patch(
                "/api/collections/users",
                Some(&su),
                json!({"updateRule": "id = @request.auth.id && @request.body.name != 'admin'"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let path = format!("/api/collections/users/records/{id}");
        assert_eq!(
            app.patch(&path, Some(&token), json!({"name": "Rho"}))
                .await
                .status,
            200
        );
        assert_eq!(
            app.patch(&path, Some(&token), json!({"name": "admin"}))
                .await
                .status,
            404
        );
        let r = app
        .patch("/api/collections/users", Some(&su), json!({"updateRule": "id = @request.auth.id && @request.body.verified:isset = false && @request.headers.x_client = 'app'"}))
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let with_header = app
            .client
            .patch(format!("{}{path}", app.url))
            .header("Authorization", &token)
            .header("X-Client", "app")
            .json(&json!({"name": "R"}))
            .send()
            .await
            .unwrap();
        assert_eq!(with_header.status(), 200);
        assert_eq!(
            app.patch(&path, Some(&token), json!({"name": "R2"}))
                .await
                .status,
            404
        );
    }
);
