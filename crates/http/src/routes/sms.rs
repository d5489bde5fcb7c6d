//! SMS codes: `request-sms-otp` for a second step, and a record's phone under `records/{id}/mfa/sms`.

use super::factors::Confirm;
use crate::extract::{Auth, Body, Meta};
use crate::{AppState, error::ApiError};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatehouse_domain::service::factors::{Reauth, SmsEnrolment};
use serde::Deserialize;
use serde_json::Value;

type Answer<T> = Result<Json<T>, ApiError>;
type Record = Path<(String, String)>;

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SmsRequest {
    mfa_id: String,
}

pub async fn request_sms_otp(
    State(s): State<AppState>,
    Path(collection): Path<String>,
    Meta(meta): Meta,
    Body(body): Body<SmsRequest>,
) -> Answer<Value> {
    Ok(Json(
        s.gh.request_sms_otp(&collection, &body.mfa_id, &meta)
            .await?,
    ))
}

pub async fn enrol_sms(
    State(s): State<AppState>,
    Path((collection, id)): Record,
    auth: Auth,
    Meta(meta): Meta,
    Body(body): Body<SmsEnrolment>,
) -> Answer<Value> {
    Ok(Json(
        s.gh.enrol_sms(&collection, &id, body, auth.caller(), &meta)
            .await?,
    ))
}

pub async fn confirm_sms(
    State(s): State<AppState>,
    Path((collection, id)): Record,
    auth: Auth,
    Meta(meta): Meta,
    Body(body): Body<Confirm>,
) -> Answer<Value> {
    Ok(Json(
        s.gh.confirm_sms(
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

pub async fn remove_sms(
    State(s): State<AppState>,
    Path((collection, id)): Record,
    auth: Auth,
    Meta(meta): Meta,
    Body(reauth): Body<Reauth>,
) -> Result<StatusCode, ApiError> {
    s.gh.remove_sms(&collection, &id, reauth, auth.caller(), &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
