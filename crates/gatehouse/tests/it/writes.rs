//! Record writes that race with credential changes: a write prepared from a stale read must not
//! bring old credentials back, and the one-time things of a record end with it.

use crate::both_backends;
use crate::otp::{code_for, enable_otp, request_otp};
use crate::support::*;
use gatehouse_domain::collection::USERS_ID;
use gatehouse_domain::record::Record;
use gatehouse_store::StoreError;
use serde_json::json;

/// Requests a reset link for `email` (its first mail) and returns its token.
pub async fn reset_link(app: &TestApp, email: &str) -> String {
    let r = app
        .post(
            "/api/collections/users/request-password-reset",
            None,
            json!({"email": email}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    link_token(app, email, 1, "confirm-password-reset").await
}

/// Redeems the first reset link of `email` with `password`.
async fn reset_password(app: &TestApp, email: &str, password: &str) -> Reply {
    let token = reset_link(app, email).await;
    app.post(
        "/api/collections/users/confirm-password-reset",
        None,
        json!({"token": token, "password": password, "passwordConfirm": password}),
    )
    .await
}

/// The token of the `nth` (1-based) `/_/auth/{flow}/` link mailed to `to`.
pub async fn link_token(app: &TestApp, to: &str, nth: usize, flow: &str) -> String {
    let text = app.mail_to(to, nth).await;
    let marker = format!("/_/auth/{flow}/");
    let after = text.split(&marker).nth(1).unwrap_or_default();
    after
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect()
}

both_backends!(
    a_write_read_before_a_reset_keeps_the_new_credentials,
    |app: TestApp| async move {
        let (id, old_token) = app.user("sam@example.com", "sam-password-1").await;
        let store = app.gh.store();
        // What a PATCH of the name read before the reset...
        let stale = store.find_record(USERS_ID, &id).await.unwrap().unwrap();
        let r = reset_password(&app, "sam@example.com", "sam-password-2").await;
        assert_eq!(r.status, 204, "{}", r.text);
        // ...and writes after it: the name, as the domain computes it from that read.
        let before = Record::from_row(stale.clone());
        let mut edited = before.clone();
        edited.data.insert("name".into(), json!("Sam"));
        let changes = edited.changes_since(&before);
        assert!(!changes.touches_credentials());
        store
            .update_record(USERS_ID, &id, &changes, None, &[])
            .await
            .unwrap();
        let after = store.find_record(USERS_ID, &id).await.unwrap().unwrap();
        assert_ne!(after.token_key, stale.token_key);
        assert!(after.data.contains("Sam"), "{}", after.data);

        // A credential write prepared from the stale read names the tokenKey it read: refused.
        let mut edited = before.clone();
        edited.row.password_hash = stale.password_hash.clone() + "x";
        edited.row.email = "sam.other@example.com".into();
        let changes = edited.changes_since(&before);
        let refused = store
            .update_record(USERS_ID, &id, &changes, Some(&stale.token_key), &[])
            .await;
        assert!(matches!(refused, Err(StoreError::Stale)), "{refused:?}");
        let gone = store
            .update_record(USERS_ID, "nosuchrecord000", &changes, None, &[])
            .await;
        assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
        let unchanged = store.find_record(USERS_ID, &id).await.unwrap().unwrap();
        assert_eq!(unchanged.email, "sam@example.com");
        assert_eq!(unchanged.password_hash, after.password_hash);
        assert_eq!(
            app.login("users", "sam@example.com", "sam-password-2")
                .await
                .status,
            200
        );
        assert_eq!(
            app.login("users", "sam@example.com", "sam-password-1")
                .await
                .status,
            400
        );
        let refresh = app
            .post(
                "/api/collections/users/auth-refresh",
                Some(&old_token),
                json!({}),
            )
            .await;
        assert_eq!(refresh.status, 401);
    }
);

/// Whether the OTP `id` is still stored, expired or not.
async fn otp_alive(app: &TestApp, id: &str) -> bool {
    let found = app.gh.store().find_ticket(id, "otp", 0).await.unwrap();
    found.is_some()
}

both_backends!(
    deleting_a_record_ends_its_codes,
    |app: TestApp| async move {
        enable_otp(&app).await;
        let (id, _) = app.user("dora@example.com", "dora-password-1").await;
        let otp_id = request_otp(&app, "dora@example.com").await;
        assert!(otp_alive(&app, &otp_id).await);

        let su = app.superuser_token().await;
        let path = format!("/api/collections/users/records/{id}");
        let r = app
            .send(reqwest::Method::DELETE, &path, Some(&su), None)
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert!(!otp_alive(&app, &otp_id).await);
        let left = app.gh.store().live_tickets(&id, "otp", 0).await.unwrap();
        assert!(left.is_empty());
    }
);

both_backends!(
    the_password_an_otp_sets_ends_the_other_codes,
    |app: TestApp| async move {
        enable_otp(&app).await;
        // Signed up by someone else: unverified, with a password the owner never chose.
        let (id, _) = app.user("otto@example.com", "squatter-password").await;
        let first = request_otp(&app, "otto@example.com").await;
        let code = code_for(&app, "otto@example.com", 1).await;
        let second = request_otp(&app, "otto@example.com").await;
        let r = app
            .post(
                "/api/collections/users/auth-with-otp",
                None,
                json!({"otpId": first, "password": code}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["record"]["verified"], true);
        // The squatter's password is gone, and so is any code requested before.
        assert_eq!(
            app.login("users", "otto@example.com", "squatter-password")
                .await
                .status,
            400
        );
        let store = app.gh.store();
        assert!(!otp_alive(&app, &second).await);
        assert!(store.live_tickets(&id, "otp", 0).await.unwrap().is_empty());
    }
);

both_backends!(
    deleting_a_collection_ends_its_records_codes,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let r = app
            .post(
                "/api/collections",
                Some(&su),
                json!({"name": "staff", "type": "auth", "createRule": "", "otp": {"enabled": true}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app
            .post(
                "/api/collections/staff/records",
                None,
                json!({"email": "stu@example.com", "password": "stu-password-1", "passwordConfirm": "stu-password-1"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app
            .post(
                "/api/collections/staff/request-otp",
                None,
                json!({"email": "stu@example.com"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let otp_id = r.body["otpId"].as_str().unwrap().to_owned();
        assert!(otp_alive(&app, &otp_id).await);

        let r = app
            .send(
                reqwest::Method::DELETE,
                "/api/collections/staff",
                Some(&su),
                None,
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert!(!otp_alive(&app, &otp_id).await);
    }
);
