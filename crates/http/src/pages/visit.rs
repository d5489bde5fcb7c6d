//! One request of the sign-in pages: the form it posted ([`Posted`]), checked for this browser's
//! form token and an allowed redirect ([`Submitted`]), and the helpers that render its answer.

use super::cookies::Cookie;
use super::views::{Ctx, MessagePage};
use super::{csrf, handback, security_headers};
use crate::AppState;
use crate::extract::Body;
use crate::limit::check_as_api_route;
use axum::extract::{FromRequest, Request};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::{Error, ErrorKind, RequestInfo};
use serde::Deserialize;

const CSRF_REFUSED: &str = "This form could not be verified: it may have expired or come from another site. Nothing was changed. Go back, reload the page and try again.";
const DEFAULT_COLLECTION: &str = "users";

/// Every field any sign-in form posts. No `Debug`: passwords, codes and tokens.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Posted {
    pub(crate) csrf: String,
    pub(crate) collection: String,
    pub(crate) redirect: String,
    pub(crate) identity: String,
    pub(crate) password: String,
    pub(crate) password_confirm: String,
    pub(crate) mfa_id: String,
    pub(crate) enroll_token: String,
    pub(crate) otp_id: String,
    pub(crate) code: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) trust_device: String,
    pub(crate) methods: String,
    pub(crate) secret: String,
    pub(crate) qr: String,
    /// The account change to make once the person has signed in again (an [`super::reauth::Action`]).
    pub(crate) then: String,
    /// Which factor a removal is for (`totp`, `sms`, `email`).
    pub(crate) factor: String,
    pub(crate) device_id: String,
    pub(crate) old_password: String,
    /// A phone to add as a second step.
    pub(crate) phone: String,
}

impl Posted {
    pub(crate) fn trust(&self) -> bool {
        matches!(self.trust_device.as_str(), "true" | "on" | "1")
    }
}

/// One request of the sign-in pages, once its form token and redirect were checked.
pub(crate) struct Visit {
    pub(crate) ctx: Ctx,
    pub(crate) target: Option<String>,
    pub(crate) secure: bool,
    /// The form-token cookie to set (a first visit).
    new_cookie: Option<Cookie>,
}

impl Visit {
    /// A rendered page with the pages' headers and `cookies` (plus the form-token cookie).
    pub(crate) fn page(
        &self,
        status: StatusCode,
        page: impl IntoResponse,
        cookies: &[Cookie],
    ) -> Response {
        let mut response = (status, security_headers(), page).into_response();
        for cookie in self.new_cookie.iter().chain(cookies) {
            if let Some(value) = cookie.header() {
                response.headers_mut().append(SET_COOKIE, value);
            }
        }
        response
    }

    pub(crate) fn ctx(&self) -> Ctx {
        Ctx {
            csrf: self.ctx.csrf.clone(),
            collection: self.ctx.collection.clone(),
            redirect: self.ctx.redirect.clone(),
        }
    }

    pub(crate) fn message(
        &self,
        status: StatusCode,
        title: &'static str,
        error: &str,
        message: &str,
    ) -> Response {
        let page = MessagePage {
            title,
            error: error.to_owned(),
            ctx: self.ctx(),
            message: message.to_owned(),
            signed_in: false,
            back: self.login_link(),
        };
        self.page(status, page, &[])
    }

    pub(crate) fn login_link(&self) -> String {
        self.link("/_/login")
    }

    /// `path` with this visit's collection and redirect.
    pub(crate) fn link(&self, path: &str) -> String {
        let query = serde_urlencoded::to_string([
            ("collection", self.ctx.collection.as_str()),
            ("redirect", self.ctx.redirect.as_str()),
        ])
        .unwrap_or_default();
        format!("{path}?{query}")
    }
}

/// Reads the settings and the form token, and checks the redirect; the refusal page otherwise.
pub(crate) async fn visit(
    s: &AppState,
    headers: &HeaderMap,
    collection: &str,
    redirect: &str,
) -> Result<Visit, Response> {
    let settings = match s.gh.current_settings().await {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!(cause = ?e.cause, "the sign-in page could not read the settings");
            return Err(plain_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong. Please try again later.",
            ));
        }
    };
    let forwarded_https = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let secure = settings.meta.app_url.starts_with("https://") || forwarded_https;
    let (csrf, new_cookie) = csrf::issue(&s.gh, headers, secure);
    let collection = match collection {
        "" => DEFAULT_COLLECTION,
        name => name,
    };
    let mut visit = Visit {
        ctx: Ctx {
            csrf,
            collection: collection.to_owned(),
            redirect: redirect.to_owned(),
        },
        target: None,
        secure,
        new_cookie,
    };
    match handback::redirect_target(redirect, &settings) {
        Ok(target) => visit.target = target,
        Err(message) => {
            visit.ctx.redirect = String::new();
            return Err(visit.message(StatusCode::BAD_REQUEST, "Sign-in refused", message, ""));
        }
    }
    Ok(visit)
}

/// A posted form and its [`Visit`]: refused (nothing done) unless the form's token matches this
/// browser and its redirect is allowed; the refusal is the page to show.
pub(crate) struct Submitted {
    pub(crate) v: Visit,
    pub(crate) form: Posted,
}

impl FromRequest<AppState> for Submitted {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let Ok(Body(form)) = Body::<Posted>::from_request(req, s).await else {
            return Err(bad_form());
        };
        let v = visit(s, &headers, &form.collection, &form.redirect).await?;
        if !csrf::accepts(&s.gh, &headers, &form.csrf) {
            return Err(v.message(StatusCode::FORBIDDEN, "Form expired", CSRF_REFUSED, ""));
        }
        Ok(Self { v, form })
    }
}

impl Visit {
    /// The API route's limit for the page that does the same.
    pub(crate) async fn within_limit(
        &self,
        s: &AppState,
        meta: &RequestInfo,
        route: &str,
    ) -> Result<(), Error> {
        check_as_api_route(&s.gh, None, &meta.ip, route, &self.ctx.collection).await
    }
}

/// Errors the person at the form can fix (a wrong code, a spent session, a limit).
pub(crate) fn is_user_error(e: &Error) -> bool {
    matches!(
        e.kind,
        ErrorKind::BadRequest
            | ErrorKind::Unauthorized
            | ErrorKind::Forbidden
            | ErrorKind::TooManyRequests
    )
}

pub(crate) fn status_of(e: &Error) -> StatusCode {
    crate::error::status_of(e.kind)
}

/// Anything else: the API's message when it is one a client may read, a generic one otherwise.
pub(crate) fn failure(v: &Visit, e: &Error) -> Response {
    if let Some(cause) = &e.cause {
        tracing::error!(%cause, "a sign-in page failed");
    }
    let message = match e.kind {
        ErrorKind::Internal => "Something went wrong. Please try again later.",
        _ => e.message.as_str(),
    };
    v.message(status_of(e), "Sign-in failed", message, "")
}

fn bad_form() -> Response {
    plain_page(
        StatusCode::BAD_REQUEST,
        "The form could not be read. Go back and try again.",
    )
}

/// A page without forms, for failures before the visit is known.
fn plain_page(status: StatusCode, error: &str) -> Response {
    let body = format!("<p class=\"error\">{}</p>", super::escape(error));
    super::page(status, "Sign-in failed", &body)
}
