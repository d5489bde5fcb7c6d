//! The account page's other changes: remove a second step, new backup codes, revoke a trusted
//! device, change the password. Each calls the domain method of its API route
//! (`DELETE …/mfa/{factor}`, `POST …/mfa/backup-codes`, `DELETE …/mfa/devices/{id}`,
//! `PATCH …/records/{id}`) under that route's rate limit.

use super::account::{Shown, done, refused, render, within_api_limit};
use super::account_views::PasswordErrors;
use super::cookies::Cookie;
use super::handback;
use super::reauth::{Action, Factor, perform};
use super::session::{Signed, login_link};
use super::two_factor::{codes_of, codes_page};
use super::views::MessagePage;
use super::visit::{Visit, status_of};
use crate::AppState;
use crate::extract::Meta;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use gatehouse_domain::service::factors::Reauth;
use gatehouse_domain::{Caller, Error, ErrorKind, RequestInfo};
use serde_json::{Map, Value};

/// Longest device id looked up (ours are 15 characters).
const DEVICE_ID_MAX: usize = 64;

/// `POST /_/account/factor/remove` (`factor`: `totp`, `sms` or `email`).
pub async fn remove_factor(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Signed { v, form, me }: Signed,
) -> Response {
    let Some(action) = Action::parse(&format!("remove-{}", form.factor)) else {
        let e = Error::not_found("That factor is not set up.");
        return refused(&s, &v, &meta, &me, &e, None, &[]).await;
    };
    perform(&s, &v, &meta, &me, action, &[]).await
}

pub(crate) async fn remove(
    s: &AppState,
    v: &Visit,
    meta: &RequestInfo,
    me: &Caller,
    factor: Factor,
    cookies: &[Cookie],
) -> Result<Response, Error> {
    let (collection, id) = (v.ctx.collection.as_str(), me.record.id());
    let route = match factor {
        Factor::Totp => "records/{id}/mfa/totp",
        Factor::Sms => "records/{id}/mfa/sms",
        Factor::Email => "records/{id}/mfa/email",
    };
    within_api_limit(s, meta, me, v, (&Method::DELETE, route), &[]).await?;
    let (gh, reauth, caller) = (&s.gh, Reauth::default(), Some(me));
    match factor {
        Factor::Totp => gh.remove_totp(collection, id, reauth, caller, meta).await,
        Factor::Sms => gh.remove_sms(collection, id, reauth, caller, meta).await,
        Factor::Email => {
            gh.remove_email_factor(collection, id, reauth, caller, meta)
                .await
        }
    }?;
    Ok(done(v, "factor-removed", cookies))
}

/// `POST /_/account/backup-codes`: a new set replaces the old one.
pub async fn backup_codes(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Signed { v, me, .. }: Signed,
) -> Response {
    perform(&s, &v, &meta, &me, Action::NewBackupCodes, &[]).await
}

pub(crate) async fn new_codes(
    s: &AppState,
    v: &Visit,
    meta: &RequestInfo,
    me: &Caller,
    cookies: &[Cookie],
) -> Result<Response, Error> {
    let route = (&Method::POST, "records/{id}/mfa/backup-codes");
    within_api_limit(s, meta, me, v, route, &[]).await?;
    let answer =
        s.gh.regenerate_backup_codes(
            &v.ctx.collection,
            me.record.id(),
            Reauth::default(),
            Some(me),
            meta,
        )
        .await?;
    let intro = "New backup codes were made: the old ones no longer work.";
    Ok(codes_page(v, me, intro, codes_of(&answer), cookies))
}

/// `POST /_/account/devices/revoke` (`deviceId`).
pub async fn revoke_device(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Signed { v, form, me }: Signed,
) -> Response {
    let device = form.device_id.as_str();
    let route = (&Method::DELETE, "records/{id}/mfa/devices/{device}");
    let revoked = if device.is_empty() || device.len() > DEVICE_ID_MAX {
        Err(Error::resource_not_found())
    } else {
        match within_api_limit(&s, &meta, &me, &v, route, &[("device", device)]).await {
            Ok(()) => {
                s.gh.revoke_trusted_device(
                    &v.ctx.collection,
                    me.record.id(),
                    device,
                    Some(&me),
                    &meta,
                )
                .await
            }
            Err(e) => Err(e),
        }
    };
    match revoked {
        Ok(()) => done(&v, "device-revoked", &[]),
        Err(e) => refused(&s, &v, &meta, &me, &e, None, &[]).await,
    }
}

/// `POST /_/account/password`: PocketBase's `oldPassword`, `password`, `passwordConfirm`.
/// Every token of the record dies with the old password, this browser's session included.
pub async fn change_password(
    State(s): State<AppState>,
    Meta(mut meta): Meta,
    Signed { v, form, me }: Signed,
) -> Response {
    let route = (&Method::PATCH, "records/{id}");
    if let Err(e) = within_api_limit(&s, &meta, &me, &v, route, &[]).await {
        return refused(&s, &v, &meta, &me, &e, None, &[]).await;
    }
    let mut body = Map::new();
    for (key, value) in [
        ("oldPassword", form.old_password),
        ("password", form.password),
        ("passwordConfirm", form.password_confirm),
    ] {
        body.insert(key.to_owned(), Value::String(value));
    }
    meta.body = body;
    let changed =
        s.gh.update_record(&v.ctx.collection, me.record.id(), Some(&me), &meta)
            .await;
    meta.body = Map::new();
    match changed {
        Ok(_) => password_changed(&v),
        Err(e) if e.kind == ErrorKind::BadRequest && !e.data.is_empty() => {
            let field = |name: &str| e.data.message_of(name).unwrap_or_default().to_owned();
            let shown = Shown {
                status: status_of(&e),
                error: e.message.clone(),
                password: PasswordErrors {
                    old: field("oldPassword"),
                    new: field("password"),
                    confirm: field("passwordConfirm"),
                },
                ..Shown::default()
            };
            render(&s, &v, &meta, &me, shown, &[]).await
        }
        Err(e) => refused(&s, &v, &meta, &me, &e, None, &[]).await,
    }
}

fn password_changed(v: &Visit) -> Response {
    let page = MessagePage {
        title: "Password changed",
        error: String::new(),
        ctx: v.ctx(),
        message: "Your password was changed and every session was signed out. Sign in again with the new password.".to_owned(),
        signed_in: false,
        back: login_link(&v.ctx.collection),
    };
    v.page(StatusCode::OK, page, &[handback::sign_out_cookie(v.secure)])
}
