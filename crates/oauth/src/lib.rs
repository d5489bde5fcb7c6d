//! Gatehouse's OAuth2 / OpenID Connect client. The code is exchanged at the token URL (with
//! PKCE's verifier). For the generic OIDC provider (`oidc`, `oidc2`, `oidc3`) and Apple, an
//! id_token in the answer is checked — signature against the provider's JWKS (`extra.jwksURL`,
//! refetched once on an unknown key), audience, expiry, issuer (`extra.issuers`) and the nonce
//! the authorize URL carried — and the account comes from the user info URL when one is set,
//! else from the id_token's claims. The other named providers (Google, GitHub, …) answer at
//! their user info URL, read by [`named`]. Either way the account is PocketBase's `AuthUser`
//! shape, with an email only when the provider vouches for it.

mod http;
mod jwks;
mod named;
mod user;

pub use http::{CONNECT_TIMEOUT, TOTAL_TIMEOUT};

use async_trait::async_trait;
use gatehouse_domain::oauth2::{
    CodeExchange, ExchangeError, Kind, OAuth2Exchange, OAuth2User, ProviderConfig,
};
use openidconnect::core::{
    CoreClient, CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreTokenResponse,
};
use openidconnect::{
    AuthType, AuthUrl, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeVerifier, RedirectUrl,
    SignatureVerificationError, TokenUrl,
};
use serde_json::{Map, Value};
use std::time::Duration;

pub struct OidcClient {
    http: reqwest::Client,
    jwks: jwks::JwksCache,
}

impl OidcClient {
    /// A client with the standard timeouts ([`CONNECT_TIMEOUT`], [`TOTAL_TIMEOUT`]).
    pub fn new() -> Result<Self, String> {
        Self::with_timeouts(CONNECT_TIMEOUT, TOTAL_TIMEOUT)
    }

    /// A client with other timeouts (tests use short ones).
    pub fn with_timeouts(connect: Duration, total: Duration) -> Result<Self, String> {
        Ok(Self {
            http: http::client(connect, total)?,
            jwks: jwks::JwksCache::default(),
        })
    }

    async fn exchange_code(
        &self,
        p: &ProviderConfig,
        code: String,
        code_verifier: String,
        redirect_url: String,
    ) -> Result<CoreTokenResponse, ExchangeError> {
        let bad = |what: &str| ExchangeError::Token(format!("invalid {what}"));
        // The issuer given here is not used: id_tokens are checked by `verify` below.
        let mut client = CoreClient::new(
            ClientId::new(p.client_id.clone()),
            IssuerUrl::new(p.auth_url.clone()).map_err(|_| bad("authURL"))?,
            CoreJsonWebKeySet::new(Vec::new()),
        )
        .set_client_secret(ClientSecret::new(p.client_secret.clone()))
        .set_auth_uri(AuthUrl::new(p.auth_url.clone()).map_err(|_| bad("authURL"))?)
        .set_token_uri(TokenUrl::new(p.token_url.clone()).map_err(|_| bad("tokenURL"))?);
        // The named providers all take the client's credentials in the form (some take nothing
        // else); the generic provider keeps HTTP Basic, the OAuth2 default.
        if p.kind() != Kind::Oidc {
            client = client.set_auth_type(AuthType::RequestBody);
        }
        if !redirect_url.is_empty() {
            client = client
                .set_redirect_uri(RedirectUrl::new(redirect_url).map_err(|_| bad("redirectURL"))?);
        }
        let mut request = client.exchange_code(AuthorizationCode::new(code));
        if !code_verifier.is_empty() {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(code_verifier));
        }
        let adapter = http::Adapter(self.http.clone());
        request
            .request_async(&adapter)
            .await
            .map_err(|e| ExchangeError::Token(describe_token_error(&e)))
    }

    /// The id_token's claims after every check; keys refetched once when the token names one the
    /// cached set lacks.
    async fn verify(
        &self,
        p: &ProviderConfig,
        checks: &Checks,
        id_token: CoreIdToken,
    ) -> Result<Map<String, Value>, ExchangeError> {
        let url = p.jwks_url();
        let token_error =
            |e: &dyn std::fmt::Display| ExchangeError::Token(format!("id_token: {e}"));
        let keys = self
            .jwks
            .keys(&self.http, url)
            .await
            .map_err(|e| token_error(&e))?;
        let result = match check_id_token(p, checks, &id_token, keys) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => match self
                .jwks
                .refetch(&self.http, url)
                .await
                .map_err(|e| token_error(&e))?
            {
                Some(keys) => check_id_token(p, checks, &id_token, keys),
                None => Err(ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                )),
            },
            other => other,
        };
        result.map_err(|e| token_error(&e))?;
        let issuers = p.issuers();
        let claims = user::payload_of(&id_token.to_string()).map_err(|e| token_error(&e))?;
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !issuers.is_empty() && !issuers.iter().any(|i| i == iss) {
            return Err(token_error(&"the issuer is not one of extra.issuers"));
        }
        Ok(claims)
    }
}

