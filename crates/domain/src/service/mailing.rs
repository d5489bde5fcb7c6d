//! Rendering a collection's email templates (PocketBase's placeholders) and sending them in the
//! background, so that an answer never waits on (or tells anything about) a mail server.

use super::Gatehouse;
use crate::collection::Collection;
use crate::collection::field::is_email;
use crate::collection::options::EmailTemplate;
use crate::error::{FieldErrors, codes};
use crate::mail::{OutgoingMail, html_to_text};
use crate::record::Record;
use crate::settings::Settings;
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Notify;

impl Gatehouse {
    /// `template` filled in for `record`: `{APP_NAME}`, `{APP_URL}`, `{RECORD:field}` (every
    /// non-hidden field, HTML-escaped) and the flow's own placeholders in `extra`.
    pub(crate) fn render_mail(
        &self,
        settings: &Settings,
        c: &Collection,
        record: &Record,
        to: &str,
        template: &EmailTemplate,
        extra: &[(&str, &str)],
    ) -> OutgoingMail {
        let value_of = |placeholder: &str| -> Option<String> {
            match placeholder {
                "{APP_NAME}" => Some(escape(&settings.meta.app_name)),
                "{APP_URL}" => Some(settings.meta.app_url.clone()),
                _ => {
                    if let Some((_, value)) = extra.iter().find(|(k, _)| *k == placeholder) {
                        return Some((*value).to_owned());
                    }
                    let name = placeholder.strip_prefix("{RECORD:")?.strip_suffix('}')?;
                    c.fields.iter().find(|f| f.name == name && !f.hidden)?;
                    Some(escape(&match record.value(c, name) {
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        other => other.to_string(),
                    }))
                }
            }
        };
        let body = fill(&template.body, value_of);
        OutgoingMail {
            from_name: settings.meta.sender_name.clone(),
            from_address: settings.meta.sender_address.clone(),
            to: to.to_owned(),
            subject: fill(&template.subject, value_of),
            text: html_to_text(&body),
            html: layout(&body),
        }
    }

    /// Sends `mail` in the background; `on_failure` runs if it could not be delivered (to
    /// withdraw the code it carried). The failure is logged without the message.
    pub(crate) fn send_in_background<F>(
        &self,
        smtp: crate::settings::Smtp,
        mail: OutgoingMail,
        on_failure: F,
    ) where
        F: Future<Output = ()> + Send + 'static,
    {
        let mailer = self.mailer.clone();
        let sending = self.outbox.start();
        tokio::spawn(async move {
            if let Err(e) = mailer.send(&smtp, &mail).await {
                tracing::warn!(error = %e, "sending a mail failed");
                on_failure.await;
            }
            drop(sending);
        });
    }

    /// Returns once no mail is being sent in the background (and every failure handler has run):
    /// what tests wait for before they say "no mail was sent".
    pub async fn mail_idle(&self) {
        self.outbox.idle().await;
    }
}

/// Counts the mails being sent in the background.
#[derive(Default)]
pub(crate) struct Outbox {
    sending: AtomicUsize,
    idle: Notify,
}

/// One mail in flight; dropping it (after the send and its failure handling) counts it out.
pub(crate) struct Sending(Arc<Outbox>);

impl Outbox {
    fn start(self: &Arc<Self>) -> Sending {
        self.sending.fetch_add(1, Ordering::SeqCst);
        Sending(self.clone())
    }

    async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.sending.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        if self.0.sending.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// The longest placeholder looked for (`{RECORD:<field name>}`): a `{` with no `}` this close
/// is text, so a template of many lone braces costs one short scan each.
const PLACEHOLDER_MAX: usize = 128;

/// `text` with each `{…}` placeholder that `value_of` knows replaced by its value, in one pass:
/// a value is never searched for placeholders again (an app name of `{TOKEN}` stays that text),
/// and only the placeholders the template uses are computed.
fn fill(text: &str, value_of: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len() + 128);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let from_brace = &rest[open..];
        let value = from_brace
            .bytes()
            .take(PLACEHOLDER_MAX)
            .position(|b| b == b'}')
            .and_then(|close| Some((close, value_of(&from_brace[..=close])?)));
        match value {
            Some((close, value)) => {
                out.push_str(&value);
                rest = &from_brace[close + 1..];
            }
            None => {
                out.push('{');
                rest = &from_brace[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn layout(body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"></head>\n\
         <body style=\"font-family: sans-serif; font-size: 14px; line-height: 1.5; color: #16161a;\">\n{body}\n</body>\n</html>"
    )
}

pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// PocketBase's checks of an address typed into a request body (`email`, `newEmail`).
pub(super) fn check_address(errors: &mut FieldErrors, field: &str, address: &str) {
    if address.is_empty() {
        errors.add_code(field, codes::REQUIRED);
    } else if address.chars().count() > 255 {
        errors.length_out_of_range(field, 1, 255);
    } else if !is_email(address) {
        errors.add_code(field, codes::IS_EMAIL);
    }
}

/// An address with only the first letter of each part shown: `j***@e******.com`. Challenges
/// say where a code went without revealing the address.
pub fn mask_email(email: &str) -> String {
    let Some((local, domain)) = email.split_once('@') else {
        return "***".to_owned();
    };
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    let mut parts: Vec<&str> = domain.split('.').collect();
    let tld = if parts.len() > 1 { parts.pop() } else { None };
    let masked: Vec<String> = parts
        .iter()
        .map(|p| {
            format!(
                "{}{}",
                first(p),
                "*".repeat(p.chars().count().saturating_sub(1))
            )
        })
        .collect();
    let mut out = format!("{}***@{}", first(local), masked.join("."));
    if let Some(tld) = tld {
        out.push('.');
        out.push_str(tld);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_show_only_first_letters() {
        assert_eq!(mask_email("john@example.com"), "j***@e******.com");
        assert_eq!(mask_email("a@b.c.org"), "a***@b.c.org");
        assert_eq!(mask_email("x"), "***");
    }

    #[test]
    fn placeholders_fill_in_one_pass() {
        let value_of = |p: &str| match p {
            "{APP_NAME}" => Some("{TOKEN}".to_owned()),
            "{TOKEN}" => Some("secret".to_owned()),
            _ => None,
        };
        // A value is not searched again; unknown or unclosed braces stay as they are.
        assert_eq!(
            fill("{{APP_NAME}} {TOKEN} {NOPE} {", value_of),
            "{{TOKEN}} secret {NOPE} {"
        );
        assert_eq!(fill("é{TOKEN}ü", value_of), "ésecretü");
        let far = format!("{{{}}}", "x".repeat(PLACEHOLDER_MAX));
        assert_eq!(fill(&far, |_| Some(String::new())), far);
    }
}
