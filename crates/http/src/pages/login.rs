//! The handlers of `/_/login` and `/_/logout`: check the form token, the redirect and the API
//! route's rate limit, run one step of [`Flow`], then render the next form or hand the
//! sign-in back ([`handback`]). A failure shows the API's message on the page, never a blank one.

use super::cookies::Cookie;
use super::flow::{Challenge, Enrolment, Flow, Next, SignedIn};
use super::views::{
    BackupCodesPage, CodePage, Ctx, EnrolPage, LoginPage, MessagePage, SecondStepPage,
    methods_from_field, methods_to_field,
};
use super::{csrf, handback, security_headers};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Body, Meta, Params};
use crate::limit::check_as_api_route;
use axum::extract::State;
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
pub struct Posted {
    csrf: String,
    collection: String,
    redirect: String,
    identity: String,
    password: String,
    mfa_id: String,
    enroll_token: String,
    otp_id: String,
    code: String,
    #[serde(rename = "type")]
    kind: String,
    trust_device: String,
    methods: String,
    secret: String,
    qr: String,
}

impl Posted {
    fn trust(&self) -> bool {
        matches!(self.trust_device.as_str(), "true" | "on" | "1")
    }
}

/// One request of the sign-in pages, once its form token and redirect were checked.
struct Visit {
    ctx: Ctx,
    target: Option<String>,
    secure: bool,
    /// The form-token cookie to set (a first visit).
    new_cookie: Option<Cookie>,
}

impl Visit {
    /// A rendered page with the pages' headers and `cookies` (plus the form-token cookie).
    fn page(&self, status: StatusCode, page: impl IntoResponse, cookies: &[Cookie]) -> Response {
        let mut response = (status, security_headers(), page).into_response();
        for cookie in self.new_cookie.iter().chain(cookies) {
            if let Some(value) = cookie.header() {
                response.headers_mut().append(SET_COOKIE, value);
            }
        }
        response
    }

    fn ctx(&self) -> Ctx {
        Ctx {
            csrf: self.ctx.csrf.clone(),
            collection: self.ctx.collection.clone(),
            redirect: self.ctx.redirect.clone(),
        }
    }

