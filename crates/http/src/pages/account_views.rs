//! The askama templates of the account pages, one struct each, and how the API's JSON answers
//! (the MFA overview, devices, security events) become the rows those pages show.

use super::views::Ctx;
use askama::Template;
use askama_web::WebTemplate;
use serde_json::Value;

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
pub(crate) struct AccountPage {
    pub(crate) title: &'static str,
    pub(crate) error: String,
    /// What the last change did (empty for nothing).
    pub(crate) notice: &'static str,
    pub(crate) ctx: Ctx,
    pub(crate) email: String,
    pub(crate) factors: Vec<FactorRow>,
    /// A pending authenticator app: its set-up can be finished or cancelled.
    pub(crate) pending_totp: bool,
    pub(crate) can_add_totp: bool,
    pub(crate) can_add_sms: bool,
    pub(crate) can_add_email: bool,
    pub(crate) backup_codes: Option<i64>,
    pub(crate) can_regenerate: bool,
    pub(crate) devices: Vec<DeviceRow>,
    pub(crate) events: Vec<EventRow>,
    pub(crate) password: PasswordErrors,
    pub(crate) phone: PhoneForm,
}

/// The add-a-phone form after a refused number: what was typed and why (empty for none).
#[derive(Default)]
pub(crate) struct PhoneForm {
    pub(crate) typed: String,
    pub(crate) error: String,
}

/// The change-password form's messages, by field (empty for none).
#[derive(Default)]
pub(crate) struct PasswordErrors {
    pub(crate) old: String,
    pub(crate) new: String,
    pub(crate) confirm: String,
}

pub(crate) struct FactorRow {
    pub(crate) kind: String,
    pub(crate) label: &'static str,
    pub(crate) target: String,
    pub(crate) created: String,
    pub(crate) last_used: String,
    pub(crate) removable: bool,
}

pub(crate) struct DeviceRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) created: String,
    pub(crate) last_used: String,
    pub(crate) expires: String,
}

pub(crate) struct EventRow {
    pub(crate) label: String,
    pub(crate) created: String,
    pub(crate) ip: String,
}

/// A new authenticator app: its QR code and key, and the form for its first code.
#[derive(Template, WebTemplate)]
#[template(path = "account_setup.html")]
pub(crate) struct SetupPage {
    pub(crate) title: &'static str,
    pub(crate) error: String,
    pub(crate) ctx: Ctx,
    pub(crate) qr: String,
    pub(crate) secret: String,
}

