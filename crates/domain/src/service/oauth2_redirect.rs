//! `GET`/`POST /api/oauth2-redirect`, where the provider sends the OAuth2 popup back: the
//! `state` is the id of the realtime client that opened the popup (the JS SDK puts it there);
//! that client, if subscribed to `@oauth2` from the same IP, gets `{state, code, error}` as an
//! event and exchanges the code itself. The subscription is spent by the first redirect.
//!
//! Apple posts the person's name (`user`, JSON) with the first redirect only and has no user
//! info endpoint; as PocketBase does, the name is kept for a minute under the code, for the
//! `auth-with-oauth2` call that follows.

use super::Gatehouse;
use crate::realtime::OAUTH2_TOPIC;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Bounds on what the provider (or anyone) sends; a longer value fails the redirect.
const MAX_STATE: usize = 255;
const MAX_CODE: usize = 4096;
const MAX_ERROR: usize = 1024;
const MAX_USER: usize = 4096;
/// PocketBase's bound on the kept name (in bytes; here cut at a character boundary).
const MAX_NAME: usize = 150;
const NAME_TTL_MS: i64 = 60_000;
/// Names kept at once: a flood of redirects cannot grow the map past this.
const MAX_NAMES: usize = 1024;

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
        if !data.user.is_empty() && data.error.is_empty() && !data.code.is_empty() {
            self.redirect_names.keep(&data.code, &data.user, now);
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

    /// The name Apple sent with the redirect of `code`, once (the user info has none).
    pub fn take_redirect_name(&self, code: &str) -> Option<String> {
        self.redirect_names.take(code, self.clock.now_millis())
    }
}

/// Names from Apple's redirects by code, each for [`NAME_TTL_MS`].
#[derive(Default)]
pub(crate) struct RedirectNames {
    names: Mutex<HashMap<String, (String, i64)>>,
}

impl RedirectNames {
    fn keep(&self, code: &str, user: &str, now_ms: i64) {
        let Some(name) = name_of(user) else {
            return;
        };
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        names.retain(|_, (_, until)| *until > now_ms);
        if names.len() < MAX_NAMES {
            names.insert(code.to_owned(), (name, now_ms + NAME_TTL_MS));
        }
    }

    fn take(&self, code: &str, now_ms: i64) -> Option<String> {
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        let (name, until) = names.remove(code)?;
        (until > now_ms).then_some(name)
    }
}

/// "First Last" from Apple's `user` JSON, at most [`MAX_NAME`] bytes; `None` if there is none.
fn name_of(user: &str) -> Option<String> {
    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct Name {
        first_name: String,
        last_name: String,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct User {
        name: Name,
    }
    let user: User = serde_json::from_str(user).ok()?;
    let mut full = format!("{} {}", user.name.first_name, user.name.last_name);
    if full.len() > MAX_NAME {
        let mut cut = MAX_NAME;
        while !full.is_char_boundary(cut) {
            cut -= 1;
        }
        full.truncate(cut);
    }
    let full = full.trim();
    (!full.is_empty()).then(|| full.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn apple_names_are_read_bounded_and_kept_a_minute_once() {
        assert_eq!(
            name_of(r#"{"name":{"firstName":"Ann","lastName":"Lee"},"email":"a@b.c"}"#).as_deref(),
            Some("Ann Lee")
        );
        assert_eq!(
            name_of(r#"{"name":{"firstName":"Ann"}}"#).as_deref(),
            Some("Ann")
        );
        assert_eq!(name_of(r#"{"email":"a@b.c"}"#), None);
        assert_eq!(name_of("not json"), None);
        let long = format!(r#"{{"name":{{"firstName":"{}"}}}}"#, "é".repeat(100));
        assert_eq!(name_of(&long).unwrap().len(), 150);

        let names = RedirectNames::default();
        names.keep("c1", r#"{"name":{"firstName":"Ann"}}"#, 0);
        names.keep("c2", r#"{"name":{"firstName":"Bob"}}"#, 0);
        assert_eq!(names.take("c1", 1000).as_deref(), Some("Ann"));
        assert_eq!(names.take("c1", 1000), None);
        assert_eq!(names.take("c2", NAME_TTL_MS), None);
    }
}
