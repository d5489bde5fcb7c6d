//! Application settings (PocketBase's `/api/settings`), stored as one JSON document.

mod client_ip;
mod lockout;
mod pages;
mod rate_limits;
mod retention;
mod sms;
mod smtp;

pub use client_ip::{TrustedProxy, client_key, list_contains_str};
pub use lockout::Lockout;
pub use pages::{Pages, origin_of};
pub use rate_limits::{Audience, RateLimitRule, RateLimits};
pub use retention::Retention;
pub use sms::{
    SmsCaps, SmsProvider, SmsSecretsSent, SmsSettings, TwilioSettings, VonageSettings,
    WebhookSettings,
};
pub use smtp::{Smtp, TlsMode};

use crate::collection::field::is_email;
use crate::error::{FieldErrors, codes};
use serde::{Deserialize, Serialize};

/// The longest window a rate-limit rule or the lockout may count over (a year, in seconds):
/// enough for any policy, and far from overflowing the counters' millisecond arithmetic.
pub const MAX_WINDOW_SECS: i64 = 365 * 24 * 3600;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// PocketBase's: when not empty, superusers are served only from these IPs/CIDRs.
    #[serde(default, rename = "superuserIPs")]
    pub superuser_ips: Vec<String>,
    #[serde(default)]
    pub smtp: Smtp,
    pub meta: Meta,
    #[serde(default)]
    pub rate_limits: RateLimits,
    #[serde(default)]
    pub trusted_proxy: TrustedProxy,
    #[serde(default)]
    pub lockout: Lockout,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub sms: SmsSettings,
    #[serde(default)]
    pub pages: Pages,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub app_name: String,
    #[serde(rename = "appURL")]
    pub app_url: String,
    pub sender_name: String,
    pub sender_address: String,
    #[serde(default)]
    pub hide_controls: bool,
    /// The hosted pages' accent colour (PocketBase's dashboard uses it the same way).
    #[serde(default = "default_accent")]
    pub accent_color: String,
}

fn default_accent() -> String {
    "#1055c9".to_owned()
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            superuser_ips: Vec::new(),
            smtp: Smtp::default(),
            meta: Meta {
                app_name: "Gatehouse".to_owned(),
                app_url: "http://localhost:8090".to_owned(),
                sender_name: "Support".to_owned(),
                sender_address: "support@example.com".to_owned(),
                hide_controls: false,
                accent_color: default_accent(),
            },
            rate_limits: RateLimits::default(),
            trusted_proxy: TrustedProxy::default(),
            lockout: Lockout::default(),
            retention: Retention::default(),
            sms: SmsSettings::default(),
            pages: Pages::default(),
        }
    }
}

impl Settings {
    pub fn check(&self) -> FieldErrors {
        self.check_against(None, None)
    }

    /// [`check`](Self::check) for an update from `before` by `patch`: a write-only secret the
    /// PATCH did not carry was kept from `before`, and may only go where it went before.
    pub fn check_update(&self, before: &Settings, patch: &serde_json::Value) -> FieldErrors {
        let smtp_password_sent = patch["smtp"]["password"]
            .as_str()
            .is_some_and(|p| !p.is_empty());
        let sms_sent = SmsSecretsSent::of(&patch["sms"]);
        self.check_against(
            (!smtp_password_sent).then_some(&before.smtp),
            Some((&before.sms, sms_sent)),
        )
    }

    fn check_against(
        &self,
        smtp_kept_from: Option<&Smtp>,
        sms_kept_from: Option<(&SmsSettings, SmsSecretsSent)>,
    ) -> FieldErrors {
        let mut meta = FieldErrors::default();
        let m = &self.meta;
        for (name, value) in [("appName", &m.app_name), ("senderName", &m.sender_name)] {
            if value.trim().is_empty() {
                meta.add_code(name, codes::REQUIRED);
            } else if value.chars().count() > 255 {
                meta.length_out_of_range(name, 1, 255);
            }
        }
        if m.app_url.is_empty() {
            meta.add_code("appURL", codes::REQUIRED);
        } else if !url::Url::parse(&m.app_url).is_ok_and(|u| u.has_host()) {
            meta.add("appURL", "validation_is_url", "Must be a valid URL.");
        }
        if m.sender_address.is_empty() {
            meta.add_code("senderAddress", codes::REQUIRED);
        } else if !is_email(&m.sender_address) {
            meta.add_code("senderAddress", codes::IS_EMAIL);
        }
        let mut errors = FieldErrors::default();
        client_ip::check_ip_list(&mut errors, "superuserIPs", &self.superuser_ips);
        errors.nest("meta", meta);
        self.smtp.check(&mut errors, smtp_kept_from);
        self.rate_limits.check(&mut errors);
        self.trusted_proxy.check(&mut errors);
        self.lockout.check(&mut errors);
        self.retention.check(&mut errors);
        self.sms.check(&mut errors, sms_kept_from);
        self.pages.check(&mut errors);
        errors
    }

    /// PocketBase's `superuserIPs`: whether a superuser may be served at `ip`.
    pub fn superuser_ip_allowed(&self, ip: &str) -> bool {
        self.superuser_ips.is_empty() || list_contains_str(&self.superuser_ips, ip)
    }
}
