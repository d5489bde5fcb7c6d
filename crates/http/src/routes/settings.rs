//! `/api/settings` and its test sends (superusers only).

use crate::extract::{Auth, Body, Meta};
use crate::{AppState, error::ApiError};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::service::test_send::{TestEmail, TestSms};
use serde_json::Value;

pub async fn view(State(s): State<AppState>, auth: Auth) -> Result<Json<Value>, ApiError> {
    Ok(Json(s.gh.get_settings(auth.caller()).await?))
}

pub async fn update(
    State(s): State<AppState>,
    auth: Auth,
    Meta(meta): Meta,
    Body(body): Body<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        s.gh.update_settings(auth.caller(), body, &meta).await?,
    ))
}

/// PocketBase's `POST /api/settings/test/email` `{email, template, collection?}` → 204.
pub async fn test_email(
    State(s): State<AppState>,
    auth: Auth,
    Meta(meta): Meta,
    Body(body): Body<TestEmail>,
) -> Result<StatusCode, ApiError> {
    s.gh.send_test_email(auth.caller(), body, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gatehouse's `POST /api/settings/test/sms` `{phone}` → 204.
pub async fn test_sms(
    State(s): State<AppState>,
    auth: Auth,
    Meta(meta): Meta,
    Body(body): Body<TestSms>,
) -> Result<StatusCode, ApiError> {
    s.gh.send_test_sms(auth.caller(), body, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}
