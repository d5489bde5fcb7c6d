//! In front of every route: work out the client IP (`settings.trustedProxy`) and the caller once,
//! refuse superusers from outside `settings.superuserIPs`, then apply `settings.rateLimits` with
//! PocketBase's tags for collection routes (PocketBase's order). Handlers find the IP and the
//! caller in the request extensions ([`ClientIp`], [`Authenticated`]).

use crate::AppState;
use crate::error::ApiError;
use crate::routes::tags;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gatehouse_domain::service::limits::Limited;
use gatehouse_domain::settings::Audience;
use gatehouse_domain::{Caller, Error, Gatehouse};
use std::net::SocketAddr;

/// The client's IP as the rate limiter saw it.
#[derive(Clone)]
pub struct ClientIp(pub String);

/// The caller behind the request's token, already checked.
#[derive(Clone)]
pub struct Authenticated(pub Option<Caller>);

pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let gh = &state.gh;
    let settings = match gh.current_settings().await {
        Ok(s) => s,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (mut parts, body) = req.into_parts();
    let remote = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    let headers = &parts.headers;
    let ip = settings.trusted_proxy.client_ip(
        |name| headers.get(name)?.to_str().ok().map(str::to_owned),
        &remote,
    );
    let caller = match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(header) => gh.authenticate(header).await,
        None => None,
    };
    let superuser = caller.as_ref().is_some_and(Caller::is_superuser);
    if superuser && !settings.superuser_ip_allowed(&ip) {
        return ApiError::from(Error::forbidden(
            "You are not allowed to perform this request.",
        ))
        .into_response();
    }
    // Superusers are never limited (as in PocketBase).
    if !superuser {
        let pattern = parts
            .extensions
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default();
        // Decoded as the handlers will see them (a value that does not decode stays out).
        let raw = RawPathParams::from_request_parts(&mut parts, &state).await;
        let params: Vec<(&str, &str)> =
            raw.as_ref().map(|p| p.iter().collect()).unwrap_or_default();
        let limited = Limited {
            method: parts.method.as_str(),
            pattern: &pattern,
            params: &params,
            tags: tags(&parts.method, &pattern),
            ip: &ip,
            audience: audience_of(caller.as_ref()),
        };
        if let Err(e) = gh.check_rate_limit(&limited).await {
            return ApiError::from(e).into_response();
        }
    }
    parts.extensions.insert(ClientIp(ip));
    parts.extensions.insert(Authenticated(caller));
    next.run(Request::from_parts(parts, body)).await
}

/// The limit of the API route `POST /api/collections/{collection}/{route}` (its tags, its
/// bucket), for a page that does the same thing (the confirm pages' forms).
pub(crate) async fn check_as_api_route(
    gh: &Gatehouse,
    caller: Option<&Caller>,
    ip: &str,
    route: &str,
    collection: &str,
) -> Result<(), Error> {
    check_as_api_call(
        gh,
        caller,
        ip,
        (&Method::POST, route),
        &[("collection", collection)],
    )
    .await
}

/// The limit of the API route `METHOD /api/collections/{collection}/{route}` with its path
/// parameters (`collection`, and `id` or `device` where the route has them), for a page that
/// does what that route does (the account pages).
pub(crate) async fn check_as_api_call(
    gh: &Gatehouse,
    caller: Option<&Caller>,
    ip: &str,
    (method, route): (&Method, &str),
    params: &[(&str, &str)],
) -> Result<(), Error> {
    if caller.is_some_and(Caller::is_superuser) {
        return Ok(());
    }
    let pattern = format!("/api/collections/{{collection}}/{route}");
    gh.check_rate_limit(&Limited {
        method: method.as_str(),
        pattern: &pattern,
        params,
        tags: tags(method, &pattern),
        ip,
        audience: audience_of(caller),
    })
    .await
}

fn audience_of(caller: Option<&Caller>) -> Audience {
    if caller.is_some() {
        Audience::Auth
    } else {
        Audience::Guest
    }
}
