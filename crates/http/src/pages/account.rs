//! `GET /_/account`: the signed-in record's security — its second steps, trusted devices and
//! recent security events — with the forms that change them. It reads through the same domain
//! calls as the API routes (`…/mfa`, `…/mfa/devices`, `…/security-events`), and every change
//! that fails comes back here with the API's message ([`refused`]).

use super::account_views::{
    AccountPage, PasswordErrors, PhoneForm, device_row, event_row, factor_row,
};
use super::cookies::Cookie;
use super::handback;
use super::reauth::{self, Action};
use super::session::{account_path, login_link, signed_in};
use super::visit::{Visit, is_user_error, status_of, visit};
use crate::AppState;
use crate::extract::{Meta, Params};
use crate::limit::check_as_api_call;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use gatehouse_domain::service::audit::AuditParams;
use gatehouse_domain::{Caller, Error, ErrorKind, RequestInfo};
use serde_json::Value;

/// How many security events the page lists (the newest).
const EVENTS_SHOWN: i64 = 10;
const DEFAULT_COLLECTION: &str = "users";

/// What the account page shows besides the account itself.
#[derive(Default)]
pub(crate) struct Shown {
    pub(crate) status: StatusCode,
    pub(crate) error: String,
    pub(crate) notice: &'static str,
    pub(crate) password: PasswordErrors,
    pub(crate) phone: PhoneForm,
}

/// `GET /_/account?collection=…`: the page, or the sign-in (which comes back here).
pub async fn view(
    State(s): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    params: Params,
) -> Response {
    let collection = match params.get("collection") {
        "" => DEFAULT_COLLECTION,
        name => name,
    };
    let v = match visit(&s, &headers, collection, &account_path(collection)).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let Some(me) = signed_in(&s, &headers, collection, &meta.ip).await else {
        return handback::redirect(&login_link(collection), &[]);
    };
    let route = (&Method::GET, "records/{id}/mfa");
    if let Err(e) = within_api_limit(&s, &meta, &me, &v, route, &[]).await {
        return failed(&v, &e);
    }
    let shown = Shown {
        notice: notice_of(params.get("done")),
        ..Shown::default()
    };
    render(&s, &v, &meta, &me, shown, &[]).await
}

/// The account page of `me`, with `cookies` (a fresh session after a re-authentication).
pub(crate) async fn render(
    s: &AppState,
    v: &Visit,
    meta: &RequestInfo,
    me: &Caller,
    shown: Shown,
    cookies: &[Cookie],
) -> Response {
    match read(s, v, meta, me, shown).await {
        Ok((status, page)) => v.page(status, page, cookies),
        Err(e) => failed(v, &e),
    }
}

async fn read(
    s: &AppState,
    v: &Visit,
    meta: &RequestInfo,
    me: &Caller,
    shown: Shown,
) -> Result<(StatusCode, AccountPage), Error> {
    let gh = &s.gh;
    let collection = v.ctx.collection.as_str();
    let id = me.record.id();
    let c = gh.auth_collection(collection).await?;
    let overview = gh.mfa_overview(collection, id, Some(me), meta).await?;
    let devices = gh
        .list_trusted_devices(collection, id, Some(me), meta)
        .await?;
    let events = AuditParams {
        page: 1,
        per_page: EVENTS_SHOWN,
        ..AuditParams::default()
    };
    let events = gh.security_events(collection, id, Some(me), events).await?;
    let all: Vec<&Value> = overview["factors"]
        .as_array()
        .map(|f| f.iter().collect())
        .unwrap_or_default();
    let is = |kind: &str, status: &str| {
        all.iter()
            .any(|f| f["type"].as_str() == Some(kind) && f["status"].as_str() == Some(status))
    };
    let pending_totp = is("totp", "pending");
    let has_totp = pending_totp || is("totp", "verified");
    let has_codes = all.iter().any(|f| f["type"].as_str() == Some("backupCode"));
    let verified_step = all.iter().any(|f| {
        f["status"].as_str() == Some("verified") && f["type"].as_str() != Some("backupCode")
    });
    // A pending factor protects nothing: an unfinished app has its own buttons, and a phone or
    // address whose code never came back is replaced by the next attempt.
    let factors = all
        .iter()
        .filter(|f| f["status"].as_str() != Some("pending"))
        .filter_map(|f| factor_row(f))
        .collect();
    let page = AccountPage {
        title: "Your account",
        error: shown.error,
        notice: shown.notice,
        ctx: v.ctx(),
        email: me.record.row.email.clone(),
        factors,
        pending_totp,
        can_add_totp: c.totp.enabled && !has_totp,
        // The conditions of `POST …/mfa/sms` and `…/mfa/email`.
        can_add_sms: c.sms.enabled && !is("sms", "verified"),
        can_add_email: c.otp.enabled && !is("email", "verified"),
        backup_codes: has_codes.then(|| overview["backupCodesRemaining"].as_i64().unwrap_or(0)),
        can_regenerate: c.backup_codes.enabled && (has_codes || verified_step),
        devices: devices
            .as_array()
            .map(|d| d.iter().map(device_row).collect())
            .unwrap_or_default(),
        events: events.items.iter().map(event_row).collect(),
        password: shown.password,
        phone: shown.phone,
    };
    Ok((shown.status, page))
}

