//! An alternate email address for codes: enrolled by proving it receives one (`…/mfa/email`
//! sends a code, `…/mfa/email/confirm` checks it). The code is a ticket of its own kind, so it
//! can never log anyone in; it has the email OTP's guards (5 tries, keyed hash, one consume).

use super::super::Gatehouse;
use super::super::mailing::check_address;
use super::super::ticket_data::{OtpData, TicketData};
use super::access::{Need, Reauth};
use super::possession::Enrolment;
use super::{PENDING, disabled};
use crate::access::{Caller, RequestInfo};
use crate::error::{Error, FieldErrors, Result};
use crate::random;
use gatehouse_store::{FactorRow, StoreError, TicketRow};
use serde::Deserialize;
use serde_json::{Value, json};

const METHOD: &str = "email";
const TICKET: &str = "factor-email";
const HASH_PURPOSE: &str = "factor-email";

/// The body of `POST …/mfa/email`: the address (default: the record's own). No `Debug`.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EmailEnrolment {
    pub email: String,
    #[serde(flatten)]
    pub reauth: Reauth,
}

impl Gatehouse {
    /// `POST …/records/{id}/mfa/email` → `{"otpId"}`: a code to the address, which becomes a
    /// factor once the code comes back.
    pub async fn enrol_email(
        &self,
        collection: &str,
        id: &str,
        body: EmailEnrolment,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<Value> {
        let owner = self
            .factor_owner(collection, id, caller, request, Need::Enrol)
            .await?;
        let c = owner.collection.clone();
        if !c.otp.enabled {
            return Err(disabled(METHOD));
        }
        let record = &owner.record;
        let address = match body.email.trim() {
            "" => record.row.email.clone(),
            given => given.to_owned(),
        };
        let mut errors = FieldErrors::default();
        check_address(&mut errors, "email", &address);
        errors.into_result("An error occurred while validating the submitted data.")?;
        self.require_recent(&owner, &body.reauth, request).await?;
        let factor = FactorRow {
            id: random::record_id(),
            collection_id: c.id.clone(),
            record_id: record.id().to_owned(),
            kind: METHOD.to_owned(),
            status: PENDING.to_owned(),
            secret: String::new(),
            target: address.clone(),
            data: "{}".to_owned(),
            created: self.now(),
            last_used: String::new(),
            last_step: 0,
        };
        match self.store.put_pending_factor(&factor, &[]).await {
            Ok(()) => {}
            Err(StoreError::Unique { .. }) => {
                return Err(Error::bad_request(
                    "An email factor is already set up; remove it first.",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let now = self.clock.now_millis();
        let otp_id = random::record_id();
        let code = random::string_from(b"0123456789", usize::try_from(c.otp.length).unwrap_or(8));
        let ticket = TicketRow {
            id: otp_id.clone(),
            kind: TICKET.to_owned(),
            collection_id: c.id.clone(),
            record_id: record.id().to_owned(),
            secret_hash: self.key.hash(HASH_PURPOSE, &format!("{otp_id}:{code}")),
            data: OtpData {
                channel: "email".to_owned(),
                sent_to: address.clone(),
                mfa_id: String::new(),
            }
            .to_data(),
            created_ms: now,
            expires_ms: now + c.otp.duration.saturating_mul(1000),
            failures: 0,
        };
        self.store.insert_ticket(&ticket, &[]).await?;
        let settings = self.current_settings().await?;
        let mail = self.render_mail(
            &settings,
            &c,
            record,
            &address,
            &c.otp.email_template,
            &[("{OTP}", &code), ("{OTP_ID}", &otp_id)],
        );
        self.send_in_background(settings.smtp.clone(), mail, async {});
        Ok(json!({ "otpId": otp_id }))
    }

    /// `POST …/records/{id}/mfa/email/confirm` `{"otpId", "code"}` → `{}`.
    pub async fn confirm_email(
        &self,
        collection: &str,
        id: &str,
        otp_id: &str,
        code: &str,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<Value> {
        let owner = self
            .factor_owner(collection, id, caller, request, Need::Enrol)
            .await?;
        let c = owner.collection.clone();
        if !c.otp.enabled {
            return Err(disabled(METHOD));
        }
        let enrolment = Enrolment {
            factor: METHOD,
            ticket: TICKET,
            hash_purpose: HASH_PURPOSE,
            added: "An email address for sign-in codes was added.",
        };
        self.confirm_possession(&c, &owner.record, &enrolment, (otp_id, code), request)
            .await?;
        Ok(json!({}))
    }

    /// `DELETE …/records/{id}/mfa/email`.
    pub async fn remove_email_factor(
        &self,
        collection: &str,
        id: &str,
        reauth: Reauth,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<()> {
        self.remove_factor(collection, id, METHOD, reauth, caller, request)
            .await
    }
}
