//! Routes, one file per resource. Each collection route is declared once, with its rate-limit
//! tags beside it (PocketBase's `{collection}:{tag}` labels), so a new route cannot be added
//! without deciding how it is limited.

mod account;
mod audit;
mod auth;
mod collections;
mod factors;
mod health;
mod oauth2;
mod oauth2_redirect;
mod otp;
mod realtime;
mod records;
mod settings;
mod sms;

use crate::AppState;
use axum::Router;
use axum::http::Method;
use axum::routing::{MethodFilter, get, on, post};

/// `METHOD "path under /api/collections/{collection}/" => handler, [tags];` — the routes and
/// [`tags`], the table the rate limiter reads, from one list.
macro_rules! collection_routes {
    ($( $method:ident $path:literal => $handler:path, [$($tag:literal),*]; )*) => {
        fn collection_routes() -> Router<AppState> {
            Router::new()
                $(.route(
                    concat!("/api/collections/{collection}/", $path),
                    on(MethodFilter::$method, $handler),
                ))*
        }

        /// The rate-limit tags of a collection route (`None` for routes that only have the
        /// path labels, and for any other route).
        pub(crate) fn tags(method: &Method, pattern: &str) -> Option<&'static [&'static str]> {
            let route = pattern.strip_prefix("/api/collections/{collection}/")?;
            $(
                if method.as_str() == stringify!($method) && route == $path {
                    let tags: &'static [&'static str] = &[$($tag),*];
                    return (!tags.is_empty()).then_some(tags);
                }
            )*
            None
        }
    };
}

collection_routes! {
    GET "auth-methods" => auth::auth_methods, ["listAuthMethods"];
    POST "auth-with-password" => auth::auth_with_password, ["authWithPassword", "auth"];
    POST "request-otp" => otp::request_otp, ["requestOTP"];
    POST "auth-with-otp" => otp::auth_with_otp, ["authWithOTP", "auth"];
    POST "auth-with-oauth2" => oauth2::auth_with_oauth2, ["authWithOAuth2", "auth"];
    POST "auth-with-totp" => factors::auth_with_totp, ["authWithTotp", "auth"];
    POST "auth-with-backup-code" => factors::auth_with_backup_code, ["authWithBackupCode", "auth"];
    POST "step-up" => factors::step_up, ["stepUp"];
    POST "request-sms-otp" => sms::request_sms_otp, ["requestSmsOtp"];
    POST "request-verification" => account::request_verification, ["requestVerification"];
    POST "confirm-verification" => account::confirm_verification, ["confirmVerification"];
    POST "request-password-reset" => account::request_password_reset, ["requestPasswordReset"];
    POST "confirm-password-reset" => account::confirm_password_reset, ["confirmPasswordReset"];
    POST "request-email-change" => account::request_email_change, ["requestEmailChange"];
    POST "confirm-email-change" => account::confirm_email_change, ["confirmEmailChange"];
    POST "auth-refresh" => auth::auth_refresh, ["authRefresh"];
    POST "impersonate/{id}" => auth::impersonate, [];
    GET "records" => records::list, ["list"];
    POST "records" => records::create, ["create"];
    GET "records/{id}" => records::view, ["view"];
    PATCH "records/{id}" => records::update, ["update"];
    DELETE "records/{id}" => records::delete, ["delete"];
    GET "records/{id}/security-events" => audit::security_events, [];
    GET "records/{id}/mfa" => factors::overview, ["mfa"];
    DELETE "records/{id}/mfa" => factors::reset, [];
    POST "records/{id}/mfa/totp" => factors::enrol_totp, ["manageMfa"];
    DELETE "records/{id}/mfa/totp" => factors::remove_totp, ["manageMfa"];
    POST "records/{id}/mfa/totp/confirm" => factors::confirm_totp, ["manageMfa"];
    GET "records/{id}/mfa/totp/uri" => factors::totp_uri, ["manageMfa"];
    POST "records/{id}/mfa/email" => factors::enrol_email, ["manageMfa"];
    DELETE "records/{id}/mfa/email" => factors::remove_email, ["manageMfa"];
    POST "records/{id}/mfa/email/confirm" => factors::confirm_email, ["manageMfa"];
    POST "records/{id}/mfa/backup-codes" => factors::regenerate_backup_codes, ["manageMfa"];
    POST "records/{id}/mfa/sms" => sms::enrol_sms, ["manageMfa"];
    DELETE "records/{id}/mfa/sms" => sms::remove_sms, ["manageMfa"];
    POST "records/{id}/mfa/sms/confirm" => sms::confirm_sms, ["manageMfa"];
    GET "records/{id}/mfa/devices" => factors::devices, ["mfa"];
    DELETE "records/{id}/mfa/devices/{device}" => factors::revoke_device, ["manageMfa"];
}

/// The routes outside a collection: as in PocketBase they have no tags, only the path labels
/// (`"/api/settings/test/email"`, `"POST /api/settings/"`, `"/api/"` …).
pub fn all() -> Router<AppState> {
    collection_routes()
        .route("/api/health", get(health::health).head(health::health))
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
        .route("/api/settings", get(settings::view).patch(settings::update))
        .route("/api/settings/test/email", post(settings::test_email))
        .route("/api/settings/test/sms", post(settings::test_sms))
        .route("/api/audit", get(audit::list))
        .route(
            "/api/realtime",
            get(realtime::connect).post(realtime::subscribe),
        )
        .route(
            "/api/oauth2-redirect",
            get(oauth2_redirect::from_query).post(oauth2_redirect::from_form),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_come_from_the_route_list() {
        let route = |r: &str| format!("/api/collections/{{collection}}/{r}");
        assert_eq!(
            tags(&Method::POST, &route("auth-with-password")),
            Some(&["authWithPassword", "auth"][..])
        );
        assert_eq!(
            tags(&Method::POST, &route("auth-with-totp")),
            Some(&["authWithTotp", "auth"][..])
        );
        assert_eq!(tags(&Method::GET, &route("auth-with-totp")), None);
        assert_eq!(tags(&Method::POST, &route("impersonate/{id}")), None);
        assert_eq!(tags(&Method::GET, "/api/settings"), None);
    }
}
