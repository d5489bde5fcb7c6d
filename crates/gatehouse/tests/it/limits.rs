//! The failed-password lockout and the rate limiter, including across two instances.

use crate::both_backends;
use crate::support::*;
use reqwest::Method;
use serde_json::json;

/// A password login as if from `ip` (the server trusts `X-Forwarded-For` in these tests).
pub(crate) async fn login_from(app: &TestApp, ip: &str, identity: &str, password: &str) -> u16 {
    login_to_from(app, "users", ip, identity, password).await
}

/// A password login into `collection` as if from `ip`.
pub(crate) async fn login_to_from(
    app: &TestApp,
    collection: &str,
    ip: &str,
    identity: &str,
    password: &str,
) -> u16 {
    app.send_with_headers(
        Method::POST,
        &format!("/api/collections/{collection}/auth-with-password"),
        None,
        Some(json!({"identity": identity, "password": password})),
        &[("x-forwarded-for", ip)],
    )
    .await
    .status
    .as_u16()
}

both_backends!(
    wrong_passwords_lock_one_ip_out_of_one_identity,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        app.user("lee@example.com", "lee-password-1").await;
        let r = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({
                    "lockout": {"enabled": true, "maxFailures": 3, "duration": 600, "slowdownAfter": 100},
                    "trustedProxy": {"headers": ["X-Forwarded-For"], "useLeftmostIP": false}
                }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["lockout"]["maxFailures"], 3);

        for identity in ["lee@example.com", "nobody@example.com"] {
            for _ in 0..3 {
                assert_eq!(login_from(&app, "10.0.0.1", identity, "wrong-1").await, 400);
            }
            // The same answers whether or not the account exists; then even the right
            // password is refused from this IP.
            assert_eq!(
                login_from(&app, "10.0.0.1", identity, "lee-password-1").await,
                429
            );
        }
        // The owner, elsewhere, is not locked out; and the lock is per identity.
        assert_eq!(
            login_from(&app, "10.0.0.2", "lee@example.com", "lee-password-1").await,
            200
        );
        app.user("kim@example.com", "kim-password-1").await;
        assert_eq!(
            login_from(&app, "10.0.0.1", "kim@example.com", "kim-password-1").await,
            200
        );
        // A right password clears that IP's count.
        for _ in 0..2 {
            assert_eq!(
                login_from(&app, "10.0.0.3", "kim@example.com", "wrong-1").await,
                400
            );
        }
        assert_eq!(
            login_from(&app, "10.0.0.3", "kim@example.com", "kim-password-1").await,
            200
        );
        for _ in 0..2 {
            assert_eq!(
                login_from(&app, "10.0.0.3", "kim@example.com", "wrong-1").await,
                400
            );
        }
        assert_eq!(
            login_from(&app, "10.0.0.3", "kim@example.com", "kim-password-1").await,
            200
        );

        let bad = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"lockout": {"maxFailures": 0}}),
            )
            .await;
        assert_eq!(bad.status, 400);
        assert_eq!(
            bad.body["data"]["lockout"]["maxFailures"]["code"],
            "validation_required"
        );
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_instances_count_one_rate_limit() {
    with_app(Backend::Postgres, |a: TestApp| async move {
        let b = a.sibling().await;
        let su = a.superuser_token().await;
        let r = a
            .patch(
                "/api/settings",
                Some(&su),
                json!({"rateLimits": {"enabled": true, "rules": [
                    {"label": "*:auth", "maxRequests": 3, "duration": 60}
                ]}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        // Instance b caches settings for up to a second (of the clock both instances share).
        a.clock.advance_secs(2);
        let attempt = |app: &TestApp| {
            let path = "/api/collections/users/auth-with-password";
            let body = json!({"identity": "nobody@example.com", "password": "wrong-1"});
            let app_url = app.url.clone();
            let client = app.client.clone();
            async move {
                client
                    .post(format!("{app_url}{path}"))
                    .json(&body)
                    .send()
                    .await
                    .expect("request")
                    .status()
                    .as_u16()
            }
        };
        assert_eq!(attempt(&a).await, 400);
        assert_eq!(attempt(&b).await, 400);
        assert_eq!(attempt(&a).await, 400);
        assert_eq!(attempt(&b).await, 429);
        assert_eq!(attempt(&a).await, 429);
    })
    .await;
}
