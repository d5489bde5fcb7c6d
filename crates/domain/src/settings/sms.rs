//! `settings.sms`: which provider sends text messages, its credentials, the country allow-list
//! and the toll-fraud caps. Every key has a default, so settings stored before SMS existed load.
//! `twilio.authToken`, `vonage.apiSecret` and `webhook.secret` are write-only, like the SMTP
//! password: kept when a PATCH omits them or sends them empty, never rendered.
//!
//! Caps (0 turns a cap off): 5 messages an hour to one number, 10 a day for one record, 1000 a day
//! for the whole server. They bound what a stolen password or a script can cost in SMS fees.

use crate::error::{FieldErrors, codes};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const PROVIDER_TWILIO: &str = "twilio";
pub const PROVIDER_VONAGE: &str = "vonage";
pub const PROVIDER_WEBHOOK: &str = "webhook";
pub const PROVIDER_LOG: &str = "log";

/// The largest cap accepted: far above any real need, far from overflowing a counter.
const MAX_CAP: i64 = 1_000_000_000;

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct SmsSettings {
    pub enabled: bool,
    /// `twilio`, `vonage`, `webhook` or `log`.
    pub provider: String,
    /// The sender: a phone number or an alphanumeric sender ID (Twilio and Vonage).
    pub from: String,
    pub twilio: TwilioSettings,
    pub vonage: VonageSettings,
    pub webhook: WebhookSettings,
    /// Calling codes (`+1`, `+44`) a message may go to; empty: every country.
    pub allowed_countries: Vec<String>,
    pub caps: SmsCaps,
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TwilioSettings {
    pub account_sid: String,
    /// Write-only.
    pub auth_token: String,
    pub base_url: String,
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct VonageSettings {
    pub api_key: String,
    /// Write-only.
    pub api_secret: String,
    pub base_url: String,
}

#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct WebhookSettings {
    pub url: String,
    /// Write-only: the HMAC key of `X-Gatehouse-Signature`.
    pub secret: String,
}

/// How many messages may go out; 0 turns that cap off.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct SmsCaps {
    pub per_number_per_hour: i64,
    pub per_record_per_day: i64,
    pub per_day: i64,
}

/// The transport a message takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsProvider {
    Twilio,
    Vonage,
    Webhook,
    /// Written to the data dir (SMS off, or nothing configured).
    Log,
}

impl Default for SmsSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            provider: PROVIDER_LOG.to_owned(),
            from: String::new(),
            twilio: TwilioSettings::default(),
            vonage: VonageSettings::default(),
            webhook: WebhookSettings::default(),
            allowed_countries: Vec::new(),
            caps: SmsCaps::default(),
        }
    }
}

impl Default for TwilioSettings {
    fn default() -> Self {
        Self {
            account_sid: String::new(),
            auth_token: String::new(),
            base_url: "https://api.twilio.com".to_owned(),
        }
    }
}

impl Default for VonageSettings {
    fn default() -> Self {
        Self {
            api_key: String::new(),
            api_secret: String::new(),
            base_url: "https://rest.nexmo.com".to_owned(),
        }
    }
}

impl Default for SmsCaps {
    fn default() -> Self {
        Self {
            per_number_per_hour: 5,
            per_record_per_day: 10,
            per_day: 1000,
        }
    }
}

// Credentials stay out of logs: only whether each is set.
impl std::fmt::Debug for SmsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsSettings")
            .field("enabled", &self.enabled)
            .field("provider", &self.provider)
            .field("from", &self.from)
            .field("twilio", &self.twilio)
            .field("vonage", &self.vonage)
            .field("webhook", &self.webhook)
            .field("allowed_countries", &self.allowed_countries)
            .field("caps", &self.caps)
            .finish()
    }
}

impl std::fmt::Debug for TwilioSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioSettings")
            .field("account_sid", &self.account_sid)
            .field("auth_token_set", &!self.auth_token.is_empty())
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl std::fmt::Debug for VonageSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VonageSettings")
            .field("api_key", &self.api_key)
            .field("api_secret_set", &!self.api_secret.is_empty())
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url)
            .field("secret_set", &!self.secret.is_empty())
            .finish()
    }
}

/// Which write-only secrets a PATCH of `settings.sms` carried (non-empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SmsSecretsSent {
    pub twilio_auth_token: bool,
    pub vonage_api_secret: bool,
    pub webhook_secret: bool,
}

