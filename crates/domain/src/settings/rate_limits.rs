//! `settings.rateLimits` and `settings.trustedProxy`, as PocketBase has them, and how a request
//! finds its rule. Unlike PocketBase (which ships its limiter switched off), Gatehouse ships it
//! on, with rules for the endpoints that check secrets or send messages.

use crate::error::{FieldErrors, codes};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::IpAddr;
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

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrustedProxy {
    /// Headers that carry the client IP (e.g. `X-Forwarded-For`), tried in order. Empty: the
    /// connection's address is the client's.
    #[serde(default)]
    pub headers: Vec<String>,
    #[serde(default, rename = "useLeftmostIP")]
    pub use_leftmost_ip: bool,
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
            rules.nest(&i.to_string(), e);
        }
        if self.enabled && self.rules.is_empty() {
            own.add_code("rules", codes::REQUIRED);
        } else {
            own.nest("rules", rules);
        }
        let mut ips = FieldErrors::default();
        for (i, ip) in self.excluded_ips.iter().enumerate() {
            if parse_subnet(ip).is_none() {
                ips.add(
                    &i.to_string(),
                    "validation_invlaid_ip_or_subnet",
                    "Invalid IP or CIDR subnet.",
                );
            }
        }
        own.nest("excludedIPs", ips);
        errors.nest("rateLimits", own);
    }

    pub fn is_excluded(&self, ip: &str) -> bool {
        let Ok(ip) = ip.parse::<IpAddr>() else {
            return false;
        };
        self.excluded_ips
            .iter()
            .filter_map(|s| parse_subnet(s))
            .any(|(net, bits)| in_subnet(ip, net, bits))
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

/// `10.0.0.1` or `10.0.0.0/8` (IPv4 or IPv6) as (network, prefix bits).
fn parse_subnet(s: &str) -> Option<(IpAddr, u32)> {
    let (ip, bits) = match s.split_once('/') {
        Some((ip, bits)) => (ip.parse::<IpAddr>().ok()?, bits.parse::<u32>().ok()?),
        None => {
            let ip = s.parse::<IpAddr>().ok()?;
            (ip, if ip.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn in_subnet(ip: IpAddr, net: IpAddr, bits: u32) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

impl TrustedProxy {
    /// The client IP: from the first configured header that holds a valid address (its last
    /// entry, or its first with `useLeftmostIP`), else the connection's address.
    pub fn client_ip(&self, header: impl Fn(&str) -> Option<String>, remote: &str) -> String {
        for name in &self.headers {
            let Some(value) = header(name) else { continue };
            let mut parts = value.split(',').map(str::trim).filter(|p| !p.is_empty());
            let pick = if self.use_leftmost_ip {
                parts.next()
            } else {
                parts.next_back()
            };
            if let Some(ip) = pick.and_then(|p| p.parse::<IpAddr>().ok()) {
                return ip.to_string();
            }
        }
        remote.to_owned()
    }
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

    #[test]
    fn subnets_and_proxies() {
        let limits = RateLimits {
            excluded_ips: vec!["10.0.0.0/8".into(), "::1".into()],
            ..RateLimits::default()
        };
        assert!(limits.is_excluded("10.2.3.4"));
        assert!(limits.is_excluded("::1"));
        assert!(!limits.is_excluded("11.0.0.1"));
        let proxy = TrustedProxy {
            headers: vec!["x-forwarded-for".into()],
            use_leftmost_ip: false,
        };
        let header = |_: &str| Some("1.1.1.1, 2.2.2.2".to_owned());
        assert_eq!(proxy.client_ip(header, "127.0.0.1"), "2.2.2.2");
        assert_eq!(
            proxy.client_ip(|_| Some("junk".into()), "127.0.0.1"),
            "127.0.0.1"
        );
    }
}
