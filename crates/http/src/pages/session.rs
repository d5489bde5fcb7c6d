//! The signed-in record of the account pages: the `gh_session` cookie that the sign-in page sets,
//! verified as the API verifies an `Authorization` header (signature, the record's current token
//! key, the token's own expiry). A session of another collection is no session here, and a
//! superuser's counts only from the IPs `settings.superuserIPs` allows, as on the API.

use super::cookies::read_cookie;
use super::handback::SESSION_COOKIE;
use super::views::MessagePage;
use super::visit::{Posted, Submitted, Visit};
use crate::AppState;
use crate::limit::ClientIp;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_domain::Caller;

/// Longest cookie value looked at; our tokens are a few hundred characters.
const TOKEN_MAX: usize = 4096;

const SESSION_ENDED: &str = "You are not signed in, or your session has ended. Nothing was changed. Sign in again to continue.";

/// The record signed in to `collection` in this browser, if any.
pub(crate) async fn signed_in(
    s: &AppState,
    headers: &HeaderMap,
    collection: &str,
    ip: &str,
) -> Option<Caller> {
    let token =
        read_cookie(headers, SESSION_COOKIE).filter(|t| !t.is_empty() && t.len() <= TOKEN_MAX)?;
    let caller = s.gh.authenticate(&token).await?;
    if caller.collection.name != collection && caller.collection.id != collection {
        return None;
    }
    if caller.is_superuser() {
        let settings = s.gh.current_settings().await.ok()?;
        if !settings.superuser_ip_allowed(ip) {
            return None;
        }
    }
    Some(caller)
}

/// The account page of `collection`: where the account pages' forms send the person back.
pub(crate) fn account_path(collection: &str) -> String {
    let query = serde_urlencoded::to_string([("collection", collection)]).unwrap_or_default();
    format!("/_/account?{query}")
}

/// A posted account form: checked like every page form ([`Submitted`]), then its session. A
/// form without a live session changes nothing and says so.
pub(crate) struct Signed {
    pub(crate) v: Visit,
    pub(crate) form: Posted,
    pub(crate) me: Caller,
}

impl FromRequest<AppState> for Signed {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let ip = req
            .extensions()
            .get::<ClientIp>()
            .map(|ip| ip.0.clone())
            .unwrap_or_default();
        let Submitted { v, form } = Submitted::from_request(req, s).await?;
        match signed_in(s, &headers, &v.ctx.collection, &ip).await {
            Some(me) => Ok(Self { v, form, me }),
            None => Err(session_ended(&v)),
        }
    }
}

/// The page for a form whose session is gone: a link to sign in that comes back here.
pub(crate) fn session_ended(v: &Visit) -> Response {
    let mut ctx = v.ctx();
    ctx.redirect = account_path(&ctx.collection);
    let back = login_link(&ctx.collection);
    let page = MessagePage {
        title: "Signed out",
        error: SESSION_ENDED.to_owned(),
        ctx,
        message: String::new(),
        signed_in: false,
        back,
    };
    v.page(StatusCode::UNAUTHORIZED, page, &[])
}

/// The sign-in page that returns to the account page of `collection`.
pub(crate) fn login_link(collection: &str) -> String {
    let query = serde_urlencoded::to_string([
        ("collection", collection),
        ("redirect", account_path(collection).as_str()),
    ])
    .unwrap_or_default();
    format!("/_/login?{query}")
}
