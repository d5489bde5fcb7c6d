//! `settings.pages` (Gatehouse's own): where the hosted sign-in page may send a signed-in
//! browser. Paths on this server are always allowed; another site only when its origin is here.

use crate::error::FieldErrors;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Pages {
    /// Origins (`https://app.example.com`, no path) a sign-in may return to.
    pub allowed_redirects: Vec<String>,
}

impl Pages {
    pub fn check(&self, errors: &mut FieldErrors) {
        let mut own = FieldErrors::default();
        for (i, origin) in self.allowed_redirects.iter().enumerate() {
            if origin_of(origin).as_deref() != Some(origin.as_str()) {
                own.add(
                    &format!("allowedRedirects.{i}"),
                    "validation_invalid_origin",
                    "Must be an origin such as https://app.example.com (no path).",
                );
            }
        }
        errors.nest("pages", own);
    }

    /// Whether an absolute URL points at an allowed origin.
    pub fn allows(&self, url: &str) -> bool {
        origin_of(url).is_some_and(|o| self.allowed_redirects.contains(&o))
    }
}

/// `scheme://host[:port]` of an http(s) URL without credentials, as browsers write an origin.
pub fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let plain = parsed.username().is_empty() && parsed.password().is_none();
    if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() || !plain {
        return None;
    }
    Some(parsed.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_origins_are_valid_and_allowed() {
        let pages = Pages {
            allowed_redirects: vec!["https://app.example.com".to_owned()],
        };
        let mut errors = FieldErrors::default();
        pages.check(&mut errors);
        assert!(errors.is_empty());
        assert!(pages.allows("https://app.example.com/after?x=1"));
        assert!(!pages.allows("https://app.example.com.evil.test/"));
        assert!(!pages.allows("http://app.example.com/"));
        assert!(!pages.allows("https://user@app.example.com/"));
        let bad = Pages {
            allowed_redirects: vec![
                "https://app.example.com/path".to_owned(),
                "javascript:x".to_owned(),
            ],
        };
        let mut errors = FieldErrors::default();
        bad.check(&mut errors);
        assert!(!errors.is_empty());
    }
}
