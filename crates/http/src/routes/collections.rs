//! `/api/collections[/{c}]` (superusers only).

use crate::extract::{Auth, Body, Meta, Params};
use crate::{AppState, error::ApiError};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatehouse_domain::ListOf;
use serde_json::Value;

type Answer<T> = Result<Json<T>, ApiError>;

pub async fn list(State(s): State<AppState>, auth: Auth, q: Params) -> Answer<ListOf<Value>> {
    Ok(Json(
        s.gh.list_collections(auth.caller(), q.int("page"), q.int("perPage"))
            .await?,
    ))
}

pub async fn view(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    auth: Auth,
) -> Answer<Value> {
    Ok(Json(s.gh.get_collection(auth.caller(), &collection).await?))
}

pub async fn create(
    State(s): State<AppState>,
    auth: Auth,
    Body(body): Body<Value>,
) -> Answer<Value> {
    Ok(Json(s.gh.create_collection(auth.caller(), body).await?))
}

pub async fn update(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    auth: Auth,
    Meta(meta): Meta,
    Body(body): Body<Value>,
) -> Answer<Value> {
    Ok(Json(
        s.gh.update_collection(auth.caller(), &collection, body, &meta)
            .await?,
    ))
}

pub async fn delete(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    auth: Auth,
) -> Result<StatusCode, ApiError> {
    s.gh.delete_collection(auth.caller(), &collection).await?;
    Ok(StatusCode::NO_CONTENT)
}
