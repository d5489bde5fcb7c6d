//! Where PocketBase sends the OAuth2 popup after its redirect (`../_/#/auth/oauth2-redirect-
//! success` or `-failure`; `/_/forward.js` moves the hash into these paths): a line saying how
//! it went. After a success the window closes itself; the JS SDK closes it too once signed in.

use super::{page, with_headers};
use axum::http::StatusCode;
use axum::response::Response;

pub(super) async fn success() -> Response {
    page(
        StatusCode::OK,
        "Auth completed",
        "<p>You can go back to the app if this window is not closed automatically.</p>\n\
         <script src=\"/_/close.js\"></script>",
    )
}

pub(super) async fn failure() -> Response {
    page(
        StatusCode::OK,
        "Auth failed",
        "<p>You can close this window and go back to the app to try again.</p>",
    )
}

/// Closes the popup (pages allow only their own scripts, no inline one).
pub(super) async fn close_script() -> Response {
    with_headers(
        StatusCode::OK,
        "text/javascript; charset=utf-8",
        "window.close();\n".to_owned(),
    )
}
