//! What a rate-limit bucket is keyed by: the resolved collection and the routed path, never the
//! text of the request, so encoding a name differently neither opens a fresh bucket nor makes
//! a counter of any size; and the confirm pages count with the API's confirm endpoints.

use crate::both_backends;
use crate::support::*;
use serde_json::{Value, json};

async fn set_rules(app: &TestApp, rules: Value) {
    let su = app.superuser_token().await;
    let r = app
        .patch(
            "/api/settings",
            Some(&su),
            json!({"rateLimits": {"enabled": true, "rules": rules}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn wrong_login(app: &TestApp, collection: &str) -> u16 {
    app.post(
        &format!("/api/collections/{collection}/auth-with-password"),
        None,
        json!({"identity": "nobody@example.com", "password": "wrong-1"}),
    )
    .await
    .status
    .as_u16()
}

/// Under one rule of `max` requests, `max` plain tries and then each other spelling is refused.
async fn other_spellings_are_refused(app: &TestApp, rule: Value, max: usize, spellings: &[&str]) {
    set_rules(app, json!([rule])).await;
    for _ in 0..max {
        assert_eq!(wrong_login(app, "users").await, 400);
    }
    for spelled in spellings {
        assert_eq!(wrong_login(app, spelled).await, 429, "{spelled}");
    }
}

both_backends!(
    an_encoded_collection_name_counts_in_the_collections_bucket,
    |app: TestApp| async move {
        let rule = json!({"label": "*:auth", "maxRequests": 2, "duration": 60});
        let spellings = ["users", "%75sers", "%55SERS", "USERS", "us%65rs"];
        other_spellings_are_refused(&app, rule, 2, &spellings).await;
    }
);

both_backends!(
    a_path_rule_holds_however_the_path_is_encoded,
    |app: TestApp| async move {
        let rule = json!({"label": "POST /api/collections/users/auth-with-password",
                          "maxRequests": 1, "duration": 60});
        other_spellings_are_refused(&app, rule, 1, &["%75sers", "Users"]).await;
    }
);

both_backends!(
    unknown_collections_share_one_bucket_with_a_short_key,
    |app: TestApp| async move {
        set_rules(
            &app,
            json!([{"label": "/api/", "maxRequests": 3, "duration": 60}]),
        )
        .await;
        let long = "a".repeat(30_000);
        let mut statuses = Vec::new();
        for name in ["nope1", "nope2", long.as_str(), "%6Eope3", "nope4"] {
            statuses.push(wrong_login(&app, name).await);
        }
        // Each name is unknown (404) until the client's one `/api/` bucket is full.
        assert_eq!(statuses, [404, 404, 404, 429, 429]);
        if let Some(longest) = longest_counter_key(&app).await {
            assert!(longest <= 100, "a counter key of {longest} bytes");
        }
    }
);

/// The longest key in the PostgreSQL counters table (`None` on SQLite).
async fn longest_counter_key(app: &TestApp) -> Option<i32> {
    use sqlx::Connection;
    let url = app.config.db_url.as_deref()?;
    let (base, schema) = url.split_once("?schema=").expect("a schema");
    let mut conn = sqlx::PgConnection::connect(base).await.expect("connect");
    let sql = format!("SELECT max(length(key)) FROM \"{schema}\".counters");
    sqlx::query_scalar::<_, Option<i32>>(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut conn)
        .await
        .expect("counters")
}

both_backends!(
    the_confirm_pages_count_with_the_api_confirm_endpoints,
    |app: TestApp| async move {
        // Any token that names the collection will do: the page asks the limiter first.
        let (_, token) = app.user("pat@example.com", "pat-password-1").await;
        set_rules(
            &app,
            json!([{"label": "*:confirmVerification", "maxRequests": 2, "duration": 60}]),
        )
        .await;
        let api = || async {
            app.post(
                "/api/collections/users/confirm-verification",
                None,
                json!({"token": token}),
            )
            .await
            .status
        };
        assert_eq!(api().await, 400);
        let page = || async {
            app.client
                .post(format!("{}/_/auth/confirm-verification", app.url))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("token={token}"))
                .send()
                .await
                .expect("request")
                .status()
                .as_u16()
        };
        assert_eq!(page().await, 400);
        assert_eq!(page().await, 429);
        assert_eq!(api().await, 429);
        // The other confirm page has its own tag, hence its own rule (none here).
        let reset = app
            .client
            .post(format!("{}/_/auth/confirm-password-reset", app.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}&password=x&passwordConfirm=x"))
            .send()
            .await
            .expect("request");
        assert_eq!(reset.status().as_u16(), 400);
    }
);
