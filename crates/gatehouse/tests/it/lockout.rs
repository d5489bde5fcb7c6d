//! The failed-password lockout under concurrency, and on a password change's `oldPassword`.

use crate::both_backends;
use crate::support::*;
use serde_json::json;

async fn set_lockout(app: &TestApp, max_failures: i64) {
    let su = app.superuser_token().await;
    let r = app
        .patch(
            "/api/settings",
            Some(&su),
            json!({"lockout": {"enabled": true, "maxFailures": max_failures,
                               "duration": 600, "slowdownAfter": 1000}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

both_backends!(
    a_concurrent_burst_of_wrong_passwords_gets_max_failures_tries,
    |app: TestApp| async move {
        set_lockout(&app, 1).await;
        let path = format!("{}/api/collections/users/auth-with-password", app.url);
        for trial in 0..100 {
            let identity = format!("burst{trial}@example.com");
            let tries: Vec<_> = (0..8)
                .map(|_| {
                    let request = app
                        .client
                        .post(&path)
                        .json(&json!({"identity": identity, "password": "wrong-1"}));
                    tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
                })
                .collect();
            let mut statuses = Vec::new();
            for t in tries {
                statuses.push(t.await.unwrap());
            }
            statuses.sort_unstable();
            // Exactly one attempt reaches the password; the others are refused unchecked.
            assert_eq!(
                statuses,
                [400, 429, 429, 429, 429, 429, 429, 429],
                "trial {trial}"
            );
        }
    }
);

both_backends!(
    guessing_the_old_password_is_locked_out_like_a_login,
    |app: TestApp| async move {
        let (id, token) = app.user("olga@example.com", "olga-password-1").await;
        set_lockout(&app, 2).await;
        let change = |old: &'static str| {
            let app = &app;
            let path = format!("/api/collections/users/records/{id}");
            let token = token.clone();
            async move {
                app.patch(
                    &path,
                    Some(&token),
                    json!({"oldPassword": old, "password": "olga-password-2",
                           "passwordConfirm": "olga-password-2"}),
                )
                .await
            }
        };
        for _ in 0..2 {
            let r = change("wrong-old-1").await;
            assert_eq!(r.status, 400, "{}", r.text);
            assert_eq!(
                r.body["data"]["oldPassword"]["code"],
                "validation_invalid_old_password"
            );
        }
        // Locked: even the right old password is not checked now.
        let r = change("olga-password-1").await;
        assert_eq!(r.status, 429, "{}", r.text);
        // Logins are counted apart: the owner still logs in.
        assert_eq!(
            app.login("users", "olga@example.com", "olga-password-1")
                .await
                .status,
            200
        );
    }
);

both_backends!(
    a_lockout_ends_with_its_window_and_a_right_password_gives_back_the_attempt,
    |app: TestApp| async move {
        app.user("lou@example.com", "lou-password-1").await;
        set_lockout(&app, 2).await;
        let login = |password: &'static str| {
            let app = &app;
            async move { app.login("users", "lou@example.com", password).await.status }
        };
        // Right passwords never use up the allowance.
        for _ in 0..3 {
            assert_eq!(login("lou-password-1").await, 200);
        }
        assert_eq!(login("wrong-1").await, 400);
        assert_eq!(login("wrong-1").await, 400);
        assert_eq!(login("lou-password-1").await, 429);
        app.clock.advance_secs(601);
        assert_eq!(login("lou-password-1").await, 200);
    }
);

both_backends!(
    window_lengths_are_bounded_and_never_overflow,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        // Past a year a window is refused, with a field error, for limits and lockout alike.
        let r = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"lockout": {"enabled": true, "maxFailures": 5, "duration": i64::MAX, "slowdownAfter": 20},
                       "rateLimits": {"enabled": true, "rules": [
                           {"label": "*:auth", "maxRequests": 3, "duration": i64::MAX}]}}),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(
            r.body["data"]["lockout"]["duration"]["code"],
            "validation_max_less_equal_than_required",
            "{}",
            r.text
        );
        assert_eq!(
            r.body["data"]["rateLimits"]["rules"]["0"]["duration"]["code"],
            "validation_max_less_equal_than_required",
            "{}",
            r.text
        );
        // The longest window allowed counts as it should.
        let year = 365 * 24 * 3600;
        let r = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"lockout": {"enabled": true, "maxFailures": 2, "duration": year, "slowdownAfter": 1000},
                       "rateLimits": {"enabled": true, "rules": [
                           {"label": "*:auth", "maxRequests": 3, "duration": year}]}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let statuses = {
            let mut s = Vec::new();
            for _ in 0..4 {
                s.push(
                    app.login("users", "nobody@example.com", "wrong-1")
                        .await
                        .status
                        .as_u16(),
                );
            }
            s
        };
        assert_eq!(statuses, [400, 400, 429, 429]);
        // Even a window the settings would refuse never overflows the counters.
        let hits = app
            .gh
            .store()
            .counter_hit("test:huge", i64::MAX - 10, i64::MAX)
            .await
            .unwrap();
        assert_eq!(hits, 1);
    }
);
