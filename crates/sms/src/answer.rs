//! What every provider's answer goes through: a size cap on the body (a misbehaving endpoint
//! cannot make the server buffer megabytes) and errors that name the failure without the URL,
//! which for some providers carries the account.

use gatehouse_domain::sms::SmsError;

/// More than any provider's answer to one message.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The status and (capped) body of a provider's answer.
pub(crate) async fn read(
    provider: &str,
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<(u16, Vec<u8>), SmsError> {
    let mut response = sent.map_err(|e| transport_error(provider, e))?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(provider, e))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(SmsError::Unavailable(format!(
                "{provider} answered HTTP {status} with an oversized body"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

fn transport_error(provider: &str, e: reqwest::Error) -> SmsError {
    let what = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not be reached".to_owned()
    } else {
        e.without_url().to_string()
    };
    SmsError::Unavailable(format!("{provider} {what}"))
}
