//! Setting up an authenticator app from the account page: enrol (a pending factor: its QR code
//! and key), confirm it with a first code (the backup codes, shown once), or cancel. The same
//! domain calls as `POST …/mfa/totp`, `…/mfa/totp/confirm` and `DELETE …/mfa/totp`.

use super::account::{done, refused, within_api_limit};
use super::account_views::{CodesPage, SetupPage};
use super::cookies::Cookie;
use super::reauth::{Action, Factor, perform};
use super::session::Signed;
use super::visit::{Visit, is_user_error, status_of};
use crate::AppState;
use crate::extract::Meta;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use gatehouse_domain::service::factors::{Reauth, TotpEnrolment};
use gatehouse_domain::{Caller, Error, RequestInfo};
use serde_json::Value;

const QR_PREFIX: &str = "data:image/png;base64,";
/// Longest QR image taken back from a form (ours are a few kilobytes).
const QR_MAX: usize = 64 * 1024;
const NOTHING_TO_CANCEL: &str =
    "There is no set-up to cancel: it was finished or cancelled already.";

/// `POST /_/account/two-factor`: a new (pending) authenticator app.
pub async fn start(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Signed { v, me, .. }: Signed,
) -> Response {
    perform(&s, &v, &meta, &me, Action::AddTotp, &[]).await
}

/// Enrols the app and shows its QR code and key.
pub(crate) async fn begin(
    s: &AppState,
    v: &Visit,
    meta: &RequestInfo,
    me: &Caller,
    cookies: &[Cookie],
) -> Result<Response, Error> {
    within_api_limit(
        s,
        meta,
        me,
        v,
        (&Method::POST, "records/{id}/mfa/totp"),
        &[],
    )
    .await?;
    let answer =
        s.gh.enrol_totp(
            &v.ctx.collection,
            me.record.id(),
            TotpEnrolment::default(),
            Some(me),
            meta,
        )
        .await?;
    let text = |key: &str| answer[key].as_str().unwrap_or_default().to_owned();
    Ok(setup_page(
        v,
        text("qr"),
        text("secret"),
        String::new(),
        StatusCode::OK,
        cookies,
    ))
}

/// `POST /_/account/two-factor/confirm`: the app's first code. A wrong one shows the same QR
/// code again (nothing changed); once confirmed, the backup codes, this once.
pub async fn confirm(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Signed { v, form, me }: Signed,
) -> Response {
    let route = (&Method::POST, "records/{id}/mfa/totp/confirm");
    let confirmed = match within_api_limit(&s, &meta, &me, &v, route, &[]).await {
        Ok(()) => {
            s.gh.confirm_totp(
                &v.ctx.collection,
                me.record.id(),
                &form.code,
                Some(&me),
                &meta,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match confirmed {
        Ok(answer) => {
            let codes = codes_of(&answer);
            if codes.is_empty() {
                return done(&v, "totp-added", &[]);
            }
            codes_page(&v, &me, "Your authenticator app is set up.", codes, &[])
        }
        // Still pending: the same key again (display only; the domain keeps its own).
        Err(e) if is_user_error(&e) && totp_pending(&s, &v, &meta, &me).await => {
            let secret = form
                .secret
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            let qr = Some(form.qr)
                .filter(|qr| qr.starts_with(QR_PREFIX) && qr.len() <= QR_MAX)
                .unwrap_or_default();
            setup_page(&v, qr, secret, e.message.clone(), status_of(&e), &[])
        }
        Err(e) => refused(&s, &v, &meta, &me, &e, None, &[]).await,
    }
}

/// `POST /_/account/two-factor/cancel`: removes the pending app. Only a pending one: a form
/// left open after the set-up finished must not remove the app it set up.
pub async fn cancel(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Signed { v, me, .. }: Signed,
) -> Response {
    if !totp_pending(&s, &v, &meta, &me).await {
        let e = Error::bad_request(NOTHING_TO_CANCEL);
        return refused(&s, &v, &meta, &me, &e, None, &[]).await;
    }
    let route = (&Method::DELETE, "records/{id}/mfa/totp");
    let removed = match within_api_limit(&s, &meta, &me, &v, route, &[]).await {
        Ok(()) => {
            s.gh.remove_totp(
                &v.ctx.collection,
                me.record.id(),
                Reauth::default(),
                Some(&me),
                &meta,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match removed {
        Ok(()) => done(&v, "setup-cancelled", &[]),
        Err(e) => {
            let then = Some(Action::Remove(Factor::Totp));
            refused(&s, &v, &meta, &me, &e, then, &[]).await
        }
    }
}

/// Whether the record has an authenticator app waiting for its first code.
async fn totp_pending(s: &AppState, v: &Visit, meta: &RequestInfo, me: &Caller) -> bool {
    let Ok(overview) =
        s.gh.mfa_overview(&v.ctx.collection, me.record.id(), Some(me), meta)
            .await
    else {
        return false;
    };
    overview["factors"].as_array().is_some_and(|all| {
        all.iter()
            .any(|f| f["type"].as_str() == Some("totp") && f["status"].as_str() == Some("pending"))
    })
}

fn setup_page(
    v: &Visit,
    qr: String,
    secret: String,
    error: String,
    status: StatusCode,
    cookies: &[Cookie],
) -> Response {
    let page = SetupPage {
        title: "Set up an authenticator app",
        error,
        ctx: v.ctx(),
        qr,
        secret,
    };
    v.page(status, page, cookies)
}

/// A fresh set of backup codes, with `intro` saying where they come from.
pub(crate) fn codes_page(
    v: &Visit,
    me: &Caller,
    intro: &'static str,
    codes: Vec<String>,
    cookies: &[Cookie],
) -> Response {
    let page = CodesPage {
        title: "Save your backup codes",
        error: String::new(),
        intro,
        codes,
        email: me.record.row.email.clone(),
        back: v.ctx().account_link(),
    };
    v.page(StatusCode::OK, page, cookies)
}

/// The `backupCodes` of an answer.
pub(crate) fn codes_of(answer: &Value) -> Vec<String> {
    answer["backupCodes"]
        .as_array()
        .map(|codes| {
            codes
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
