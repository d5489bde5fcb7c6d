//! Email one-time codes: request-otp and auth-with-otp.

use crate::extract::{Auth, Body, Meta};
use crate::{AppState, error::ApiError};
use axum::Json;
use axum::extract::{Path, State};
use gatehouse_domain::AuthResponse;
use gatehouse_domain::service::otp::OtpLogin;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize, Default)]
#[serde(default)]
#[serde(rename_all = "camelCase")]
pub struct OtpRequest {
    email: String,
    /// A second step's session: the code may go to the record's alternate address.
    mfa_id: String,
}

pub async fn request_otp(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    Meta(meta): Meta,
    Body(body): Body<OtpRequest>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        s.gh.request_otp(&collection, &body.email, &body.mfa_id, &meta)
            .await?,
    ))
}

pub async fn auth_with_otp(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    auth: Auth,
    Meta(meta): Meta,
    Body(login): Body<OtpLogin>,
) -> Result<Json<AuthResponse>, ApiError> {
    Ok(Json(
        s.gh.auth_with_otp(&collection, login, auth.caller(), &meta)
            .await?,
    ))
}
