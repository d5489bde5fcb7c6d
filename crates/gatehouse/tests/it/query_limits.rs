//! Hostile query input: `fields`, `filter`, `sort`, `page`/`perPage` and rules past their limits
//! answer a 400 in PocketBase's shape (never a 500, a panic or a dead server), and hidden emails
//! stay hidden from sorting and field-to-field comparisons.

use crate::both_backends;
use crate::support::*;
use serde_json::json;

const GENERIC_400: &str = "Something went wrong while processing your request.";

/// Percent-encodes a query value (everything but ASCII letters, digits and `=`, which a value may
/// hold as it is, so that long chains stay within a URI's length).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b.is_ascii_alphanumeric() || b == b'=' {
            true => (b as char).to_string(),
            false => format!("%{b:02X}"),
        })
        .collect()
}

fn assert_400(r: &Reply) {
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["status"], 400, "{}", r.text);
    assert!(r.body["message"].is_string(), "{}", r.text);
    assert!(r.body["data"].is_object(), "{}", r.text);
}

async fn assert_alive(app: &TestApp) {
    let r = app.get("/api/health", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn list(app: &TestApp, query: &str, token: Option<&str>) -> Reply {
    app.get(&format!("/api/collections/users/records?{query}"), token)
        .await
}

fn ids(r: &Reply) -> Vec<String> {
    r.body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_or_wide_fields_are_refused_and_the_server_keeps_serving() {
    with_app(Backend::Sqlite, |app: TestApp| async move {
        let deep = vec!["a"; 30_000].join(".");
        assert_400(&app.get(&format!("/api/health?fields={deep}"), None).await);
        assert_alive(&app).await;
        let just_too_deep = vec!["a"; 17].join(".");
        assert_400(
            &app.get(&format!("/api/health?fields={just_too_deep}"), None)
                .await,
        );
        let wide: Vec<String> = (0..1_000).map(|i| format!("f{i}")).collect();
        assert_400(
            &app.get(&format!("/api/health?fields={}", wide.join(",")), None)
                .await,
        );
        let long = "x".repeat(5_000);
        assert_400(&app.get(&format!("/api/health?fields={long}"), None).await);
        // Within the limits, PocketBase's picking is unchanged.
        let r = app
            .get(
                &format!("/api/health?fields=message,{}", vec!["a"; 16].join(".")),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"message": "API is healthy."}));
    })
    .await;
}

both_backends!(
    long_filter_chains_answer_400_and_the_server_keeps_serving,
    |app: TestApp| async move {
        for terms in [201, 2_000, 5_000] {
            let chain = vec!["id=1"; terms].join("||");
            let r = list(&app, &format!("filter={}", enc(&chain)), None).await;
            assert_400(&r);
            assert_eq!(r.body["message"], GENERIC_400);
            assert_alive(&app).await;
        }
        let long = format!("id='{}'", "x".repeat(4_000));
        assert_400(&list(&app, &format!("filter={}", enc(&long)), None).await);
        // Up to the limits, even many bound values and deep nesting run as SQL.
        let su = app.superuser_token().await;
        let chain = vec!["name='x'"; 200].join("||");
        let r = list(&app, &format!("filter={}", enc(&chain)), Some(&su)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["totalItems"], 0);
        let mut nested = "name='x'".to_owned();
        for depth in 0..60 {
            let join = if depth % 2 == 0 { "&&" } else { "||" };
            nested = format!("(name='y' {join} {nested})");
        }
        let r = list(&app, &format!("filter={}", enc(&nested)), Some(&su)).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
);

both_backends!(
    over_long_rules_are_refused_with_a_field_error,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        for terms in [201, 5_000] {
            let chain = vec!["id='x'"; terms].join("||");
            let r = app
                .patch(
                    "/api/collections/users",
                    Some(&su),
                    json!({"listRule": chain, "viewRule": chain}),
                )
                .await;
            assert_400(&r);
            for rule in ["listRule", "viewRule"] {
                assert_eq!(
                    r.body["data"][rule]["code"], "validation_invalid_rule",
                    "{}",
                    r.text
                );
            }
            assert_alive(&app).await;
        }
    }
);

both_backends!(
    sort_terms_past_the_limit_answer_400,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let r = list(&app, &format!("sort={}", ["name"; 8].join(",")), Some(&su)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        for terms in [9, 3_000] {
            for key in ["id", "name"] {
                let sort = vec![key; terms].join(",");
                let r = list(&app, &format!("sort={sort}"), Some(&su)).await;
                assert_400(&r);
                assert_eq!(r.body["message"], GENERIC_400);
            }
        }
        let long = "x".repeat(300);
        assert_400(&list(&app, &format!("sort={long}"), Some(&su)).await);
    }
);

both_backends!(
    huge_and_negative_pages_never_fail,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        app.user("page@example.com", "page-password").await;
        let max = i64::MAX;
        for path in ["/api/collections/users/records", "/api/collections"] {
            for (query, page, per_page) in [
                (format!("page={max}&perPage={max}"), max, 1000),
                (format!("page=-{max}&perPage=-{max}"), 1, 30),
                ("page=-1&perPage=0".to_owned(), 1, 30),
                (format!("page={max}"), max, 30),
            ] {
                let r = app.get(&format!("{path}?{query}"), Some(&su)).await;
                assert_eq!(r.status, 200, "{path}?{query}: {}", r.text);
                assert_eq!(r.body["page"], page, "{path}?{query}");
                assert_eq!(r.body["perPage"], per_page, "{path}?{query}");
                if page == max {
                    assert_eq!(r.body["items"], json!([]), "{path}?{query}");
                }
            }
        }
    }
);

