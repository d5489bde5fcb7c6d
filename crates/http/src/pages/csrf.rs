//! Form tokens of the hosted pages (double submit, signed): the browser holds a random value in
//! the `gh_csrf` cookie, each form carries its keyed hash in the hidden `csrf` field. A page on
//! another site cannot read the cookie nor make the hash, so it cannot post a form that passes.
//! A request that says it came from elsewhere (`Origin`, `Sec-Fetch-Site`) is refused as well.

use super::cookies::{Cookie, read_cookie};
use axum::http::HeaderMap;
use gatehouse_domain::Gatehouse;
use gatehouse_domain::service::form_tokens::new_form_nonce;

pub(crate) const COOKIE: &str = "gh_csrf";

/// The form token of this browser, and the cookie to set when it had none.
pub(crate) fn issue(gh: &Gatehouse, headers: &HeaderMap, secure: bool) -> (String, Option<Cookie>) {
    match read_cookie(headers, COOKIE).filter(|n| looks_like_nonce(n)) {
        Some(nonce) => (gh.form_token(&nonce), None),
        None => {
            let nonce = new_form_nonce();
            let token = gh.form_token(&nonce);
            (token, Some(Cookie::new(COOKIE, nonce, secure)))
        }
    }
}

/// Whether a posted form may be acted on: same-site by the browser's word, and the hidden field
/// matching this browser's cookie.
pub(crate) fn accepts(gh: &Gatehouse, headers: &HeaderMap, field: &str) -> bool {
    if !same_site(headers) {
        return false;
    }
    let nonce = read_cookie(headers, COOKIE).unwrap_or_default();
    gh.form_token_valid(&nonce, field)
}

fn looks_like_nonce(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `Sec-Fetch-Site` when the browser sent it, else `Origin`; their absence proves nothing (old
/// browsers, plain HTTP clients), the token still does. Under `Referrer-Policy: no-referrer` a
/// browser posts `Origin: null` even for its own forms, so `null` tells nothing either.
fn same_site(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match (header("origin"), header("host")) {
        (None | Some("null"), _) => true,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn cross_site_requests_are_refused() {
        assert!(same_site(&headers(&[])));
        assert!(same_site(&headers(&[
            ("origin", "http://a.test:80"),
            ("host", "a.test:80")
        ])));
        assert!(!same_site(&headers(&[
            ("origin", "http://evil.test"),
            ("host", "a.test")
        ])));
        // A page served with `no-referrer` posts its own forms with `Origin: null`.
        let own_form = [("origin", "null"), ("sec-fetch-site", "same-origin")];
        assert!(same_site(&headers(&own_form)));
        let cross = [("origin", "null"), ("sec-fetch-site", "cross-site")];
        assert!(!same_site(&headers(&cross)));
        assert!(!same_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_site(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(same_site(&headers(&[("sec-fetch-site", "same-origin")])));
    }
}
