//! Delivery over SMTP with lettre's client, at most 8 sessions at once, keeping connections open
//! between messages: a burst of codes (a sign-up wave, a login storm) then costs one SMTP
//! transaction per message instead of a TCP handshake, a greeting, EHLO, maybe STARTTLS and AUTH
//! each time.
//!
//! Plain and STARTTLS connections are our own (lettre's `AsyncSmtpConnection` on a socket we
//! open) so that `TCP_NODELAY` is set: lettre writes the end-of-data marker as a second small
//! write, which Nagle otherwise holds until the server's delayed ACK, about 40 ms per message.
//! Implicit TLS (port 465) goes through lettre's transport, which pools on its own.
//!
//! `settings.smtp.tlsMode` decides the protection ([`TlsMode`]): with STARTTLS required (the
//! default) a server that does not offer it gets no mail, since anyone on the path can strip the
//! offer. A password goes out without TLS only to this machine or when `allowInsecureAuth` says so.

use gatehouse_domain::mail::OutgoingMail;
use gatehouse_domain::settings::{Smtp, TlsMode};
use lettre::address::Envelope;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// An SMTP exchange that takes longer than this fails (and the code it carried is withdrawn).
const TIMEOUT: Duration = Duration::from_secs(15);
/// SMTP sessions open at once. Past this, messages wait for a session: a burst (a login storm)
/// then neither opens hundreds of connections, which mail servers refuse, nor holds hundreds of
/// messages half-sent in memory.
const MAX_SESSIONS: usize = 8;
/// Open connections kept between messages, over all servers.
const MAX_IDLE: usize = MAX_SESSIONS;
/// An idle connection older than this is closed rather than reused: well inside the idle
/// timeouts servers use (RFC 5321 asks them to wait at least 5 minutes).
const MAX_IDLE_AGE: Duration = Duration::from_secs(30);

pub struct SmtpClient {
    sessions: tokio::sync::Semaphore,
    idle: Mutex<Vec<Idle>>,
    /// Built once per host: each holds a parsed copy of the web PKI roots, which costs more CPU
    /// than the rest of a send.
    tls: Mutex<HashMap<String, TlsParameters>>,
    implicit_tls: Mutex<HashMap<String, AsyncSmtpTransport<Tokio1Executor>>>,
}

impl Default for SmtpClient {
    fn default() -> Self {
        Self {
            sessions: tokio::sync::Semaphore::new(MAX_SESSIONS),
            idle: Mutex::default(),
            tls: Mutex::default(),
            implicit_tls: Mutex::default(),
        }
    }
}

struct Idle {
    server: String,
    conn: AsyncSmtpConnection,
    since: Instant,
}

