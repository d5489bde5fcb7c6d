//! The audit log: `/api/audit` (superusers) and a record's own `security-events`.

use crate::extract::{Auth, Params};
use crate::{AppState, error::ApiError};
use axum::Json;
use axum::extract::{Path, State};
use gatehouse_domain::ListOf;
use gatehouse_domain::service::audit::AuditParams;
use serde_json::Value;

fn params(p: &Params) -> AuditParams {
    AuditParams {
        page: p.int("page"),
        per_page: p.int("perPage"),
        record_id: p.get("recordId").to_owned(),
        collection_id: p.get("collectionId").to_owned(),
        kinds: p.get("type").to_owned(),
        since: p.get("since").to_owned(),
        until: p.get("until").to_owned(),
    }
}

pub async fn list(
    State(s): State<AppState>,
    auth: Auth,
    query: Params,
) -> Result<Json<ListOf<Value>>, ApiError> {
    Ok(Json(s.gh.list_audit(auth.caller(), params(&query)).await?))
}

pub async fn security_events(
    State(s): State<AppState>,
    Path((collection, id)): Path<(String, String)>,
    auth: Auth,
    query: Params,
) -> Result<Json<ListOf<Value>>, ApiError> {
    Ok(Json(
        s.gh.security_events(&collection, &id, auth.caller(), params(&query))
            .await?,
    ))
}
