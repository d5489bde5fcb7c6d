//! One item of a collection's `oauth2.providers`, exactly as PocketBase stores it, and what it
//! must satisfy to be saved. `clientSecret` is write-only: it is never answered back, and a save
//! that leaves it out keeps the stored one.

use super::providers::{self, APPLE_ISSUER, APPLE_JWKS_URL, Kind};
use crate::error::{FieldErrors, codes};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Bounds on what a superuser may store (URLs and ids are short in practice).
const MAX_URL_LEN: usize = 2048;
const MAX_VALUE_LEN: usize = 1024;

#[derive(Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfig {
    #[serde(default)]
    pub pkce: Option<bool>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub client_secret: String,
    #[serde(rename = "authURL", default)]
    pub auth_url: String,
    #[serde(rename = "tokenURL", default)]
    pub token_url: String,
    #[serde(rename = "userInfoURL", default)]
    pub user_info_url: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub extra: Option<Map<String, Value>>,
}

// Hand-written: the client secret never reaches a log.
impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field("auth_url", &self.auth_url)
            .finish_non_exhaustive()
    }
}

impl ProviderConfig {
    /// PKCE unless the configuration turns it off (PocketBase's OIDC default is on).
    pub fn uses_pkce(&self) -> bool {
        self.pkce.unwrap_or(true)
    }

    /// The configured name, else the provider's own (`GitHub`), else the key (`oidc`).
    pub fn display_name(&self) -> &str {
        match providers::find(&self.name) {
            _ if !self.display_name.is_empty() => &self.display_name,
            Some(p) if !p.display_name.is_empty() => p.display_name,
            _ => &self.name,
        }
    }

    /// How the account is read; a name outside the table (refused on save) reads as OIDC.
    pub fn kind(&self) -> Kind {
        providers::find(&self.name).map_or(Kind::Oidc, |p| p.kind)
    }

