//! The audit log: which events are written, who may read them, and that no secret is in them.

use crate::both_backends;
use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};

both_backends!(
    security_events_are_logged_without_secrets,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let (ann, ann_token) = app.user("ann@example.com", "ann-password-1").await;
        let (bob, bob_token) = app.user("bob@example.com", "bob-password-1").await;
        // Failures: a wrong password for Ann, and an unknown identity (a password typed there).
        assert_eq!(
            app.login("users", "ann@example.com", "wrong-secret-1")
                .await
                .status,
            400
        );
        assert_eq!(
            app.login("users", "typed-secret-2", "whatever-3")
                .await
                .status,
            400
        );
        // Ann changes her password; a superuser impersonates Bob and changes settings.
        let r = app
            .patch(
                &format!("/api/collections/users/records/{ann}"),
                Some(&ann_token),
                json!({"oldPassword": "ann-password-1", "password": "ann-password-2", "passwordConfirm": "ann-password-2"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app
            .post(
                &format!("/api/collections/users/impersonate/{bob}"),
                Some(&su),
                json!({"duration": 60}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app
            .patch(
                "/api/collections/users",
                Some(&su),
                json!({"authToken": {"duration": 3600}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"meta": {"appName": "Audited"}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);

        let all = app.get("/api/audit?perPage=100", Some(&su)).await;
        assert_eq!(all.status, 200, "{}", all.text);
        for secret in [
            "wrong-secret-1",
            "typed-secret-2",
            "whatever-3",
            "ann-password",
            "bob-password",
        ] {
            assert!(
                !all.text.contains(secret),
                "{secret} leaked into the audit log"
            );
        }
        let items = all.body["items"].as_array().unwrap().clone();
        let find = |kind: &str, record: &str| -> Vec<Value> {
            items
                .iter()
                .filter(|e| e["type"] == kind && (record.is_empty() || e["recordId"] == record))
                .cloned()
                .collect()
        };
        let ann_failure = find("login.failure", &ann);
        assert_eq!(ann_failure.len(), 1, "{items:?}");
        assert_eq!(ann_failure[0]["method"], "password");
        assert_eq!(ann_failure[0]["ip"], "127.0.0.1");
        assert_eq!(ann_failure[0]["collectionId"], "_pb_users_auth_");
        assert_eq!(find("login.failure", "").len(), 2);
        assert!(!find("login.success", &ann).is_empty());
        let changed = find("password.changed", &ann);
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0]["data"], json!({"by": ann, "self": true}));
        let imp = find("impersonation", &bob);
        assert_eq!(imp.len(), 1);
        assert_eq!(imp[0]["data"]["duration"], 60);
        assert!(imp[0]["data"]["by"].as_str().is_some_and(|s| !s.is_empty()));
        let settings: Vec<Value> = find("settings.changed", "");
        // Two here, and the one that switched the limits off when the test app started.
        assert_eq!(settings.len(), 3, "{settings:?}");
        assert!(settings.iter().any(
            |e| e["data"]["collection"] == "users" && e["data"]["keys"] == json!(["authToken"])
        ));
        for key in [
            "id",
            "type",
            "created",
            "collectionId",
            "recordId",
            "method",
            "ip",
            "userAgent",
            "data",
        ] {
            assert!(items[0].get(key).is_some(), "missing {key}");
        }
        // Newest first, filters and paging.
        assert_eq!(items[0]["type"], "settings.changed");
        let page = app
            .get(
                &format!("/api/audit?type=login.failure,login.success&recordId={ann}&perPage=1"),
                Some(&su),
            )
            .await;
        assert_eq!(page.body["perPage"], 1);
        assert!(
            page.body["totalItems"].as_i64().unwrap() >= 2,
            "{}",
            page.text
        );
        assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
        let none = app.get("/api/audit?since=2999-01-01", Some(&su)).await;
        assert_eq!(none.body["totalItems"], 0);

        // Only superusers read the whole log; a record reads its own events.
        assert_eq!(app.get("/api/audit", None).await.status, 401);
        assert_eq!(app.get("/api/audit", Some(&bob_token)).await.status, 403);
        let own = app
            .get(
                &format!("/api/collections/users/records/{bob}/security-events"),
                Some(&bob_token),
            )
            .await;
        assert_eq!(own.status, 200, "{}", own.text);
        let own_items = own.body["items"].as_array().unwrap();
        assert!(own_items.iter().all(|e| e["recordId"] == bob.as_str()));
        assert!(own_items.iter().any(|e| e["type"] == "impersonation"));
        let other = app
            .get(
                &format!("/api/collections/users/records/{ann}/security-events"),
                Some(&bob_token),
            )
            .await;
        assert_eq!(other.status, 403);
        let by_su = app
            .send(
                Method::GET,
                &format!("/api/collections/users/records/{ann}/security-events"),
                Some(&su),
                None,
            )
            .await;
        assert_eq!(by_su.status, 200);
    }
);
