//! `/api/settings` (superusers only).

use crate::extract::{Auth, Body, Meta};
use crate::{AppState, error::ApiError};
use axum::Json;
use axum::extract::State;
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
