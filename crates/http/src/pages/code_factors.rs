//! Adding a second step whose codes are sent, from the account page: a phone (SMS) or the
//! record's email address. A code goes out, and the factor is added once it comes back; the
//! backup codes are shown once when the API's confirm answers them (a first factor). The same
//! domain calls, under the same limits, as `POST …/mfa/sms`, `…/mfa/sms/confirm`,
//! `…/mfa/email` and `…/mfa/email/confirm`; sending again is the first call again, so the
//! SMS caps count it too.

use super::account::{Shown, asks_reauth, done, refused, render, within_api_limit};
use super::account_views::{PhoneForm, SentCodePage};
use super::cookies::Cookie;
use super::reauth::Action;
use super::session::Signed;
use super::two_factor::{codes_of, codes_page};
use super::visit::{Posted, Visit, is_user_error, status_of};
use crate::AppState;
use crate::extract::Meta;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use gatehouse_domain::service::factors::{EmailEnrolment, SmsEnrolment};
use gatehouse_domain::{Caller, Error, ErrorKind, RequestInfo};

/// Longest phone number taken from a form (E.164 is at most 16 characters; room for spaces).
pub(crate) const PHONE_MAX: usize = 32;
/// Longest code id shown again in a form (ours are 15 characters).
const OTP_ID_MAX: usize = 64;
const PHONE_TOO_LONG: &str = "Must be a phone number in international format, e.g. +14155552671.";

/// Which kind of sent code a form is about.
#[derive(Clone, Copy)]
enum Channel {
    Sms,
    Email,
}

impl Channel {
    /// The factor's type in the MFA overview.
    fn kind(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Sms => "/_/account/sms",
            Self::Email => "/_/account/email",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Sms => "Add a phone number",
            Self::Email => "Add email codes",
        }
    }
}

/// `POST /_/account/sms` (`phone`; and `otpId` when it sends again): a code to the phone.
pub async fn start_sms(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Signed { v, form, me }: Signed,
) -> Response {
    let phone = form.phone.trim();
    if phone.len() > PHONE_MAX {
        let e = Error::bad_request(PHONE_TOO_LONG);
        return phone_refused(&s, &v, &meta, &me, phone, &e).await;
    }
    let action = Action::AddSms(phone.to_owned());
    start(&s, &v, &meta, &me, &form, action).await
}

/// `POST /_/account/email` (and `otpId` when it sends again): a code to the record's address.
pub async fn start_email(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Signed { v, form, me }: Signed,
) -> Response {
    start(&s, &v, &meta, &me, &form, Action::AddEmail).await
}

/// Sends the code of `action`. Sending again that is refused (a limit, the provider) keeps the
/// form of the code already sent, which still works.
async fn start(
    s: &AppState,
    v: &Visit,
    meta: &RequestInfo,
    me: &Caller,
    form: &Posted,
    action: Action,
) -> Response {
    let (sent, channel) = match &action {
        Action::AddSms(phone) => (send_sms(s, v, meta, me, phone, &[]).await, Channel::Sms),
        _ => (send_email(s, v, meta, me, &[]).await, Channel::Email),
    };
    let again = shown_otp_id(&form.otp_id);
    match sent {
        Ok(page) => page,
        Err(e) if is_user_error(&e) && !asks_reauth(&e) && !again.is_empty() => {
            let to = sent_to(channel, me, &form.phone);
            code_page(v, channel, again, to, e.message.clone(), status_of(&e))
        }
        Err(e) => refused(s, v, meta, me, &e, Some(action), &[]).await,
    }
}

/// Sends a code to `phone` (a pending phone until it comes back) and shows its form.
pub(crate) async fn send_sms(
    s: &AppState,
    v: &Visit,
    meta: &RequestInfo,
    me: &Caller,
    phone: &str,
    cookies: &[Cookie],
) -> Result<Response, Error> {
    let route = (&Method::POST, "records/{id}/mfa/sms");
    within_api_limit(s, meta, me, v, route, &[]).await?;
    let body = SmsEnrolment {
        phone: phone.to_owned(),
        ..SmsEnrolment::default()
    };
    let sent =
        s.gh.enrol_sms(&v.ctx.collection, me.record.id(), body, Some(me), meta)
            .await;
    match sent {
        Ok(answer) => {
            let otp_id = answer["otpId"].as_str().unwrap_or_default().to_owned();
            let page = SentCodePage {
                title: Channel::Sms.title(),
                error: String::new(),
                ctx: v.ctx(),
                prompt: prompt(Channel::Sms, phone),
                path: Channel::Sms.path(),
                otp_id,
                phone: phone.to_owned(),
            };
            Ok(v.page(StatusCode::OK, page, cookies))
        }
        // A number the API refuses: the account page, its message by the field.
        Err(e) if e.kind == ErrorKind::BadRequest && e.data.message_of("phone").is_some() => {
            Ok(phone_refused(s, v, meta, me, phone, &e).await)
        }
        Err(e) => Err(e),
    }
}

/// Sends a code to the record's own address (a pending factor until it comes back).
pub(crate) async fn send_email(
    s: &AppState,
    v: &Visit,
    meta: &RequestInfo,
    me: &Caller,
    cookies: &[Cookie],
) -> Result<Response, Error> {
    let route = (&Method::POST, "records/{id}/mfa/email");
    within_api_limit(s, meta, me, v, route, &[]).await?;
    let answer =
        s.gh.enrol_email(
            &v.ctx.collection,
            me.record.id(),
            EmailEnrolment::default(),
            Some(me),
            meta,
        )
        .await?;
    let address = me.record.row.email.as_str();
    let page = SentCodePage {
        title: Channel::Email.title(),
        error: String::new(),
        ctx: v.ctx(),
        prompt: prompt(Channel::Email, address),
        path: Channel::Email.path(),
        otp_id: answer["otpId"].as_str().unwrap_or_default().to_owned(),
        phone: String::new(),
    };
    Ok(v.page(StatusCode::OK, page, cookies))
}

