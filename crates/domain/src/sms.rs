//! Outgoing SMS as the domain sees it: a message and a transport to hand it to. The transports
//! (Twilio, Vonage, a signed webhook, or a log sender that writes files when nothing is
//! configured) live in the `gatehouse-sms` crate; `settings.sms` says which one a message takes.

use crate::settings::SmsSettings;
use async_trait::async_trait;

/// One text message to one phone.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingSms {
    /// The recipient in E.164 form (`+15555550142`).
    pub to: String,
    /// The text; it holds a code, so it is never printed or logged.
    pub message: String,
    /// What the message is for (the webhook's `type`): `"otp"`.
    pub kind: &'static str,
}

// The message carries a one-time code: never print it by accident.
impl std::fmt::Debug for OutgoingSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingSms")
            .field("to", &self.to)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Why a message did not go out. The detail names the provider's status or code, never the
/// message text or a credential, so it may be logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsError {
    /// The provider refused this message or this number (invalid or unroutable number, a
    /// webhook's 4xx): the caller's request is at fault, a 400.
    Rejected(String),
    /// The provider could not be used (timeout, 5xx, an answer that makes no sense, bad
    /// credentials, throttling): the server's side is at fault, a 502.
    Unavailable(String),
}

impl std::fmt::Display for SmsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rejected(detail) => write!(f, "the SMS provider refused the message: {detail}"),
            Self::Unavailable(detail) => write!(f, "the SMS provider is unavailable: {detail}"),
        }
    }
}

impl std::error::Error for SmsError {}

#[async_trait]
pub trait SmsTransport: Send + Sync + 'static {
    /// Delivers `sms` through the provider `settings` names (the log sender when SMS is off or
    /// the provider is `log`).
    async fn send(&self, settings: &SmsSettings, sms: &OutgoingSms) -> Result<(), SmsError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neither_debug_nor_errors_show_the_text() {
        let sms = OutgoingSms {
            to: "+15555550142".into(),
            message: "Your code is 424242".into(),
            kind: "otp",
        };
        assert!(!format!("{sms:?}").contains("424242"));
        let e = SmsError::Rejected("Twilio 400, code 21211".into());
        assert_eq!(
            e.to_string(),
            "the SMS provider refused the message: Twilio 400, code 21211"
        );
    }
}
