//! `settings.rateLimits`, as PocketBase has it, and how a request
//! finds its rule. Unlike PocketBase (which ships its limiter switched off), Gatehouse ships it
//! on, with rules for the endpoints that check secrets or send messages.

use super::client_ip::{check_ip_list, client_key, list_contains_str};
use crate::error::{FieldErrors, codes};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::LazyLock;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RateLimits {
    #[serde(default)]
    pub rules: Vec<RateLimitRule>,
    #[serde(default, rename = "excludedIPs")]
    pub excluded_ips: Vec<String>,
    #[serde(default)]
    pub enabled: bool,
    /// Gatehouse's own: an IPv6 client counts as its first this-many bits (for the limits and
    /// the lockout), since one host usually holds a whole /64.
    #[serde(default = "default_ipv6_prefix", rename = "ipv6Prefix")]
    pub ipv6_prefix: i64,
}

/// The IPv6 prefix one client is assumed to hold.
pub const DEFAULT_IPV6_PREFIX: i64 = 64;

fn default_ipv6_prefix() -> i64 {
    DEFAULT_IPV6_PREFIX
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitRule {
    #[serde(default)]
    pub label: String,
    /// `""` everyone, `@guest`, or `@auth`.
    #[serde(default)]
    pub audience: String,
    /// Seconds.
    #[serde(default)]
    pub duration: i64,
    #[serde(default)]
    pub max_requests: i64,
}

/// Who is asking, for a rule's audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Guest,
    Auth,
}

fn rule(label: &str, max_requests: i64, duration: i64) -> RateLimitRule {
    RateLimitRule {
        label: label.to_owned(),
        audience: String::new(),
        duration,
        max_requests,
    }
}

impl Default for RateLimits {
    /// Per client IP, per endpoint and collection. Logins and code checks get a few per minute
    /// more than a person needs; message-sending endpoints fewer. The rest of the API is not
    /// limited by default (add `/api/` to do so).
    fn default() -> Self {
        Self {
            rules: vec![
                rule("*:auth", 20, 60),
                rule("*:authWithOTP", 10, 60),
                rule("*:authWithTotp", 10, 60),
                rule("*:authWithBackupCode", 10, 60),
                rule("*:stepUp", 10, 60),
                // Enrolment and factor changes (confirming checks a code).
                rule("*:manageMfa", 30, 60),
                rule("*:requestOTP", 5, 60),
                rule("*:requestSmsOtp", 3, 60),
                rule("*:requestPasswordReset", 5, 60),
                rule("*:requestVerification", 5, 60),
                rule("*:requestEmailChange", 5, 60),
                // Mailed tokens cannot be guessed, but confirm-email-change checks a password.
                rule("*:confirmVerification", 10, 60),
                rule("*:confirmPasswordReset", 10, 60),
                rule("*:confirmEmailChange", 10, 60),
                rule("*:create", 20, 60),
            ],
            excluded_ips: Vec::new(),
            enabled: true,
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
        }
    }
}

static LABEL: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^(\w+ /[\w/-]*|/[\w/-]*|\w+:\w+|\*:\w+|\w+)$").ok());