/// Two users with hidden emails, `zed` signed up before `amy`, both listable by guests.
async fn two_hidden_users(app: &TestApp) -> (String, String, String) {
    let su = app.superuser_token().await;
    let (zed, _) = app.user("zed@example.com", "zed-password").await;
    let (amy, _) = app.user("amy@example.com", "amy-password").await;
    set_users_list_rule(app, &su, "").await;
    (su, zed, amy)
}

async fn set_users_list_rule(app: &TestApp, su: &str, rule: &str) {
    let r = app
        .patch(
            "/api/collections/users",
            Some(su),
            json!({"listRule": rule}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

both_backends!(
    sorting_by_a_hidden_email_reveals_nothing,
    |app: TestApp| async move {
        let (su, zed, amy) = two_hidden_users(&app).await;
        // A superuser sorts by the real addresses.
        let r = list(&app, "sort=email", Some(&su)).await;
        assert_eq!(ids(&r), [amy.clone(), zed.clone()], "{}", r.text);
        // Others: hidden addresses sort as empty, so the order is the insertion order.
        for sort in ["email", "-email"] {
            let r = list(&app, &format!("sort={sort}"), None).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(ids(&r), [zed.clone(), amy.clone()], "sort={sort}");
        }
        // A shown address sorts by its value again.
        let r = app
            .patch(
                &format!("/api/collections/users/records/{amy}"),
                Some(&su),
                json!({"emailVisibility": true}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = list(&app, "sort=-email", None).await;
        assert_eq!(ids(&r), [amy.clone(), zed.clone()], "{}", r.text);
    }
);

both_backends!(
    comparing_a_hidden_email_with_a_field_reveals_nothing,
    |app: TestApp| async move {
        let (su, zed, amy) = two_hidden_users(&app).await;
        let path = format!("/api/collections/users/records/{zed}");
        let r = app
            .patch(&path, Some(&su), json!({"name": "zed@example.com"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        // Like `email = "zed@example.com"`: no match on a hidden address.
        let plain = list(
            &app,
            &format!("filter={}", enc("email='zed@example.com'")),
            None,
        )
        .await;
        assert_eq!(plain.status, 200, "{}", plain.text);
        assert_eq!(ids(&plain), Vec::<String>::new());
        // A superuser sees what the addresses hold (amy's empty name is below any address).
        let only_zed = vec![zed.clone()];
        let both = vec![zed.clone(), amy.clone()];
        for (filter, for_superusers) in [
            ("email = name", &only_zed),
            ("name = email", &only_zed),
            ("email >= name", &both),
            ("name <= email", &both),
        ] {
            let r = list(&app, &format!("filter={}", enc(filter)), None).await;
            assert_eq!(r.status, 200, "{filter}: {}", r.text);
            assert_eq!(ids(&r), Vec::<String>::new(), "{filter}");
            let r = list(&app, &format!("filter={}", enc(filter)), Some(&su)).await;
            assert_eq!(&ids(&r), for_superusers, "{filter} (superuser)");
        }
        // A pattern between two fields is refused for everyone, as before.
        assert_400(&list(&app, &format!("filter={}", enc("email ~ name")), None).await);
        // Once shown, the address compares with the field.
        let r = app
            .patch(&path, Some(&su), json!({"emailVisibility": true}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = list(&app, &format!("filter={}", enc("email = name")), None).await;
        assert_eq!(ids(&r), std::slice::from_ref(&zed), "{}", r.text);
    }
);

both_backends!(
    an_impersonation_of_any_length_never_overflows,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let (id, _) = app.user("long@example.com", "long-password").await;
        let path = format!("/api/collections/users/impersonate/{id}");
        let r = app
            .post(&path, Some(&su), json!({"duration": i64::MAX}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let token = r.body["token"].as_str().unwrap_or_default().to_owned();
        // The expiry saturates at the largest time there is: the token works.
        assert_eq!(claims(&token)["exp"], i64::MAX);
        let r = app
            .get(
                &format!("/api/collections/users/records/{id}"),
                Some(&token),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["id"], id);
    }
);

both_backends!(
    a_rule_that_expands_to_too_many_values_shows_nothing_instead_of_failing,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let r = app
            .post(
                "/api/collections",
                Some(&su),
                json!({
                    "name": "members", "type": "auth",
                    "listRule": "id ?= @request.auth.meta",
                    "fields": [{"name": "meta", "type": "json"}]
                }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app
            .post(
                "/api/collections/members/records",
                Some(&su),
                json!({"email": "m@example.com", "password": "member-password",
                       "passwordConfirm": "member-password"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let id = r.body["id"].as_str().unwrap_or_default().to_owned();
        let path = format!("/api/collections/members/records/{id}");
        // A few values: the rule runs as SQL and shows the member itself.
        let r = app
            .patch(&path, Some(&su), json!({"meta": [1, 2, id]}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let token = app
            .login("members", "m@example.com", "member-password")
            .await;
        let token = token.body["token"].as_str().unwrap_or_default().to_owned();
        let r = app
            .get("/api/collections/members/records", Some(&token))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(ids(&r), std::slice::from_ref(&id));
        // Past SQLite's expression depth (1,000) and PostgreSQL's parameters (65,535): the rule
        // fails closed, as one that cannot run as SQL does.
        for n in [1_500, 70_000] {
            let mut meta = vec![json!(1); n];
            meta.push(json!(id));
            let r = app.patch(&path, Some(&su), json!({"meta": meta})).await;
            assert_eq!(r.status, 200, "{:.200}", r.text);
            let r = app
                .get("/api/collections/members/records", Some(&token))
                .await;
            assert_eq!(r.status, 200, "{n}: {}", r.text);
            assert_eq!(ids(&r), Vec::<String>::new(), "{n}");
        }
    }
);

both_backends!(
    a_long_pattern_from_the_request_never_fails_a_list,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        set_users_list_rule(&app, &su, "name ~ @request.query.q").await;
        let (id, _) = app.user("pat@example.com", "pat-password").await;
        let r = app
            .patch(
                &format!("/api/collections/users/records/{id}"),
                Some(&su),
                json!({"name": "Pat"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = list(&app, "q=pat", None).await;
        assert_eq!(ids(&r), std::slice::from_ref(&id), "{}", r.text);
        // SQLite refuses LIKE patterns over 50,000 bytes: the rule fails closed, on both backends.
        let r = list(&app, &format!("q={}", "x".repeat(60_000)), None).await;
        assert_eq!(r.status, 200, "{:.300}", r.text);
        assert_eq!(ids(&r), Vec::<String>::new());
    }
);
