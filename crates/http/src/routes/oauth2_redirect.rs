//! `/api/oauth2-redirect`: where the provider sends the OAuth2 popup back, by `GET` (query) or by
//! `POST` (Apple's `form_post`). The code goes to the realtime client named by `state`; the popup
//! is sent on to PocketBase's success or failure page (`307` after a `GET`, `303` after a `POST`).

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Body, Meta};
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::service::oauth2_redirect::{RedirectData, RedirectOutcome};

const SUCCESS: &str = "../_/#/auth/oauth2-redirect-success";
const FAILURE: &str = "../_/#/auth/oauth2-redirect-failure";

pub async fn from_query(State(s): State<AppState>, Meta(meta): Meta, uri: Uri) -> Response {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
    // The first value of a repeated parameter, as Go's `Query().Get` reads it.
    let first = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    };
    let data = RedirectData {
        state: first("state"),
        code: first("code"),
        error: first("error"),
        user: String::new(),
    };
    let outcome = s.gh.oauth2_redirect(&data, &meta.ip);
    redirect(StatusCode::TEMPORARY_REDIRECT, outcome)
}

pub async fn from_form(
    State(s): State<AppState>,
    Meta(meta): Meta,
    data: Result<Body<RedirectData>, ApiError>,
) -> Response {
    let outcome = match data {
        Ok(Body(data)) => s.gh.oauth2_redirect(&data, &meta.ip),
        Err(_) => RedirectOutcome::Failure,
    };
    redirect(StatusCode::SEE_OTHER, outcome)
}

fn redirect(status: StatusCode, outcome: RedirectOutcome) -> Response {
    let to = match outcome {
        RedirectOutcome::Success => SUCCESS,
        RedirectOutcome::Failure => FAILURE,
    };
    (status, [(LOCATION, to)]).into_response()
}
