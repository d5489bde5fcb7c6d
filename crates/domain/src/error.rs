//! The one domain error. It carries PocketBase's status class, message and field errors, because
//! those are the API contract; the HTTP layer maps it to `{status, message, data}` once.

use serde_json::{Map, Value, json};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    TooManyRequests,
    /// A service Gatehouse depends on (an SMS provider) failed: 502.
    BadGateway,
    /// The server cannot take more of something right now (realtime connections): 503.
    Unavailable,
    Internal,
}

#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub data: FieldErrors,
    /// The internal cause of an `Internal` error: logged, never sent to the client.
    pub cause: Option<String>,
    /// An answer that replaces the error envelope: PocketBase's MFA challenge is a 401 whose
    /// body is `{"mfaId": …}` and nothing else.
    pub body: Option<Box<serde_json::Value>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            data: FieldErrors::default(),
            cause: None,
            body: None,
        }
    }

    /// A 401 with `body` as the whole answer (the MFA challenge).
    pub fn challenge(body: serde_json::Value) -> Self {
        Self {
            body: Some(Box::new(body)),
            ..Self::new(ErrorKind::Unauthorized, "MFA required")
        }
    }
    /// 403 asking for a fresh authentication before second factors change (MFA design §9).
    pub fn reauth_required() -> Self {
        const MESSAGE: &str = "Please authenticate again to change your second factors.";
        Self {
            body: Some(Box::new(serde_json::json!({
                "status": 403,
                "message": MESSAGE,
                "data": {},
                "reauthRequired": true,
            }))),
            ..Self::new(ErrorKind::Forbidden, MESSAGE)
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    /// PocketBase's generic 404 for a record the caller may not see or that does not exist.
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadGateway, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }
    pub fn too_many_requests(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::TooManyRequests, message)
    }
    pub fn resource_not_found() -> Self {
        Self::not_found("The requested resource wasn't found.")
    }
    /// An unexpected failure: the client gets a generic message, the cause goes to the log.
    pub fn internal(cause: impl fmt::Display) -> Self {
        let mut e = Self::new(
            ErrorKind::Internal,
            "Something went wrong while processing your request.",
        );
        e.cause = Some(cause.to_string());
        e
    }
    /// A 400 with field errors, e.g. `Failed to create record.`
    pub fn validation(message: impl Into<String>, data: FieldErrors) -> Self {
        let mut e = Self::bad_request(message);
        e.data = data;
        e
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

impl From<gatehouse_store::StoreError> for Error {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::internal(e)
    }
}

/// Field → `{code, message, params?}`, nested for nested objects, as PocketBase renders
/// validation errors.
// Boxed so that `Result<T, Error>` stays small on the happy path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldErrors(Box<Map<String, Value>>);

impl FieldErrors {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Records the first error of a field (later ones for the same field are ignored, as in
    /// PocketBase, which stops at a field's first failing rule).
    pub fn add(&mut self, field: &str, code: &str, message: &str) {
        self.insert(field, json!({"code": code, "message": message}));
    }
    pub fn add_with_params(&mut self, field: &str, code: &str, message: &str, params: Value) {
        self.insert(
            field,
            json!({"code": code, "message": message, "params": params}),
        );
    }
    /// Puts another set of errors under `field`, e.g. `otp` → `{duration: …}`.
    pub fn nest(&mut self, field: &str, inner: FieldErrors) {
        if !inner.is_empty() {
            self.insert(field, Value::Object(*inner.0));
        }
    }
    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }
    /// The message of a field's error, if it has one.
    pub fn message_of(&self, field: &str) -> Option<&str> {
        self.0.get(field)?.get("message")?.as_str()
    }
    fn insert(&mut self, field: &str, value: Value) {
        self.0.entry(field.to_owned()).or_insert(value);
    }
    pub fn into_map(self) -> Map<String, Value> {
        *self.0
    }
    /// `Ok(())` when empty, else the 400 with `message`.
    pub fn into_result(self, message: &str) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::validation(message, self))
        }
    }
}

/// PocketBase's standard validation messages.
pub mod codes {
    pub const REQUIRED: (&str, &str) = ("validation_required", "Cannot be blank.");
    pub const IS_EMAIL: (&str, &str) = ("validation_is_email", "Must be a valid email address.");
    pub const IN_INVALID: (&str, &str) = ("validation_in_invalid", "Must be a valid value.");
    pub const VALUES_MISMATCH: (&str, &str) = ("validation_values_mismatch", "Values don't match.");
    pub const NOT_UNIQUE: (&str, &str) = ("validation_not_unique", "Value must be unique.");
    pub const INVALID_OLD_PASSWORD: (&str, &str) = (
        "validation_invalid_old_password",
        "Missing or invalid old password.",
    );
    pub const INVALID_AUTH_ID: (&str, &str) = (
        "validation_invalid_auth_id",
        "Invalid or duplicated auth record id.",
    );
    pub const MATCH_INVALID: (&str, &str) =
        ("validation_match_invalid", "Must be in a valid format.");
    pub const NIL_OR_NOT_EMPTY: (&str, &str) =
        ("validation_nil_or_not_empty_required", "Cannot be blank.");
}

impl FieldErrors {
    pub fn add_code(&mut self, field: &str, code: (&str, &str)) {
        self.add(field, code.0, code.1);
    }
    pub fn length_out_of_range(&mut self, field: &str, min: usize, max: usize) {
        self.add_with_params(
            field,
            "validation_length_out_of_range",
            &format!("The length must be between {min} and {max}."),
            json!({"min": min, "max": max}),
        );
    }
    pub fn min_threshold(&mut self, field: &str, threshold: i64) {
        self.add_with_params(
            field,
            "validation_min_greater_equal_than_required",
            &format!("Must be no less than {threshold}."),
            json!({"threshold": threshold}),
        );
    }
    pub fn max_threshold(&mut self, field: &str, threshold: i64) {
        self.add_with_params(
            field,
            "validation_max_less_equal_than_required",
            &format!("Must be no greater than {threshold}."),
            json!({"threshold": threshold}),
        );
    }
}
