//! `/api/collections/{c}/records[/{id}]`.

use crate::extract::{Auth, Body, Meta, Params};
use crate::{AppState, error::ApiError};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatehouse_domain::{ListOf, ListParams};
use serde_json::{Map, Value};

type Answer<T> = Result<Json<T>, ApiError>;

pub async fn list(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    auth: Auth,
    Meta(meta): Meta,
    q: Params,
) -> Answer<ListOf<Value>> {
    let params = ListParams {
        page: q.int("page"),
        per_page: q.int("perPage"),
        sort: q.get("sort").to_owned(),
        filter: q.get("filter").to_owned(),
        skip_total: q.flag("skipTotal"),
    };
    Ok(Json(
        s.gh.list_records(&collection, params, auth.caller(), &meta)
            .await?,
    ))
}

pub async fn view(
    State(s): State<AppState>,
    Path((collection, id)): Path<(String, String)>,
    auth: Auth,
    Meta(meta): Meta,
) -> Answer<Value> {
    Ok(Json(
        s.gh.view_record(&collection, &id, auth.caller(), &meta)
            .await?,
    ))
}

pub async fn create(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    auth: Auth,
    Meta(mut meta): Meta,
    Body(body): Body<Map<String, Value>>,
) -> Answer<Value> {
    meta.body = body;
    Ok(Json(
        s.gh.create_record(&collection, auth.caller(), &meta)
            .await?,
    ))
}

pub async fn update(
    State(s): State<AppState>,
    Path((collection, id)): Path<(String, String)>,
    auth: Auth,
    Meta(mut meta): Meta,
    Body(body): Body<Map<String, Value>>,
) -> Answer<Value> {
    meta.body = body;
    Ok(Json(
        s.gh.update_record(&collection, &id, auth.caller(), &meta)
            .await?,
    ))
}

pub async fn delete(
    State(s): State<AppState>,
    Path((collection, id)): Path<(String, String)>,
    auth: Auth,
    Meta(meta): Meta,
) -> Result<StatusCode, ApiError> {
    s.gh.delete_record(&collection, &id, auth.caller(), &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