impl SmsSecretsSent {
    /// Reads the `sms` part of a settings PATCH.
    pub fn of(sms_patch: &Value) -> Self {
        let sent = |pointer: &str| {
            sms_patch
                .pointer(pointer)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        };
        Self {
            twilio_auth_token: sent("/twilio/authToken"),
            vonage_api_secret: sent("/vonage/apiSecret"),
            webhook_secret: sent("/webhook/secret"),
        }
    }
}

impl SmsSettings {
    /// The transport to use: the log sender unless SMS is on and a provider is named.
    pub fn provider(&self) -> SmsProvider {
        if !self.enabled {
            return SmsProvider::Log;
        }
        match self.provider.as_str() {
            PROVIDER_TWILIO => SmsProvider::Twilio,
            PROVIDER_VONAGE => SmsProvider::Vonage,
            PROVIDER_WEBHOOK => SmsProvider::Webhook,
            _ => SmsProvider::Log,
        }
    }

    /// Whether an E.164 number (`+447700900123`) is in an allowed country. Calling codes are
    /// prefix-free, so a prefix match is exact.
    pub fn country_allowed(&self, e164: &str) -> bool {
        self.allowed_countries.is_empty()
            || self
                .allowed_countries
                .iter()
                .any(|code| e164.starts_with(code.as_str()))
    }

    /// `kept_from`: the stored settings and which secrets the PATCH sent. A stored credential
    /// goes only to the provider endpoint and account it was given for: a new base URL or account
    /// needs it again, or a stolen superuser token could have it sent anywhere.
    pub fn check(
        &self,
        errors: &mut FieldErrors,
        kept_from: Option<(&SmsSettings, SmsSecretsSent)>,
    ) {
        let mut own = FieldErrors::default();
        let provider = self.provider.as_str();
        if ![
            PROVIDER_TWILIO,
            PROVIDER_VONAGE,
            PROVIDER_WEBHOOK,
            PROVIDER_LOG,
        ]
        .contains(&provider)
        {
            own.add_code("provider", codes::IN_INVALID);
        }
        let uses = |name: &str| self.enabled && provider == name;
        if (uses(PROVIDER_TWILIO) || uses(PROVIDER_VONAGE)) && self.from.trim().is_empty() {
            own.add_code("from", codes::REQUIRED);
        } else if self.from.chars().count() > 64 {
            own.length_out_of_range("from", 0, 64);
        }

        let mut twilio = FieldErrors::default();
        let t = &self.twilio;
        check_url(&mut twilio, "baseUrl", &t.base_url, uses(PROVIDER_TWILIO));
        require(
            &mut twilio,
            "accountSid",
            &t.account_sid,
            uses(PROVIDER_TWILIO),
        );
        require(
            &mut twilio,
            "authToken",
            &t.auth_token,
            uses(PROVIDER_TWILIO),
        );
        if let Some((before, sent)) = kept_from
            && !sent.twilio_auth_token
            && !before.twilio.auth_token.is_empty()
            && (t.base_url != before.twilio.base_url || t.account_sid != before.twilio.account_sid)
        {
            twilio.add_code("authToken", codes::REQUIRED);
        }
        own.nest("twilio", twilio);

        let mut vonage = FieldErrors::default();
        let v = &self.vonage;
        check_url(&mut vonage, "baseUrl", &v.base_url, uses(PROVIDER_VONAGE));
        require(&mut vonage, "apiKey", &v.api_key, uses(PROVIDER_VONAGE));
        require(
            &mut vonage,
            "apiSecret",
            &v.api_secret,
            uses(PROVIDER_VONAGE),
        );
        if let Some((before, sent)) = kept_from
            && !sent.vonage_api_secret
            && !before.vonage.api_secret.is_empty()
            && (v.base_url != before.vonage.base_url || v.api_key != before.vonage.api_key)
        {
            vonage.add_code("apiSecret", codes::REQUIRED);
        }
        own.nest("vonage", vonage);

        let mut webhook = FieldErrors::default();
        check_url(
            &mut webhook,
            "url",
            &self.webhook.url,
            uses(PROVIDER_WEBHOOK),
        );
        require(
            &mut webhook,
            "secret",
            &self.webhook.secret,
            uses(PROVIDER_WEBHOOK),
        );
        own.nest("webhook", webhook);

        let mut countries = FieldErrors::default();
        for (i, code) in self.allowed_countries.iter().enumerate() {
            if !is_calling_code(code) {
                countries.add(
                    &i.to_string(),
                    "validation_invalid_calling_code",
                    "Must be a country calling code such as +1 or +44.",
                );
            }
        }
        own.nest("allowedCountries", countries);

        let mut caps = FieldErrors::default();
        let c = &self.caps;
        for (name, value) in [
            ("perNumberPerHour", c.per_number_per_hour),
            ("perRecordPerDay", c.per_record_per_day),
            ("perDay", c.per_day),
        ] {
            if value < 0 {
                caps.min_threshold(name, 0);
            } else if value > MAX_CAP {
                caps.max_threshold(name, MAX_CAP);
            }
        }
        own.nest("caps", caps);
        errors.nest("sms", own);
    }
}