impl RateLimits {
    /// PocketBase's checks and error codes, under `rateLimits`.
    pub fn check(&self, errors: &mut FieldErrors) {
        let mut own = FieldErrors::default();
        let mut rules = FieldErrors::default();
        for (i, r) in self.rules.iter().enumerate() {
            let mut e = FieldErrors::default();
            if r.label.is_empty() {
                e.add_code("label", codes::REQUIRED);
            } else if !LABEL.as_ref().is_some_and(|re| re.is_match(&r.label)) {
                e.add(
                    "label",
                    "validation_match_invalid",
                    "Must be in a valid format.",
                );
            } else if self.rules[..i].iter().any(|earlier| conflicts(earlier, r)) {
                e.add_with_params(
                    "label",
                    "validation_conflicting_rate_limit_rule",
                    &format!(
                        "Rate limit rule configuration with label {} already exists or conflicts with another rule.",
                        r.label
                    ),
                    json!({"label": r.label}),
                );
            }
            if !matches!(r.audience.as_str(), "" | "@guest" | "@auth") {
                e.add(
                    "audience",
                    "validation_in_invalid",
                    "Must be a valid value.",
                );
            }
            for (name, value) in [("duration", r.duration), ("maxRequests", r.max_requests)] {
                if value == 0 {
                    e.add_code(name, codes::REQUIRED);
                } else if value < 1 {
                    e.min_threshold(name, 1);
                }
            }
            if r.duration > super::MAX_WINDOW_SECS {
                e.max_threshold("duration", super::MAX_WINDOW_SECS);
            }
            rules.nest(&i.to_string(), e);
        }
        if self.enabled && self.rules.is_empty() {
            own.add_code("rules", codes::REQUIRED);
        } else {
            own.nest("rules", rules);
        }
        check_ip_list(&mut own, "excludedIPs", &self.excluded_ips);
        if self.ipv6_prefix < 32 {
            own.min_threshold("ipv6Prefix", 32);
        } else if self.ipv6_prefix > 128 {
            own.max_threshold("ipv6Prefix", 128);
        }
        errors.nest("rateLimits", own);
    }

    pub fn is_excluded(&self, ip: &str) -> bool {
        list_contains_str(&self.excluded_ips, ip)
    }

    /// The key this client's requests and failed logins count under (see [`client_key`]).
    pub fn client_key(&self, ip: &str) -> String {
        client_key(
            ip,
            u8::try_from(self.ipv6_prefix.clamp(0, 128)).unwrap_or(128),
        )
    }

    /// PocketBase's search: for each label in order, a rule with exactly that label whose audience
    /// fits wins; failing that, a prefix rule (a label ending in `/`) that the label + `/` starts with.
    pub fn find(&self, labels: &[String], audience: Audience) -> Option<&RateLimitRule> {
        let fits = |r: &RateLimitRule| match r.audience.as_str() {
            "" => true,
            "@guest" => audience == Audience::Guest,
            "@auth" => audience == Audience::Auth,
            _ => false,
        };
        for label in labels {
            if let Some(r) = self.rules.iter().find(|r| &r.label == label && fits(r)) {
                return Some(r);
            }
            let with_slash = format!("{label}/");
            if let Some(r) = self
                .rules
                .iter()
                .find(|r| r.label.ends_with('/') && with_slash.starts_with(&r.label) && fits(r))
            {
                return Some(r);
            }
        }
        None
    }
}

/// Two rules for one label conflict unless one is for guests and the other for authenticated callers.
fn conflicts(a: &RateLimitRule, b: &RateLimitRule) -> bool {
    a.label == b.label
        && !matches!(
            (a.audience.as_str(), b.audience.as_str()),
            ("@guest", "@auth") | ("@auth", "@guest")
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_searched_in_order_exact_before_prefix() {
        let limits = RateLimits {
            rules: vec![
                rule("/api/", 300, 10),
                rule("*:auth", 2, 3),
                rule("users:auth", 5, 3),
            ],
            ..RateLimits::default()
        };
        let labels = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let found = |l: &[&str]| {
            limits
                .find(&labels(l), Audience::Guest)
                .map(|r| r.label.clone())
        };
        assert_eq!(
            found(&["users:authWithPassword", "users:auth", "*:auth"]).as_deref(),
            Some("users:auth")
        );
        assert_eq!(
            found(&["posts:auth", "*:auth", "/api/x"]).as_deref(),
            Some("*:auth")
        );
        assert_eq!(
            found(&["GET /api/health", "/api/health"]).as_deref(),
            Some("/api/")
        );
        assert_eq!(found(&["GET /other"]), None);
    }
}
