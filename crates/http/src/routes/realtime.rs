//! `/api/realtime`: a realtime client's server-sent event stream (`GET`) and the request that
//! sets its subscriptions (`POST`), as PocketBase answers them. The OAuth2 popup flow rides on it.

use crate::extract::{Auth, Body, Meta};
use crate::{AppState, error::ApiError};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::realtime::{Connection, Frame};
use serde_json::Value;
use std::borrow::Cow;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

pub async fn connect(State(s): State<AppState>, Meta(meta): Meta) -> Result<Response, ApiError> {
    let connection = s.gh.realtime_connect(&meta.ip).await?;
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static("text/event-stream")),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        // Proxies (nginx) must not buffer the stream.
        (
            HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        ),
    ];
    Ok((headers, axum::body::Body::new(Events(connection))).into_response())
}

pub async fn subscribe(
    State(s): State<AppState>,
    auth: Auth,
    Meta(meta): Meta,
    headers: HeaderMap,
    body: Result<Body<Value>, ApiError>,
) -> Result<StatusCode, ApiError> {
    // PocketBase answers any body it cannot bind here with its generic 400.
    let Body(mut body) = body.map_err(|e| {
        if e.status() == StatusCode::BAD_REQUEST {
            ApiError::bad_request("Something went wrong while processing your request.")
        } else {
            e
        }
    })?;
    // One form field `subscriptions=x` is a list of one, as PocketBase binds forms.
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if form && let Some(single @ Value::String(_)) = body.get_mut("subscriptions") {
        *single = Value::Array(vec![single.take()]);
    }
    s.gh.realtime_subscribe(body, auth.caller(), &meta.ip)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The response body of a stream: the client's frames as they come. It ends when the client is
/// closed (idle, too old, shutdown); when the connection goes first, dropping it removes the
/// client.
struct Events(Connection);

impl http_body::Body for Events {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        self.0
            .frames
            .poll_recv(cx)
            .map(|frame| frame.map(|f| Ok(http_body::Frame::data(bytes_of(f)))))
    }
}

fn bytes_of(frame: Frame) -> Bytes {
    match frame {
        Cow::Borrowed(text) => Bytes::from_static(text.as_bytes()),
        Cow::Owned(text) => Bytes::from(text),
    }
}
