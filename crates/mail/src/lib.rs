//! Gatehouse's mail transport. With `settings.smtp.enabled` a message goes out over SMTP (lettre's
//! client: implicit TLS when `smtp.tls`, otherwise STARTTLS whenever the server offers it); without it,
//! the log mailer writes each message to the server log and to `<data dir>/mail/` so that a new
//! installation can try OTP login before it has an SMTP server.

use async_trait::async_trait;
use gatehouse_domain::mail::{MailTransport, OutgoingMail};
use gatehouse_domain::settings::Smtp;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// An SMTP exchange that takes longer than this fails (and the OTP it carried is withdrawn).
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Mailer {
    /// Where the log mailer writes messages.
    mail_dir: PathBuf,
    written: AtomicU64,
    tls: Mutex<HashMap<String, TlsParameters>>,
}

impl Mailer {
    pub fn new(data_dir: &std::path::Path) -> Self {
        Self {
            mail_dir: data_dir.join("mail"),
            written: AtomicU64::new(0),
            tls: Mutex::new(HashMap::new()),
        }
    }

    async fn send_smtp(&self, smtp: &Smtp, mail: &OutgoingMail) -> Result<(), String> {
        let message = build_message(mail)?;
        let port = u16::try_from(smtp.port).map_err(|_| "invalid SMTP port".to_owned())?;
        let exchange = async {
            if smtp.tls {
                self.send_implicit_tls(smtp, port, message).await
            } else {
                self.send_plain_or_starttls(smtp, port, &message).await
            }
        };
        tokio::time::timeout(SMTP_TIMEOUT, exchange)
            .await
            .map_err(|_| "SMTP: timed out".to_owned())?
    }

    /// Port 25/587 style: plain TCP, upgraded with STARTTLS whenever the server offers it. The
    /// connection is ours (not lettre's transport) to set `TCP_NODELAY`: lettre writes the
    /// end-of-data marker as a second small write, which Nagle holds until the server's delayed
    /// ACK, about 40 ms on every message.
    async fn send_plain_or_starttls(
        &self,
        smtp: &Smtp,
        port: u16,
        message: &Message,
    ) -> Result<(), String> {
        let tcp = tokio::net::TcpStream::connect((smtp.host.as_str(), port))
            .await
            .map_err(|e| format!("SMTP connect: {e}"))?;
        tcp.set_nodelay(true)
            .map_err(|e| format!("SMTP socket: {e}"))?;
        let hello = hello_name(smtp);
        let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello)
            .await
            .map_err(|e| format!("SMTP: {e}"))?;
        if conn.can_starttls() {
            conn.starttls(self.tls_parameters(&smtp.host)?, &hello)
                .await
                .map_err(|e| format!("SMTP STARTTLS: {e}"))?;
        }
        if let Some(credentials) = credentials(smtp) {
            conn.auth(&mechanisms(smtp), &credentials)
                .await
                .map_err(|e| format!("SMTP auth: {e}"))?;
        }
        conn.send(message.envelope(), &message.formatted())
            .await
            .map_err(|e| format!("SMTP: {e}"))?;
        // The message is accepted; a failed goodbye changes nothing.
        let _ = conn.quit().await;
        Ok(())
    }

    /// Port 465 style: TLS from the first byte, through lettre's transport.
    async fn send_implicit_tls(
        &self,
        smtp: &Smtp,
        port: u16,
        message: Message,
    ) -> Result<(), String> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(port)
            .tls(Tls::Wrapper(self.tls_parameters(&smtp.host)?))
            .hello_name(hello_name(smtp))
            .timeout(Some(SMTP_TIMEOUT));
        if let Some(credentials) = credentials(smtp) {
            builder = builder
                .credentials(credentials)
                .authentication(mechanisms(smtp));
        }
        builder
            .build()
            .send(message)
            .await
            .map(drop)
            .map_err(|e| format!("SMTP: {e}"))
    }

    /// TLS settings per host, built once: each holds a parsed copy of the web PKI roots, which
    /// costs more CPU than the rest of a send.
    fn tls_parameters(&self, host: &str) -> Result<TlsParameters, String> {
        let mut cache = match self.tls.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(params) = cache.get(host) {
            return Ok(params.clone());
        }
        let params =
            TlsParameters::new(host.to_owned()).map_err(|e| format!("TLS parameters: {e}"))?;
        if cache.len() >= 16 {
            cache.clear();
        }
        cache.insert(host.to_owned(), params.clone());
        Ok(params)
    }

    /// The log mailer: one `.eml`-like text file per message, and a log line without the body
    /// (which holds codes and tokens; the file is readable only by the server's user).
    async fn write_file(&self, mail: &OutgoingMail) -> Result<(), String> {
        tokio::fs::create_dir_all(&self.mail_dir)
            .await
            .map_err(|e| format!("creating {}: {e}", self.mail_dir.display()))?;
        let n = self.written.fetch_add(1, Ordering::Relaxed);
        let stamp = std::time::UNIX_EPOCH
            .elapsed()
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let path = self.mail_dir.join(format!("{stamp}-{n}.txt"));
        let content = format!(
            "From: {} <{}>\nTo: {}\nSubject: {}\n\n{}\n\n--- html ---\n{}\n",
            mail.from_name, mail.from_address, mail.to, mail.subject, mail.text, mail.html
        );
        write_private(&path, content.as_bytes())
            .await
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        tracing::info!(
            to = %mail.to,
            subject = %mail.subject,
            file = %path.display(),
            "SMTP is not configured: the message was written to the mail folder"
        );
        Ok(())
    }
}

#[cfg(unix)]
async fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await?;
    file.write_all(bytes).await?;
    file.flush().await
}

#[cfg(not(unix))]
async fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    tokio::fs::write(path, bytes).await
}

fn build_message(mail: &OutgoingMail) -> Result<Message, String> {
    let from: Mailbox = format!("{} <{}>", mail.from_name, mail.from_address)
        .parse()
        .or_else(|_| mail.from_address.parse())
        .map_err(|e| format!("sender address: {e}"))?;
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e| format!("recipient address: {e}"))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| format!("building the message: {e}"))
}

fn hello_name(smtp: &Smtp) -> ClientId {
    if smtp.local_name.is_empty() {
        ClientId::default()
    } else {
        ClientId::Domain(smtp.local_name.clone())
    }
}

fn credentials(smtp: &Smtp) -> Option<Credentials> {
    (!smtp.username.is_empty())
        .then(|| Credentials::new(smtp.username.clone(), smtp.password.clone()))
}

/// `settings.smtp.authMethod`: PLAIN or LOGIN, or either (lettre's default order) when empty.
fn mechanisms(smtp: &Smtp) -> Vec<Mechanism> {
    match smtp.auth_method.as_str() {
        "PLAIN" => vec![Mechanism::Plain],
        "LOGIN" => vec![Mechanism::Login],
        _ => DEFAULT_MECHANISMS.to_vec(),
    }
}

#[async_trait]
impl MailTransport for Mailer {
    async fn send(&self, smtp: &Smtp, mail: &OutgoingMail) -> Result<(), String> {
        if smtp.enabled {
            self.send_smtp(smtp, mail).await
        } else {
            self.write_file(mail).await
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn without_smtp_the_message_lands_in_the_mail_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(dir.path());
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
