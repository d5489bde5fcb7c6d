//! OAuth2 / OpenID Connect login, the parts with no network: the providers Gatehouse knows and
//! their default endpoints ([`providers`]), their configuration as PocketBase stores it
//! ([`ProviderConfig`]) and its checks on save, the authorize URL that `auth-methods` hands out
//! ([`authorize`]), the name Apple posts once ([`apple_names`]), and the seam
//! ([`OAuth2Exchange`]) behind which the `gatehouse-oauth` crate talks to the provider.

pub mod apple_names;
pub mod authorize;
pub mod config;
pub mod providers;

pub use config::{ProviderConfig, check_providers, keep_client_secrets};
pub use providers::Kind;

use async_trait::async_trait;
use serde_json::{Map, Value};

/// What a code exchange needs besides the provider's configuration.
pub struct CodeExchange<'a> {
    pub code: &'a str,
    /// PKCE's verifier (empty without PKCE).
    pub code_verifier: &'a str,
    pub redirect_url: &'a str,
    /// The nonce the id_token must carry (`None`: none was sent with the authorize request).
    pub nonce: Option<String>,
    /// Now, in Unix seconds: the id_token's expiry is judged against it.
    pub now_secs: i64,
}

// Hand-written: the code and the verifier are one-time credentials.
impl std::fmt::Debug for CodeExchange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeExchange")
            .field("redirect_url", &self.redirect_url)
            .finish_non_exhaustive()
    }
}

/// The provider's account, in PocketBase's `AuthUser` shape (the answer's `meta`).
#[derive(Default, Clone)]
pub struct OAuth2User {
    pub id: String,
    pub name: String,
    pub username: String,
    /// Only an address the provider says is verified; empty otherwise.
    pub email: String,
    /// An address the provider gives without saying it is verified (Microsoft's `mail`, which
    /// a tenant's admin sets to anything): it may fill a new record's email, unverified, but
    /// never links to or verifies an existing record with that address.
    pub unverified_email: String,
    pub avatar_url: String,
    pub raw_user: Map<String, Value>,
    pub access_token: String,
    pub refresh_token: String,
    /// PocketBase datetime text, or empty.
    pub expiry: String,
}

impl std::fmt::Debug for OAuth2User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth2User")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Why an exchange failed; each maps to PocketBase's 400 message. The detail is for the log and
/// never holds a secret.
#[derive(Debug)]
pub enum ExchangeError {
    /// The token endpoint refused the code, was unreachable, slow, or answered garbage; or the
    /// id_token failed a check.
    Token(String),
    /// The user info could not be fetched or read.
    User(String),
}

impl std::fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Token(d) => write!(f, "token: {d}"),
            Self::User(d) => write!(f, "user: {d}"),
        }
    }
}

/// Talks to a provider: exchanges the code and returns the account it belongs to.
#[async_trait]
pub trait OAuth2Exchange: Send + Sync {
    async fn fetch_user(
        &self,
        provider: &ProviderConfig,
        exchange: CodeExchange<'_>,
    ) -> Result<OAuth2User, ExchangeError>;
}

/// Without a provider client (the CLI's key rotation): every exchange fails.
pub struct NoExchange;

#[async_trait]
impl OAuth2Exchange for NoExchange {
    async fn fetch_user(
        &self,
        _provider: &ProviderConfig,
        _exchange: CodeExchange<'_>,
    ) -> Result<OAuth2User, ExchangeError> {
        Err(ExchangeError::Token("no OAuth2 client".to_owned()))
    }
}
