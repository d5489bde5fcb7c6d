//! The named OAuth2 providers (Google, GitHub, Microsoft, GitLab, Discord, Facebook, Apple)
//! against the stand-in of `oauth2_fake`: each one's token and user info shapes, mapped to
//! PocketBase's `meta`; a sign-up, then a sign-in by the link to the same record.

use crate::both_backends;
use crate::oauth2::configure;
use crate::oauth2_fake::{FakeProviders, apple_id_token, tampered};
use crate::support::*;
use gatehouse_domain::clock::Clock;
use gatehouse_domain::oauth2::authorize::nonce_for;
use serde_json::{Value, json};

const VERIFIER: &str = "a-pkce-verifier-of-forty-three-characters-x";
const REDIRECT: &str = "http://127.0.0.1/oauth2-redirect";

pub async fn exchange(app: &TestApp, provider: &str, code: &str, token: Option<&str>) -> Reply {
    app.post(
        "/api/collections/users/auth-with-oauth2",
        token,
        json!({"provider": provider, "code": code, "codeVerifier": VERIFIER, "redirectURL": REDIRECT}),
    )
    .await
}

/// `users` with every named provider pointed at `fake`.
pub async fn configure_all(app: &TestApp, fake: &FakeProviders) {
    let names = [
        "google",
        "github",
        "microsoft",
        "gitlab",
        "discord",
        "facebook",
        "apple",
    ];
    let providers: Vec<Value> = names.iter().map(|n| fake.provider(n)).collect();
    configure(app, json!({"enabled": true, "providers": providers})).await;
}

/// One provider's account as its user info endpoint documents it, and the `meta` it maps to.
struct Case {
    provider: &'static str,
    account: Value,
    meta: Value,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            provider: "google",
            account: json!({"sub": "110169484474386276334", "name": "Gia Google", "given_name": "Gia",
                "family_name": "Google", "picture": "https://lh3.googleusercontent.com/a/gia",
                "email": "gia@gmail.com", "email_verified": true, "locale": "en"}),
            meta: json!({"id": "110169484474386276334", "name": "Gia Google", "username": "",
                "email": "gia@gmail.com", "avatarURL": "https://lh3.googleusercontent.com/a/gia",
                "refreshToken": "1//google-refresh"}),
        },
        Case {
            provider: "github",
            account: json!({"login": "octocat", "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==",
                "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4", "type": "User",
                "name": "The Octocat", "company": "@github", "email": "octocat@github.com"}),
            meta: json!({"id": "583231", "name": "The Octocat", "username": "octocat",
                "email": "octocat@github.com",
                "avatarURL": "https://avatars.githubusercontent.com/u/583231?v=4", "refreshToken": "",
                "expiry": ""}),
        },
        Case {
            provider: "microsoft",
            account: json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
                "businessPhones": [], "displayName": "Mia Microsoft", "givenName": "Mia",
                "jobTitle": null, "mail": "mia@contoso.com", "mobilePhone": null,
                "userPrincipalName": "mia@contoso.com", "id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd"}),
            meta: json!({"id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd", "name": "Mia Microsoft",
                "email": "mia@contoso.com", "avatarURL": "", "refreshToken": "ms-refresh"}),
        },
        Case {
            provider: "gitlab",
            account: json!({"id": 1, "username": "gil", "name": "Gil Lab", "state": "active",
                "avatar_url": "https://gitlab.com/uploads/-/system/user/avatar/1/gil.png",
                "email": "gil@gitlab.example", "confirmed_at": "2012-05-23T09:05:22Z",
                "two_factor_enabled": true}),
            meta: json!({"id": "1", "name": "Gil Lab", "username": "gil", "email": "gil@gitlab.example",
                "avatarURL": "https://gitlab.com/uploads/-/system/user/avatar/1/gil.png"}),
        },
        Case {
            provider: "discord",
            account: json!({"id": "80351110224678912", "username": "nelly", "discriminator": "1337",
                "global_name": "Nelly", "avatar": "8342729096ea3675442027381ff50dfe",
                "verified": true, "email": "nelly@discord.com", "flags": 64, "mfa_enabled": true}),
            meta: json!({"id": "80351110224678912", "name": "nelly#1337", "username": "nelly",
                "email": "nelly@discord.com",
                "avatarURL": "https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe.png"}),
        },
        Case {
            provider: "facebook",
            account: json!({"name": "Fay Book", "email": "fay@facebook.example",
                "picture": {"data": {"height": 200, "is_silhouette": false,
                    "url": "https://platform-lookaside.fbsbx.com/fay.jpg", "width": 200}},
                "id": "10224242424242424"}),
            meta: json!({"id": "10224242424242424", "name": "Fay Book", "username": "",
                "email": "fay@facebook.example",
                "avatarURL": "https://platform-lookaside.fbsbx.com/fay.jpg"}),
        },
    ]
}