/// The answer to an account change the domain refused: the re-authentication form when it
/// asks for a recent sign-in (and `then` is the change to make after it), else the account page
/// with the API's message for an error the person can act on.
pub(crate) async fn refused(
    s: &AppState,
    v: &Visit,
    meta: &RequestInfo,
    me: &Caller,
    e: &Error,
    then: Option<Action>,
    cookies: &[Cookie],
) -> Response {
    if let (true, Some(action)) = (asks_reauth(e), then) {
        return reauth::ask(v, me, action, String::new(), StatusCode::FORBIDDEN);
    }
    if is_user_error(e) || e.kind == ErrorKind::NotFound {
        let shown = Shown {
            status: status_of(e),
            error: e.message.clone(),
            ..Shown::default()
        };
        return render(s, v, meta, me, shown, cookies).await;
    }
    failed(v, e)
}

/// The domain's 403 that asks for a recent authentication (`reauthRequired`).
pub(crate) fn asks_reauth(e: &Error) -> bool {
    e.kind == ErrorKind::Forbidden
        && e.body
            .as_deref()
            .is_some_and(|b| b["reauthRequired"].as_bool() == Some(true))
}

/// Anything else: the API's message when a client may read it, a generic one otherwise.
pub(crate) fn failed(v: &Visit, e: &Error) -> Response {
    if let Some(cause) = &e.cause {
        tracing::error!(%cause, "an account page failed");
    }
    let message = match e.kind {
        ErrorKind::Internal => "Something went wrong. Please try again later.",
        _ => e.message.as_str(),
    };
    v.message(status_of(e), "Something went wrong", message, "")
}

/// After a change: back to the account page with what was done (a fixed word, no text from
/// the request), so that reloading it repeats nothing.
pub(crate) fn done(v: &Visit, what: &str, cookies: &[Cookie]) -> Response {
    let target = format!("{}&done={what}", account_path(&v.ctx.collection));
    handback::redirect(&target, cookies)
}

fn notice_of(done: &str) -> &'static str {
    match done {
        "factor-removed" => "The second step was removed.",
        "setup-cancelled" => "The set-up was cancelled.",
        "totp-added" => "Your authenticator app is set up.",
        "sms-added" => "Your phone is set up: sign-in codes can be sent to it.",
        "email-added" => "Email codes are set up.",
        "device-revoked" => "The device was revoked: it will be asked for the second step again.",
        _ => "",
    }
}

/// The limit of the API route that does what the page is about to do, for the signed-in
/// record (`extra`: other path parameters, e.g. the device).
pub(crate) async fn within_api_limit(
    s: &AppState,
    meta: &RequestInfo,
    me: &Caller,
    v: &Visit,
    route: (&Method, &str),
    extra: &[(&str, &str)],
) -> Result<(), Error> {
    let mut params = vec![
        ("collection", v.ctx.collection.as_str()),
        ("id", me.record.id()),
    ];
    params.extend_from_slice(extra);
    check_as_api_call(&s.gh, Some(me), &meta.ip, route, &params).await
}
