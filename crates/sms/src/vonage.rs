//! Vonage's SMS API: `POST {baseUrl}/sms/json` with the form fields `api_key`, `api_secret`,
//! `from`, `to` (digits, no `+`) and `text`. The answer is `200` with
//! `{"message-count", "messages": [{"status", …}]}`; a status other than `"0"` is an error.

use crate::answer;
use gatehouse_domain::settings::SmsSettings;
use gatehouse_domain::sms::{OutgoingSms, SmsError};
use serde_json::Value;

/// Statuses that are about the recipient rather than this server's account or Vonage's
/// platform (<https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms>):
/// 6 Invalid Message (e.g. an unrecognised number prefix), 7 Number Barred, 29 Non-Whitelisted
/// Destination, 33 Number De-activated. The others — 1 Throttled, 2/3 missing or invalid
/// parameters, 4 Invalid Credentials, 5 Internal Error, 8/9 account barred or out of credit,
/// 15 Invalid Sender Address (a `from` not allowed), … — are the server's to fix.
const RECIPIENT_STATUSES: [&str; 4] = ["6", "7", "29", "33"];

pub(crate) async fn send(
    http: &reqwest::Client,
    settings: &SmsSettings,
    sms: &OutgoingSms,
) -> Result<(), SmsError> {
    let v = &settings.vonage;
    let url = format!("{}/sms/json", v.base_url.trim_end_matches('/'));
    let to = sms.to.trim_start_matches('+');
    let mut form = vec![
        ("api_key", v.api_key.as_str()),
        ("api_secret", v.api_secret.as_str()),
        ("from", settings.from.as_str()),
        ("to", to),
        ("text", sms.message.as_str()),
    ];
    // Without it Vonage sends GSM-7 and garbles other characters (an app name in Greek, say).
    if !sms.message.is_ascii() {
        form.push(("type", "unicode"));
    }
    let sent = http.post(url).form(&form).send().await;
    let (status, body) = answer::read("Vonage", sent).await?;
    if status != 200 {
        return Err(SmsError::Unavailable(format!(
            "Vonage answered HTTP {status}"
        )));
    }
    let json: Value = serde_json::from_slice(&body)
        .map_err(|_| SmsError::Unavailable("Vonage answered HTTP 200 without JSON".to_owned()))?;
    let statuses: Vec<&str> = json
        .get("messages")
        .and_then(Value::as_array)
        .map(|messages| {
            messages
                .iter()
                .map(|m| m.get("status").and_then(Value::as_str).unwrap_or("?"))
                .collect()
        })
        .unwrap_or_default();
    if statuses.is_empty() {
        return Err(SmsError::Unavailable(
            "Vonage answered without message statuses".to_owned(),
        ));
    }
    match statuses.iter().find(|s| **s != "0") {
        None => Ok(()),
        Some(failed) => {
            let detail = format!("Vonage status {failed}");
            if RECIPIENT_STATUSES.contains(failed) {
                Err(SmsError::Rejected(detail))
            } else {
                Err(SmsError::Unavailable(detail))
            }
        }
    }
}