fn assert_meta(reply: &Reply, expected: &Value, account: &Value, is_new: bool) {
    let meta = &reply.body["meta"];
    for (k, v) in expected.as_object().unwrap() {
        assert_eq!(&meta[k], v, "meta.{k}: {}", reply.text);
    }
    assert_eq!(meta["avatarUrl"], meta["avatarURL"]);
    assert_eq!(&meta["rawUser"], account, "{}", reply.text);
    assert_eq!(meta["isNew"], is_new);
    assert!(meta["accessToken"].as_str().unwrap().starts_with("at-"));
    assert!(meta["expiry"].is_string());
}

both_backends!(
    oauth2_named_providers_sign_up_then_sign_in_by_link,
    |app: TestApp| async move {
        let fake = FakeProviders::start().await;
        configure_all(&app, &fake).await;

        // auth-methods: each provider's scopes at its (overridden) authorize URL.
        let methods = app.get("/api/collections/users/auth-methods", None).await;
        let items = methods.body["oauth2"]["providers"]
            .as_array()
            .unwrap()
            .clone();
        let item = |n: &str| items.iter().find(|i| i["name"] == n).unwrap().clone();
        let github = item("github");
        assert_eq!(github["displayName"], "GitHub");
        let url = github["authURL"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("{}/github/authorize?", fake.url)),
            "{url}"
        );
        assert!(url.contains("scope=read%3Auser+user%3Aemail"), "{url}");
        let apple_url = item("apple")["authURL"].as_str().unwrap().to_owned();
        assert!(apple_url.contains("response_mode=form_post"), "{apple_url}");

        for case in cases() {
            let code = fake.grant(case.provider, case.account.clone());
            let r = exchange(&app, case.provider, &code, None).await;
            assert_eq!(r.status, 200, "{}: {}", case.provider, r.text);
            assert_meta(&r, &case.meta, &case.account, true);
            let email = case.meta["email"].as_str().unwrap();
            assert_eq!(r.body["record"]["email"], email, "{}", r.text);
            // Microsoft and Facebook do not vouch for their address: it fills the new record's
            // email, unverified.
            let vouched = !matches!(case.provider, "microsoft" | "facebook");
            assert_eq!(r.body["record"]["verified"], vouched, "{}", case.provider);
            assert_eq!(r.body["record"]["name"], case.meta["name"]);
            let id = r.body["record"]["id"].as_str().unwrap().to_owned();

            // The second sign-in finds the link: the same record.
            let code = fake.grant(case.provider, case.account.clone());
            let again = exchange(&app, case.provider, &code, None).await;
            assert_eq!(again.status, 200, "{}", again.text);
            assert_meta(&again, &case.meta, &case.account, false);
            assert_eq!(again.body["record"]["id"], id.as_str());
            let links = app.gh.store().list_external_auths(&id).await.unwrap();
            assert_eq!(links.len(), 1, "{}", case.provider);
            assert_eq!(links[0].provider, case.provider);
            assert_eq!(links[0].provider_id, case.meta["id"].as_str().unwrap());
        }

        // The named providers get the client's credentials and PKCE's verifier in the form.
        let forms = fake.token_forms();
        assert_eq!(forms.len(), 12);
        for form in &forms {
            assert_eq!(form["client_id"], crate::oauth2_fake::CLIENT_ID);
            assert_eq!(form["client_secret"], "true", "{form:?}");
            assert_eq!(form["code_verifier"], VERIFIER);
            assert_eq!(form["redirect_uri"], REDIRECT);
            assert_eq!(form["grant_type"], "authorization_code");
        }

        // Sign-ups and sign-ins are audited with their provider.
        let su = app.superuser_token().await;
        let audit = app
            .get("/api/audit?type=oauth2.signup&perPage=100", Some(&su))
            .await;
        assert_eq!(audit.body["totalItems"], 6, "{}", audit.text);
        assert!(
            audit.text.contains("\"provider\":\"discord\""),
            "{}",
            audit.text
        );
    }
);

