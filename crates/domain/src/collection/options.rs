//! The auth options block of a collection, in PocketBase's JSON shape.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct EmailTemplate {
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
}

impl EmailTemplate {
    pub fn new(subject: &str, body: &str) -> Self {
        Self {
            subject: subject.to_owned(),
            body: body.to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuthAlert {
    pub enabled: bool,
    pub email_template: EmailTemplate,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct MappedFields {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub username: String,
    #[serde(rename = "avatarURL", default)]
    pub avatar_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2Options {
    #[serde(default)]
    pub providers: Vec<crate::oauth2::ProviderConfig>,
    #[serde(default)]
    pub mapped_fields: MappedFields,
    pub enabled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PasswordAuth {
    pub enabled: bool,
    #[serde(default)]
    pub identity_fields: Vec<String>,
}

/// PocketBase's `mfa` block, with Gatehouse's additions (each defaulted, so a PocketBase
/// definition without them reads as the design's defaults).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MfaOptions {
    pub enabled: bool,
    pub duration: i64,
    #[serde(default)]
    pub rule: String,
    /// A record with a verified second factor is asked for it whatever `enabled` says.
    #[serde(default = "yes")]
    pub user_opt_in: bool,
    /// Seconds after a login within which factors may be changed without proving it again.
    #[serde(default = "default_reauth_window")]
    pub reauth_window: i64,
    /// Seconds a trusted device skips the second step (0: never).
    #[serde(default = "default_trusted_device_duration")]
    pub trusted_device_duration: i64,
}

fn yes() -> bool {
    true
}

fn default_reauth_window() -> i64 {
    600
}

fn default_trusted_device_duration() -> i64 {
    30 * 24 * 3600
}

/// Authenticator apps (RFC 6238). Parameters apply to new enrolments; an enrolled factor keeps
/// the ones it was created with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TotpOptions {
    pub enabled: bool,
    /// The name the authenticator app shows; empty: the app name from settings.
    pub issuer: String,
    pub digits: i64,
    pub period: i64,
    /// Steps before and after the current one that are still accepted.
    pub skew: i64,
    pub algorithm: String,
}

impl Default for TotpOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            issuer: String::new(),
            digits: 6,
            period: 30,
            skew: 1,
            algorithm: "SHA1".to_owned(),
        }
    }
}

/// Codes by SMS to a record's verified phone (a second step only).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct SmsOptions {
    pub enabled: bool,
    /// Seconds a code lives.
    pub duration: i64,
    pub length: i64,
    /// The message: `{APP_NAME}` and `{OTP}` are filled in.
    pub template: String,
}

impl Default for SmsOptions {
    fn default() -> Self {
        Self {
            enabled: false,
            duration: 300,
            length: 6,
            template: "Your {APP_NAME} code: {OTP}".to_owned(),
        }
    }
}

/// Single-use recovery codes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupCodeOptions {
    pub enabled: bool,
    pub count: i64,
}

impl Default for BackupCodeOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            count: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OtpOptions {
    pub enabled: bool,
    pub duration: i64,
    pub length: i64,
    pub email_template: EmailTemplate,
}

/// Lifetime and signing secret of one token type. The secret is stored but never rendered.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenOptions {
    pub duration: i64,
    #[serde(default)]
    pub secret: String,
}

impl std::fmt::Debug for TokenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenOptions")
            .field("duration", &self.duration)
            .finish_non_exhaustive()
    }
}

impl TokenOptions {
    pub fn new(duration: i64) -> Self {
        Self {
            duration,
            secret: crate::random::secret(),
        }
    }
}

/// Bounds PocketBase puts on token settings.
pub const TOKEN_DURATION_RANGE: (i64, i64) = (10, 94_670_856);
pub const TOKEN_SECRET_LEN_RANGE: (usize, usize) = (30, 255);
