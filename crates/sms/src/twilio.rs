//! Twilio's Messages API: `POST {baseUrl}/2010-04-01/Accounts/{AccountSid}/Messages.json` with
//! the form fields `To`, `From` and `Body` and HTTP basic auth (account SID, auth token). Success
//! is `201` with the message resource as JSON; an error is `{"code", "message", "status",
//! "more_info"}` with the HTTP status.

use crate::answer;
use gatehouse_domain::settings::SmsSettings;
use gatehouse_domain::sms::{OutgoingSms, SmsError};
use serde_json::Value;

/// Twilio error codes of a `400` that are this server's configuration, not the recipient: the
/// sender (`From`) is not valid or not owned by the account. Every other `400` (21211 invalid
/// `To`, 21614 not a mobile number, 21610 unsubscribed, 21408 region not enabled …) is about the
/// number. <https://www.twilio.com/docs/api/errors>
const CONFIGURATION_CODES: [i64; 4] = [21212, 21606, 21659, 21660];

pub(crate) async fn send(
    http: &reqwest::Client,
    settings: &SmsSettings,
    sms: &OutgoingSms,
) -> Result<(), SmsError> {
    let t = &settings.twilio;
    let mut url = url::Url::parse(&t.base_url)
        .map_err(|_| SmsError::Unavailable("the Twilio base URL is not valid".to_owned()))?;
    url.path_segments_mut()
        .map_err(|_| SmsError::Unavailable("the Twilio base URL is not valid".to_owned()))?
        .pop_if_empty()
        .extend(["2010-04-01", "Accounts", &t.account_sid, "Messages.json"]);
    let form = [
        ("To", sms.to.as_str()),
        ("From", settings.from.as_str()),
        ("Body", sms.message.as_str()),
    ];
    let sent = http
        .post(url)
        .basic_auth(&t.account_sid, Some(&t.auth_token))
        .form(&form)
        .send()
        .await;
    let (status, body) = answer::read("Twilio", sent).await?;
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let code = json
        .as_ref()
        .and_then(|j| j.get("code"))
        .and_then(Value::as_i64);
    let detail = match code {
        Some(code) => format!("Twilio answered HTTP {status}, error {code}"),
        None => format!("Twilio answered HTTP {status}"),
    };
    match status {
        200..=299 if json.as_ref().and_then(|j| j.get("sid")).is_some() => Ok(()),
        200..=299 => Err(SmsError::Unavailable(format!(
            "{detail} without a message resource"
        ))),
        401 | 403 => Err(SmsError::Unavailable(format!("{detail}: bad credentials"))),
        400 => match code {
            Some(code) if !CONFIGURATION_CODES.contains(&code) => Err(SmsError::Rejected(detail)),
            _ => Err(SmsError::Unavailable(detail)),
        },
        _ => Err(SmsError::Unavailable(detail)),
    }
}
