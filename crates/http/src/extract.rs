//! Our own extractors, so malformed input is a 400 (or 413) in PocketBase's shape and never axum's
//! plain-text rejection.

use crate::limit::{Authenticated, ClientIp};
use crate::{AppState, BODY_LIMIT, DRAIN_LIMIT, error::ApiError};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use http_body_util::BodyExt;
use std::time::Duration;

const BODY_TIMEOUT: Duration = Duration::from_secs(30);
use axum::http::request::Parts;
use gatehouse_domain::{Caller, RequestInfo};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A request body bound by content type, as PocketBase binds it: JSON, or form fields (as
/// strings). An empty body is an empty object.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        // A slow sender must not hold a connection (and its buffer) forever.
        let bytes = tokio::time::timeout(BODY_TIMEOUT, read_limited(req.into_body()))
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "Timed out reading the request body.",
                )
            })??;
        let value = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Map::new())
        } else if content_type.starts_with("application/json") {
            serde_json::from_slice(&bytes).map_err(|_| ApiError::bad_body())?
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            form_to_json(&bytes)?
        } else {
            return Err(ApiError::bad_request("Unsupported Content-Type."));
        };
        serde_json::from_value(value)
            .map(Body)
            .map_err(|_| ApiError::bad_body())
    }
}

/// Reads at most [`BODY_LIMIT`] bytes. A larger body is read on (and thrown away) up to
/// [`DRAIN_LIMIT`] before the 413, because a client still sending when the connection closes sees
/// a reset instead of our answer; past that the connection is dropped.
async fn read_limited(body: axum::body::Body) -> Result<Vec<u8>, ApiError> {
    let mut body = body;
    let mut bytes = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(ApiError::bad_body());
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen > DRAIN_LIMIT {
            break;
        }
        if seen <= BODY_LIMIT {
            bytes.extend_from_slice(&data);
        }
    }
    if seen > BODY_LIMIT {
        return Err(ApiError::too_large());
    }
    Ok(bytes)
}

/// Form fields become JSON strings; a repeated key becomes an array (PocketBase's multi-values).
fn form_to_json(bytes: &[u8]) -> Result<Value, ApiError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(bytes).map_err(|_| ApiError::bad_body())?;
    let mut map = Map::new();
    for (key, value) in pairs {
        match map.get_mut(&key) {
            Some(Value::Array(items)) => items.push(Value::String(value)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(value)]);
            }
            None => {
                map.insert(key, Value::String(value));
            }
        }
    }
    Ok(Value::Object(map))
}

/// The caller, if the `Authorization` header holds a valid auth token; a guest otherwise.
pub struct Auth(pub Option<Caller>);

impl Auth {
    pub fn caller(&self) -> Option<&Caller> {
        self.0.as_ref()
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(Authenticated(caller)) = parts.extensions.get::<Authenticated>() {
            return Ok(Self(caller.clone()));
        }
        let Some(header) = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(Self(None));
        };
        Ok(Self(state.gh.authenticate(header).await))
    }
}

/// Query parameters, leniently: a malformed query string reads as empty, like unknown parameters.
pub struct Params(pub HashMap<String, String>);

impl Params {
    pub fn get(&self, key: &str) -> &str {
        self.0.get(key).map(String::as_str).unwrap_or_default()
    }
    pub fn int(&self, key: &str) -> i64 {
        self.get(key).trim().parse().unwrap_or(0)
    }
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), "1" | "true" | "t" | "TRUE" | "True")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        Ok(Self(serde_urlencoded::from_str(query).unwrap_or_default()))
    }
}

/// What API rules may read of the request (`@request.method/query/headers`; handlers add the
/// body). Header names become lower case with `-` as `_`, as PocketBase exposes them.
pub struct Meta(pub RequestInfo);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query: Vec<(String, String)> =
            serde_urlencoded::from_str(parts.uri.query().unwrap_or_default()).unwrap_or_default();
        let headers = parts
            .headers
            .iter()
            .filter_map(|(name, value)| {
                let value = value.to_str().ok()?;
                Some((
                    name.as_str().replace('-', "_"),
                    Value::String(value.to_owned()),
                ))
            })
            .collect();
        let ip = parts
            .extensions
            .get::<ClientIp>()
            .map(|ip| ip.0.clone())
            .unwrap_or_default();
        Ok(Self(RequestInfo {
            ip,
            method: parts.method.as_str().to_owned(),
            query: query
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
            headers,
            body: Map::new(),
        }))
    }
}
