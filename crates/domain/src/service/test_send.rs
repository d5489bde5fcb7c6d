//! "Does my configuration work?": a superuser sends a test mail
//! (`POST /api/settings/test/email`, PocketBase's) or a test text message
//! (`POST /api/settings/test/sms`, Gatehouse's own) with the saved settings. Both wait for the
//! transport, so the answer says whether it worked; a failure is a 400 whose message names what
//! went wrong in fixed words (the transport's own error, which may quote a server's reply, stays
//! in the log).

use super::audit::{Event, kinds};
use super::mailing::{check_address, escape, mask_email};
use super::{Gatehouse, require_superuser};
use crate::access::{Caller, RequestInfo};
use crate::clock::format_datetime;
use crate::collection::options::EmailTemplate;
use crate::collection::{Collection, SUPERUSERS_ID};
use crate::error::{Error, FieldErrors, Result, codes};
use crate::factor_codes::phone;
use crate::mail::failure_summary;
use crate::record::Record;
use crate::sms::{OutgoingSms, SmsError};
use gatehouse_store::RecordRow;
use serde::Deserialize;
use serde_json::json;

/// PocketBase's answer to any refused test mail (the data or the message says why).
const MAIL_FAILED: &str = "Failed to send the test email.";
/// What `{TOKEN}` becomes in a test mail: never a working token.
const TEST_TOKEN: &str = "_GATEHOUSE_TEST_TOKEN_";
/// PocketBase's stand-ins for the OTP mail.
const TEST_OTP_ID: &str = "_PB_TEST_OTP_ID_";
const TEST_OTP: &str = "123456";

/// The body of `POST /api/settings/test/email`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TestEmail {
    pub email: String,
    pub template: String,
    /// An auth collection's name or id; empty: `_superusers` (as in PocketBase).
    pub collection: String,
}

/// The body of `POST /api/settings/test/sms`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TestSms {
    pub phone: String,
}

/// The templates a test mail can use: PocketBase's five, and Gatehouse's security alert.
const TEMPLATES: [&str; 6] = [
    "verification",
    "password-reset",
    "email-change",
    "otp",
    "login-alert",
    "security-alert",
];

impl Gatehouse {
    /// `POST /api/settings/test/email` → 204 once the mail went out (or, with SMTP off, was
    /// written to the mail folder).
    pub async fn send_test_email(
        &self,
        caller: Option<&Caller>,
        body: TestEmail,
        request: &RequestInfo,
    ) -> Result<()> {
        require_superuser(caller)?;
        let to = body.email.trim();
        let mut errors = FieldErrors::default();
        check_address(&mut errors, "email", to);
        if body.template.is_empty() {
            errors.add_code("template", codes::REQUIRED);
        } else if !TEMPLATES.contains(&body.template.as_str()) {
            errors.add_code("template", codes::IN_INVALID);
        }
        let collection = self.test_collection(&body.collection, &mut errors).await?;
        errors.into_result(MAIL_FAILED)?;
        let Some(c) = collection else {
            return Err(Error::bad_request(MAIL_FAILED));
        };

        let settings = self.current_settings().await?;
        let record = stand_in_record(&c, to);
        let alert_info = escape(&format!(
            "{} - {} {}",
            format_datetime(self.clock.now_millis()),
            request.ip,
            request
                .headers
                .get("user_agent")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
        ));
        let (template, extra) = template_of(&c, &body.template, &alert_info);
        let mail = self.render_mail(&settings, &c, &record, to, template, &extra);
        if let Err(e) = self.mailer.send(&settings.smtp, &mail).await {
            tracing::warn!(error = %e, "the test mail was not sent");
            return Err(Error::bad_request(format!(
                "Failed to send the test email: {}.",
                failure_summary(&e)
            )));
        }
        let data = json!({"channel": "email", "template": body.template, "sentTo": mask_email(to)});
        self.audit(test_event(caller, data), request).await
    }