/// What the id_token is checked against besides the configuration.
struct Checks {
    now_secs: i64,
    nonce: Option<String>,
}

/// Signature, audience, expiry and nonce (the issuer is matched against a list afterwards).
fn check_id_token(
    p: &ProviderConfig,
    x: &Checks,
    id_token: &CoreIdToken,
    keys: CoreJsonWebKeySet,
) -> Result<(), ClaimsVerificationError> {
    use CoreJwsSigningAlgorithm as A;
    let now = chrono::DateTime::from_timestamp(x.now_secs, 0).unwrap_or_default();
    let placeholder = IssuerUrl::new(p.auth_url.clone())
        .map_err(|_| ClaimsVerificationError::Other("invalid authURL".to_owned()))?;
    let verifier = CoreIdTokenVerifier::new_confidential_client(
        ClientId::new(p.client_id.clone()),
        ClientSecret::new(p.client_secret.clone()),
        placeholder,
        keys,
    )
    .require_issuer_match(false)
    .set_allowed_algs([
        A::RsaSsaPkcs1V15Sha256,
        A::RsaSsaPkcs1V15Sha384,
        A::RsaSsaPkcs1V15Sha512,
        A::RsaSsaPssSha256,
        A::RsaSsaPssSha384,
        A::RsaSsaPssSha512,
        A::EcdsaP256Sha256,
        A::EcdsaP384Sha384,
        A::EdDsa,
    ])
    .set_time_fn(move || now);
    match &x.nonce {
        Some(nonce) => id_token
            .claims(&verifier, &Nonce::new(nonce.clone()))
            .map(drop),
        None => id_token
            .claims(&verifier, |_: Option<&Nonce>| Ok(()))
            .map(drop),
    }
}

/// What the log may say about a refused exchange: the provider's error code, never the body.
fn describe_token_error<E: std::error::Error>(e: &E) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.chars().take(300).collect()
}

#[async_trait]
impl OAuth2Exchange for OidcClient {
    async fn fetch_user(
        &self,
        p: &ProviderConfig,
        x: CodeExchange<'_>,
    ) -> Result<OAuth2User, ExchangeError> {
        let token = self
            .exchange_code(
                p,
                x.code.to_owned(),
                x.code_verifier.to_owned(),
                x.redirect_url.to_owned(),
            )
            .await?;
        match p.kind() {
            Kind::Oidc | Kind::Apple => self.oidc_user(p, &x, &token).await,
            kind => {
                let access = token.access_token().secret();
                let raw = user::fetch_user_info(&self.http, &p.user_info_url, access)
                    .await
                    .map_err(|e| ExchangeError::User(e.to_string()))?;
                let mut profile = named::profile(kind, &raw);
                if kind == Kind::Github && profile.email.is_empty() {
                    profile.email =
                        named::github_primary_email(&self.http, &p.user_info_url, access)
                            .await
                            .map_err(|e| ExchangeError::User(e.to_string()))?;
                }
                Ok(user::auth_user(profile, raw, &token, x.now_secs))
            }
        }
    }
}

impl OidcClient {
    /// The account of an OpenID Connect answer: the checked id_token's subject, read from the
    /// user info URL when there is one, else from the id_token itself.
    async fn oidc_user(
        &self,
        p: &ProviderConfig,
        x: &CodeExchange<'_>,
        token: &CoreTokenResponse,
    ) -> Result<OAuth2User, ExchangeError> {
        let checks = Checks {
            now_secs: x.now_secs,
            nonce: x.nonce.clone(),
        };
        let id_token = token.extra_fields().id_token().cloned();
        let id_claims = match id_token {
            Some(id_token) if !p.jwks_url().is_empty() => {
                Some(self.verify(p, &checks, id_token).await?)
            }
            // No keys to check it with: the account comes from the user info URL (PocketBase).
            _ => None,
        };
        let raw = if p.user_info_url.is_empty() {
            id_claims
                .clone()
                .ok_or_else(|| ExchangeError::Token("the answer has no id_token".to_owned()))?
        } else {
            let raw =
                user::fetch_user_info(&self.http, &p.user_info_url, token.access_token().secret())
                    .await
                    .map_err(|e| ExchangeError::User(e.to_string()))?;
            // OpenID Connect Core 5.3.2: the user info must be about the id_token's subject.
            if let Some(claims) = &id_claims
                && claims.get("sub") != raw.get("sub")
            {
                return Err(ExchangeError::User(
                    "user info and id_token disagree on sub".to_owned(),
                ));
            }
            raw
        };
        Ok(user::auth_user(
            user::oidc_profile(&raw),
            raw,
            token,
            x.now_secs,
        ))
    }
}
