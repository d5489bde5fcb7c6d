//! The hosted sign-in page over raw HTTP: forms refused without this browser's signed token or
//! from another site (nothing done), redirects only to paths and allowed origins, the session
//! handed back in an HttpOnly cookie, and the second step of an enrolled user.

use crate::both_backends;
use crate::sms_login::{MASKED, last_code, phone_user, sink, sms_on};
use crate::support::*;
use crate::totp::{PASSWORD, code, enrolled_user};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;

/// A browser without a cookie jar of its own: the test carries the form-token cookie by hand.
struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    csrf_cookie: String,
}

struct Page {
    status: StatusCode,
    html: String,
    cookies: Vec<String>,
    location: String,
}

impl Page {
    /// The value of hidden field `name` in the page (the first one).
    fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.html.find(&marker).map(|i| i + marker.len());
        start
            .and_then(|s| self.html[s..].split('"').next())
            .unwrap_or_default()
            .replace("&#43;", "+")
            .replace("&#x2b;", "+")
    }

    fn cookie(&self, name: &str) -> Option<&String> {
        self.cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            app,
            client,
            csrf_cookie: String::new(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let mut req = self.client.get(format!("{}{path}", self.app.url));
        if !self.csrf_cookie.is_empty() {
            req = req.header(COOKIE, self.csrf_cookie.clone());
        }
        let page = read(req.send().await.expect("get")).await;
        if let Some(c) = page.cookie("gh_csrf") {
            self.csrf_cookie = c.split(';').next().unwrap_or_default().to_owned();
        }
        page
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut req = self
            .client
            .post(format!("{}{path}", self.app.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if !self.csrf_cookie.is_empty() {
            req = req.header(COOKIE, self.csrf_cookie.clone());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        read(req.send().await.expect("post")).await
    }
}

async fn read(resp: reqwest::Response) -> Page {
    let status = resp.status();
    let cookies = resp
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    let location = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let html = resp.text().await.expect("body");
    Page {
        status,
        html,
        cookies,
        location,
    }
}

/// The session token in a `gh_session` Set-Cookie.
fn session_of(page: &Page) -> String {
    let cookie = page.cookie("gh_session").expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

async fn assert_valid_session(app: &TestApp, token: &str) {
    let r = app
        .post(
            "/api/collections/users/auth-refresh",
            Some(token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

both_backends!(
    a_password_sign_in_hands_the_session_back_in_a_cookie,
    |app: TestApp| async move {
        app.user("ann@example.com", PASSWORD).await;
        let mut browser = Browser::new(&app);
        let form = browser
            .get("/_/login?collection=users&redirect=/after")
            .await;
        assert_eq!(form.status, 200, "{}", form.html);
        let csp = "frame-ancestors 'none'";
        assert!(
            form.cookie("gh_csrf")
                .is_some_and(|c| c.contains("HttpOnly"))
        );
        let csrf = form.field("csrf");
        let fields = [
            ("csrf", csrf.as_str()),
            ("collection", "users"),
            ("redirect", "/after"),
            ("identity", "ann@example.com"),
            ("password", PASSWORD),
        ];
        let done = browser.post("/_/login", &fields, &[]).await;
        assert_eq!(done.status, 303, "{}", done.html);
        assert_eq!(done.location, "/after");
        assert!(!done.location.contains("token"));
        assert_valid_session(&app, &session_of(&done)).await;
        let again = browser.get("/_/login").await;
        assert!(again.html.contains("Sign in"));
        let r = app.get("/_/login", None).await;
        let policy = r.headers["content-security-policy"]
            .to_str()
            .unwrap_or_default();
        assert!(policy.contains(csp), "{policy}");
        assert_eq!(r.headers["cache-control"], "no-store");
    }
);

both_backends!(
    forms_without_a_valid_token_or_from_another_site_do_nothing,
    |app: TestApp| async move {
        app.user("ann@example.com", PASSWORD).await;
        let mut browser = Browser::new(&app);
        let form = browser.get("/_/login").await;
        let csrf = form.field("csrf");
        let login = |token: &'static str| {
            [
                ("csrf", token),
                ("identity", "ann@example.com"),
                ("password", PASSWORD),
            ]
        };
        // Missing, forged, and another browser's (no cookie) tokens.
        let missing = browser.post("/_/login", &login(""), &[]).await;
        let forged = browser.post("/_/login", &login("00ff"), &[]).await;
        let stranger = Browser::new(&app);
        let leaked: &'static str = Box::leak(csrf.clone().into_boxed_str());
        let other = stranger.post("/_/login", &login(leaked), &[]).await;
        for page in [&missing, &forged, &other] {
            assert_eq!(page.status, 403, "{}", page.html);
            assert!(page.html.contains("could not be verified"), "{}", page.html);
            assert!(page.cookie("gh_session").is_none());
        }
        // The right token from a page of another site.
        let cross = browser
            .post(
                "/_/login",
                &login(leaked),
                &[("origin", "https://evil.test")],
            )
            .await;
        assert_eq!(cross.status, 403, "{}", cross.html);
        let fetch = browser
            .post(
                "/_/login",
                &login(leaked),
                &[("sec-fetch-site", "cross-site")],
            )
            .await;
        assert_eq!(fetch.status, 403, "{}", fetch.html);
        // The same form with its token signs in: the refusals above were the token's doing.
        let ok = browser.post("/_/login", &login(leaked), &[]).await;
        assert_eq!(ok.status, 200, "{}", ok.html);
        assert!(ok.cookie("gh_session").is_some());
    }
);

both_backends!(
    redirects_go_only_to_paths_and_allowed_origins,
    |app: TestApp| async move {
        app.user("ann@example.com", PASSWORD).await;
        let mut browser = Browser::new(&app);
        for bad in ["https://evil.test/", "//evil.test/x", "javascript:alert(1)"] {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("redirect", bad)
                .finish();
            let page = browser.get(&format!("/_/login?{query}")).await;
            assert_eq!(page.status, 400, "{bad}: {}", page.html);
            assert!(page.html.contains("not allowed"), "{}", page.html);
        }
        let csrf = browser.get("/_/login").await.field("csrf");
        let login = |redirect: &'static str| {
            let fields = [
                ("csrf", csrf.as_str()),
                ("redirect", redirect),
                ("identity", "ann@example.com"),
                ("password", PASSWORD),
            ];
            let browser = &browser;
            async move { browser.post("/_/login", &fields, &[]).await }
        };
        let refused = login("https://app.example.com/cb").await;
        assert_eq!(refused.status, 400, "{}", refused.html);
        assert!(refused.cookie("gh_session").is_none());

        let su = app.superuser_token().await;
        let bad = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"pages": {"allowedRedirects": ["https://app.example.com/path"]}}),
            )
            .await;
        assert_eq!(bad.status, 400, "{}", bad.text);
        let r = app
            .patch(
                "/api/settings",
                Some(&su),
                json!({"pages": {"allowedRedirects": ["https://app.example.com"]}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let allowed = login("https://app.example.com/cb").await;
        assert_eq!(allowed.status, 303, "{}", allowed.html);
        assert_eq!(allowed.location, "https://app.example.com/cb");
        assert_valid_session(&app, &session_of(&allowed)).await;
        let other = login("https://app.example.com.evil.test/").await;
        assert_eq!(other.status, 400, "{}", other.html);
    }
);

both_backends!(
    an_enrolled_user_signs_in_with_a_code_on_the_second_step,
    |app: TestApp| async move {
        let (_, _, secret, backup) = enrolled_user(&app, "ann@example.com").await;
        let mut browser = Browser::new(&app);
        let csrf = browser.get("/_/login").await.field("csrf");
        let first = [
            ("csrf", csrf.as_str()),
            ("identity", "ann@example.com"),
            ("password", PASSWORD),
        ];
        let step = browser.post("/_/login", &first, &[]).await;
        assert_eq!(step.status, 200, "{}", step.html);
        assert!(step.html.contains("Authenticator app"), "{}", step.html);
        assert!(step.cookie("gh_session").is_none());
        let mfa_id = step.field("mfaId");
        let methods = step.field("methods");
        let wrong = [
            ("csrf", csrf.as_str()),
            ("mfaId", mfa_id.as_str()),
            ("methods", methods.as_str()),
            ("type", "totp"),
            ("code", "000000"),
        ];
        let refused = browser.post("/_/login/factor", &wrong, &[]).await;
        assert_eq!(refused.status, 400, "{}", refused.html);
        assert!(
            refused.html.contains("Invalid or expired code."),
            "{}",
            refused.html
        );
        assert!(
            refused.html.contains("Backup code"),
            "the form comes back: {}",
            refused.html
        );
        // The next step: the current one was spent confirming the app.
        let good = code(&app, &secret, 1);
        let right = [
            ("csrf", csrf.as_str()),
            ("mfaId", mfa_id.as_str()),
            ("type", "totp"),
            ("code", good.as_str()),
            ("trustDevice", "true"),
        ];
        let done = browser.post("/_/login/factor", &right, &[]).await;
        assert_eq!(done.status, 200, "{}", done.html);
        assert!(done.html.contains("You are signed in."), "{}", done.html);
        assert_valid_session(&app, &session_of(&done)).await;
        let device = done.cookie("gh_device").expect("a device cookie");
        assert!(
            device.contains("HttpOnly") && device.contains("Max-Age="),
            "{device}"
        );

        // A backup code works as the second step too.
        let step = browser.post("/_/login", &first, &[]).await;
        let mfa_id = step.field("mfaId");
        let with_backup = [
            ("csrf", csrf.as_str()),
            ("mfaId", mfa_id.as_str()),
            ("type", "backupCode"),
            ("code", backup[0].as_str()),
        ];
        let done = browser.post("/_/login/factor", &with_backup, &[]).await;
        assert_eq!(done.status, 200, "{}", done.html);
        assert_valid_session(&app, &session_of(&done)).await;
    }
);

both_backends!(
    a_text_message_code_is_a_second_step_on_the_page,
    |app: TestApp| async move {
        let sink = sink().await;
        sms_on(&app, &sink, serde_json::Value::Null).await;
        phone_user(&app, &sink, "ann@example.com").await;
        let mut browser = Browser::new(&app);
        let csrf = browser.get("/_/login").await.field("csrf");
        let first = [
            ("csrf", csrf.as_str()),
            ("identity", "ann@example.com"),
            ("password", PASSWORD),
        ];
        let step = browser.post("/_/login", &first, &[]).await;
        assert!(step.html.contains("Text me a code"), "{}", step.html);
        assert!(step.html.contains(MASKED), "{}", step.html);
        let mfa_id = step.field("mfaId");
        let ask = [("csrf", csrf.as_str()), ("mfaId", mfa_id.as_str())];
        let form = browser.post("/_/login/sms", &ask, &[]).await;
        assert_eq!(form.status, 200, "{}", form.html);
        let otp_id = form.field("otpId");
        let code = last_code(&sink);
        let answer = [
            ("csrf", csrf.as_str()),
            ("mfaId", mfa_id.as_str()),
            ("otpId", otp_id.as_str()),
            ("code", code.as_str()),
        ];
        let done = browser.post("/_/login/otp", &answer, &[]).await;
        assert_eq!(done.status, 200, "{}", done.html);
        assert_valid_session(&app, &session_of(&done)).await;
        // The same code typed twice: the API's answer on the page, no session.
        let again = browser.post("/_/login/otp", &answer, &[]).await;
        assert_eq!(again.status, 400, "{}", again.html);
        assert!(again.html.contains("class=\"error\""), "{}", again.html);
        assert!(again.cookie("gh_session").is_none());
    }
);

both_backends!(
    the_page_shares_the_api_routes_rate_limit,
    |app: TestApp| async move {
        app.user("ann@example.com", PASSWORD).await;
        let su = app.superuser_token().await;
        let rules = json!({"rateLimits": {"enabled": true, "rules": [
            {"label": "*:authWithPassword", "maxRequests": 2, "duration": 60}
        ]}});
        let r = app.patch("/api/settings", Some(&su), rules).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut browser = Browser::new(&app);
        let csrf = browser.get("/_/login").await.field("csrf");
        let wrong = [
            ("csrf", csrf.as_str()),
            ("identity", "ann@example.com"),
            ("password", "not the password"),
        ];
        for _ in 0..2 {
            let page = browser.post("/_/login", &wrong, &[]).await;
            assert_eq!(page.status, 400, "{}", page.html);
            assert!(
                page.html.contains("Failed to authenticate."),
                "{}",
                page.html
            );
        }
        // The page's third try and the API's next one are over the same limit.
        let page = browser.post("/_/login", &wrong, &[]).await;
        assert_eq!(page.status, 429, "{}", page.html);
        assert!(page.html.contains("role=\"alert\""), "{}", page.html);
        let api = app.login("users", "ann@example.com", PASSWORD).await;
        assert_eq!(api.status, 429, "{}", api.text);
    }
);

both_backends!(
    an_emailed_code_is_a_first_step_on_the_page,
    |app: TestApp| async move {
        app.user("ann@example.com", PASSWORD).await;
        let su = app.superuser_token().await;
        let on = json!({"otp": {"enabled": true}});
        let r = app.patch("/api/collections/users", Some(&su), on).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut browser = Browser::new(&app);
        let form = browser.get("/_/login").await;
        assert!(form.html.contains("Email me a code"), "{}", form.html);
        let csrf = form.field("csrf");
        let ask = [("csrf", csrf.as_str()), ("identity", "ann@example.com")];
        let page = browser.post("/_/login/email", &ask, &[]).await;
        assert_eq!(page.status, 200, "{}", page.html);
        let otp_id = page.field("otpId");
        let code = crate::otp::code_for(&app, "ann@example.com", 1).await;
        let answer = [
            ("csrf", csrf.as_str()),
            ("otpId", otp_id.as_str()),
            ("code", code.as_str()),
        ];
        let done = browser.post("/_/login/otp", &answer, &[]).await;
        assert_eq!(done.status, 200, "{}", done.html);
        assert_valid_session(&app, &session_of(&done)).await;
    }
);

both_backends!(
    the_signup_page_creates_the_record_and_signs_it_in,
    |app: TestApp| async move {
        let mut browser = Browser::new(&app);
        let login = browser.get("/_/login?collection=users").await;
        assert!(
            login.html.contains("/_/signup?collection=users"),
            "users take sign-ups: {}",
            login.html
        );
        let form = browser
            .get("/_/signup?collection=users&redirect=/welcome")
            .await;
        assert_eq!(form.status, 200, "{}", form.html);
        let csrf = form.field("csrf");
        let signup = |password_confirm: &'static str| {
            [
                ("csrf", csrf.as_str()),
                ("collection", "users"),
                ("redirect", "/welcome"),
                ("identity", "new@example.com"),
                ("password", PASSWORD),
                ("passwordConfirm", password_confirm),
            ]
        };
        // The API's field error, on the page; nothing created.
        let mismatch = browser
            .post("/_/signup", &signup("not the same"), &[])
            .await;
        assert_eq!(mismatch.status, 400, "{}", mismatch.html);
        assert!(
            mismatch.html.contains("Repeat password:"),
            "{}",
            mismatch.html
        );
        assert!(mismatch.cookie("gh_session").is_none());
        let su = app.superuser_token().await;
        let none = app
            .get(
                "/api/collections/users/records?filter=email%3D%22new%40example.com%22",
                Some(&su),
            )
            .await;
        assert_eq!(none.body["totalItems"], 0, "{}", none.text);

        let done = browser.post("/_/signup", &signup(PASSWORD), &[]).await;
        assert_eq!(done.status, 303, "{}", done.html);
        assert_eq!(done.location, "/welcome");
        assert_valid_session(&app, &session_of(&done)).await;
        let stored = app
            .get(
                "/api/collections/users/records?filter=email%3D%22new%40example.com%22",
                Some(&su),
            )
            .await;
        assert_eq!(stored.body["totalItems"], 1, "{}", stored.text);

        // The same form again: the address is taken, the API's answer, no second record.
        let twice = browser.post("/_/signup", &signup(PASSWORD), &[]).await;
        assert_eq!(twice.status, 400, "{}", twice.html);
        assert!(twice.html.contains("Email:"), "{}", twice.html);
        assert!(twice.cookie("gh_session").is_none());
        let forged = browser
            .post(
                "/_/signup",
                &[("csrf", "00ff"), ("identity", "x@example.com")],
                &[],
            )
            .await;
        assert_eq!(forged.status, 403, "{}", forged.html);
    }
);

both_backends!(
    a_collection_without_a_create_rule_takes_no_signups,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let closed = app
            .patch(
                "/api/collections/users",
                Some(&su),
                json!({"createRule": null}),
            )
            .await;
        assert_eq!(closed.status, 200, "{}", closed.text);
        let mut browser = Browser::new(&app);
        let login = browser.get("/_/login?collection=users").await;
        assert!(!login.html.contains("/_/signup"), "{}", login.html);
        let form = browser.get("/_/signup?collection=users").await;
        assert_eq!(form.status, 403, "{}", form.html);
        assert!(
            form.html.contains("does not take sign-ups"),
            "{}",
            form.html
        );
        // Posting anyway: the create rule refuses, as the API would.
        let csrf = browser.get("/_/login").await.field("csrf");
        let fields = [
            ("csrf", csrf.as_str()),
            ("identity", "new@example.com"),
            ("password", PASSWORD),
            ("passwordConfirm", PASSWORD),
        ];
        let refused = browser.post("/_/signup", &fields, &[]).await;
        assert_eq!(refused.status, 403, "{}", refused.html);
        assert!(refused.cookie("gh_session").is_none());
    }
);
