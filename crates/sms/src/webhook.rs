//! The generic webhook: `POST url` with `{"to", "message", "type"}` as JSON and the header
//! `X-Gatehouse-Signature: sha256=<hex HMAC-SHA256 of the raw body under the secret>`, so the
//! receiver can tell the request came from this server. A 2xx means sent; a 4xx, that the
//! receiver refused this message; anything else, that it could not take it.

use crate::answer;
use gatehouse_domain::settings::WebhookSettings;
use gatehouse_domain::sms::{OutgoingSms, SmsError};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header that carries `sha256=<hex HMAC>` of the body (a receiver checks it).
pub const SIGNATURE_HEADER: &str = "X-Gatehouse-Signature";

pub(crate) async fn send(
    http: &reqwest::Client,
    webhook: &WebhookSettings,
    sms: &OutgoingSms,
) -> Result<(), SmsError> {
    let body = serde_json::json!({"to": sms.to, "message": sms.message, "type": sms.kind});
    let body = serde_json::to_vec(&body)
        .map_err(|e| SmsError::Unavailable(format!("encoding the webhook body: {e}")))?;
    let signature = format!("sha256={}", sign(&webhook.secret, &body));
    let sent = http
        .post(&webhook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await;
    let (status, _) = answer::read("the SMS webhook", sent).await?;
    let detail = format!("the SMS webhook answered HTTP {status}");
    match status {
        200..=299 => Ok(()),
        400..=499 => Err(SmsError::Rejected(detail)),
        _ => Err(SmsError::Unavailable(detail)),
    }
}

/// The lower-case hex HMAC-SHA256 of `body` under `secret`.
fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe".
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
