//! OAuth2 / OpenID Connect logins against a real provider (panva's `oidc-provider`, started from
//! `tests/oidc/provider.mjs` on 127.0.0.1): the code is obtained by driving the provider's
//! authorize endpoint over HTTP, then exchanged through `auth-with-oauth2`.

use crate::both_backends;
use crate::support::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const CLIENT_SECRET: &str = "gatehouse-test-secret";
const REDIRECT: &str = "http://127.0.0.1/oauth2-redirect";

/// The provider process; killed when dropped.
pub struct Idp {
    pub issuer: String,
    child: Child,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Idp {
    pub fn start() -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/oidc/provider.mjs");
        let mut child = Command::new("node")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node (run `npm ci` in tests/oidc)");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        out.read_line(&mut line).expect("provider output");
        // Drained, so that the provider never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let port = line
            .trim()
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("provider did not start: {line:?}"));
        Self {
            issuer: format!("http://127.0.0.1:{port}"),
            child,
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        reqwest::Client::new()
            .post(format!("{}{path}", self.issuer))
            .json(&body)
            .send()
            .await
            .expect("provider")
            .json()
            .await
            .expect("provider json")
    }

    /// An account the provider logs in as (by `login_hint`).
    pub async fn account(&self, sub: &str, email: &str, verified: bool) {
        let body = json!({"sub": sub, "email": email, "email_verified": verified, "name": format!("Name of {sub}")});
        self.post("/test/accounts", body).await;
    }

    /// The `oauth2` block for `users` with this provider.
    pub fn options(&self, extra: Value) -> Value {
        json!({"enabled": true, "providers": [{
            "name": "oidc", "displayName": "Test IdP", "clientId": "gatehouse",
            "clientSecret": CLIENT_SECRET, "authURL": format!("{}/auth", self.issuer),
            "tokenURL": format!("{}/token", self.issuer), "userInfoURL": "", "extra": extra,
        }]})
    }

    pub fn jwks_extra(&self) -> Value {
        json!({"jwksURL": format!("{}/jwks", self.issuer), "issuers": [self.issuer]})
    }
}