    /// `POST /api/settings/test/sms` → 204 once the provider took the message. SMS must be on;
    /// the number is checked like an enrolled phone and counts against the number's and the
    /// server's caps, so a stolen superuser token cannot run up a bill either.
    pub async fn send_test_sms(
        &self,
        caller: Option<&Caller>,
        body: TestSms,
        request: &RequestInfo,
    ) -> Result<()> {
        require_superuser(caller)?;
        let settings = self.current_settings().await?;
        if !settings.sms.enabled {
            return Err(Error::bad_request(
                "Text messages are off: turn on settings.sms and choose a provider first.",
            ));
        }
        let to = self.checked_phone(&body.phone).await?;
        self.count_test_sms_caps(&to).await?;
        let sms = OutgoingSms {
            to: to.clone(),
            message: format!("This is a test message from {}.", settings.meta.app_name),
            kind: "test",
        };
        if let Err(e) = self.sms_transport().send(&settings.sms, &sms).await {
            tracing::warn!(error = %e, "the test text message was not sent");
            // The detail names the provider's status or error code, never a credential.
            return Err(Error::bad_request(match e {
                SmsError::Rejected(detail) => {
                    format!("The SMS provider refused the test message ({detail}).")
                }
                SmsError::Unavailable(detail) => {
                    format!("The SMS provider could not send the test message ({detail}).")
                }
            }));
        }
        let sent_to = phone::parse(&to)
            .map(|p| phone::mask(&p.e164, p.country_code))
            .unwrap_or_default();
        let data = json!({"channel": "sms", "sentTo": sent_to});
        self.audit(test_event(caller, data), request).await
    }

    /// The auth collection a test mail is rendered for: `_superusers` unless named. An unknown
    /// or non-auth one is a field error.
    async fn test_collection(
        &self,
        name: &str,
        errors: &mut FieldErrors,
    ) -> Result<Option<std::sync::Arc<Collection>>> {
        let name = if name.is_empty() { SUPERUSERS_ID } else { name };
        if name.chars().count() > 255 {
            errors.length_out_of_range("collection", 1, 255);
            return Ok(None);
        }
        let found = self.collections.get(name).await?;
        match found {
            Some(c) if c.kind == "auth" => Ok(Some(c)),
            _ => {
                errors.add(
                    "collection",
                    "validation_invalid_auth_collection",
                    "Must be a valid auth collection id or name.",
                );
                Ok(None)
            }
        }
    }
}

/// The unsaved record a test mail is addressed to: only its email is set, so
/// `{RECORD:email}` shows the address and every other field is empty.
fn stand_in_record(c: &Collection, email: &str) -> Record {
    Record::from_row(RecordRow {
        id: String::new(),
        collection_id: c.id.clone(),
        email: email.to_owned(),
        email_visibility: false,
        verified: false,
        password_hash: String::new(),
        token_key: String::new(),
        data: "{}".to_owned(),
        created: String::new(),
        updated: String::new(),
    })
}

/// The template named `name` and its placeholders, filled with stand-ins.
fn template_of<'a>(
    c: &'a Collection,
    name: &str,
    alert_info: &'a str,
) -> (&'a EmailTemplate, Vec<(&'static str, &'a str)>) {
    match name {
        "password-reset" => (&c.reset_password_template, vec![("{TOKEN}", TEST_TOKEN)]),
        "email-change" => (
            &c.confirm_email_change_template,
            vec![("{TOKEN}", TEST_TOKEN)],
        ),
        "otp" => (
            &c.otp.email_template,
            vec![("{OTP}", TEST_OTP), ("{OTP_ID}", TEST_OTP_ID)],
        ),
        "login-alert" => (
            &c.auth_alert.email_template,
            vec![("{ALERT_INFO}", alert_info)],
        ),
        "security-alert" => (
            &c.security_alert_template,
            vec![("{ALERT_INFO}", alert_info)],
        ),
        _ => (&c.verification_template, vec![("{TOKEN}", TEST_TOKEN)]),
    }
}

/// The audit row of a test send: who sent it, and where it went (masked).
fn test_event(caller: Option<&Caller>, mut data: serde_json::Value) -> Event<'static> {
    data["by"] = json!(caller.map(|c| c.record.id().to_owned()).unwrap_or_default());
    Event {
        kind: kinds::SETTINGS_TESTED,
        collection_id: "",
        record_id: "",
        method: "",
        data,
    }
}
