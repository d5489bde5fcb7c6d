//! OAuth2 login: `auth-with-oauth2` (the JS SDK's `authWithOAuth2Code`).

use crate::extract::{Auth, Body, Meta};
use crate::{AppState, error::ApiError};
use axum::Json;
use axum::extract::{Path, State};
use gatehouse_domain::{AuthResponse, OAuth2Login};

pub async fn auth_with_oauth2(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    auth: Auth,
    Meta(meta): Meta,
    Body(login): Body<OAuth2Login>,
) -> Result<Json<AuthResponse>, ApiError> {
    Ok(Json(
        s.gh.auth_with_oauth2(&collection, login, auth.caller(), &meta)
            .await?,
    ))
}