both_backends!(
    oauth2_unverified_provider_emails_are_not_used,
    |app: TestApp| async move {
        let fake = FakeProviders::start().await;
        configure_all(&app, &fake).await;
        // A verified owner of the address: an unverified provider email must not reach it.
        let (owner, _) = app.user("taken@example.com", "owner-password-1").await;
        let unverified = [
            (
                "google",
                json!({"sub": "g-1", "email": "taken@example.com", "email_verified": false}),
            ),
            (
                "discord",
                json!({"id": "d-1", "username": "x", "discriminator": "0",
                "email": "taken@example.com", "verified": false}),
            ),
            (
                "gitlab",
                json!({"id": 7, "username": "x", "email": "taken@example.com",
                "confirmed_at": null}),
            ),
        ];
        for (provider, account) in unverified {
            let code = fake.grant(provider, account);
            let r = exchange(&app, provider, &code, None).await;
            // No email to link or sign up with (`users` requires one): PocketBase's 400.
            assert_eq!(r.status, 400, "{provider}: {}", r.text);
            assert_eq!(r.body["message"], "Failed to authenticate.");
            assert_eq!(r.body["data"]["email"]["code"], "validation_required");
        }
        // Microsoft's `mail` (a tenant's admin sets it to anything) never links to the verified
        // owner of that address: the sign-up it fills clashes with the owner's email instead.
        let code = fake.grant(
            "microsoft",
            json!({"id": "m-1", "displayName": "Not Owner", "mail": "taken@example.com"}),
        );
        let r = exchange(&app, "microsoft", &code, None).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["message"], "Failed to authenticate.");
        assert!(
            app.gh
                .store()
                .list_external_auths(&owner)
                .await
                .unwrap()
                .is_empty()
        );
    }
);

both_backends!(
    oauth2_github_private_email_from_the_emails_call,
    |app: TestApp| async move {
        let fake = FakeProviders::start().await;
        configure_all(&app, &fake).await;
        let private = json!({"login": "hidden", "id": 9001, "name": null, "email": null,
            "avatar_url": "https://avatars.githubusercontent.com/u/9001?v=4"});
        // The verified primary address, not the unverified or secondary ones.
        let emails = json!([
            {"email": "old@example.com", "verified": true, "primary": false, "visibility": null},
            {"email": "hidden@example.com", "verified": true, "primary": true, "visibility": "private"},
            {"email": "typo@example.com", "verified": false, "primary": false, "visibility": null},
        ]);
        let code = fake.grant_github(private, Ok(emails));
        let r = exchange(&app, "github", &code, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["meta"]["email"], "hidden@example.com");
        assert_eq!(r.body["meta"]["name"], "");
        assert_eq!(r.body["record"]["email"], "hidden@example.com");

        // A primary address that is not verified is no address.
        let unverified = json!([{"email": "new@example.com", "verified": false, "primary": true}]);
        let other = json!({"login": "other", "id": 9002, "email": null});
        let code = fake.grant_github(other.clone(), Ok(unverified));
        let r = exchange(&app, "github", &code, None).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["data"]["email"]["code"], "validation_required");

        // Without the `user:email` scope GitHub answers 404: no address either (PocketBase).
        let code = fake.grant("github", other.clone());
        let r = exchange(&app, "github", &code, None).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["message"], "Failed to authenticate.");

        // A broken emails answer fails the sign-in with PocketBase's user message.
        let code = fake.grant_github(other, Err(500));
        let r = exchange(&app, "github", &code, None).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["message"], "Failed to fetch OAuth2 user.");
    }
);