/// `POST /_/account/sms/confirm` (`otpId`, `code`, `phone`).
pub async fn confirm_sms(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Signed { v, form, me }: Signed,
) -> Response {
    confirm(&s, &v, &meta, &me, &form, Channel::Sms).await
}

/// `POST /_/account/email/confirm` (`otpId`, `code`).
pub async fn confirm_email(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Signed { v, form, me }: Signed,
) -> Response {
    confirm(&s, &v, &meta, &me, &form, Channel::Email).await
}

/// The code back: the factor is added (and the backup codes shown, when the API answers them).
/// A wrong code shows the same form again (nothing changed); once the factor is added, the
/// same code again gets the API's answer on the account page.
async fn confirm(
    s: &AppState,
    v: &Visit,
    meta: &RequestInfo,
    me: &Caller,
    form: &Posted,
    channel: Channel,
) -> Response {
    let (collection, id) = (v.ctx.collection.as_str(), me.record.id());
    let (otp_id, code) = (form.otp_id.as_str(), form.code.as_str());
    let route = match channel {
        Channel::Sms => "records/{id}/mfa/sms/confirm",
        Channel::Email => "records/{id}/mfa/email/confirm",
    };
    let confirmed = match within_api_limit(s, meta, me, v, (&Method::POST, route), &[]).await {
        Err(e) => Err(e),
        Ok(()) => match channel {
            Channel::Sms => {
                s.gh.confirm_sms(collection, id, otp_id, code, Some(me), meta)
                    .await
            }
            Channel::Email => {
                s.gh.confirm_email(collection, id, otp_id, code, Some(me), meta)
                    .await
            }
        },
    };
    match confirmed {
        Ok(answer) => {
            let (what, intro) = match channel {
                Channel::Sms => ("sms-added", "Your phone is set up."),
                Channel::Email => ("email-added", "Email codes are set up."),
            };
            let codes = codes_of(&answer);
            if codes.is_empty() {
                return done(v, what, &[]);
            }
            codes_page(v, me, intro, codes, &[])
        }
        Err(e) if is_user_error(&e) && pending(s, v, meta, me, channel).await => {
            let to = sent_to(channel, me, &form.phone);
            let otp_id = shown_otp_id(&form.otp_id);
            code_page(v, channel, otp_id, to, e.message.clone(), status_of(&e))
        }
        Err(e) => refused(s, v, meta, me, &e, None, &[]).await,
    }
}

/// Whether the record has a factor of `channel` waiting for its code.
async fn pending(
    s: &AppState,
    v: &Visit,
    meta: &RequestInfo,
    me: &Caller,
    channel: Channel,
) -> bool {
    let Ok(overview) =
        s.gh.mfa_overview(&v.ctx.collection, me.record.id(), Some(me), meta)
            .await
    else {
        return false;
    };
    overview["factors"].as_array().is_some_and(|all| {
        all.iter().any(|f| {
            f["type"].as_str() == Some(channel.kind()) && f["status"].as_str() == Some("pending")
        })
    })
}

/// The account page with the add-a-phone form's refusal (`typed` kept in the field).
async fn phone_refused(
    s: &AppState,
    v: &Visit,
    meta: &RequestInfo,
    me: &Caller,
    typed: &str,
    e: &Error,
) -> Response {
    let field = e.data.message_of("phone").unwrap_or(e.message.as_str());
    let shown = Shown {
        status: status_of(e),
        error: e.message.clone(),
        phone: PhoneForm {
            typed: typed.chars().take(PHONE_MAX).collect(),
            error: field.to_owned(),
        },
        ..Shown::default()
    };
    render(s, v, meta, me, shown, &[]).await
}

/// Where the code went: the phone from the form (bounded), or the record's address.
fn sent_to(channel: Channel, me: &Caller, phone: &str) -> String {
    match channel {
        Channel::Sms => phone.trim().chars().take(PHONE_MAX).collect(),
        Channel::Email => me.record.row.email.clone(),
    }
}

fn prompt(channel: Channel, to: &str) -> String {
    match channel {
        Channel::Sms => format!("We sent a code by text message to {to}."),
        Channel::Email => format!("We sent a code to {to}."),
    }
}

/// A code id from a form, to show again: ours are letters and digits, anything else is dropped.
fn shown_otp_id(otp_id: &str) -> String {
    let fits = otp_id.len() <= OTP_ID_MAX && otp_id.chars().all(|c| c.is_ascii_alphanumeric());
    if fits {
        otp_id.to_owned()
    } else {
        String::new()
    }
}

fn code_page(
    v: &Visit,
    channel: Channel,
    otp_id: String,
    to: String,
    error: String,
    status: StatusCode,
) -> Response {
    let page = SentCodePage {
        title: channel.title(),
        error,
        ctx: v.ctx(),
        prompt: prompt(channel, &to),
        path: channel.path(),
        otp_id,
        phone: match channel {
            Channel::Sms => to,
            Channel::Email => String::new(),
        },
    };
    v.page(status, page, &[])
}
