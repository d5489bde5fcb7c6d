//! The provider's account in PocketBase's `AuthUser` shape, from the user info answer or the
//! id_token's claims: the helpers every mapping uses, and PocketBase's OIDC mapping (`sub`,
//! `name`, `preferred_username`, `picture`, and `email` only when `email_verified` is true).

use crate::http::{HttpError, read_body};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_domain::clock::format_datetime;
use gatehouse_domain::oauth2::OAuth2User;
use openidconnect::OAuth2TokenResponse;
use openidconnect::core::CoreTokenResponse;
use serde_json::{Map, Value};

/// The JSON object in a JWT's payload (the signature was checked before).
pub fn payload_of(jwt: &str) -> Result<Map<String, Value>, String> {
    let payload = jwt.split('.').nth(1).ok_or("not a JWT")?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| "the payload is not base64url")?;
    serde_json::from_slice(&bytes).map_err(|_| "the payload is not a JSON object".to_owned())
}

pub async fn fetch_user_info(
    http: &reqwest::Client,
    url: &str,
    access_token: &str,
) -> Result<Map<String, Value>, HttpError> {
    let sent = http
        .get(url)
        .bearer_auth(access_token)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| HttpError(format!("fetching the user info: {}", e.without_url())))?;
    if !sent.status().is_success() {
        return Err(HttpError(format!(
            "the user info answered {}",
            sent.status()
        )));
    }
    let body = read_body(sent).await?;
    serde_json::from_slice(&body)
        .map_err(|_| HttpError("the user info is not a JSON object".to_owned()))
}

/// What a provider's mapping reads from its answer (PocketBase's `AuthUser` without tokens).
#[derive(Debug, Default, PartialEq)]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub username: String,
    /// Only an address the provider vouches for (see each mapping).
    pub email: String,
    /// An address the provider gives without vouching for it: it may fill a new record's
    /// email (unverified), never find or verify an existing one.
    pub unverified_email: String,
    pub avatar_url: String,
}

/// A string member, or a number's text (some providers' ids are numbers); else empty.
pub fn text(raw: &Map<String, Value>, key: &str) -> String {
    match raw.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// A yes/no member; some providers send the flag as a string (PocketBase #6657).
pub fn flag(raw: &Map<String, Value>, key: &str) -> bool {
    match raw.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true") || s == "1",
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    }
}

/// The standard claims of OpenID Connect (the generic provider and Apple's id_token).
pub fn oidc_profile(raw: &Map<String, Value>) -> Profile {
    Profile {
        id: text(raw, "sub"),
        name: text(raw, "name"),
        username: text(raw, "preferred_username"),
        email: match flag(raw, "email_verified") {
            true => text(raw, "email"),
            false => String::new(),
        },
        avatar_url: text(raw, "picture"),
        unverified_email: String::new(),
    }
}

/// The account with the tokens of the exchange: the answer's `meta`.
pub fn auth_user(
    profile: Profile,
    raw: Map<String, Value>,
    token: &CoreTokenResponse,
    now_secs: i64,
) -> OAuth2User {
    let expiry = token
        .expires_in()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .map(|secs| format_datetime(now_secs.saturating_add(secs).saturating_mul(1000)))
        .unwrap_or_default();
    OAuth2User {
        id: profile.id,
        name: profile.name,
        username: profile.username,
        email: profile.email,
        unverified_email: profile.unverified_email,
        avatar_url: profile.avatar_url,
        access_token: token.access_token().secret().clone(),
        refresh_token: token
            .refresh_token()
            .map(|t| t.secret().clone())
            .unwrap_or_default(),
        expiry,
        raw_user: raw,
    }
}
