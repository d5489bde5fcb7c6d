//! A plain-text SMTP server on 127.0.0.1 for the transport tests: it speaks just enough ESMTP for
//! lettre (EHLO, optional STARTTLS offer it cannot honour, AUTH PLAIN, MAIL, RCPT, DATA, QUIT)
//! and records every session's commands and messages, so a test can say what went over the wire.

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::watch;

#[derive(Debug, Clone, Default)]
pub struct Session {
    /// Every command line as received (AUTH lines included, with their base64).
    pub commands: Vec<String>,
    /// The DATA of each accepted message.
    pub messages: Vec<String>,
    /// The client went away (QUIT or a dropped connection).
    pub closed: bool,
}

impl Session {
    pub fn saw(&self, verb: &str) -> bool {
        self.commands
            .iter()
            .any(|c| c.to_ascii_uppercase().starts_with(verb))
    }
}

pub struct SmtpSink {
    pub port: u16,
    sessions: watch::Receiver<Vec<Session>>,
}

impl SmtpSink {
    /// A sink that advertises STARTTLS (and refuses it: it has no certificate) when `offer_starttls`.
    pub async fn start(offer_starttls: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = watch::channel(Vec::<Session>::new());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let index = {
                    let mut at = 0;
                    tx.send_modify(|s| {
                        at = s.len();
                        s.push(Session::default());
                    });
                    at
                };
                let recorder = Recorder {
                    sessions: tx.clone(),
                    index,
                };
                tokio::spawn(async move {
                    let _ = serve(stream, offer_starttls, &recorder).await;
                    recorder.record(|s| s.closed = true);
                });
            }
        });
        Self { port, sessions: rx }
    }

    pub fn sessions(&self) -> Vec<Session> {
        self.sessions.borrow().clone()
    }

    /// Waits (at most 10 s) until `done` holds for the sessions so far.
    pub async fn wait_for(&self, done: impl Fn(&[Session]) -> bool) -> Vec<Session> {
        let mut rx = self.sessions.clone();
        let waited =
            tokio::time::timeout(std::time::Duration::from_secs(10), rx.wait_for(|s| done(s)))
                .await;
        match waited {
            Ok(Ok(s)) => s.clone(),
            _ => panic!("the SMTP sink never saw that: {:?}", self.sessions()),
        }
    }
}

/// One session's entry in the sink's list.
struct Recorder {
    sessions: watch::Sender<Vec<Session>>,
    index: usize,
}

impl Recorder {
    fn record(&self, change: impl FnOnce(&mut Session)) {
        self.sessions.send_modify(|s| change(&mut s[self.index]));
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    offer_starttls: bool,
    recorder: &Recorder,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink ESMTP\r\n").await?;
    while let Some(line) = lines.next_line().await? {
        recorder.record(|s| s.commands.push(line.clone()));
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" if offer_starttls => {
                b"250-sink\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
            }
            "EHLO" | "HELO" => b"250-sink\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
            "STARTTLS" => b"454 TLS not available\r\n",
            "AUTH" => b"235 2.7.0 Authentication successful\r\n",
            "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut data = String::new();
                while let Some(l) = lines.next_line().await? {
                    if l == "." {
                        break;
                    }
                    data.push_str(&l);
                    data.push('\n');
                }
                recorder.record(|s| s.messages.push(data));
                b"250 OK queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 not implemented\r\n",
        };
        write.write_all(answer).await?;
    }
    Ok(())
}

/// The user name and password of an `AUTH PLAIN <base64>` line.
pub fn plain_credentials(line: &str) -> Option<(String, String)> {
    let encoded = line.split(' ').nth(2)?;
    let decoded = crate::support::base64_decode(encoded, b'+', b'/')?;
    let mut parts = decoded.split(|b| *b == 0).skip(1);
    let user = String::from_utf8(parts.next()?.to_vec()).ok()?;
    let password = String::from_utf8(parts.next()?.to_vec()).ok()?;
    Some((user, password))
}
