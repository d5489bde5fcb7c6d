//! In front of every route: work out the client IP (`settings.trustedProxy`) and the caller once,
//! then apply `settings.rateLimits` with PocketBase's tags for collection routes. Handlers find
//! both in the request extensions ([`ClientIp`], [`Authenticated`]).

use crate::AppState;
use crate::error::ApiError;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::Caller;
use gatehouse_domain::service::limits::{CollectionRoute, Limited};
use gatehouse_domain::settings::Audience;
use std::net::SocketAddr;

/// The client's IP as the rate limiter saw it.
#[derive(Clone)]
pub struct ClientIp(pub String);

/// The caller behind the request's token, already checked.
#[derive(Clone)]
pub struct Authenticated(pub Option<Caller>);

pub async fn rate_limit(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let gh = &state.gh;
    let settings = match gh.current_settings().await {
        Ok(s) => s,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let remote = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    let headers = req.headers();
    let ip = settings.trusted_proxy.client_ip(
        |name| headers.get(name)?.to_str().ok().map(str::to_owned),
        &remote,
    );
    let caller = match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(header) => gh.authenticate(header).await,
        None => None,
    };
    // Superusers are never limited (as in PocketBase).
    if !caller.as_ref().is_some_and(Caller::is_superuser) {
        let pattern = req
            .extensions()
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_owned());
        let path = req.uri().path();
        let collection_route = pattern.as_deref().and_then(|p| {
            Some(CollectionRoute {
                collection: path.split('/').nth(3)?,
                pattern: p,
                tags: tags(req.method(), p)?,
            })
        });
        let limited = Limited {
            method: req.method().as_str(),
            path,
            collection_route,
            ip: &ip,
            audience: if caller.is_some() {
                Audience::Auth
            } else {
                Audience::Guest
            },
        };
        if let Err(e) = gh.check_rate_limit(&limited).await {
            return ApiError::from(e).into_response();
        }
    }
    req.extensions_mut().insert(ClientIp(ip));
    req.extensions_mut().insert(Authenticated(caller));
    next.run(req).await
}

/// PocketBase's rate-limit tags of the collection routes; `None` for routes that only have the
/// path labels (impersonate and the superuser routes).
fn tags(method: &Method, pattern: &str) -> Option<&'static [&'static str]> {
    let route = pattern.strip_prefix("/api/collections/{collection}/")?;
    Some(match (method.as_str(), route) {
        ("GET", "auth-methods") => &["listAuthMethods"],
        ("POST", "auth-refresh") => &["authRefresh"],
        ("POST", "auth-with-password") => &["authWithPassword", "auth"],
        ("POST", "auth-with-oauth2") => &["authWithOAuth2", "auth"],
        ("POST", "request-otp") => &["requestOTP"],
        ("POST", "auth-with-otp") => &["authWithOTP", "auth"],
        ("POST", "request-password-reset") => &["requestPasswordReset"],
        ("POST", "confirm-password-reset") => &["confirmPasswordReset"],
        ("POST", "request-verification") => &["requestVerification"],
        ("POST", "confirm-verification") => &["confirmVerification"],
        ("POST", "request-email-change") => &["requestEmailChange"],
        ("POST", "confirm-email-change") => &["confirmEmailChange"],
        ("GET", "records") => &["list"],
        ("POST", "records") => &["create"],
        ("GET", "records/{id}") => &["view"],
        ("PATCH", "records/{id}") => &["update"],
        ("DELETE", "records/{id}") => &["delete"],
        _ => return None,
    })
}