impl SmtpClient {
    pub async fn send(&self, smtp: &Smtp, mail: &OutgoingMail) -> Result<(), String> {
        let message = build_message(mail)?;
        let port = u16::try_from(smtp.port).map_err(|_| "invalid SMTP port".to_owned())?;
        // The wait for a session is not part of the exchange's timeout.
        let _session = self
            .sessions
            .acquire()
            .await
            .map_err(|_| "SMTP client closed".to_owned())?;
        let exchange = async {
            if smtp.tls_mode() == TlsMode::Implicit {
                self.send_implicit_tls(smtp, port, message).await
            } else {
                self.send_plain_or_starttls(smtp, port, &message).await
            }
        };
        tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| "SMTP: timed out".to_owned())?
    }

    async fn send_plain_or_starttls(
        &self,
        smtp: &Smtp,
        port: u16,
        message: &Message,
    ) -> Result<(), String> {
        let server = server_key(smtp);
        let raw = message.formatted();
        if let Some(mut conn) = self.take_idle(&server) {
            if conn.send(message.envelope(), &raw).await.is_ok() {
                self.put_idle(server, conn);
                return Ok(());
            }
            // The server closed it meanwhile (nothing was accepted): start over on a new one.
            conn.abort().await;
        }
        let mut conn = self.connect(smtp, port).await?;
        conn.send(message.envelope(), &raw)
            .await
            .map_err(|e| format!("SMTP: {e}"))?;
        self.put_idle(server, conn);
        Ok(())
    }

    /// A new connection: greeting, EHLO, STARTTLS unless the mode is `none`, AUTH when
    /// configured and allowed.
    async fn connect(&self, smtp: &Smtp, port: u16) -> Result<AsyncSmtpConnection, String> {
        let tcp = tokio::net::TcpStream::connect((smtp.host.as_str(), port))
            .await
            .map_err(|e| format!("SMTP connect: {e}"))?;
        tcp.set_nodelay(true)
            .map_err(|e| format!("SMTP socket: {e}"))?;
        // The address actually connected to, not the name: a name may resolve anywhere.
        let peer = tcp
            .peer_addr()
            .map_err(|e| format!("SMTP socket: {e}"))?
            .ip();
        let hello = hello_name(smtp);
        let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello)
            .await
            .map_err(|e| format!("SMTP: {e}"))?;
        if smtp.tls_mode() == TlsMode::RequiredStarttls {
            if !conn.can_starttls() {
                conn.abort().await;
                return Err(format!(
                    "SMTP: {} does not offer STARTTLS, which settings.smtp.tlsMode requires; nothing was sent",
                    smtp.host
                ));
            }
            conn.starttls(self.tls_parameters(&smtp.host)?, &hello)
                .await
                .map_err(|e| format!("SMTP STARTTLS: {e}"))?;
        }
        if let Some(credentials) = credentials(smtp) {
            if !conn.is_encrypted() && !clear_auth_allowed(peer, smtp.allow_insecure_auth) {
                conn.abort().await;
                return Err(format!(
                    "SMTP: refusing to send the password without TLS to {} (set settings.smtp.tlsMode, or allowInsecureAuth); nothing was sent",
                    smtp.host
                ));
            }
            conn.auth(&mechanisms(smtp), &credentials)
                .await
                .map_err(|e| format!("SMTP auth: {e}"))?;
        }
        Ok(conn)
    }

    fn take_idle(&self, server: &str) -> Option<AsyncSmtpConnection> {
        let mut idle = lock(&self.idle);
        // Too old to trust: dropped (closing the socket) rather than reused.
        idle.retain(|i| i.since.elapsed() < MAX_IDLE_AGE);
        let at = idle.iter().rposition(|i| i.server == server)?;
        Some(idle.swap_remove(at).conn)
    }

    fn put_idle(&self, server: String, conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            return;
        }
        let mut idle = lock(&self.idle);
        if idle.len() >= MAX_IDLE {
            idle.remove(0);
        }
        idle.push(Idle {
            server,
            conn,
            since: Instant::now(),
        });
    }

    async fn send_implicit_tls(
        &self,
        smtp: &Smtp,
        port: u16,
        message: Message,
    ) -> Result<(), String> {
        let server = server_key(smtp);
        let cached = lock(&self.implicit_tls).get(&server).cloned();
        let transport = match cached {
            Some(t) => t,
            None => {
                let mut builder =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
                        .port(port)
                        .tls(Tls::Wrapper(self.tls_parameters(&smtp.host)?))
                        .hello_name(hello_name(smtp))
                        .timeout(Some(TIMEOUT));
                if let Some(credentials) = credentials(smtp) {
                    builder = builder
                        .credentials(credentials)
                        .authentication(mechanisms(smtp));
                }
                let transport = builder.build();
                let mut map = lock(&self.implicit_tls);
                if map.len() >= MAX_IDLE {
                    map.clear();
                }
                map.insert(server, transport.clone());
                transport
            }
        };
        transport
            .send(message)
            .await
            .map(drop)
            .map_err(|e| format!("SMTP: {e}"))
    }

    fn tls_parameters(&self, host: &str) -> Result<TlsParameters, String> {
        let mut cache = lock(&self.tls);
        if let Some(params) = cache.get(host) {
            return Ok(params.clone());
        }
        let params =
            TlsParameters::new(host.to_owned()).map_err(|e| format!("TLS parameters: {e}"))?;
        if cache.len() >= MAX_IDLE {
            cache.clear();
        }
        cache.insert(host.to_owned(), params.clone());
        Ok(params)
    }
}