    fn message(
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

    fn login_link(&self) -> String {
        let query = serde_urlencoded::to_string([
            ("collection", self.ctx.collection.as_str()),
            ("redirect", self.ctx.redirect.as_str()),
        ])
        .unwrap_or_default();
        format!("/_/login?{query}")
    }
}

/// Reads the settings and the form token, and checks the redirect; the refusal page otherwise.
async fn visit(
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

/// [`visit`] for a posted form: refused (nothing done) unless its token matches this browser.
async fn posted_visit(s: &AppState, headers: &HeaderMap, form: &Posted) -> Result<Visit, Response> {
    let visit = visit(s, headers, &form.collection, &form.redirect).await?;
    if !csrf::accepts(&s.gh, headers, &form.csrf) {
        return Err(visit.message(StatusCode::FORBIDDEN, "Form expired", CSRF_REFUSED, ""));
    }
    Ok(visit)
}

/// The API route's limit for the page that does the same.
async fn within_limit(
    s: &AppState,
    v: &Visit,
    meta: &RequestInfo,
    route: &str,
) -> Result<(), Error> {
    check_as_api_route(&s.gh, None, &meta.ip, route, &v.ctx.collection).await
}

/// `GET /_/login?collection=…&redirect=…`: the first step.
pub async fn login_form(State(s): State<AppState>, headers: HeaderMap, params: Params) -> Response {
    let v = match visit(
        &s,
        &headers,
        params.get("collection"),
        params.get("redirect"),
    )
    .await
    {
        Ok(v) => v,
        Err(page) => return page,
    };
    first_step(&s, &v, String::new(), String::new(), StatusCode::OK).await
}

async fn first_step(
    s: &AppState,
    v: &Visit,
    identity: String,
    error: String,
    status: StatusCode,
) -> Response {
    let methods = match s.gh.auth_methods(&v.ctx.collection).await {
        Ok(methods) => methods,
        Err(e) => return failure(v, &e),
    };
    let page = LoginPage {
        title: "Sign in",
        error,
        ctx: v.ctx(),
        password: methods["password"]["enabled"].as_bool() == Some(true),
        otp: methods["otp"]["enabled"].as_bool() == Some(true),
        identity,
    };
    v.page(status, page, &[])
}

/// `POST /_/login`: identity and password.
pub async fn password(
    State(s): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    form: Result<Body<Posted>, ApiError>,
) -> Response {
    let Ok(Body(form)) = form else {
        return bad_form();
    };
    let v = match posted_visit(&s, &headers, &form).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let flow = Flow {
        gh: &s.gh,
        collection: &v.ctx.collection,
        meta: &meta,
    };
    let next = match within_limit(&s, &v, &meta, "auth-with-password").await {
        Ok(()) => flow.password(&form.identity, &form.password).await,
        Err(e) => Err(e),
    };
    match next {
        Ok(next) => advance(&s, &v, next, &form.identity).await,
        Err(e) if e.kind == ErrorKind::BadRequest || e.kind == ErrorKind::Unauthorized => {
            first_step(&s, &v, form.identity, e.message.clone(), status_of(&e)).await
        }
        Err(e) => failure(&v, &e),
    }
}

/// `POST /_/login/factor`: a TOTP or backup code as the second step.
pub async fn factor(
    State(s): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    form: Result<Body<Posted>, ApiError>,
) -> Response {
    let Ok(Body(form)) = form else {
        return bad_form();
    };
    let v = match posted_visit(&s, &headers, &form).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let route = match form.kind.as_str() {
        "backupCode" => "auth-with-backup-code",
        _ => "auth-with-totp",
    };
    let flow = Flow {
        gh: &s.gh,
        collection: &v.ctx.collection,
        meta: &meta,
    };
    let next = match within_limit(&s, &v, &meta, route).await {
        Ok(()) => {
            flow.factor(&form.kind, &form.mfa_id, &form.code, form.trust())
                .await
        }
        Err(e) => Err(e),
    };
    settle_second_step(&s, &v, next, &form).await
}

/// `POST /_/login/sms`: texts a code for the second step, then asks for it.
pub async fn request_sms(
    State(s): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    form: Result<Body<Posted>, ApiError>,
) -> Response {
    let Ok(Body(form)) = form else {
        return bad_form();
    };
    let v = match posted_visit(&s, &headers, &form).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let flow = Flow {
        gh: &s.gh,
        collection: &v.ctx.collection,
        meta: &meta,
    };
    let sent = match within_limit(&s, &v, &meta, "request-sms-otp").await {
        Ok(()) => flow.request_sms_code(&form.mfa_id).await,
        Err(e) => Err(e),
    };
    code_page(&s, &v, sent, &form, "We sent a code by text message.").await
}

/// `POST /_/login/email`: emails a code (a first step without `mfaId`, else a second step).
pub async fn request_email(
    State(s): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    form: Result<Body<Posted>, ApiError>,
) -> Response {
    let Ok(Body(form)) = form else {
        return bad_form();
    };
    let v = match posted_visit(&s, &headers, &form).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let flow = Flow {
        gh: &s.gh,
        collection: &v.ctx.collection,
        meta: &meta,
    };
    let sent = match within_limit(&s, &v, &meta, "request-otp").await {
        Ok(()) => flow.request_email_code(&form.identity, &form.mfa_id).await,
        Err(e) => Err(e),
    };
    code_page(
        &s,
        &v,
        sent,
        &form,
        "If the address has an account, we sent it a code.",
    )
    .await
}

async fn code_page(
    s: &AppState,
    v: &Visit,
    sent: Result<String, Error>,
    form: &Posted,
    prompt: &str,
) -> Response {
    match sent {
        Ok(otp_id) => {
            let page = CodePage {
                title: "Enter your code",
                error: String::new(),
                ctx: v.ctx(),
                prompt: prompt.to_owned(),
                otp_id,
                mfa_id: form.mfa_id.clone(),
                identity: form.identity.clone(),
            };
            v.page(StatusCode::OK, page, &[])
        }
        Err(e) if form.mfa_id.is_empty() && e.kind == ErrorKind::BadRequest => {
            first_step(
                s,
                v,
                form.identity.clone(),
                e.message.clone(),
                status_of(&e),
            )
            .await
        }
        Err(e) if !form.mfa_id.is_empty() && is_user_error(&e) => {
            second_step(v, form, e.message.clone(), status_of(&e))
        }
        Err(e) => failure(v, &e),
    }
}

/// `POST /_/login/otp`: a code sent by email or text message.
pub async fn code(
    State(s): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    form: Result<Body<Posted>, ApiError>,
) -> Response {
    let Ok(Body(form)) = form else {
        return bad_form();
    };
    let v = match posted_visit(&s, &headers, &form).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let flow = Flow {
        gh: &s.gh,
        collection: &v.ctx.collection,
        meta: &meta,
    };
    let next = match within_limit(&s, &v, &meta, "auth-with-otp").await {
        Ok(()) => {
            flow.code(&form.otp_id, &form.code, &form.mfa_id, form.trust())
                .await
        }
        Err(e) => Err(e),
    };
    match next {
        Ok(next) => advance(&s, &v, next, &form.identity).await,
        Err(e) if is_user_error(&e) => {
            let page = CodePage {
                title: "Enter your code",
                error: e.message.clone(),
                ctx: v.ctx(),
                prompt: "Type the code you received.".to_owned(),
                otp_id: form.otp_id.clone(),
                mfa_id: form.mfa_id.clone(),
                identity: form.identity.clone(),
            };
            v.page(status_of(&e), page, &[])
        }
        Err(e) => failure(&v, &e),
    }
}

/// `POST /_/login/enrol`: the first code of the authenticator being set up.
pub async fn enrol(
    State(s): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    form: Result<Body<Posted>, ApiError>,
) -> Response {
    let Ok(Body(form)) = form else {
        return bad_form();
    };
    let v = match posted_visit(&s, &headers, &form).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let flow = Flow {
        gh: &s.gh,
        collection: &v.ctx.collection,
        meta: &meta,
    };
    let confirmed = match within_limit(&s, &v, &meta, "records/{id}/mfa/totp/confirm").await {
        Ok(()) => flow.confirm_enrolment(&form.enroll_token, &form.code).await,
        Err(e) => Err(e),
    };
    match confirmed {
        Ok(codes) => {
            let page = BackupCodesPage {
                title: "Save your backup codes",
                error: String::new(),
                ctx: v.ctx(),
                mfa_id: form.mfa_id.clone(),
                codes,
            };
            v.page(StatusCode::OK, page, &[])
        }
        Err(e) if is_user_error(&e) => {
            // The same key again: the app has it already. Display only, the domain keeps its own.
            let enrolment = Enrolment {
                mfa_id: form.mfa_id.clone(),
                enroll_token: form.enroll_token.clone(),
                secret: form
                    .secret
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect(),
                qr: Some(form.qr.clone())
                    .filter(|qr| qr.starts_with("data:image/png;base64,"))
                    .unwrap_or_default(),
            };
            enrol_page(&v, enrolment, e.message.clone(), status_of(&e))
        }
        Err(e) => failure(&v, &e),
    }
}

/// `POST /_/login/continue`: after the backup codes, the second step with the new factor.
pub async fn after_enrolment(
    State(s): State<AppState>,
    headers: HeaderMap,
    form: Result<Body<Posted>, ApiError>,
) -> Response {
    let Ok(Body(mut form)) = form else {
        return bad_form();
    };
    let v = match posted_visit(&s, &headers, &form).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    form.methods = "totp=;backupCode=".to_owned();
    second_step(&v, &form, String::new(), StatusCode::OK)
}

/// `POST /_/logout`: forgets the session cookie.
pub async fn logout(
    State(s): State<AppState>,
    headers: HeaderMap,
    form: Result<Body<Posted>, ApiError>,
) -> Response {
    let Ok(Body(form)) = form else {
        return bad_form();
    };
    let v = match posted_visit(&s, &headers, &form).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let cookie = handback::sign_out_cookie(v.secure);
    match &v.target {
        Some(target) => handback::redirect(target, &[cookie]),
        None => {
            let page = MessagePage {
                title: "Signed out",
                error: String::new(),
                ctx: v.ctx(),
                message: "You are signed out.".to_owned(),
                signed_in: false,
                back: v.login_link(),
            };
            v.page(StatusCode::OK, page, &[cookie])
        }
    }
}

async fn settle_second_step(
    s: &AppState,
    v: &Visit,
    next: Result<Next, Error>,
    form: &Posted,
) -> Response {
    match next {
        Ok(next) => advance(s, v, next, &form.identity).await,
        Err(e) if is_user_error(&e) => second_step(v, form, e.message.clone(), status_of(&e)),
        Err(e) => failure(v, &e),
    }
}

/// The next form of the flow, or the hand-back.
async fn advance(s: &AppState, v: &Visit, next: Next, identity: &str) -> Response {
    match next {
        Next::SignedIn(signed) => hand_back(s, v, &signed).await,
        Next::SecondStep(Challenge { mfa_id, methods }) => {
            let page = SecondStepPage {
                title: "Second step",
                error: String::new(),
                ctx: v.ctx(),
                mfa_id,
                identity: identity.to_owned(),
                methods_field: methods_to_field(&methods),
                methods,
            };
            v.page(StatusCode::OK, page, &[])
        }
        Next::Enrol(enrolment) => enrol_page(v, enrolment, String::new(), StatusCode::OK),
    }
}

fn second_step(v: &Visit, form: &Posted, error: String, status: StatusCode) -> Response {
    let methods = methods_from_field(&form.methods);
    let page = SecondStepPage {
        title: "Second step",
        error,
        ctx: v.ctx(),
        mfa_id: form.mfa_id.clone(),
        identity: form.identity.clone(),
        methods_field: methods_to_field(&methods),
        methods,
    };
    v.page(status, page, &[])
}

fn enrol_page(v: &Visit, e: Enrolment, error: String, status: StatusCode) -> Response {
    let page = EnrolPage {
        title: "Set up two-step sign-in",
        error,
        ctx: v.ctx(),
        mfa_id: e.mfa_id,
        enroll_token: e.enroll_token,
        secret: e.secret,
        qr: e.qr,
    };
    v.page(status, page, &[])
}

async fn hand_back(s: &AppState, v: &Visit, signed: &SignedIn) -> Response {
    let device_lifetime =
        s.gh.auth_collection(&v.ctx.collection)
            .await
            .map(|c| c.mfa.trusted_device_duration)
            .unwrap_or_default();
    tracing::debug!(record = %signed.record_id, "signed in on the hosted page");
    let cookies = handback::cookies(signed, v.secure, device_lifetime);
    match &v.target {
        Some(target) => handback::redirect(target, &cookies),
        None => {
            let page = MessagePage {
                title: "Signed in",
                error: String::new(),
                ctx: v.ctx(),
                message: "You are signed in.".to_owned(),
                signed_in: true,
                back: String::new(),
            };
            v.page(StatusCode::OK, page, &cookies)
        }
    }
}

/// Errors the person at the form can fix (a wrong code, a spent session, a limit).
fn is_user_error(e: &Error) -> bool {
    matches!(
        e.kind,
        ErrorKind::BadRequest
            | ErrorKind::Unauthorized
            | ErrorKind::Forbidden
            | ErrorKind::TooManyRequests
    )
}

fn status_of(e: &Error) -> StatusCode {
    crate::error::status_of(e.kind)
}

/// Anything else: the API's message when it is one a client may read, a generic one otherwise.
fn failure(v: &Visit, e: &Error) -> Response {
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
