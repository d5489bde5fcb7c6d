//! Outgoing mail as the domain sees it: a rendered message and a transport to hand it to. The
//! transport (SMTP, or the log mailer when SMTP is off) lives in the `gatehouse-mail` crate.

use crate::settings::Smtp;
use async_trait::async_trait;

/// A rendered message: HTML with a plain-text alternative.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub from_name: String,
    pub from_address: String,
    pub to: String,
    pub subject: String,
    pub html: String,
    pub text: String,
}

// Messages carry codes and tokens: never print them by accident.
impl std::fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait MailTransport: Send + Sync + 'static {
    /// Delivers `mail` with the current SMTP settings. The error is for the server log (it never
    /// reaches an API answer).
    async fn send(&self, smtp: &Smtp, mail: &OutgoingMail) -> Result<(), String>;

    /// Deletes kept copies of messages written before `cutoff_ms` (Unix milliseconds); how
    /// many. A transport that keeps none has nothing to do.
    async fn purge_before(&self, _cutoff_ms: i64) -> Result<usize, String> {
        Ok(0)
    }
}

/// What went wrong with a send, in fixed words an API answer may carry: the transport's error
/// can quote the mail server's reply, so it stays in the log. Reads the prefixes the SMTP
/// transport (`gatehouse-mail`) starts its errors with.
pub fn failure_summary(error: &str) -> &'static str {
    if error.contains("timed out") {
        "the SMTP server did not answer in time"
    } else if error.starts_with("SMTP connect") || error.starts_with("SMTP socket") {
        "the SMTP server could not be reached"
    } else if error.contains("does not offer STARTTLS") {
        "the SMTP server does not offer STARTTLS, which smtp.tlsMode requires"
    } else if error.starts_with("SMTP STARTTLS") || error.starts_with("TLS parameters") {
        "the TLS handshake with the SMTP server failed"
    } else if error.contains("without TLS") {
        "the password would have gone out without TLS (see smtp.tlsMode and smtp.allowInsecureAuth)"
    } else if error.starts_with("SMTP auth") {
        "the SMTP server refused the user name or password"
    } else if error.starts_with("SMTP") || error.contains("SMTP port") {
        "the SMTP server refused the message"
    } else {
        "the message could not be delivered (the server log has the details)"
    }
}

/// A plain-text rendering of a mail body: tags dropped, links kept as `text (url)`, the common
/// entities decoded, blank runs collapsed.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut pending_href: Option<String> = None;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            break;
        };
        let tag = &rest[start + 1..start + end];
        let lower = tag.to_ascii_lowercase();
        if lower.starts_with("a ") {
            pending_href = tag
                .split("href=\"")
                .nth(1)
                .and_then(|h| h.split('"').next())
                .map(str::to_owned);
        } else if lower == "/a" {
            if let Some(href) = pending_href.take() {
                out.push_str(&format!(" ({href})"));
            }
        } else if lower == "br"
            || lower == "br/"
            || lower.starts_with("/p")
            || lower.starts_with("/div")
        {
            out.push('\n');
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let lines: Vec<&str> = decoded.lines().map(str::trim).collect();
    let mut text = String::new();
    let mut blank = false;
    for line in lines {
        if line.is_empty() {
            if !blank && !text.is_empty() {
                text.push('\n');
            }
            blank = true;
        } else {
            text.push_str(line);
            text.push('\n');
            blank = false;
        }
    }
    text.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_summed_up_without_the_servers_words() {
        let refused = "SMTP: permanent error (550): 5.1.1 <x@y> secret-looking reply";
        assert_eq!(
            failure_summary(refused),
            "the SMTP server refused the message"
        );
        assert_eq!(
            failure_summary("SMTP connect: Connection refused (os error 111)"),
            "the SMTP server could not be reached"
        );
        assert_eq!(
            failure_summary("SMTP auth: permanent error (535): bad"),
            "the SMTP server refused the user name or password"
        );
        assert_eq!(
            failure_summary("SMTP: timed out"),
            "the SMTP server did not answer in time"
        );
    }

    #[test]
    fn html_becomes_readable_text() {
        let html = "<p>Hello,</p>\n<p>Your code is: <strong>1234</strong></p>\n<p><a href=\"https://x.test/a?b=1&amp;c=2\">Open</a></p>";
        assert_eq!(
            html_to_text(html),
            "Hello,\n\nYour code is: 1234\n\nOpen (https://x.test/a?b=1&c=2)"
        );
    }
}
