//! The provider item of `auth-methods`: a fresh `state`, PKCE's verifier and challenge, and the
//! authorize URL built from them. The server keeps none of it: the client sends the verifier back
//! with the code, and the id_token's nonce is derived from the verifier, so it needs no storage
//! either and still binds the id_token to this one authorize request.

use super::{Kind, ProviderConfig};
use crate::random;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `code_challenge` for a verifier (S256).
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The nonce sent with the authorize request whose PKCE verifier is `verifier`.
pub fn nonce_for(verifier: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"gatehouse oidc nonce\0");
    h.update(verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// PocketBase's provider item: `{name, displayName, state, authURL, authUrl, codeVerifier,
/// codeChallenge, codeChallengeMethod}` plus `logo` (empty: Gatehouse ships no logos). The URL
/// ends in `&redirect_uri=` for the client to append its redirect URL. The providers that sign
/// an id_token get a nonce; Apple answers through a form posted to the redirect URL (its only
/// way to hand over the name), as PocketBase asks it to.
pub fn provider_item(p: &ProviderConfig) -> Value {
    let p = &p.resolved();
    let signs_id_token = matches!(p.kind(), Kind::Oidc | Kind::Apple);
    let state = random::string_from(ALNUM, 30);
    let (verifier, challenge, method) = if p.uses_pkce() {
        let v = random::string_from(ALNUM, 43);
        let c = code_challenge(&v);
        (v, c, "S256")
    } else {
        (String::new(), String::new(), "")
    };
    let mut params = url::form_urlencoded::Serializer::new(String::new());
    params.append_pair("client_id", &p.client_id);
    if !verifier.is_empty() {
        params.append_pair("code_challenge", &challenge);
        params.append_pair("code_challenge_method", method);
        if signs_id_token {
            params.append_pair("nonce", &nonce_for(&verifier));
        }
    }
    if p.kind() == Kind::Apple {
        params.append_pair("response_mode", "form_post");
    }
    params.append_pair("response_type", "code");
    params.append_pair("scope", &p.scopes().join(" "));
    params.append_pair("state", &state);
    let separator = if p.auth_url.contains('?') { '&' } else { '?' };
    let auth_url = format!("{}{separator}{}&redirect_uri=", p.auth_url, params.finish());
    json!({
        "name": p.name,
        "displayName": p.display_name(),
        "logo": "",
        "state": state,
        "authURL": auth_url,
        "authUrl": auth_url,
        "codeVerifier": verifier,
        "codeChallenge": challenge,
        "codeChallengeMethod": method,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed inputs: a failure fails the test at once
mod tests {
    use super::*;

    #[test]
    fn rfc7636_example_challenge() {
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn item_has_pkce_state_nonce_and_ends_with_redirect_uri() {
        let p = ProviderConfig {
            name: "oidc".into(),
            client_id: "app 1".into(),
            auth_url: "https://id.example.com/auth".into(),
            ..ProviderConfig::default()
        };
        let item = provider_item(&p);
        let url = item["authURL"].as_str().unwrap();
        let verifier = item["codeVerifier"].as_str().unwrap();
        assert_eq!(verifier.len(), 43);
        assert_eq!(item["codeChallenge"], code_challenge(verifier));
        assert_eq!(item["codeChallengeMethod"], "S256");
        assert_eq!(item["state"].as_str().unwrap().len(), 30);
        assert_eq!(item["displayName"], "oidc");
        assert!(
            url.starts_with("https://id.example.com/auth?client_id=app+1&"),
            "{url}"
        );
        assert!(url.ends_with("&redirect_uri="), "{url}");
        assert!(
            url.contains(&format!("nonce={}", nonce_for(verifier))),
            "{url}"
        );
    }

    #[test]
    fn a_named_provider_asks_for_its_own_scopes_at_its_own_url() {
        let github = ProviderConfig {
            name: "github".into(),
            client_id: "app".into(),
            ..ProviderConfig::default()
        };
        let item = provider_item(&github);
        let url = item["authURL"].as_str().unwrap();
        assert!(
            url.starts_with("https://github.com/login/oauth/authorize?client_id=app&"),
            "{url}"
        );
        assert!(url.contains("scope=read%3Auser+user%3Aemail"), "{url}");
        assert!(!url.contains("nonce"), "{url}");
        assert_eq!(item["displayName"], "GitHub");
        let apple = ProviderConfig {
            name: "apple".into(),
            ..ProviderConfig::default()
        };
        let url = provider_item(&apple)["authURL"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(url.contains("response_mode=form_post"), "{url}");
        assert!(url.contains("scope=name+email"), "{url}");
        assert!(url.contains("nonce="), "{url}");
    }

    #[test]
    fn without_pkce_the_three_are_empty() {
        let p = ProviderConfig {
            pkce: Some(false),
            auth_url: "https://id.example.com/auth?x=1".into(),
            ..ProviderConfig::default()
        };
        let item = provider_item(&p);
        assert_eq!(item["codeVerifier"], "");
        assert_eq!(item["codeChallengeMethod"], "");
        assert!(!item["authURL"].as_str().unwrap().contains("nonce"));
    }
}
