//! Signing in again before a change that needs a recent authentication (`mfa.reauthWindow`):
//! the password, then the record's second step when it has one — the sign-in's own
//! [`Flow`], so the same limits, lockouts and audit rows apply. The fresh token replaces the
//! `gh_session` cookie and the change the person asked for ([`Action`], a hidden field) is made
//! at once. A trusted device does not stand in for the second step here.

use super::account::{failed, refused};
use super::account_views::ReauthPage;
use super::changes;
use super::code_factors::{self, PHONE_MAX};
use super::cookies::Cookie;
use super::flow::{Challenge, Flow, Next};
use super::handback;
use super::session::Signed;
use super::two_factor;
use super::views::{CodePage, REAUTH_FORMS, SecondStepPage, methods_from_field, methods_to_field};
use super::visit::{Posted, Visit, is_user_error, status_of};
use crate::AppState;
use crate::extract::Meta;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_domain::{Caller, Error, RequestInfo};
use serde_json::Value;

/// The start of the action that adds a phone; the number follows.
const ADD_SMS: &str = "add-sms:";

/// An account change that needs a recent authentication.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Action {
    AddTotp,
    /// A phone, with the number typed (it rides in the hidden `then` field until the change is
    /// made, so the person does not type it twice).
    AddSms(String),
    /// Codes to the record's own email address.
    AddEmail,
    Remove(Factor),
    NewBackupCodes,
}

/// A factor the account page can remove.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Factor {
    Totp,
    Sms,
    Email,
}

impl Action {
    /// The action a form names; `None` for anything else.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        if let Some(phone) = name.strip_prefix(ADD_SMS) {
            return (!phone.is_empty() && phone.len() <= PHONE_MAX)
                .then(|| Self::AddSms(phone.to_owned()));
        }
        Some(match name {
            "add-totp" => Self::AddTotp,
            "add-email" => Self::AddEmail,
            "remove-totp" => Self::Remove(Factor::Totp),
            "remove-sms" => Self::Remove(Factor::Sms),
            "remove-email" => Self::Remove(Factor::Email),
            "new-backup-codes" => Self::NewBackupCodes,
            _ => return None,
        })
    }

    pub(crate) fn name(&self) -> String {
        let name = match self {
            Self::AddTotp => "add-totp",
            Self::AddSms(phone) => return format!("{ADD_SMS}{phone}"),
            Self::AddEmail => "add-email",
            Self::Remove(Factor::Totp) => "remove-totp",
            Self::Remove(Factor::Sms) => "remove-sms",
            Self::Remove(Factor::Email) => "remove-email",
            Self::NewBackupCodes => "new-backup-codes",
        };
        name.to_owned()
    }

    /// What it does, to finish "To …, confirm it's you".
    fn what(&self) -> &'static str {
        match self {
            Self::AddTotp => "set up an authenticator app",
            Self::AddSms(_) => "add a phone number",
            Self::AddEmail => "add email codes",
            Self::Remove(Factor::Totp) => "remove your authenticator app",
            Self::Remove(Factor::Sms) => "remove your phone",
            Self::Remove(Factor::Email) => "remove your email code",
            Self::NewBackupCodes => "make new backup codes",
        }
    }
}

/// Makes the change `action` for `me`; when the domain wants a recent authentication first,
/// the form for it. `cookies` go with whatever page answers (a fresh session).
pub(crate) async fn perform(
    s: &AppState,
    v: &Visit,
    meta: &RequestInfo,
    me: &Caller,
    action: Action,
    cookies: &[Cookie],
) -> Response {
    let outcome = match &action {
        Action::AddTotp => two_factor::begin(s, v, meta, me, cookies).await,
        Action::AddSms(phone) => code_factors::send_sms(s, v, meta, me, phone, cookies).await,
        Action::AddEmail => code_factors::send_email(s, v, meta, me, cookies).await,
        Action::Remove(factor) => changes::remove(s, v, meta, me, *factor, cookies).await,
        Action::NewBackupCodes => changes::new_codes(s, v, meta, me, cookies).await,
    };
    match outcome {
        Ok(page) => page,
        Err(e) => refused(s, v, meta, me, &e, Some(action), cookies).await,
    }
}

