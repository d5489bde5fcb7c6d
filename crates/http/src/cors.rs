//! CORS for the JSON API, as PocketBase's `serve --origins` (default `*`): a browser app on
//! another origin may call `/api/…` with its token in the `Authorization` header, which is how
//! the SDKs authenticate. Never with cookies (no `Access-Control-Allow-Credentials`), and never
//! for the hosted pages (`/_/…`), whose forms rest on the session cookie and same-origin checks.

use axum::http::{HeaderValue, Method};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

/// Which origins may call the API from a browser.
#[derive(Debug, Clone, Default)]
pub enum AllowedOrigins {
    /// Every origin (PocketBase's default).
    #[default]
    Any,
    /// Only these, e.g. `https://app.example.com` (scheme, host and port, as browsers send them).
    List(Vec<HeaderValue>),
}

impl AllowedOrigins {
    /// From `--origins`: `*`, or a comma-separated list of origins.
    pub fn parse(list: &str) -> Result<Self, String> {
        let origins: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .collect();
        if origins.is_empty() || origins.contains(&"*") {
            return Ok(Self::Any);
        }
        origins
            .iter()
            .map(|o| match o.contains("://") && !o.ends_with('/') {
                true => HeaderValue::from_str(o).map_err(|_| format!("invalid origin {o:?}")),
                false => Err(format!(
                    "invalid origin {o:?}: an origin is scheme://host[:port], without a path"
                )),
            })
            .collect::<Result<_, _>>()
            .map(Self::List)
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        match self {
            Self::Any => true,
            Self::List(list) => list.iter().any(|o| o == origin),
        }
    }
}

/// The layer: answers preflights and marks `/api/` answers for the allowed origins.
pub(crate) fn layer(origins: AllowedOrigins) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, request| {
            request.uri.path().starts_with("/api/") && origins.allows(origin)
        }))
        .allow_methods(AllowMethods::list([
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::PATCH,
            Method::POST,
            Method::DELETE,
        ]))
        .allow_headers(AllowHeaders::mirror_request())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn origins_parse_as_pocketbase_takes_them() {
        assert!(matches!(
            AllowedOrigins::parse("*").unwrap(),
            AllowedOrigins::Any
        ));
        assert!(matches!(
            AllowedOrigins::parse("").unwrap(),
            AllowedOrigins::Any
        ));
        let list = AllowedOrigins::parse("https://a.example, http://localhost:5173").unwrap();
        assert!(list.allows(&HeaderValue::from_static("https://a.example")));
        assert!(list.allows(&HeaderValue::from_static("http://localhost:5173")));
        assert!(!list.allows(&HeaderValue::from_static("https://b.example")));
        assert!(AllowedOrigins::parse("a.example").is_err());
        assert!(AllowedOrigins::parse("https://a.example/").is_err());
    }
}
