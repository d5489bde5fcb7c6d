//! The superuser dashboard at `/_/` (PocketBase's path): one static page and a script,
//! `/_/admin.js` with its modules under `/_/admin/`, that speaks the same JSON API as the SDKs.
//! The page loads `/_/forward.js` first, so PocketBase-style `#/auth/confirm-…/{TOKEN}` mail
//! links still land on the confirm pages.
//!
//! The script keeps the superuser's token in `sessionStorage` (gone with the tab) and signs out
//! when the token expires or after 15 minutes without activity. Its policy lets it call the API
//! (`connect-src 'self'`) and nothing else; no form may be submitted by the browser itself
//! (`form-action 'none'`: every form is sent by the script, so a secret never lands in a URL).

use super::{headers_with_policy, with_headers};
use axum::extract::Path;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; \
     base-uri 'none'";

pub(super) async fn page() -> Response {
    let content_type = [(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    )];
    (
        StatusCode::OK,
        content_type,
        headers_with_policy(POLICY),
        include_str!("dashboard.html"),
    )
        .into_response()
}

/// The modules `admin.js` imports, by file name.
const MODULES: [(&str, &str); 4] = [
    ("core.js", include_str!("admin/core.js")),
    ("records.js", include_str!("admin/records.js")),
    ("config.js", include_str!("admin/config.js")),
    ("oauth2.js", include_str!("admin/oauth2.js")),
];

pub(super) async fn script() -> Response {
    javascript(include_str!("admin.js"))
}

pub(super) async fn module(Path(file): Path<String>) -> Response {
    match MODULES.iter().find(|(name, _)| *name == file) {
        Some((_, source)) => javascript(source),
        None => crate::error::not_found().await.into_response(),
    }
}

fn javascript(source: &str) -> Response {
    with_headers(
        StatusCode::OK,
        "text/javascript; charset=utf-8",
        source.to_owned(),
    )
}
