//! How a finished sign-in reaches the app: the session in the HttpOnly `gh_session` cookie and a
//! redirect to a path of this site or to an origin on `settings.pages.allowedRedirects`. A token
//! never goes into a URL. Kept apart from [`super::flow`], which other hand-backs will reuse.

use super::cookies::Cookie;
use super::flow::SignedIn;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::settings::Settings;

pub(crate) const SESSION_COOKIE: &str = "gh_session";
pub(crate) const DEVICE_COOKIE: &str = "gh_device";

pub(crate) const REDIRECT_REFUSED: &str =
    "This sign-in link asks to return to a site that is not allowed. Ask the site for a new link.";

/// The redirect target when it may be used: a same-site path, or a URL whose origin is allowed.
/// An empty `raw` is no redirect (`Ok(None)`).
pub(crate) fn redirect_target(
    raw: &str,
    settings: &Settings,
) -> Result<Option<String>, &'static str> {
    if raw.is_empty() {
        return Ok(None);
    }
    // `//host` and `/\host` are read by browsers as another site.
    let path = raw.starts_with('/') && !raw.starts_with("//") && !raw.starts_with("/\\");
    let clean = !raw.chars().any(|c| c.is_control() || c == '\\');
    if clean && (path || settings.pages.allows(raw)) {
        Ok(Some(raw.to_owned()))
    } else {
        Err(REDIRECT_REFUSED)
    }
}

/// The cookies that hand a sign-in back: the session, and the trusted device when asked.
pub(crate) fn cookies(signed: &SignedIn, secure: bool, device_lifetime: i64) -> Vec<Cookie> {
    let mut all = vec![Cookie::new(SESSION_COOKIE, signed.token.clone(), secure)];
    if let Some(device) = &signed.device_token {
        all.push(Cookie::new(DEVICE_COOKIE, device.clone(), secure).max_age(device_lifetime));
    }
    all
}

/// A 303 to `target` setting `cookies`.
pub(crate) fn redirect(target: &str, cookies: &[Cookie]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(target) {
        headers.insert(LOCATION, location);
    }
    for cookie in cookies {
        if let Some(value) = cookie.header() {
            headers.append(SET_COOKIE, value);
        }
    }
    response
}

/// Signing out clears the session cookie (the device stays trusted: it is not a session).
pub(crate) fn sign_out_cookie(secure: bool) -> Cookie {
    Cookie::removal(SESSION_COOKIE, secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_and_allowed_origins_pass() {
        let mut settings = Settings::default();
        settings.pages.allowed_redirects = vec!["https://app.example.com".to_owned()];
        let ok = |raw: &str| redirect_target(raw, &settings).ok().flatten();
        assert_eq!(ok("/after"), Some("/after".to_owned()));
        assert_eq!(
            ok("https://app.example.com/x"),
            Some("https://app.example.com/x".to_owned())
        );
        assert_eq!(ok(""), None);
        for bad in [
            "//evil.test/",
            "/\\evil.test",
            "https://evil.test/",
            "javascript:alert(1)",
            "/a\nb",
        ] {
            assert!(redirect_target(bad, &settings).is_err(), "{bad}");
        }
    }
}
