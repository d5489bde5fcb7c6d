//! `settings.smtp`, as PocketBase has it, plus Gatehouse's `tlsMode` and `allowInsecureAuth`. The
//! password is write-only: it is kept when a PATCH omits it or sends it empty, and never rendered.
//!
//! `tlsMode` is `implicit` (TLS from the first byte, PocketBase's `tls: true`), `starttls` (the
//! default: a server that does not offer STARTTLS gets nothing, as an attacker on the path could
//! strip the offer) or `none` (plain text). `tls` and `tlsMode` are kept in step, so an SDK that
//! only knows `tls` reads and writes what it expects.

use crate::error::{FieldErrors, codes};
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Smtp {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "default_port")]
    pub port: i64,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub username: String,
    /// Write-only: the API never shows it, and a PATCH without it (or with it empty) keeps it.
    #[serde(default)]
    pub password: String,
    /// `""` (let the server choose), `PLAIN` or `LOGIN`.
    #[serde(default)]
    pub auth_method: String,
    /// Implicit TLS (port 465 style): the same as `tlsMode: "implicit"`.
    #[serde(default)]
    pub tls: bool,
    /// `implicit`, `starttls` (required) or `none`.
    #[serde(default = "default_tls_mode")]
    pub tls_mode: String,
    /// Lets AUTH go out over a connection without TLS to a host that is not this machine.
    #[serde(default)]
    pub allow_insecure_auth: bool,
    /// The EHLO name; empty: this machine's hostname.
    #[serde(default)]
    pub local_name: String,
}

fn default_port() -> i64 {
    587
}

pub const TLS_IMPLICIT: &str = "implicit";
pub const TLS_STARTTLS: &str = "starttls";
pub const TLS_NONE: &str = "none";

fn default_tls_mode() -> String {
    TLS_STARTTLS.to_owned()
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Implicit,
    RequiredStarttls,
    None,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("enabled", &self.enabled)
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Default for Smtp {
    fn default() -> Self {
        Self {
            enabled: false,
            port: default_port(),
            host: "smtp.example.com".to_owned(),
            username: String::new(),
            password: String::new(),
            auth_method: String::new(),
            tls: false,
            tls_mode: default_tls_mode(),
            allow_insecure_auth: false,
            local_name: String::new(),
        }
    }
}

impl Smtp {
    /// The protection to use. `tls` wins, as PocketBase's flag; an unknown mode (refused on save)
    /// is the strict default.
    pub fn tls_mode(&self) -> TlsMode {
        match self.tls_mode.as_str() {
            _ if self.tls => TlsMode::Implicit,
            TLS_IMPLICIT => TlsMode::Implicit,
            TLS_NONE => TlsMode::None,
            _ => TlsMode::RequiredStarttls,
        }
    }

    /// Whether these settings would send the password somewhere, or in a way, `before` did not.
    fn exposes_password_beyond(&self, before: &Smtp) -> bool {
        let less_tls = self.tls_mode() == TlsMode::None && before.tls_mode() != TlsMode::None;
        self.host != before.host
            || self.port != before.port
            || self.username != before.username
            || less_tls
            || (self.allow_insecure_auth && !before.allow_insecure_auth)
    }

    /// Keeps `tls` and `tlsMode` in step after a PATCH whose `smtp` part was `sent`: a `tlsMode`
    /// that was sent decides; otherwise `tls: true` means implicit TLS, and `tls: false` leaves
    /// implicit TLS for STARTTLS (and keeps any other mode).
    pub fn reconcile_tls(&mut self, sent: &serde_json::Value) {
        if sent.get("tlsMode").is_some() {
            self.tls = self.tls_mode == TLS_IMPLICIT;
        } else if self.tls {
            self.tls_mode = TLS_IMPLICIT.to_owned();
        } else if self.tls_mode == TLS_IMPLICIT {
            self.tls_mode = default_tls_mode();
        }
    }

    /// `kept_from`: the settings whose password this one kept (the PATCH sent none). A stored
    /// password goes only to the server, and with the protection, it was given for: a new host,
    /// port or user name, or less TLS, needs it again, or a stolen superuser token could have it
    /// sent to any server or across the network in clear.
    pub fn check(&self, errors: &mut FieldErrors, kept_from: Option<&Smtp>) {
        let mut own = FieldErrors::default();
        if let Some(before) = kept_from
            && !before.password.is_empty()
            && self.exposes_password_beyond(before)
        {
            own.add_code("password", codes::REQUIRED);
        }
        if self.enabled {
            if self.host.trim().is_empty() {
                own.add_code("host", codes::REQUIRED);
            }
            if self.port == 0 {
                own.add_code("port", codes::REQUIRED);
            } else if !(1..=65535).contains(&self.port) {
                own.add("port", "validation_invalid_port", "Must be a valid port.");
            }
        }
        if ![TLS_IMPLICIT, TLS_STARTTLS, TLS_NONE].contains(&self.tls_mode.as_str()) {
            own.add_code("tlsMode", codes::IN_INVALID);
        }
        if !matches!(self.auth_method.as_str(), "" | "PLAIN" | "LOGIN") {
            own.add_code("authMethod", codes::IN_INVALID);
        }
        errors.nest("smtp", own);
    }
}