both_backends!(
    oauth2_apple_id_token_and_first_login_name,
    |app: TestApp| async move {
        let fake = FakeProviders::start().await;
        configure_all(&app, &fake).await;
        let now = app.clock.now_secs();
        let nonce = nonce_for(VERIFIER);
        let claims = json!({"sub": "001234.abcd.0042", "email": "ann@privaterelay.appleid.com",
            "email_verified": "true", "is_private_email": "true", "nonce": nonce});
        let id_token = apple_id_token(&claims, now);

        // First sign-in: the name arrives only with the redirect's posted `user` field.
        let code = fake.grant("apple", json!({"id_token": id_token}));
        app.gh.remember_apple_name(
            &code,
            r#"{"name":{"firstName":"Ann","lastName":"Apple"},"email":"ann@privaterelay.appleid.com"}"#,
        );
        let r = exchange(&app, "apple", &code, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["meta"]["id"], "001234.abcd.0042");
        assert_eq!(r.body["meta"]["name"], "Ann Apple");
        assert_eq!(r.body["meta"]["email"], "ann@privaterelay.appleid.com");
        assert_eq!(r.body["meta"]["rawUser"]["is_private_email"], "true");
        assert_eq!(r.body["meta"]["refreshToken"], "apple-refresh");
        assert_eq!(r.body["meta"]["isNew"], true);
        assert_eq!(r.body["record"]["name"], "Ann Apple");
        assert_eq!(r.body["record"]["verified"], true);
        let id = r.body["record"]["id"].as_str().unwrap().to_owned();

        // Later sign-ins carry no name: the same record, its name kept.
        let code = fake.grant("apple", json!({"id_token": apple_id_token(&claims, now)}));
        let r = exchange(&app, "apple", &code, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["meta"]["name"], "");
        assert_eq!(r.body["meta"]["isNew"], false);
        assert_eq!(r.body["record"]["id"], id.as_str());
        assert_eq!(r.body["record"]["name"], "Ann Apple");

        // Forged or foreign id_tokens are refused, and nothing is created.
        let forged = tampered(&apple_id_token(&claims, now), "sub", json!("someone-else"));
        let mut other_app = claims.clone();
        other_app["aud"] = json!("another-app");
        let mut other_issuer = claims.clone();
        other_issuer["iss"] = json!("https://evil.example.com");
        let mut other_nonce = claims.clone();
        other_nonce["nonce"] = json!("not-the-nonce");
        let mut expired = claims.clone();
        expired["exp"] = json!(1_000_000_000);
        for bad in [
            forged,
            apple_id_token(&other_app, now),
            apple_id_token(&other_issuer, now),
            apple_id_token(&other_nonce, now),
            apple_id_token(&expired, now),
        ] {
            let code = fake.grant("apple", json!({"id_token": bad}));
            let r = exchange(&app, "apple", &code, None).await;
            assert_eq!(r.status, 400, "{}", r.text);
            assert_eq!(r.body["message"], "Failed to fetch OAuth2 token.");
        }
        let su = app.superuser_token().await;
        let list = app.get("/api/collections/users/records", Some(&su)).await;
        assert_eq!(list.body["totalItems"], 1, "{}", list.text);
    }
);

both_backends!(
    oauth2_provider_failures_are_400s,
    |app: TestApp| async move {
        let fake = FakeProviders::start().await;
        configure_all(&app, &fake).await;
        // A code the provider refuses, a code of another provider.
        for provider in ["google", "github"] {
            let r = exchange(&app, provider, "made-up", None).await;
            assert_eq!(r.status, 400, "{}", r.text);
            assert_eq!(r.body["message"], "Failed to fetch OAuth2 token.");
        }
        let code = fake.grant("github", json!({"id": 1, "login": "x"}));
        let r = exchange(&app, "gitlab", &code, None).await;
        assert_eq!(r.status, 400, "{}", r.text);
        // An account without an id.
        let code = fake.grant("google", json!({"name": "No Id", "email_verified": true}));
        let r = exchange(&app, "google", &code, None).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["message"], "Failed to fetch OAuth2 user.");
        // A user info answer that is not an object.
        let code = fake.grant("discord", json!(["not", "an", "object"]));
        let r = exchange(&app, "discord", &code, None).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["message"], "Failed to fetch OAuth2 user.");
    }
);