fn require(errors: &mut FieldErrors, field: &str, value: &str, needed: bool) {
    if needed && value.trim().is_empty() {
        errors.add_code(field, codes::REQUIRED);
    }
}

/// An http(s) URL with a host; empty is refused only when the provider is in use.
fn check_url(errors: &mut FieldErrors, field: &str, value: &str, needed: bool) {
    if value.is_empty() {
        require(errors, field, value, needed);
    } else if !url::Url::parse(value)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
    {
        errors.add(field, "validation_is_url", "Must be a valid URL.");
    }
}

/// `+` and one to three digits, not starting with 0 (ITU-T E.164 country codes).
fn is_calling_code(code: &str) -> bool {
    code.strip_prefix('+').is_some_and(|digits| {
        (1..=3).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn errors_of(settings: &SmsSettings) -> Value {
        let mut errors = FieldErrors::default();
        settings.check(&mut errors, None);
        Value::Object(errors.into_map())
    }

    #[test]
    fn older_settings_load_with_the_defaults() {
        let loaded: SmsSettings = serde_json::from_value(json!({"enabled": true})).unwrap();
        assert_eq!(loaded.provider, "log");
        assert_eq!(loaded.twilio.base_url, "https://api.twilio.com");
        assert_eq!(loaded.caps, SmsCaps::default());
        assert!(
            errors_of(&SmsSettings::default())
                .as_object()
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn an_enabled_provider_needs_its_credentials() {
        let mut s = SmsSettings {
            enabled: true,
            provider: "twilio".into(),
            allowed_countries: vec!["+1".into(), "+0".into(), "44".into(), "+1234".into()],
            ..SmsSettings::default()
        };
        s.caps.per_day = -1;
        s.webhook.url = "ftp://example.com".into();
        let e = errors_of(&s);
        let sms = &e["sms"];
        assert_eq!(sms["from"]["code"], "validation_required");
        assert_eq!(sms["twilio"]["accountSid"]["code"], "validation_required");
        assert_eq!(sms["twilio"]["authToken"]["code"], "validation_required");
        assert_eq!(sms["webhook"]["url"]["code"], "validation_is_url");
        assert!(sms["allowedCountries"].get("0").is_none());
        for i in ["1", "2", "3"] {
            assert!(sms["allowedCountries"].get(i).is_some(), "{i}");
        }
        assert_eq!(
            sms["caps"]["perDay"]["code"],
            "validation_min_greater_equal_than_required"
        );
        s.provider = "carrier-pigeon".into();
        assert_eq!(
            errors_of(&s)["sms"]["provider"]["code"],
            "validation_in_invalid"
        );
    }

    #[test]
    fn a_kept_token_does_not_follow_a_new_base_url() {
        let mut before = SmsSettings::default();
        before.twilio.auth_token = "tok".into();
        let mut after = before.clone();
        after.twilio.base_url = "https://attacker.example".into();
        let mut errors = FieldErrors::default();
        after.check(&mut errors, Some((&before, SmsSecretsSent::default())));
        let e = Value::Object(errors.into_map());
        assert_eq!(
            e["sms"]["twilio"]["authToken"]["code"],
            "validation_required"
        );
    }

    #[test]
    fn debug_hides_the_secrets() {
        let mut s = SmsSettings::default();
        s.twilio.auth_token = "tw-secret".into();
        s.vonage.api_secret = "vo-secret".into();
        s.webhook.secret = "wh-secret".into();
        let shown = format!("{s:?}");
        for secret in ["tw-secret", "vo-secret", "wh-secret"] {
            assert!(!shown.contains(secret));
        }
    }

    #[test]
    fn countries_match_by_calling_code() {
        let s = SmsSettings {
            allowed_countries: vec!["+1".into(), "+44".into()],
            ..SmsSettings::default()
        };
        assert!(s.country_allowed("+15555550142"));
        assert!(s.country_allowed("+447700900123"));
        assert!(!s.country_allowed("+33612345678"));
    }
}