pub async fn configure(app: &TestApp, oauth2: Value) {
    let su = app.superuser_token().await;
    let r = app
        .patch(
            "/api/collections/users",
            Some(&su),
            json!({"oauth2": oauth2}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Drives the provider from `auth-methods`' authURL to the code, as a browser would (cookies
/// kept, redirects followed by hand). `tweak` may rewrite the URL first. Returns
/// `(code, codeVerifier)`.
pub async fn authorize(
    app: &TestApp,
    account: &str,
    tweak: impl Fn(String) -> String,
) -> (String, String) {
    let methods = app.get("/api/collections/users/auth-methods", None).await;
    let item = &methods.body["oauth2"]["providers"][0];
    let auth_url = item["authURL"].as_str().expect("authURL");
    let mut url = tweak(format!(
        "{auth_url}{}&login_hint={account}",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    ));
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut jar = BTreeMap::new();
    for _ in 0..8 {
        let cookies: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let r = browser
            .get(&url)
            .header("cookie", cookies.join("; "))
            .send()
            .await
            .expect("provider");
        for c in r.headers().get_all("set-cookie") {
            let pair = c.to_str().unwrap().split(';').next().unwrap();
            if let Some((k, v)) = pair.split_once('=') {
                jar.insert(k.to_owned(), v.to_owned());
            }
        }
        let location = r
            .headers()
            .get("location")
            .unwrap_or_else(|| panic!("no redirect from {url}: {}", r.status()))
            .to_str()
            .unwrap()
            .to_owned();
        let next = url::Url::parse(&url).unwrap().join(&location).unwrap();
        if location.starts_with(REDIRECT) {
            let code = next
                .query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| panic!("no code: {location}"));
            return (code, item["codeVerifier"].as_str().unwrap().to_owned());
        }
        url = next.to_string();
    }
    panic!("the provider never redirected back");
}

pub async fn exchange(app: &TestApp, code: &str, verifier: &str, token: Option<&str>) -> Reply {
    app.post(
        "/api/collections/users/auth-with-oauth2",
        token,
        json!({"provider": "oidc", "code": code, "codeVerifier": verifier, "redirectURL": REDIRECT}),
    )
    .await
}

async fn login_as(app: &TestApp, account: &str) -> Reply {
    let (code, verifier) = authorize(app, account, |u| u).await;
    exchange(app, &code, &verifier, None).await
}

both_backends!(
    oauth2_sign_up_then_sign_in_by_link,
    |app: TestApp| async move {
        let idp = Idp::start();
        idp.account("ann-sub", "ann@example.com", true).await;
        configure(&app, idp.options(idp.jwks_extra())).await;

        // The secret is write-only; auth-methods lists the provider as the SDK expects.
        let su = app.superuser_token().await;
        let c = app.get("/api/collections/users", Some(&su)).await;
        assert!(!c.text.contains(CLIENT_SECRET), "{}", c.text);
        assert_eq!(c.body["oauth2"]["providers"][0]["clientId"], "gatehouse");
        let methods = app.get("/api/collections/users/auth-methods", None).await;
        let item = &methods.body["oauth2"]["providers"][0];
        assert_eq!(item["name"], "oidc");
        assert_eq!(item["displayName"], "Test IdP");
        assert_eq!(item["codeChallengeMethod"], "S256");
        assert!(
            item["authURL"]
                .as_str()
                .unwrap()
                .ends_with("&redirect_uri=")
        );

        // Sign-up: a new verified record with the provider's email and mapped name.
        let (code, verifier) = authorize(&app, "ann-sub", |u| u).await;
        let r = exchange(&app, &code, &verifier, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["meta"]["isNew"], true);
        assert_eq!(r.body["meta"]["id"], "ann-sub");
        assert_eq!(r.body["meta"]["email"], "ann@example.com");
        assert_eq!(r.body["record"]["email"], "ann@example.com");
        assert_eq!(r.body["record"]["verified"], true);
        assert_eq!(r.body["record"]["name"], "Name of ann-sub");
        let id = r.body["record"]["id"].as_str().unwrap().to_owned();

        // The code is single-use: the provider refuses it again.
        let again = exchange(&app, &code, &verifier, None).await;
        assert_eq!(again.status, 400, "{}", again.text);
        assert_eq!(again.body["message"], "Failed to fetch OAuth2 token.");

        // Sign-in by the link: the same record.
        let r = login_as(&app, "ann-sub").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["meta"]["isNew"], false);
        assert_eq!(r.body["record"]["id"], id.as_str());
        let links = app.gh.store().list_external_auths(&id).await.unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].provider_id, "ann-sub");

        let audit = app
            .get(&format!("/api/audit?recordId={id}"), Some(&su))
            .await;
        assert!(audit.text.contains("oauth2.signup"), "{}", audit.text);

        // Bad input: an unknown provider, a made-up code.
        let r = app
            .post(
                "/api/collections/users/auth-with-oauth2",
                None,
                json!({"provider": "facebook", "code": "x"}),
            )
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(
            r.body["data"]["provider"]["code"],
            "validation_invalid_provider"
        );
        let r = exchange(&app, "made-up-code", &verifier, None).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.body["message"], "Failed to fetch OAuth2 token.");
    }
);

both_backends!(
    oauth2_verified_email_match_and_pre_hijack,
    |app: TestApp| async move {
        let idp = Idp::start();
        configure(&app, idp.options(idp.jwks_extra())).await;

        // A verified owner of the address: the account links to it, the password still works.
        let su = app.superuser_token().await;
        let (bob, _) = app.user("bob@example.com", "bob-password-1").await;
        let r = app
            .patch(
                &format!("/api/collections/users/records/{bob}"),
                Some(&su),
                json!({"verified": true}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        idp.account("bob-sub", "bob@example.com", true).await;
        let r = login_as(&app, "bob-sub").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["record"]["id"], bob.as_str());
        assert_eq!(r.body["meta"]["isNew"], false);
        assert_eq!(
            app.login("users", "bob@example.com", "bob-password-1")
                .await
                .status,
            200
        );

        // A squatter pre-registered carol's address (unverified): the real owner signs in, the
        // squatter's password and session die.
        let (carol, squatter_token) = app.user("carol@example.com", "squatter-pass-1").await;
        idp.account("carol-sub", "carol@example.com", true).await;
        let r = login_as(&app, "carol-sub").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["record"]["id"], carol.as_str());
        assert_eq!(r.body["record"]["verified"], true);
        assert_eq!(
            app.login("users", "carol@example.com", "squatter-pass-1")
                .await
                .status,
            400
        );
        let refresh = app
            .post(
                "/api/collections/users/auth-refresh",
                Some(&squatter_token),
                json!({}),
            )
            .await;
        assert_eq!(refresh.status, 401, "{}", refresh.text);

        // An unverified provider email matches nobody, and the sign-up it would make has no
        // email, which `users` requires: PocketBase's 400 with the field error; dan is untouched.
        let (_dan, _) = app.user("dan@example.com", "dan-password-1").await;
        idp.account("dan-sub", "dan@example.com", false).await;
        let r = login_as(&app, "dan-sub").await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["message"], "Failed to authenticate.");
        assert_eq!(r.body["data"]["email"]["code"], "validation_required");
        assert_eq!(
            app.login("users", "dan@example.com", "dan-password-1")
                .await
                .status,
            200
        );
    }
);

