//! Routes, one file per resource.

mod account;
mod audit;
mod auth;
mod collections;
mod health;
mod otp;
mod records;
mod settings;

use crate::AppState;
use axum::Router;
use axum::routing::{get, post};

pub fn all() -> Router<AppState> {
    Router::new()
        .route("/api/health", get(health::health).head(health::health))
        .route(
            "/api/collections/{collection}/auth-methods",
            get(auth::auth_methods),
        )
        .route(
            "/api/collections/{collection}/auth-with-password",
            post(auth::auth_with_password),
        )
        .route(
            "/api/collections/{collection}/request-otp",
            post(otp::request_otp),
        )
        .route(
            "/api/collections/{collection}/auth-with-otp",
            post(otp::auth_with_otp),
        )
        .route(
            "/api/collections/{collection}/request-verification",
            post(account::request_verification),
        )
        .route(
            "/api/collections/{collection}/confirm-verification",
            post(account::confirm_verification),
        )
        .route(
            "/api/collections/{collection}/request-password-reset",
            post(account::request_password_reset),
        )
        .route(
            "/api/collections/{collection}/confirm-password-reset",
            post(account::confirm_password_reset),
        )
        .route(
            "/api/collections/{collection}/request-email-change",
            post(account::request_email_change),
        )
        .route(
            "/api/collections/{collection}/confirm-email-change",
            post(account::confirm_email_change),
        )
        .route(
            "/api/collections/{collection}/auth-refresh",
            post(auth::auth_refresh),
        )
        .route(
            "/api/collections/{collection}/impersonate/{id}",
            post(auth::impersonate),
        )
        .route(
            "/api/collections/{collection}/records",
            get(records::list).post(records::create),
        )
        .route(
            "/api/collections/{collection}/records/{id}",
            get(records::view)
                .patch(records::update)
                .delete(records::delete),
        )
        .route(
            "/api/collections",
            get(collections::list).post(collections::create),
        )
        .route(
            "/api/collections/{collection}",
            get(collections::view)
                .patch(collections::update)
                .delete(collections::delete),
        )
        .route(
            "/api/collections/{collection}/records/{id}/security-events",
            get(audit::security_events),
        )
        .route("/api/settings", get(settings::view).patch(settings::update))
        .route("/api/audit", get(audit::list))
}
