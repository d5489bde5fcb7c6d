//! The few cookies the pages read and set. Every one is HttpOnly and SameSite=Lax, and Secure
//! when the pages are served over HTTPS.

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};

pub(crate) struct Cookie {
    name: &'static str,
    value: String,
    secure: bool,
    /// Seconds; `None` for a cookie that lasts the browser session, `Some(0)` to delete.
    max_age: Option<i64>,
    path: &'static str,
}

// Hand-written: cookie values are bearer tokens.
impl std::fmt::Debug for Cookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cookie")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Cookie {
    pub(crate) fn new(name: &'static str, value: String, secure: bool) -> Self {
        Self {
            name,
            value,
            secure,
            max_age: None,
            path: "/",
        }
    }

    pub(crate) fn max_age(mut self, seconds: i64) -> Self {
        self.max_age = Some(seconds);
        self
    }

    pub(crate) fn removal(name: &'static str, secure: bool) -> Self {
        Self::new(name, String::new(), secure).max_age(0)
    }

    pub(crate) fn header(&self) -> Option<HeaderValue> {
        let mut text = format!(
            "{}={}; Path={}; HttpOnly; SameSite=Lax",
            self.name, self.value, self.path
        );
        if let Some(age) = self.max_age {
            text.push_str(&format!("; Max-Age={age}"));
        }
        if self.secure {
            text.push_str("; Secure");
        }
        HeaderValue::from_str(&text).ok()
    }
}

/// The value of cookie `name` in the request, if any.
pub(crate) fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}
