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
    fn html_becomes_readable_text() {
        let html = "<p>Hello,</p>\n<p>Your code is: <strong>1234</strong></p>\n<p><a href=\"https://x.test/a?b=1&amp;c=2\">Open</a></p>";
        assert_eq!(
            html_to_text(html),
            "Hello,\n\nYour code is: 1234\n\nOpen (https://x.test/a?b=1&c=2)"
        );
    }
}