impl SetupPage {
    /// The key in groups of four, as people copy it by eye.
    pub(crate) fn key_groups(&self) -> String {
        self.secret
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The form for a code just sent to confirm a new phone or email address, with a button that
/// sends another.
#[derive(Template, WebTemplate)]
#[template(path = "account_code.html")]
pub(crate) struct SentCodePage {
    pub(crate) title: &'static str,
    pub(crate) error: String,
    pub(crate) ctx: Ctx,
    /// Where it was sent, in words.
    pub(crate) prompt: String,
    /// The form's path: `/_/account/sms` or `/_/account/email` (`…/confirm` checks the code).
    pub(crate) path: &'static str,
    pub(crate) otp_id: String,
    /// The phone the code went to (empty for email), for the "send again" form.
    pub(crate) phone: String,
}

/// A fresh set of backup codes, shown this once.
#[derive(Template, WebTemplate)]
#[template(path = "account_codes.html")]
pub(crate) struct CodesPage {
    pub(crate) title: &'static str,
    pub(crate) error: String,
    pub(crate) intro: &'static str,
    pub(crate) codes: Vec<String>,
    pub(crate) email: String,
    pub(crate) back: String,
}

impl CodesPage {
    /// The codes as a text file in a `data:` link: the browser saves it without asking the
    /// server again, so the codes never travel in a request.
    pub(crate) fn download(&self) -> String {
        let mut text = format!("Backup codes for {}\nEach code works once.\n\n", self.email);
        for code in &self.codes {
            text.push_str(code);
            text.push('\n');
        }
        format!("data:text/plain;charset=utf-8,{}", percent_encode(&text))
    }
}

/// "Confirm it's you": the password again before a change that needs a recent sign-in.
#[derive(Template, WebTemplate)]
#[template(path = "reauth.html")]
pub(crate) struct ReauthPage {
    pub(crate) title: &'static str,
    pub(crate) error: String,
    pub(crate) ctx: Ctx,
    pub(crate) email: String,
    /// What the person asked for, in words ("remove your authenticator app").
    pub(crate) what: &'static str,
    pub(crate) then: String,
    pub(crate) back: String,
}

/// A factor of the MFA overview as a row; `None` for a kind the page does not know.
pub(crate) fn factor_row(f: &Value) -> Option<FactorRow> {
    let kind = f["type"].as_str()?;
    let label = match kind {
        "totp" => "Authenticator app",
        "sms" => "Text message",
        "email" => "Email code",
        "backupCode" => "Backup codes",
        _ => return None,
    };
    let text = |key: &str| f[key].as_str().unwrap_or_default().to_owned();
    let verified = f["status"].as_str() == Some("verified");
    Some(FactorRow {
        kind: kind.to_owned(),
        label,
        target: text("sentTo"),
        created: when(&text("createdAt")),
        last_used: when(&text("lastUsedAt")),
        removable: verified && kind != "backupCode",
    })
}

pub(crate) fn device_row(d: &Value) -> DeviceRow {
    let text = |key: &str| d[key].as_str().unwrap_or_default().to_owned();
    DeviceRow {
        id: text("id"),
        name: text("name"),
        created: when(&text("created")),
        last_used: when(&text("lastUsedAt")),
        expires: when(&text("expires")),
    }
}

pub(crate) fn event_row(e: &Value) -> EventRow {
    let text = |key: &str| e[key].as_str().unwrap_or_default().to_owned();
    let kind = text("type");
    let method = text("method");
    let mut label = event_label(&kind).to_owned();
    if let Some(name) = method_label(&method) {
        label = format!("{label} ({name})");
    }
    EventRow {
        label,
        created: when(&text("created")),
        ip: text("ip"),
    }
}

fn event_label(kind: &str) -> &str {
    match kind {
        "login.success" => "Signed in",
        "login.failure" => "Failed sign-in",
        "mfa.required" => "Second step asked",
        "mfa.success" => "Second step passed",
        "mfa.failure" => "Wrong second-step code",
        "otp.requested" => "Code sent",
        "factor.enrolled" => "Second step added",
        "factor.removed" => "Second step removed",
        "backupCodes.regenerated" => "New backup codes",
        "backupCode.used" => "Backup code used",
        "device.trusted" => "Device trusted",
        "device.revoked" => "Device revoked",
        "mfa.reset" => "Two-step sign-in reset by an administrator",
        "impersonation" => "Signed in by an administrator",
        "password.changed" => "Password changed",
        "mfa.stepUp" => "Identity confirmed",
        "verification.requested" => "Verification email requested",
        "email.verified" => "Email verified",
        "password.reset_requested" => "Password reset requested",
        "email.change_requested" => "Email change requested",
        "email.changed" => "Email changed",
        "login.new_location" => "Sign-in from a new place reported",
        "sms.capped" => "Text message not sent (limit reached)",
        other => other,
    }
}

fn method_label(method: &str) -> Option<&'static str> {
    match method {
        "password" => Some("password"),
        "totp" => Some("authenticator app"),
        "backupCode" => Some("backup code"),
        "sms" => Some("text message"),
        "otp" | "email" => Some("email code"),
        "device" => Some("trusted device"),
        _ => None,
    }
}

/// A stored date (`2006-01-02 15:04:05.000Z`) to the minute, or "never" when unset.
pub(crate) fn when(stored: &str) -> String {
    match stored.get(..16) {
        Some(minute) => format!("{minute} UTC"),
        None if stored.is_empty() => "never".to_owned(),
        None => stored.to_owned(),
    }
}

/// Percent-encodes everything but letters, digits and `-`, for a `data:` URL.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_show_to_the_minute_and_unset_is_never() {
        assert_eq!(when("2026-03-04 05:06:07.890Z"), "2026-03-04 05:06 UTC");
        assert_eq!(when(""), "never");
    }

    #[test]
    fn the_download_link_holds_every_code_and_nothing_unescaped() {
        let page = CodesPage {
            title: "",
            error: String::new(),
            intro: "",
            codes: vec!["abcde-fghij".to_owned(), "klmno-pqrst".to_owned()],
            email: "a@b.test".to_owned(),
            back: String::new(),
        };
        let link = page.download();
        assert!(link.starts_with("data:text/plain;charset=utf-8,"));
        assert!(link.contains("abcde-fghij%0Aklmno-pqrst%0A"), "{link}");
        assert!(link.contains("a%40b%2Etest"), "{link}");
        let body = link.trim_start_matches("data:text/plain;charset=utf-8,");
        assert!(!body.contains([' ', '"', '<', '&', '#']), "{link}");
    }

    #[test]
    fn keys_are_grouped_by_four() {
        let page = SetupPage {
            title: "",
            error: String::new(),
            ctx: Ctx {
                csrf: String::new(),
                collection: String::new(),
                redirect: String::new(),
            },
            qr: String::new(),
            secret: "ABCDEFGHIJ".to_owned(),
        };
        assert_eq!(page.key_groups(), "ABCD EFGH IJ");
    }
}