/// What makes two settings the same server and login: a connection is reused only under the
/// settings it was opened with (a settings change starts new ones).
fn server_key(smtp: &Smtp) -> String {
    format!(
        "{}\n{}\n{:?}\n{}\n{}\n{}\n{}\n{}",
        smtp.host,
        smtp.port,
        smtp.tls_mode(),
        smtp.allow_insecure_auth,
        smtp.username,
        smtp.password,
        smtp.auth_method,
        smtp.local_name
    )
}

/// Whether a password may go out over a connection without TLS to `peer`: only to this machine
/// (nothing crosses a network), or when the operator opted out.
fn clear_auth_allowed(peer: IpAddr, opted_out: bool) -> bool {
    opted_out || peer.to_canonical().is_loopback()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn build_message(mail: &OutgoingMail) -> Result<Message, String> {
    // Built from the parts rather than parsed from `Name <address>`: lettre quotes or encodes the
    // name as it needs, and the address parser is a fraction of the full mailbox grammar's cost.
    let sender: Address = mail
        .from_address
        .parse()
        .map_err(|e| format!("sender address: {e}"))?;
    let to = match mail.to.parse::<Address>() {
        Ok(address) => Mailbox::new(None, address),
        Err(_) => mail
            .to
            .parse::<Mailbox>()
            .map_err(|e| format!("recipient address: {e}"))?,
    };
    // Given, or lettre derives it by parsing the From and To headers it has just written.
    let envelope = Envelope::new(Some(sender.clone()), vec![to.email.clone()])
        .map_err(|e| format!("envelope: {e}"))?;
    let from = Mailbox::new(
        (!mail.from_name.is_empty()).then(|| mail.from_name.clone()),
        sender,
    );
    Message::builder()
        .from(from)
        .to(to)
        .envelope(envelope)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    /// The envelope is the bare addresses, whatever names the headers carry.
    #[test]
    fn the_envelope_carries_the_addresses_of_from_and_to() {
        let mail = |to: &str| OutgoingMail {
            from_name: "Acme, Inc.".to_owned(),
            from_address: "no-reply@acme.test".to_owned(),
            to: to.to_owned(),
            subject: "Hi".to_owned(),
            text: "Hello".to_owned(),
            html: "<p>Hello</p>".to_owned(),
        };
        for to in ["ann@example.test", "Ann Example <ann@example.test>"] {
            let built = build_message(&mail(to));
            let envelope = built.as_ref().map(Message::envelope);
            let from = envelope
                .ok()
                .and_then(|e| e.from().map(ToString::to_string));
            let rcpt = envelope.map(|e| e.to().iter().map(ToString::to_string).collect::<Vec<_>>());
            assert_eq!(from.as_deref(), Some("no-reply@acme.test"), "{to}");
            assert_eq!(rcpt.ok(), Some(vec!["ann@example.test".to_owned()]), "{to}");
        }
        assert!(build_message(&mail("not an address")).is_err());
    }

    #[test]
    fn a_password_goes_out_in_clear_only_to_this_machine_or_when_allowed() {
        for local in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(clear_auth_allowed(ip(local), false), "{local}");
        }
        for remote in [
            "10.0.0.1",
            "192.168.1.5",
            "203.0.113.9",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "0.0.0.0",
        ] {
            assert!(!clear_auth_allowed(ip(remote), false), "{remote}");
            assert!(clear_auth_allowed(ip(remote), true), "{remote}");
        }
    }
}
