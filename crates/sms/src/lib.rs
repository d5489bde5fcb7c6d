//! Gatehouse's SMS transport. `settings.sms` picks the provider for each message: Twilio's
//! Messages API ([`twilio`]), Vonage's SMS API ([`vonage`]), a signed JSON webhook ([`webhook`]),
//! or, when SMS is off or no provider is named, the log sender, which writes each message to
//! `<data dir>/sms/` so that a new installation can try SMS codes before it has a provider.
//!
//! Outgoing requests have short timeouts (a slow provider must not hold a login for long), follow
//! no redirects (a credential goes only to the configured host), and never log the text, which
//! holds a code.

mod answer;
mod twilio;
mod vonage;
mod webhook;

pub use webhook::SIGNATURE_HEADER;

use async_trait::async_trait;
use gatehouse_domain::clock::Clock;
use gatehouse_domain::settings::{SmsProvider, SmsSettings};
use gatehouse_domain::sms::{OutgoingSms, SmsError, SmsTransport};
use gatehouse_mail::write_private_file;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long connecting to a provider may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole exchange with a provider may take.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SmsSender {
    /// Where the log sender writes messages.
    sms_dir: PathBuf,
    /// Names the message files (`<millis>-<n>.txt`), as the mail folder's are named.
    clock: Arc<dyn Clock>,
    written: AtomicU64,
    http: reqwest::Client,
}

impl SmsSender {
    /// A sender with the standard timeouts ([`CONNECT_TIMEOUT`], [`TOTAL_TIMEOUT`]).
    pub fn new(data_dir: &Path, clock: Arc<dyn Clock>) -> Result<Self, String> {
        Self::with_timeouts(data_dir, clock, CONNECT_TIMEOUT, TOTAL_TIMEOUT)
    }

    /// A sender with other timeouts (tests use short ones).
    pub fn with_timeouts(
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        connect: Duration,
        total: Duration,
    ) -> Result<Self, String> {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(connect)
            .timeout(total)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Gatehouse/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("building the SMS HTTP client: {e}"))?;
        Ok(Self {
            sms_dir: data_dir.join("sms"),
            clock,
            written: AtomicU64::new(0),
            http,
        })
    }

    /// The log sender: one text file per message, readable only by the server's user, and a
    /// log line that names the file but not the text.
    async fn write_file(&self, sms: &OutgoingSms) -> Result<(), SmsError> {
        let n = self.written.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}-{n}.txt", self.clock.now_millis());
        let content = format!("To: {}\nType: {}\n\n{}\n", sms.to, sms.kind, sms.message);
        let path = write_private_file(&self.sms_dir, &name, content.as_bytes())
            .await
            .map_err(SmsError::Unavailable)?;
        tracing::info!(
            file = %path.display(),
            "no SMS provider is configured: the message was written to the sms folder"
        );
        Ok(())
    }
}

/// Makes ring the process's TLS provider for outgoing HTTPS (reqwest is built without one, so
/// that aws-lc-rs's C build stays out). Harmless when a provider is already installed.
pub fn install_crypto_provider() {
    // An error only says another provider came first, which serves as well.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[async_trait]
impl SmsTransport for SmsSender {
    async fn send(&self, settings: &SmsSettings, sms: &OutgoingSms) -> Result<(), SmsError> {
        let provider = settings.provider();
        let sent = match provider {
            SmsProvider::Twilio => twilio::send(&self.http, settings, sms).await,
            SmsProvider::Vonage => vonage::send(&self.http, settings, sms).await,
            SmsProvider::Webhook => webhook::send(&self.http, &settings.webhook, sms).await,
            SmsProvider::Log => self.write_file(sms).await,
        };
        if let Err(e) = &sent {
            tracing::warn!(?provider, to = %masked(&sms.to), kind = sms.kind, error = %e, "SMS not sent");
        }
        sent
    }
}

/// A phone number for the log: its last two digits.
fn masked(phone: &str) -> String {
    let digits = phone.len().saturating_sub(2);
    match phone.get(digits..) {
        Some(tail) if digits > 0 => format!("…{tail}"),
        _ => "…".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn without_a_provider_the_message_lands_in_the_sms_folder() {
        let dir = tempfile::tempdir().unwrap();
        let sender =
            SmsSender::new(dir.path(), Arc::new(gatehouse_domain::clock::SystemClock)).unwrap();
        let sms = OutgoingSms {
            to: "+15555550142".into(),
            message: "Your code: 424242".into(),
            kind: "otp",
        };
        sender.send(&SmsSettings::default(), &sms).await.unwrap();
        let file = std::fs::read_dir(dir.path().join("sms"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let content = std::fs::read_to_string(&file).unwrap();
        assert!(content.contains("To: +15555550142"));
        assert!(content.contains("424242"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&file), 0o600);
            assert_eq!(mode(&dir.path().join("sms")), 0o700);
        }
    }

    #[test]
    fn logs_show_only_the_last_digits() {
        assert_eq!(masked("+15555550142"), "…42");
        assert_eq!(masked("1"), "…");
    }
}
