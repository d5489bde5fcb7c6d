//! Gatehouse's mail transport. With `settings.smtp.enabled` a message goes out over SMTP
//! ([`smtp`]: implicit TLS, required STARTTLS by default, or plain text as `smtp.tlsMode` says);
//! without it, the log mailer writes each message to the server log and to `<data dir>/mail/` so
//! that a new installation can try OTP login before it has an SMTP server.

mod private_file;
mod smtp;

pub use private_file::write_private_file;

use async_trait::async_trait;
use gatehouse_domain::clock::Clock;
use gatehouse_domain::mail::{MailTransport, OutgoingMail};
use gatehouse_domain::settings::Smtp;
use smtp::SmtpClient;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Mailer {
    /// Where the log mailer writes messages.
    mail_dir: PathBuf,
    /// Names the mail files, which the purge reads back: the service's clock, so both agree.
    clock: Arc<dyn Clock>,
    written: AtomicU64,
    smtp: SmtpClient,
}

impl Mailer {
    pub fn new(data_dir: &std::path::Path, clock: Arc<dyn Clock>) -> Self {
        Self {
            mail_dir: data_dir.join("mail"),
            clock,
            written: AtomicU64::new(0),
            smtp: SmtpClient::default(),
        }
    }

    /// The log mailer: one `.eml`-like text file per message, and a log line without the body
    /// (which holds codes and tokens; the file is readable only by the server's user).
    async fn write_file(&self, mail: &OutgoingMail) -> Result<(), String> {
        let n = self.written.fetch_add(1, Ordering::Relaxed);
        let stamp = self.clock.now_millis();
        let content = format!(
            "From: {} <{}>\nTo: {}\nSubject: {}\n\n{}\n\n--- html ---\n{}\n",
            mail.from_name, mail.from_address, mail.to, mail.subject, mail.text, mail.html
        );
        let path = write_private_file(
            &self.mail_dir,
            &format!("{stamp}-{n}.txt"),
            content.as_bytes(),
        )
        .await?;
        tracing::info!(
            to = %mail.to,
            file = %path.display(),
            "SMTP is not configured: the message was written to the mail folder"
        );
        Ok(())
    }
}

#[async_trait]
impl MailTransport for Mailer {
    async fn send(&self, smtp: &Smtp, mail: &OutgoingMail) -> Result<(), String> {
        if smtp.enabled {
            self.smtp.send(smtp, mail).await
        } else {
            self.write_file(mail).await
        }
    }

    /// Messages are named `<millis>-<n>.txt` by [`Mailer::write_file`]: the name says when.
    async fn purge_before(&self, cutoff_ms: i64) -> Result<usize, String> {
        let mut entries = match tokio::fs::read_dir(&self.mail_dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(format!("reading {}: {e}", self.mail_dir.display())),
        };
        let mut removed = 0;
        while let Some(entry) = entries.next_entry().await.map_err(|e| e.to_string())? {
            let name = entry.file_name();
            let written = name
                .to_str()
                .and_then(|n| n.strip_suffix(".txt"))
                .and_then(|n| n.split_once('-'))
                .and_then(|(ms, _)| ms.parse::<i64>().ok());
            if written.is_some_and(|ms| ms < cutoff_ms) {
                tokio::fs::remove_file(entry.path())
                    .await
                    .map_err(|e| format!("removing {}: {e}", entry.path().display()))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn without_smtp_the_message_lands_in_the_mail_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(dir.path(), Arc::new(gatehouse_domain::clock::SystemClock));
        let mail = OutgoingMail {
            from_name: "Support".into(),
            from_address: "support@example.com".into(),
            to: "ann@example.com".into(),
            subject: "OTP for Acme".into(),
            html: "<p>Your code: <strong>12345678</strong></p>".into(),
            text: "Your code: 12345678".into(),
        };
        mailer.send(&Smtp::default(), &mail).await.unwrap();
        let mut entries = std::fs::read_dir(dir.path().join("mail")).unwrap();
        let file = entries.next().unwrap().unwrap().path();
        let content = std::fs::read_to_string(file).unwrap();
        assert!(content.contains("To: ann@example.com"));
        assert!(content.contains("12345678"));
    }
}
