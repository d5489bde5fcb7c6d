//! The server-rendered pages the default emails link to: confirm a verification, set a new
//! password, confirm an email change. Plain HTML forms that work without JavaScript; the token
//! rides in the path of the mailed link and in a hidden field of the form.
//!
//! Opening a link only shows a form: mail scanners fetch links, so nothing happens before the
//! owner presses the button (the form's POST). PocketBase's templates link to
//! `/_/#/auth/confirm-…/{TOKEN}`, whose token a server never sees; `/_/` (the superuser
//! dashboard, [`dashboard`]) loads a one-line script first that moves such a token into the path
//! (Gatehouse's own templates need none).

mod account;
mod account_views;
mod changes;
mod code_factors;
mod confirm;
mod cookies;
mod csrf;
mod dashboard;
mod flow;
mod handback;
mod login;
mod popup;
mod reauth;
mod session;
mod signup;
mod two_factor;
mod views;
mod visit;

use crate::AppState;
use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, REFERRER_POLICY};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub fn all() -> Router<AppState> {
    Router::new()
        .route("/_/", get(dashboard::page))
        .route("/_/admin.js", get(dashboard::script))
        .route("/_/admin/{file}", get(dashboard::module))
        .route("/_/forward.js", get(forward_script))
        .route("/_/close.js", get(popup::close_script))
        .route("/_/auth/oauth2-redirect-success", get(popup::success))
        .route("/_/auth/oauth2-redirect-failure", get(popup::failure))
        .route("/_/style.css", get(stylesheet))
        .route("/_/login", get(login::login_form).post(login::password))
        .route("/_/login/factor", post(login::factor))
        .route("/_/login/sms", post(login::request_sms))
        .route("/_/login/email", post(login::request_email))
        .route("/_/login/otp", post(login::code))
        .route("/_/login/enrol", post(login::enrol))
        .route("/_/login/continue", post(login::after_enrolment))
        .route("/_/logout", post(login::logout))
        .route("/_/signup", get(signup::signup_form).post(signup::signup))
        .route("/_/print.js", get(print_script))
        .route("/_/account", get(account::view))
        .route("/_/account/two-factor", post(two_factor::start))
        .route("/_/account/two-factor/confirm", post(two_factor::confirm))
        .route("/_/account/two-factor/cancel", post(two_factor::cancel))
        .route("/_/account/sms", post(code_factors::start_sms))
        .route("/_/account/sms/confirm", post(code_factors::confirm_sms))
        .route("/_/account/email", post(code_factors::start_email))
        .route(
            "/_/account/email/confirm",
            post(code_factors::confirm_email),
        )
        .route("/_/account/factor/remove", post(changes::remove_factor))
        .route("/_/account/backup-codes", post(changes::backup_codes))
        .route("/_/account/devices/revoke", post(changes::revoke_device))
        .route("/_/account/password", post(changes::change_password))
        .route("/_/account/reauth", post(reauth::password))
        .route("/_/account/reauth/factor", post(reauth::factor))
        .route("/_/account/reauth/sms", post(reauth::request_sms))
        .route("/_/account/reauth/email", post(reauth::request_email))
        .route("/_/account/reauth/otp", post(reauth::code))
        .route(
            "/_/auth/confirm-verification/{token}",
            get(confirm::verification_form),
        )
        .route(
            "/_/auth/confirm-verification",
            axum::routing::post(confirm::verification_submit),
        )
        .route(
            "/_/auth/confirm-password-reset/{token}",
            get(confirm::password_reset_form),
        )
        .route(
            "/_/auth/confirm-password-reset",
            axum::routing::post(confirm::password_reset_submit),
        )
        .route(
            "/_/auth/confirm-email-change/{token}",
            get(confirm::email_change_form),
        )
        .route(
            "/_/auth/confirm-email-change",
            axum::routing::post(confirm::email_change_submit),
        )
}

/// A page whose body is HTML written by hand (the confirm pages), in the shared layout.
#[derive(askama::Template)]
#[template(path = "plain.html")]
struct PlainPage<'a> {
    title: &'a str,
    error: &'a str,
    body: &'a str,
}

/// A whole page: `title` and `body` (already HTML; escape what goes into it with [`escape`]).
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let page = PlainPage {
        title,
        error: "",
        body,
    };
    match askama::Template::render(&page) {
        Ok(html) => with_headers(status, "text/html; charset=utf-8", html),
        Err(e) => {
            tracing::error!(%e, "a page could not be rendered");
            with_headers(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                "Something went wrong.".to_owned(),
            )
        }
    }
}

fn with_headers(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let content_type = [(CONTENT_TYPE, HeaderValue::from_static(content_type))];
    (status, content_type, security_headers(), body).into_response()
}

/// The content security policy of the server-rendered pages: our own style, script and form
/// targets only.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The headers every page gets. Tokens are in some of these URLs, so no referrer leaves them and
/// no cache keeps them; nothing but our own style, script and form targets may run, and no other
/// site may frame a page.
pub(crate) fn security_headers() -> [(HeaderName, HeaderValue); 4] {
    headers_with_policy(PAGE_POLICY)
}

/// [`security_headers`] with another content security policy.
fn headers_with_policy(policy: &'static str) -> [(HeaderName, HeaderValue); 4] {
    [
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static(policy),
        ),
        (
            HeaderName::from_static("x-robots-tag"),
            HeaderValue::from_static("noindex"),
        ),
    ]
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Moves `#/auth/confirm-…/{TOKEN}` (PocketBase's link form) and `#/auth/oauth2-redirect-…`
/// (where the OAuth2 redirect sends the popup) into the path of our pages.
async fn forward_script() -> Response {
    const SCRIPT: &str = "(function () {\n\
  var m = /^#\\/auth\\/(confirm-(?:verification|password-reset|email-change))\\/([\\w.-]+)$/.exec(location.hash);\n\
  if (m) { location.replace('/_/auth/' + m[1] + '/' + m[2]); }\n\
  var popup = /^#\\/auth\\/(oauth2-redirect-(?:success|failure))$/.exec(location.hash);\n\
  if (popup) { location.replace('/_/auth/' + popup[1]); }\n\
})();\n";
    with_headers(
        StatusCode::OK,
        "text/javascript; charset=utf-8",
        SCRIPT.to_owned(),
    )
}

/// The print button of the backup-codes page: shown only when this script runs (no inline
/// script under the pages' CSP).
async fn print_script() -> Response {
    const SCRIPT: &str = "(function () {\n\
  var button = document.getElementById('print-codes');\n\
  if (button) { button.hidden = false; button.addEventListener('click', function () { window.print(); }); }\n\
})();\n";
    with_headers(
        StatusCode::OK,
        "text/javascript; charset=utf-8",
        SCRIPT.to_owned(),
    )
}

/// The one stylesheet of every page, from the binary.
async fn stylesheet() -> Response {
    with_headers(
        StatusCode::OK,
        "text/css; charset=utf-8",
        include_str!("style.css").to_owned(),
    )
}