    /// The scopes the authorize URL asks for.
    pub fn scopes(&self) -> &'static [&'static str] {
        providers::find(&self.name)
            .map(|p| p.scopes)
            .unwrap_or_default()
    }

    /// The configuration with the provider's defaults where it leaves a URL empty. Apple has
    /// no user info endpoint: its id_token is checked against Apple's keys (or `extra.jwksURL`)
    /// and issuer, as PocketBase does.
    pub fn resolved(&self) -> ProviderConfig {
        let mut p = self.clone();
        if let Some(row) = providers::find(&self.name) {
            for (url, default) in [
                (&mut p.auth_url, row.auth_url),
                (&mut p.token_url, row.token_url),
                (&mut p.user_info_url, row.user_info_url),
            ] {
                if url.is_empty() {
                    default.clone_into(url);
                }
            }
        }
        if self.kind() == Kind::Apple {
            p.user_info_url.clear();
            let extra = p.extra.get_or_insert_with(Map::new);
            if self.jwks_url().is_empty() {
                extra.insert("jwksURL".to_owned(), json!(APPLE_JWKS_URL));
            }
            extra.insert("issuers".to_owned(), json!([APPLE_ISSUER]));
        }
        p
    }

    fn extra_str(&self, key: &str) -> &str {
        self.extra
            .as_ref()
            .and_then(|e| e.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// `extra.jwksURL`: where the id_token's signing keys are published.
    pub fn jwks_url(&self) -> &str {
        self.extra_str("jwksURL")
    }

    /// `extra.issuers`: the accepted `iss` values (empty: any).
    pub fn issuers(&self) -> Vec<String> {
        self.extra
            .as_ref()
            .and_then(|e| e.get("issuers"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A save that sends a provider without `clientSecret` keeps the one stored under that name.
pub fn keep_client_secrets(new: &mut [ProviderConfig], old: &[ProviderConfig]) {
    for p in new.iter_mut().filter(|p| p.client_secret.is_empty()) {
        if let Some(o) = old.iter().find(|o| o.name == p.name) {
            p.client_secret.clone_from(&o.client_secret);
        }
    }
}

/// PocketBase's field errors under `providers.<i>.<field>`. Checked whether or not OAuth2 is
/// enabled, as PocketBase does.
pub fn check_providers(providers: &[ProviderConfig]) -> FieldErrors {
    let mut all = FieldErrors::default();
    for (i, p) in providers.iter().enumerate() {
        let mut e = FieldErrors::default();
        if p.name.is_empty() {
            e.add_code("name", codes::REQUIRED);
        } else if providers::find(&p.name).is_none() {
            e.add_with_params(
                "name",
                "validation_unsupported_provider",
                &format!(
                    "Provider \"{}\" is not supported yet (supported: {}).",
                    p.name.chars().take(100).collect::<String>(),
                    providers::names().join(", ")
                ),
                serde_json::json!({"name": p.name.chars().take(100).collect::<String>()}),
            );
        } else if providers[..i].iter().any(|o| o.name == p.name) {
            e.add_code("name", codes::NOT_UNIQUE);
        }
        for (field, value) in [
            ("clientId", &p.client_id),
            ("clientSecret", &p.client_secret),
        ] {
            if value.is_empty() {
                e.add_code(field, codes::REQUIRED);
            } else if value.len() > MAX_VALUE_LEN {
                e.length_out_of_range(field, 1, MAX_VALUE_LEN);
            }
        }
        if p.display_name.len() > MAX_VALUE_LEN {
            e.length_out_of_range("displayName", 0, MAX_VALUE_LEN);
        }
        // The generic provider has no built-in endpoints; a named one's are overrides.
        let generic = p.kind() == Kind::Oidc;
        for (field, value, required) in [
            ("authURL", &p.auth_url, generic),
            ("tokenURL", &p.token_url, generic),
            ("userInfoURL", &p.user_info_url, false),
        ] {
            check_url(&mut e, field, value, required);
        }
        e.nest("extra", check_extra(p, generic));
        all.nest(&i.to_string(), e);
    }
    let mut errors = FieldErrors::default();
    errors.nest("providers", all);
    errors
}

/// `extra.jwksURL` and `extra.issuers`. Gatehouse never trusts an unsigned id_token: without a
/// user info URL, the generic provider's account comes from the id_token, so its keys must be
/// known (named providers have a user info endpoint, or Apple's keys).
fn check_extra(p: &ProviderConfig, generic: bool) -> FieldErrors {
    let mut e = FieldErrors::default();
    let extra = p.extra.as_ref();
    match extra.and_then(|x| x.get("jwksURL")) {
        None | Some(Value::Null) => {}
        Some(Value::String(url)) => check_url(&mut e, "jwksURL", url, false),
        Some(_) => e.add("jwksURL", "validation_is_url", "Must be a valid URL."),
    }
    if generic && p.user_info_url.is_empty() && p.jwks_url().is_empty() {
        e.add(
            "jwksURL",
            "validation_required",
            "Set a user info URL, or the JWKS URL that verifies the provider's id_token.",
        );
    }
    match extra.and_then(|x| x.get("issuers")) {
        None | Some(Value::Null) => {}
        Some(Value::Array(items))
            if items.len() <= 20
                && items.iter().all(|v| {
                    v.as_str()
                        .is_some_and(|s| !s.is_empty() && s.len() <= MAX_URL_LEN)
                }) => {}
        Some(_) => e.add(
            "issuers",
            "validation_invalid_issuers",
            "Must be a list of at most 20 issuer URLs.",
        ),
    }
    e
}

fn check_url(e: &mut FieldErrors, field: &str, value: &str, required: bool) {
    if value.is_empty() {
        if required {
            e.add_code(field, codes::REQUIRED);
        }
        return;
    }
    let ok = value.len() <= MAX_URL_LEN
        && url::Url::parse(value)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if !ok {
        e.add(field, "validation_is_url", "Must be a valid URL.");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed inputs: a failure fails the test at once
mod tests {
    use super::*;
    use serde_json::json;

    fn provider() -> ProviderConfig {
        serde_json::from_value(json!({
            "name": "oidc", "clientId": "app", "clientSecret": "s3cret-value",
            "authURL": "https://id.example.com/auth", "tokenURL": "https://id.example.com/token",
            "userInfoURL": "https://id.example.com/me",
        }))
        .unwrap()
    }

    #[test]
    fn a_complete_provider_passes() {
        assert!(check_providers(&[provider()]).is_empty());
    }

    #[test]
    fn unsupported_duplicate_and_missing_fields_are_field_errors() {
        let mut google = provider();
        google.name = "goggle".into();
        let mut bare = provider();
        bare.client_secret.clear();
        bare.user_info_url.clear();
        bare.auth_url = "javascript:alert(1)".into();
        let errors = check_providers(&[provider(), google, provider(), bare]).into_map();
        let e = &errors["providers"];
        assert_eq!(e["1"]["name"]["code"], "validation_unsupported_provider");
        assert_eq!(e["2"]["name"]["code"], "validation_not_unique");
        assert_eq!(e["3"]["clientSecret"]["code"], "validation_required");
        assert_eq!(e["3"]["authURL"]["code"], "validation_is_url");
        assert_eq!(e["3"]["extra"]["jwksURL"]["code"], "validation_required");
        assert!(e.get("0").is_none(), "{e}");
    }

    #[test]
    fn a_named_provider_needs_no_urls_and_fills_in_its_defaults() {
        let github = ProviderConfig {
            name: "github".into(),
            client_id: "app".into(),
            client_secret: "s3cret-value".into(),
            ..ProviderConfig::default()
        };
        assert!(check_providers(std::slice::from_ref(&github)).is_empty());
        let r = github.resolved();
        assert_eq!(r.token_url, "https://github.com/login/oauth/access_token");
        assert_eq!(r.user_info_url, "https://api.github.com/user");
        assert_eq!(github.display_name(), "GitHub");
        let overridden = ProviderConfig {
            token_url: "http://127.0.0.1:9/token".into(),
            ..github
        };
        assert_eq!(overridden.resolved().token_url, "http://127.0.0.1:9/token");
    }

    #[test]
    fn apple_reads_its_id_token_with_apples_keys_and_issuer() {
        let apple = ProviderConfig {
            name: "apple".into(),
            user_info_url: "https://example.com/ignored".into(),
            ..ProviderConfig::default()
        };
        let r = apple.resolved();
        assert_eq!(r.user_info_url, "");
        assert_eq!(r.jwks_url(), APPLE_JWKS_URL);
        assert_eq!(r.issuers(), vec![APPLE_ISSUER.to_owned()]);
    }

    #[test]
    fn a_save_without_the_secret_keeps_the_stored_one() {
        let mut new = vec![ProviderConfig {
            client_secret: String::new(),
            ..provider()
        }];
        keep_client_secrets(&mut new, &[provider()]);
        assert_eq!(new[0].client_secret, "s3cret-value");
    }

    #[test]
    fn debug_hides_the_secret() {
        assert!(!format!("{:?}", provider()).contains("s3cret"));
    }
}
