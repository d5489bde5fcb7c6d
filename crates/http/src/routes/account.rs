//! The mailed-link flows: verification, password reset and email change (all answer 204).

use crate::extract::{Auth, Body, Meta};
use crate::{AppState, error::ApiError};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatehouse_domain::service::email_change::EmailChangeConfirm;
use gatehouse_domain::service::password_reset::PasswordResetConfirm;
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EmailBody {
    email: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct NewEmailBody {
    new_email: String,
}

/// No `Debug`: the token is a credential.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenBody {
    token: String,
}

pub async fn request_verification(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    Meta(meta): Meta,
    Body(body): Body<EmailBody>,
) -> Result<StatusCode, ApiError> {
    s.gh.request_verification(&collection, &body.email, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn confirm_verification(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    Meta(meta): Meta,
    Body(body): Body<TokenBody>,
) -> Result<StatusCode, ApiError> {
    s.gh.confirm_verification(&collection, &body.token, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn request_password_reset(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    Meta(meta): Meta,
    Body(body): Body<EmailBody>,
) -> Result<StatusCode, ApiError> {
    s.gh.request_password_reset(&collection, &body.email, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn confirm_password_reset(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    Meta(meta): Meta,
    Body(form): Body<PasswordResetConfirm>,
) -> Result<StatusCode, ApiError> {
    s.gh.confirm_password_reset(&collection, form, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn request_email_change(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    auth: Auth,
    Meta(meta): Meta,
    Body(body): Body<NewEmailBody>,
) -> Result<StatusCode, ApiError> {
    s.gh.request_email_change(&collection, &body.new_email, auth.caller(), &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn confirm_email_change(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    Meta(meta): Meta,
    Body(form): Body<EmailChangeConfirm>,
) -> Result<StatusCode, ApiError> {
    s.gh.confirm_email_change(&collection, form, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}
