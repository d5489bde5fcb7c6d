//! Who the client is: proxy headers only from trusted proxies, an IPv6 /64 as one client, and
//! PocketBase's `superuserIPs`.

use crate::both_backends;
use crate::limits::{login_from, login_to_from};
use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn settings(app: &TestApp, patch: Value) -> Reply {
    let su = app.superuser_token().await;
    app.patch("/api/settings", Some(&su), patch).await
}

fn lockout_of_one() -> Value {
    json!({"enabled": true, "maxFailures": 1, "duration": 600, "slowdownAfter": 1000})
}

both_backends!(
    proxy_headers_count_only_from_listed_proxies,
    |app: TestApp| async move {
        let bad = settings(
            &app,
            json!({"trustedProxy": {"proxyIPs": ["10.0.0.1", "nope"]}}),
        )
        .await;
        assert_eq!(bad.status, 400, "{}", bad.text);
        assert_eq!(
            bad.body["data"]["trustedProxy"]["proxyIPs"]["1"]["code"],
            "validation_invlaid_ip_or_subnet"
        );
        // The test client (127.0.0.1) is not the listed proxy: its header is not believed, so
        // two "different" clients are one, and the second is locked out.
        let r = settings(
            &app,
            json!({"lockout": lockout_of_one(), "trustedProxy":
                   {"headers": ["X-Forwarded-For"], "proxyIPs": ["10.9.9.9"]}}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["trustedProxy"]["proxyIPs"], json!(["10.9.9.9"]));
        assert_eq!(
            login_from(&app, "1.1.1.1", "ida@example.com", "wrong-1").await,
            400
        );
        assert_eq!(
            login_from(&app, "2.2.2.2", "ida@example.com", "wrong-1").await,
            429
        );
        // Listed, the proxy's header names the client: the rightmost hop that is not a proxy.
        let r = settings(
            &app,
            json!({"trustedProxy": {"headers": ["X-Forwarded-For"], "proxyIPs": ["127.0.0.1"]}}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            login_from(&app, "3.3.3.3", "ida@example.com", "wrong-1").await,
            400
        );
        assert_eq!(
            login_from(&app, "3.3.3.3, 4.4.4.4", "ida@example.com", "wrong-1").await,
            400
        );
        assert_eq!(
            login_from(&app, "4.4.4.4, 127.0.0.1", "ida@example.com", "wrong-1").await,
            429
        );
    }
);

both_backends!(an_ipv6_prefix_is_one_client, |app: TestApp| async move {
    let r = settings(
        &app,
        json!({"lockout": lockout_of_one(),
                   "trustedProxy": {"headers": ["X-Forwarded-For"], "proxyIPs": ["127.0.0.1"]}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["rateLimits"]["ipv6Prefix"], 64);
    let who = "ivo@example.com";
    assert_eq!(
        login_from(&app, "2001:db8:1:2::1", who, "wrong-1").await,
        400
    );
    assert_eq!(
        login_from(&app, "2001:db8:1:2:ffff::9", who, "wrong-1").await,
        429
    );
    assert_eq!(
        login_from(&app, "2001:db8:1:3::1", who, "wrong-1").await,
        400
    );
    // The rate limiter counts the same client.
    let r = settings(
        &app,
        json!({"lockout": {"enabled": false}, "rateLimits": {"enabled": true, "rules":
                   [{"label": "*:auth", "maxRequests": 1, "duration": 60}]}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(login_from(&app, "2001:db8:5::1", who, "wrong-1").await, 400);
    assert_eq!(login_from(&app, "2001:db8:5::2", who, "wrong-1").await, 429);
    // Configurable, and checked.
    let r = settings(&app, json!({"rateLimits": {"ipv6Prefix": 128}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(login_from(&app, "2001:db8:5::3", who, "wrong-1").await, 400);
    let bad = settings(&app, json!({"rateLimits": {"ipv6Prefix": 8}})).await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert_eq!(
        bad.body["data"]["rateLimits"]["ipv6Prefix"]["code"],
        "validation_min_greater_equal_than_required"
    );
});

both_backends!(
    superusers_are_served_only_from_superuser_ips,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let bad = settings(&app, json!({"superuserIPs": ["nope"]})).await;
        assert_eq!(bad.status, 400, "{}", bad.text);
        assert_eq!(
            bad.body["data"]["superuserIPs"]["0"]["code"],
            "validation_invlaid_ip_or_subnet"
        );
        let r = settings(
            &app,
            json!({"superuserIPs": ["10.0.0.0/8"],
                   "trustedProxy": {"headers": ["X-Forwarded-For"], "proxyIPs": ["127.0.0.1"]}}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["superuserIPs"], json!(["10.0.0.0/8"]));
        let get_settings = |ip: &'static str| {
            let (app, su) = (&app, su.clone());
            async move {
                app.send_with_headers(
                    Method::GET,
                    "/api/settings",
                    Some(&su),
                    None,
                    &[("x-forwarded-for", ip)],
                )
                .await
            }
        };
        assert_eq!(get_settings("10.1.2.3").await.status, 200);
        let refused = get_settings("11.1.2.3").await;
        assert_eq!(refused.status, 403, "{}", refused.text);
        assert_eq!(
            refused.body["message"],
            "You are not allowed to perform this request."
        );
        assert_eq!(
            login_to_from(&app, "_superusers", "11.1.2.3", SU_EMAIL, SU_PASSWORD).await,
            403
        );
        assert_eq!(
            login_to_from(&app, "_superusers", "10.1.2.3", SU_EMAIL, SU_PASSWORD).await,
            200
        );
        // Other collections are not concerned.
        app.user("uma@example.com", "uma-password-1").await;
        assert_eq!(
            login_from(&app, "11.1.2.3", "uma@example.com", "uma-password-1").await,
            200
        );
    }
);
