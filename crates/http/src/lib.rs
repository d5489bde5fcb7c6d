//! Gatehouse's HTTP API: PocketBase's auth API on axum. Handlers parse the request, call one
//! function of the domain's [`Gatehouse`] and render the answer; every error goes through
//! [`ApiError`] so it reaches the client in PocketBase's `{status, message, data}` shape.

mod cors;
mod error;
mod extract;
mod limit;
mod pages;
mod picker;
mod routes;

pub use cors::AllowedOrigins;
pub use error::ApiError;

use axum::Router;
use axum::http::{HeaderName, HeaderValue};
use gatehouse_domain::Gatehouse;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;

/// Request bodies larger than this are refused with 413. Auth requests are small; PocketBase's
/// 32 MiB exists for file uploads, which Gatehouse does not take.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// How much of an oversized body is still read (and discarded) so the client gets the 413.
pub const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub gh: Arc<Gatehouse>,
}

/// The whole API, callable from every origin's browser apps (PocketBase's default).
pub fn router(gh: Arc<Gatehouse>) -> Router {
    router_for(gh, AllowedOrigins::Any)
}

/// The whole API, callable from browser apps of `origins`.
pub fn router_for(gh: Arc<Gatehouse>, origins: AllowedOrigins) -> Router {
    let security_headers = [
        ("x-xss-protection", "1; mode=block"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "SAMEORIGIN"),
        ("cross-origin-opener-policy", "same-origin"),
    ];
    let state = AppState { gh };
    let mut app = routes::all()
        .merge(pages::all())
        // A route layer runs after routing, so the limiter knows the matched route.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limit::rate_limit,
        ))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn(picker::pick_fields))
        .layer(CatchPanicLayer::custom(error::panic_response))
        // Outside the limiter: a preflight is answered before it counts as a request.
        .layer(cors::layer(origins));
    for (name, value) in security_headers {
        app = app.layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        ));
    }
    app.with_state(state)
}