/// The "confirm it's you" form for `action`.
pub(crate) fn ask(
    v: &Visit,
    me: &Caller,
    action: Action,
    error: String,
    status: StatusCode,
) -> Response {
    let page = ReauthPage {
        title: "Confirm it's you",
        error,
        ctx: v.ctx(),
        email: me.record.row.email.clone(),
        what: action.what(),
        then: action.name(),
        back: v.ctx().account_link(),
    };
    v.page(status, page, &[])
}

/// `POST /_/account/reauth`: the password.
pub async fn password(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Signed { v, form, me }: Signed,
) -> Response {
    let Some(action) = Action::parse(&form.then) else {
        return unknown_action(&v);
    };
    let quiet = without_device(&meta);
    let flow = Flow {
        gh: &s.gh,
        collection: &v.ctx.collection,
        meta: &quiet,
    };
    let next = match v.within_limit(&s, &quiet, "auth-with-password").await {
        Ok(()) => flow.password(&me.record.row.email, &form.password).await,
        Err(e) => Err(e),
    };
    match next {
        Ok(next) => settle(&s, &v, &meta, &me, action, next).await,
        Err(e) if is_user_error(&e) => ask(&v, &me, action, e.message.clone(), status_of(&e)),
        Err(e) => failed(&v, &e),
    }
}

/// `POST /_/account/reauth/factor`: an authenticator or backup code as the second step.
pub async fn factor(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Signed { v, form, me }: Signed,
) -> Response {
    let Some(action) = Action::parse(&form.then) else {
        return unknown_action(&v);
    };
    let route = match form.kind.as_str() {
        "backupCode" => "auth-with-backup-code",
        _ => "auth-with-totp",
    };
    let quiet = without_device(&meta);
    let flow = Flow {
        gh: &s.gh,
        collection: &v.ctx.collection,
        meta: &quiet,
    };
    let next = match v.within_limit(&s, &quiet, route).await {
        Ok(()) => {
            flow.factor(&form.kind, &form.mfa_id, &form.code, false)
                .await
        }
        Err(e) => Err(e),
    };
    match next {
        Ok(next) => settle(&s, &v, &meta, &me, action, next).await,
        Err(e) if is_user_error(&e) => {
            second_step(&v, &form, action, e.message.clone(), status_of(&e))
        }
        Err(e) => failed(&v, &e),
    }
}

/// `POST /_/account/reauth/sms` and `…/email`: sends a code for the second step.
pub async fn request_sms(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Signed { v, form, me }: Signed,
) -> Response {
    request_code(&s, &v, &meta, &me, &form, Channel::Sms).await
}

pub async fn request_email(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Signed { v, form, me }: Signed,
) -> Response {
    request_code(&s, &v, &meta, &me, &form, Channel::Email).await
}

#[derive(Clone, Copy)]
enum Channel {
    Sms,
    Email,
}

async fn request_code(
    s: &AppState,
    v: &Visit,
    meta: &RequestInfo,
    me: &Caller,
    form: &Posted,
    channel: Channel,
) -> Response {
    let Some(action) = Action::parse(&form.then) else {
        return unknown_action(v);
    };
    let flow = Flow {
        gh: &s.gh,
        collection: &v.ctx.collection,
        meta,
    };
    let (route, prompt) = match channel {
        Channel::Sms => ("request-sms-otp", "We sent a code by text message."),
        Channel::Email => ("request-otp", "We sent a code to your email address."),
    };
    let sent = match v.within_limit(s, meta, route).await {
        Err(e) => Err(e),
        Ok(()) => match channel {
            Channel::Sms => flow.request_sms_code(&form.mfa_id).await,
            Channel::Email => {
                flow.request_email_code(&me.record.row.email, &form.mfa_id)
                    .await
            }
        },
    };
    match sent {
        Ok(otp_id) => code_page(
            (v, me, form, action),
            (otp_id, prompt),
            String::new(),
            StatusCode::OK,
        ),
        Err(e) if is_user_error(&e) => {
            second_step(v, form, action, e.message.clone(), status_of(&e))
        }
        Err(e) => failed(v, &e),
    }
}

