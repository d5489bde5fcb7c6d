//! Login and session routes.

use crate::extract::{Auth, Body, Meta};
use crate::{AppState, error::ApiError};
use axum::Json;
use axum::extract::{Path, State};
use gatehouse_domain::{AuthResponse, PasswordLogin};
use serde_json::Value;

type Answer<T> = Result<Json<T>, ApiError>;

pub async fn auth_methods(
    State(s): State<AppState>,
    Path(collection): Path<String>,
) -> Answer<Value> {
    Ok(Json(s.gh.auth_methods(&collection).await?))
}

pub async fn auth_with_password(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    auth: Auth,
    Meta(meta): Meta,
    Body(login): Body<PasswordLogin>,
) -> Answer<AuthResponse> {
    // The credentials are not handed to rules: `@request.body` is empty for a login.
    Ok(Json(
        s.gh.auth_with_password(&collection, login, auth.caller(), &meta)
            .await?,
    ))
}

pub async fn auth_refresh(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    auth: Auth,
    Meta(meta): Meta,
) -> Answer<AuthResponse> {
    Ok(Json(
        s.gh.auth_refresh(&collection, auth.caller(), &meta).await?,
    ))
}

pub async fn impersonate(
    State(s): State<AppState>,
    Path((collection, id)): Path<(String, String)>,
    auth: Auth,
    Meta(meta): Meta,
    Body(body): Body<Value>,
) -> Answer<AuthResponse> {
    let duration = body.get("duration").cloned().unwrap_or(Value::Null);
    Ok(Json(
        s.gh.impersonate(&collection, &id, &duration, auth.caller(), &meta)
            .await?,
    ))
}
