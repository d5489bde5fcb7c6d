//! Second factors: the second steps (`auth-with-totp`, `auth-with-backup-code`), `step-up`, and
//! a record's factor management under `records/{id}/mfa`.

use crate::extract::{Auth, Body, Meta};
use crate::{AppState, error::ApiError};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatehouse_domain::AuthResponse;
use gatehouse_domain::service::factors::{
    EmailEnrolment, FactorLogin, Reauth, StepUp, TotpEnrolment,
};
use serde::Deserialize;
use serde_json::Value;

type Answer<T> = Result<Json<T>, ApiError>;
type Record = Path<(String, String)>;

/// A confirm body: the code, and for an emailed code its `otpId`. No `Debug`.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Confirm {
    pub(super) otp_id: String,
    pub(super) code: String,
}

pub async fn auth_with_totp(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    Meta(meta): Meta,
    Body(login): Body<FactorLogin>,
) -> Answer<AuthResponse> {
    Ok(Json(
        s.gh.auth_with_factor(&collection, "totp", login, &meta)
            .await?,
    ))
}

pub async fn auth_with_backup_code(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    Meta(meta): Meta,
    Body(login): Body<FactorLogin>,
) -> Answer<AuthResponse> {
    Ok(Json(
        s.gh.auth_with_factor(&collection, "backupCode", login, &meta)
            .await?,
    ))
}

pub async fn step_up(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    auth: Auth,
    Meta(meta): Meta,
    Body(body): Body<StepUp>,
) -> Answer<AuthResponse> {
    Ok(Json(
        s.gh.step_up(&collection, body, auth.caller(), &meta)
            .await?,
    ))
}

pub async fn overview(
    State(s): State<AppState>,
    Path((collection, id)): Record,
    auth: Auth,
    Meta(meta): Meta,
) -> Answer<Value> {
    Ok(Json(
        s.gh.mfa_overview(&collection, &id, auth.caller(), &meta)
            .await?,
    ))
}

pub async fn reset(
    State(s): State<AppState>,
    Path((collection, id)): Record,
    auth: Auth,
    Meta(meta): Meta,
) -> Result<StatusCode, ApiError> {
    s.gh.reset_mfa(&collection, &id, auth.caller(), &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn enrol_totp(
    State(s): State<AppState>,
    Path((collection, id)): Record,
    auth: Auth,
    Meta(meta): Meta,
    Body(body): Body<TotpEnrolment>,
) -> Answer<Value> {
    Ok(Json(
        s.gh.enrol_totp(&collection, &id, body, auth.caller(), &meta)
            .await?,
    ))
}

pub async fn confirm_totp(
    State(s): State<AppState>,
    Path((collection, id)): Record,
    auth: Auth,
    Meta(meta): Meta,
    Body(body): Body<Confirm>,
) -> Answer<Value> {
    Ok(Json(
        s.gh.confirm_totp(&collection, &id, &body.code, auth.caller(), &meta)
            .await?,
    ))
}

pub async fn totp_uri(
    State(s): State<AppState>,
    Path((collection, id)): Record,
    auth: Auth,
    Meta(meta): Meta,
    Body(reauth): Body<Reauth>,
) -> Answer<Value> {
    Ok(Json(
        s.gh.totp_uri(&collection, &id, reauth, auth.caller(), &meta)
            .await?,
    ))
}

pub async fn remove_totp(
    State(s): State<AppState>,
    Path((collection, id)): Record,
    auth: Auth,
    Meta(meta): Meta,
    Body(reauth): Body<Reauth>,
) -> Result<StatusCode, ApiError> {
    s.gh.remove_totp(&collection, &id, reauth, auth.caller(), &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn enrol_email(
    State(s): State<AppState>,
    Path((collection, id)): Record,
    auth: Auth,
    Meta(meta): Meta,
    Body(body): Body<EmailEnrolment>,
) -> Answer<Value> {
    Ok(Json(
        s.gh.enrol_email(&collection, &id, body, auth.caller(), &meta)
            .await?,
    ))
}

pub async fn confirm_email(
    State(s): State<AppState>,
    Path((collection, id)): Record,
    auth: Auth,
    Meta(meta): Meta,
    Body(body): Body<Confirm>,
) -> Answer<Value> {
    Ok(Json(
        s.gh.confirm_email(
            &collection,
            &id,
            &body.otp_id,
            &body.code,
            auth.caller(),
            &meta,
        )
        .await?,
    ))
}

pub async fn remove_email(
    State(s): State<AppState>,
    Path((collection, id)): Record,
    auth: Auth,
    Meta(meta): Meta,
    Body(reauth): Body<Reauth>,
) -> Result<StatusCode, ApiError> {
    s.gh.remove_email_factor(&collection, &id, reauth, auth.caller(), &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn regenerate_backup_codes(
    State(s): State<AppState>,
    Path((collection, id)): Record,
    auth: Auth,
    Meta(meta): Meta,
    Body(reauth): Body<Reauth>,
) -> Answer<Value> {
    Ok(Json(
        s.gh.regenerate_backup_codes(&collection, &id, reauth, auth.caller(), &meta)
            .await?,
    ))
}

pub async fn devices(
    State(s): State<AppState>,
    Path((collection, id)): Record,
    auth: Auth,
    Meta(meta): Meta,
) -> Answer<Value> {
    Ok(Json(
        s.gh.list_trusted_devices(&collection, &id, auth.caller(), &meta)
            .await?,
    ))
}

pub async fn revoke_device(
    State(s): State<AppState>,
    Path((collection, id, device)): Path<(String, String, String)>,
    auth: Auth,
    Meta(meta): Meta,
) -> Result<StatusCode, ApiError> {
    s.gh.revoke_trusted_device(&collection, &id, &device, auth.caller(), &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
