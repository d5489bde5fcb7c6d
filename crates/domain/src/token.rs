//! PocketBase's tokens: HS256 JWTs signed with the record's `tokenKey` followed by the collection's
//! secret for that token type, so rotating either kills the token. Only `exp` is a registered
//! claim; Gatehouse adds `authTime`, `amr` and `aal` to auth tokens.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub const TYPE_AUTH: &str = "auth";
/// A token that may only enrol a second factor (the MFA session it names must still live).
pub const TYPE_ENROLL: &str = "mfaEnroll";

/// Claims of an auth token. Field order is alphabetical, matching PocketBase's payloads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuthClaims {
    /// Authenticator assurance level: 1 for one factor, 2 after a second one.
    #[serde(default = "one")]
    pub aal: u8,
    /// Methods the login used, e.g. `["password"]` (RFC 8176 style).
    #[serde(default)]
    pub amr: Vec<String>,
    /// Unix seconds of the login this token descends from (kept across refreshes).
    #[serde(default)]
    pub auth_time: i64,
    pub collection_id: String,
    pub exp: i64,
    pub id: String,
    #[serde(default)]
    pub refreshable: bool,
    #[serde(rename = "type")]
    pub kind: String,
}

/// Claims of an enrolment token: the record, and the MFA session whose life it shares.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EnrollClaims {
    pub collection_id: String,
    pub exp: i64,
    pub id: String,
    pub mfa_id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

fn one() -> u8 {
    1
}

/// What can be read from a token before its signature is checked: enough to find the key.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unverified {
    pub id: String,
    pub collection_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub exp: i64,
}

fn key(token_key: &str, secret: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(token_key.len() + secret.len());
    key.extend_from_slice(token_key.as_bytes());
    key.extend_from_slice(secret.as_bytes());
    key
}

pub fn sign(claims: &impl Serialize, token_key: &str, secret: &str) -> Option<String> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(&key(token_key, secret)),
    )
    .ok()
}

/// Reads the claims needed to look the signing key up. `None` for anything malformed, expired
/// (at `now_secs`) or missing `id`/`collectionId`/`type`.
pub fn peek(token: &str, now_secs: i64) -> Option<Unverified> {
    let claims: Unverified = jsonwebtoken::dangerous::insecure_decode_claims(token).ok()?;
    let usable =
        !claims.id.is_empty() && !claims.collection_id.is_empty() && !claims.kind.is_empty();
    (usable && claims.exp > now_secs).then_some(claims)
}

/// The `collectionId` a token claims, unchecked: enough to route a mailed link to its
/// collection, whose own checks then verify everything.
pub fn claimed_collection(token: &str) -> Option<String> {
    let claims: serde_json::Value = jsonwebtoken::dangerous::insecure_decode_claims(token).ok()?;
    claims.get("collectionId")?.as_str().map(str::to_owned)
}

/// Checks the HS256 signature (and only HS256) and returns the claims. Expiry is checked by
/// [`peek`] against the injected clock, so it is not re-checked here.
pub fn verify<T: DeserializeOwned>(token: &str, token_key: &str, secret: &str) -> Option<T> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<T>(
        token,
        &DecodingKey::from_secret(&key(token_key, secret)),
        &validation,
    )
    .ok()
    .map(|data| data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> AuthClaims {
        AuthClaims {
            aal: 1,
            amr: vec!["password".into()],
            auth_time: 100,
            collection_id: "_pb_users_auth_".into(),
            exp,
            id: "abc".into(),
            refreshable: true,
            kind: TYPE_AUTH.into(),
        }
    }

    #[test]
    fn round_trip_and_key_rotation() {
        let token = sign(&claims(2_000), "key", "secret").unwrap_or_default();
        assert_eq!(
            verify::<AuthClaims>(&token, "key", "secret"),
            Some(claims(2_000))
        );
        assert_eq!(verify::<AuthClaims>(&token, "key2", "secret"), None);
        assert_eq!(verify::<AuthClaims>(&token, "key", "other"), None);
    }

    #[test]
    fn payload_is_pocketbase_shaped_and_sdk_decodable() {
        let token = sign(&claims(2_000), "key", "secret").unwrap_or_default();
        let payload = token.split('.').nth(1).unwrap_or_default();
        // The JS SDK decodes with atob() without mapping base64url to base64.
        assert!(
            !payload.contains('-') && !payload.contains('_'),
            "{payload}"
        );
        let raw = jsonwebtoken::dangerous::insecure_decode_claims::<serde_json::Value>(&token)
            .unwrap_or_default();
        let keys: Vec<&String> = raw
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            [
                "aal",
                "amr",
                "authTime",
                "collectionId",
                "exp",
                "id",
                "refreshable",
                "type"
            ]
        );
    }

    #[test]
    fn peek_refuses_expired_and_garbage() {
        let token = sign(&claims(2_000), "key", "secret").unwrap_or_default();
        assert!(peek(&token, 1_999).is_some());
        assert!(peek(&token, 2_000).is_none());
        assert!(peek("not a token", 0).is_none());
    }

    #[test]
    fn other_algorithms_are_refused() {
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims(2_000),
            &EncodingKey::from_secret(b"keysecret"),
        )
        .unwrap_or_default();
        assert_eq!(verify::<AuthClaims>(&forged, "key", "secret"), None);
    }
}
