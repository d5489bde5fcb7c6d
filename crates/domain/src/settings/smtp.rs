//! `settings.smtp`, as PocketBase has it. The password is write-only: it is kept when a PATCH
//! omits it or sends it empty, and never rendered.

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
    /// Implicit TLS (port 465 style). Without it, STARTTLS is used when the server offers it.
    #[serde(default)]
    pub tls: bool,
    /// The EHLO name; empty: this machine's hostname.
    #[serde(default)]
    pub local_name: String,
}

fn default_port() -> i64 {
    587
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
            local_name: String::new(),
        }
    }
}

impl Smtp {
    pub fn check(&self, errors: &mut FieldErrors) {
        let mut own = FieldErrors::default();
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
        if !matches!(self.auth_method.as_str(), "" | "PLAIN" | "LOGIN") {
            own.add_code("authMethod", codes::IN_INVALID);
        }
        errors.nest("smtp", own);
    }
}
