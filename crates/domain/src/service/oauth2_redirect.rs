//! `GET`/`POST /api/oauth2-redirect`, where the provider sends the OAuth2 popup back: the
//! `state` is the id of the realtime client that opened the popup (the JS SDK puts it there);
//! that client, if subscribed to `@oauth2` from the same IP, gets `{state, code, error}` as an
//! event and exchanges the code itself. The subscription is spent by the first redirect.
//!
//! Apple posts the person's name (`user`, JSON) with the first redirect only and has no user
//! info endpoint; as PocketBase does, the name is kept for a minute under the code, for the
//! `auth-with-oauth2` call that follows ([`crate::oauth2::apple_names`]).

use super::Gatehouse;
use crate::realtime::OAUTH2_TOPIC;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Bounds on what the provider (or anyone) sends; a longer value fails the redirect.
const MAX_STATE: usize = 255;
const MAX_CODE: usize = 4096;
const MAX_ERROR: usize = 1024;
const MAX_USER: usize = 4096;

/// The redirect's fields (query string for GET, form fields for POST).
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct RedirectData {
    pub state: String,
    pub code: String,
    pub error: String,
    /// Apple's `form_post` only: `{"name":{"firstName","lastName"},"email"}`.
    pub user: String,
}

// Hand-written: the code is a one-time credential.
impl std::fmt::Debug for RedirectData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedirectData")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// Which of PocketBase's two pages the popup is sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectOutcome {
    Success,
    Failure,
}

impl Gatehouse {
    pub fn oauth2_redirect(&self, data: &RedirectData, ip: &str) -> RedirectOutcome {
        use RedirectOutcome::{Failure, Success};
        let oversized = data.state.len() > MAX_STATE
            || data.code.len() > MAX_CODE
            || data.error.len() > MAX_ERROR
            || data.user.len() > MAX_USER;
        if data.state.is_empty() || oversized {
            return Failure;
        }
        if self
            .realtime
            .take_topic(&data.state, OAUTH2_TOPIC, ip)
            .is_err()
        {
            return Failure;
        }
        let now = self.clock.now_millis();
        if !data.user.is_empty() && data.error.is_empty() {
            self.remember_apple_name(&data.code, &data.user);
        }
        let mut message = Map::new();
        message.insert("state".into(), Value::String(data.state.clone()));
        message.insert("code".into(), Value::String(data.code.clone()));
        if !data.error.is_empty() {
            message.insert("error".into(), Value::String(data.error.clone()));
        }
        let message = Value::Object(message).to_string();
        self.realtime.send(&data.state, OAUTH2_TOPIC, &message, now);
        if !data.error.is_empty() || data.code.is_empty() {
            return Failure;
        }
        Success
    }
}
