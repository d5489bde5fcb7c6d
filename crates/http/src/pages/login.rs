//! The handlers of `/_/login` and `/_/logout`: with the form token and the redirect checked
//! ([`Submitted`]), check the API route's rate limit, run one step of [`Flow`], then render the
//! next form or hand the sign-in back ([`handback`]). A failure shows the API's message on the
//! page, never a blank one.

use super::flow::{Challenge, Enrolment, Flow, Next, SignedIn};
use super::handback;
use super::views::{
    BackupCodesPage, CodePage, EnrolPage, LOGIN_FORMS, LoginPage, MessagePage, SecondStepPage,
    methods_from_field, methods_to_field,
};
use super::visit::{Posted, Submitted, Visit, failure, is_user_error, status_of, visit};
use crate::AppState;
use crate::extract::{Meta, Params};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_domain::{Error, ErrorKind};

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

pub(crate) async fn first_step(
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
        signup: if super::signup::open_for_signup(s, &v.ctx.collection).await {
            v.link("/_/signup")
        } else {
            String::new()
        },
    };
    v.page(status, page, &[])
}

/// `POST /_/login`: identity and password.
pub async fn password(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Submitted { v, form }: Submitted,
) -> Response {
    let flow = Flow {
        gh: &s.gh,
        collection: &v.ctx.collection,
        meta: &meta,
    };
    let next = match v.within_limit(&s, &meta, "auth-with-password").await {
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
    Meta(meta): Meta,
    Submitted { v, form }: Submitted,
) -> Response {
    let route = match form.kind.as_str() {
        "backupCode" => "auth-with-backup-code",
        _ => "auth-with-totp",
    };
    let flow = Flow {
        gh: &s.gh,
        collection: &v.ctx.collection,
        meta: &meta,
    };
    let next = match v.within_limit(&s, &meta, route).await {
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
    Meta(meta): Meta,
    Submitted { v, form }: Submitted,
) -> Response {
    let flow = Flow {
        gh: &s.gh,
        collection: &v.ctx.collection,
        meta: &meta,
    };
    let sent = match v.within_limit(&s, &meta, "request-sms-otp").await {
        Ok(()) => flow.request_sms_code(&form.mfa_id).await,
        Err(e) => Err(e),
    };
    code_page(&s, &v, sent, &form, "We sent a code by text message.").await
}

/// `POST /_/login/email`: emails a code (a first step without `mfaId`, else a second step).
pub async fn request_email(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Submitted { v, form }: Submitted,
) -> Response {
    let flow = Flow {
        gh: &s.gh,
        collection: &v.ctx.collection,
        meta: &meta,
    };
    let sent = match v.within_limit(&s, &meta, "request-otp").await {
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
                base: LOGIN_FORMS,
                trust: true,
                then: String::new(),
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
    Meta(meta): Meta,
    Submitted { v, form }: Submitted,
) -> Response {
    let flow = Flow {
        gh: &s.gh,
        collection: &v.ctx.collection,
        meta: &meta,
    };
    let next = match v.within_limit(&s, &meta, "auth-with-otp").await {
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
                base: LOGIN_FORMS,
                trust: true,
                then: String::new(),
            };
            v.page(status_of(&e), page, &[])
        }
        Err(e) => failure(&v, &e),
    }
}

/// `POST /_/login/enrol`: the first code of the authenticator being set up.
pub async fn enrol(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Submitted { v, form }: Submitted,
) -> Response {
    let flow = Flow {
        gh: &s.gh,
        collection: &v.ctx.collection,
        meta: &meta,
    };
    let confirmed = match v
        .within_limit(&s, &meta, "records/{id}/mfa/totp/confirm")
        .await
    {
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
pub async fn after_enrolment(Submitted { v, mut form }: Submitted) -> Response {
    form.methods = "totp=;backupCode=".to_owned();
    second_step(&v, &form, String::new(), StatusCode::OK)
}

/// `POST /_/logout`: forgets the session cookie.
pub async fn logout(Submitted { v, .. }: Submitted) -> Response {
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
pub(crate) async fn advance(s: &AppState, v: &Visit, next: Next, identity: &str) -> Response {
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
                base: LOGIN_FORMS,
                trust: true,
                then: String::new(),
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
        base: LOGIN_FORMS,
        trust: true,
        then: String::new(),
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