both_backends!(
    oauth2_sign_up_needs_the_create_rule,
    |app: TestApp| async move {
        let idp = Idp::start();
        let su = app.superuser_token().await;
        let mut options = json!({"createRule": null});
        options["oauth2"] = idp.options(idp.jwks_extra());
        let r = app
            .patch("/api/collections/users", Some(&su), options)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        idp.account("eve-sub", "eve@example.com", true).await;
        let r = login_as(&app, "eve-sub").await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["message"], "Failed to authenticate.");
        let list = app.get("/api/collections/users/records", Some(&su)).await;
        assert_eq!(list.body["totalItems"], 0, "{}", list.text);
    }
);

both_backends!(
    oauth2_id_token_checks_and_key_rotation,
    |app: TestApp| async move {
        let idp = Idp::start();
        idp.account("fay-sub", "fay@example.com", true).await;

        // A JWKS that does not hold the signing key (same kid, another key): refused.
        let forged = json!({"jwksURL": format!("{}/test/other-jwks", idp.issuer)});
        configure(&app, idp.options(forged)).await;
        let r = login_as(&app, "fay-sub").await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["message"], "Failed to fetch OAuth2 token.");

        // Another issuer expected: refused.
        let other = json!({"jwksURL": format!("{}/jwks", idp.issuer), "issuers": ["https://other.example.com"]});
        configure(&app, idp.options(other)).await;
        assert_eq!(login_as(&app, "fay-sub").await.status, 400);

        // A nonce that is not the one derived from the verifier: refused.
        configure(&app, idp.options(idp.jwks_extra())).await;
        let (code, verifier) = authorize(&app, "fay-sub", |u| {
            let start = u.find("nonce=").unwrap() + 6;
            format!("{}x{}", &u[..start], &u[start + 1..])
        })
        .await;
        assert_eq!(exchange(&app, &code, &verifier, None).await.status, 400);

        // The real keys: accepted; then the provider rotates its key and the new kid is fetched.
        assert_eq!(login_as(&app, "fay-sub").await.status, 200);
        idp.post("/test/rotate", json!({})).await;
        idp.account("fay-sub", "fay@example.com", true).await;
        let r = login_as(&app, "fay-sub").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["meta"]["isNew"], false);

        // An id_token past its expiry (the server's clock moved on): refused.
        app.clock.advance_secs(7200);
        let r = login_as(&app, "fay-sub").await;
        assert_eq!(r.status, 400, "{}", r.text);
    }
);

both_backends!(oauth2_then_mfa, |app: TestApp| async move {
    let idp = Idp::start();
    let mut options = json!({"mfa": {"enabled": true}});
    options["oauth2"] = idp.options(idp.jwks_extra());
    let su = app.superuser_token().await;
    let r = app
        .patch("/api/collections/users", Some(&su), options)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    idp.account("gil-sub", "gil@example.com", true).await;
    let r = login_as(&app, "gil-sub").await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(
        r.body["mfaId"].as_str().is_some_and(|s| !s.is_empty()),
        "{}",
        r.text
    );
    // The sign-up is committed before the challenge, as in PocketBase.
    let list = app.get("/api/collections/users/records", Some(&su)).await;
    assert_eq!(list.body["totalItems"], 1, "{}", list.text);
});