/// `POST /_/account/reauth/otp`: the code sent by text message or email.
pub async fn code(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Signed { v, form, me }: Signed,
) -> Response {
    let Some(action) = Action::parse(&form.then) else {
        return unknown_action(&v);
    };
    let quiet = without_device(&meta);
    let flow = Flow {
        gh: &s.gh,
        collection: &v.ctx.collection,
        meta: &quiet,
    };
    let next = match v.within_limit(&s, &quiet, "auth-with-otp").await {
        Ok(()) => {
            flow.code(&form.otp_id, &form.code, &form.mfa_id, false)
                .await
        }
        Err(e) => Err(e),
    };
    match next {
        Ok(next) => settle(&s, &v, &meta, &me, action, next).await,
        Err(e) if is_user_error(&e) => {
            let prompt = "Type the code you received.";
            let otp_id = form.otp_id.clone();
            code_page(
                (&v, &me, &form, action),
                (otp_id, prompt),
                e.message.clone(),
                status_of(&e),
            )
        }
        Err(e) => failed(&v, &e),
    }
}

/// Where a step of the re-authentication leads: signed in again (the change is made), or its
/// second step.
async fn settle(
    s: &AppState,
    v: &Visit,
    meta: &RequestInfo,
    me: &Caller,
    action: Action,
    next: Next,
) -> Response {
    match next {
        Next::SignedIn(signed) => {
            let fresh =
                s.gh.authenticate(&signed.token)
                    .await
                    .filter(|fresh| fresh.record.id() == me.record.id());
            let Some(fresh) = fresh else {
                return failed(
                    v,
                    &Error::internal("a re-authentication signed in another record"),
                );
            };
            tracing::debug!(record = %signed.record_id, "signed in again on the account page");
            let cookies = handback::cookies(&signed, v.secure, 0);
            perform(s, v, meta, &fresh, action, &cookies).await
        }
        Next::SecondStep(Challenge { mfa_id, methods }) => {
            let page = SecondStepPage {
                title: "Confirm it's you",
                error: String::new(),
                ctx: v.ctx(),
                mfa_id,
                identity: me.record.row.email.clone(),
                methods_field: methods_to_field(&methods),
                methods,
                base: REAUTH_FORMS,
                trust: false,
                then: action.name(),
            };
            v.page(StatusCode::OK, page, &[])
        }
        // A record that must still enrol has no session to confirm.
        Next::Enrol(_) => failed(
            v,
            &Error::forbidden("Sign out and sign in again to set up two-step sign-in first."),
        ),
    }
}

fn second_step(
    v: &Visit,
    form: &Posted,
    action: Action,
    error: String,
    status: StatusCode,
) -> Response {
    let methods = methods_from_field(&form.methods);
    let page = SecondStepPage {
        title: "Confirm it's you",
        error,
        ctx: v.ctx(),
        mfa_id: form.mfa_id.clone(),
        identity: form.identity.clone(),
        methods_field: methods_to_field(&methods),
        methods,
        base: REAUTH_FORMS,
        trust: false,
        then: action.name(),
    };
    v.page(status, page, &[])
}

/// The form for the code sent to `me` (`otp_id`), with `prompt` above it.
fn code_page(
    (v, me, form, action): (&Visit, &Caller, &Posted, Action),
    (otp_id, prompt): (String, &str),
    error: String,
    status: StatusCode,
) -> Response {
    let page = CodePage {
        title: "Confirm it's you",
        error,
        ctx: v.ctx(),
        prompt: prompt.to_owned(),
        otp_id,
        mfa_id: form.mfa_id.clone(),
        identity: me.record.row.email.clone(),
        base: REAUTH_FORMS,
        trust: false,
        then: action.name(),
    };
    v.page(status, page, &[])
}

fn unknown_action(v: &Visit) -> Response {
    v.message(
        StatusCode::BAD_REQUEST,
        "Something went wrong",
        "This form asks for a change the page does not know. Nothing was changed.",
        "",
    )
}

/// The request without the trusted-device token (header and cookie): confirming a person who
/// is at the keyboard asks for their second step even on a trusted device.
fn without_device(meta: &RequestInfo) -> RequestInfo {
    let mut quiet = meta.clone();
    quiet.headers.remove("x_gatehouse_device");
    if let Some(Value::String(cookies)) = quiet.headers.get_mut("cookie") {
        *cookies = cookies
            .split(';')
            .map(str::trim)
            .filter(|c| !c.starts_with("gh_device="))
            .collect::<Vec<_>>()
            .join("; ");
    }
    quiet
}
