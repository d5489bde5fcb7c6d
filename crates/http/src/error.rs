//! The one place where errors become HTTP answers.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::{Error, ErrorKind};
use serde_json::{Value, json};

/// A domain error, or one of the transport's own (bad body, too large).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    data: Value,
    /// Sent instead of the envelope (the MFA challenge).
    body: Option<Box<Value>>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            message: message.to_owned(),
            data: json!({}),
            body: None,
        }
    }
    pub fn bad_request(message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "Request entity too large.")
    }
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// PocketBase's answer to a body it cannot decode.
    pub fn bad_body() -> Self {
        Self::bad_request("An error occurred while loading the submitted data.")
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = status_of(e.kind);
        if let Some(cause) = &e.cause {
            // The cause stays in the log; the client only gets the generic message.
            tracing::error!(%cause, "request failed");
        }
        Self {
            status,
            message: e.message,
            data: Value::Object(e.data.into_map()),
            body: e.body,
        }
    }
}

/// The HTTP status of a domain error kind (the pages answer with the same statuses).
pub(crate) fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::BadGateway => StatusCode::BAD_GATEWAY,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(body) = self.body {
            return (self.status, Json(*body)).into_response();
        }
        let body = json!({"data": self.data, "message": sentenize(&self.message), "status": self.status.as_u16()});
        (self.status, Json(body)).into_response()
    }
}

/// PocketBase upper-cases the first letter and ends messages with a full stop.
fn sentenize(message: &str) -> String {
    let mut chars = message.trim().chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut s: String = first.to_uppercase().chain(chars).collect();
    if !s.ends_with(['.', '!', '?']) {
        s.push('.');
    }
    s
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "The requested resource wasn't found.",
    )
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.")
}

/// A panic in a handler is a bug; the client still gets the error shape, never a dropped socket.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong while processing your request.",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::sentenize;

    #[test]
    fn messages_are_sentenized() {
        assert_eq!(
            sentenize("invalid or expired OTP"),
            "Invalid or expired OTP."
        );
        assert_eq!(sentenize("Done!"), "Done!");
    }
}
