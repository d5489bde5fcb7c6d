//! Codes by SMS to a verified phone: enrolled by proving the phone receives one (`…/mfa/sms`,
//! then `…/mfa/sms/confirm`), used as a second step through `request-sms-otp` and PocketBase's
//! `auth-with-otp` (the code's ticket says it went by SMS). Every message first passes the
//! toll-fraud caps (per number, per record, per day across the server, allowed countries); over
//! a cap nothing is sent. A provider failure leaves no usable code behind.

use super::super::Gatehouse;
use super::super::audit::{Event, kinds};
use super::super::mfa::MFA_TICKET;
use super::super::otp::OTP_TICKET;
use super::super::second_step::INVALID_SESSION;
use super::super::ticket_data::{OtpData, TicketData};
use super::access::{Need, Reauth};
use super::possession::Enrolment;
use super::{PENDING, SecondFactor, backup_codes_answer, check_fields, disabled};
use crate::access::{Caller, RequestInfo};
use crate::collection::Collection;
use crate::error::{Error, FieldErrors, Result};
use crate::factor_codes::phone::{self, PhoneError};
use crate::random;
use crate::record::Record;
use crate::sms::{OutgoingSms, SmsError};
use async_trait::async_trait;
use gatehouse_store::{FactorRow, StoreError, TicketKey, TicketRow};
use serde::Deserialize;
use serde_json::{Value, json};

pub(in crate::service) const METHOD: &str = "sms";
/// Enrolment codes: a ticket kind of their own, so they never log anyone in.
const ENROL_TICKET: &str = "factor-sms";
const HASH_PURPOSE: &str = "otp";
/// As for email codes: past this many live codes the newest is answered again.
const MAX_LIVE: usize = 10;
const HOUR_MS: i64 = 3600 * 1000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Cap counters are never evicted (they are not rate-limit buckets).
const CAP_PREFIX: &str = "sms-cap:";
const CAPPED: &str = "Too many text messages were sent, please try again later.";

pub(super) struct Sms;

/// The body of `POST …/mfa/sms`. No `Debug`: it may hold a password.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SmsEnrolment {
    pub phone: String,
    #[serde(flatten)]
    pub reauth: Reauth,
}

#[async_trait]
impl SecondFactor for Sms {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn offered(&self, c: &Collection) -> bool {
        c.sms.enabled
    }

    fn opts_in(&self) -> bool {
        true
    }

    async fn challenge_entry(
        &self,
        _: &Gatehouse,
        _: &Record,
        factors: &[FactorRow],
    ) -> Result<Option<Value>> {
        Ok(super::verified(factors, METHOD)
            .map(|f| json!({"type": METHOD, "sentTo": masked(&f.target)})))
    }

    /// SMS codes are checked by `auth-with-otp` (they are sent first), never here.
    fn verify(
        &self,
        _: &Gatehouse,
        _: &Record,
        _: &[FactorRow],
        _: &str,
    ) -> Result<Option<super::spending::Spending>> {
        Ok(None)
    }
}

impl Gatehouse {
    /// `POST …/records/{id}/mfa/sms` `{"phone"}` → `{"otpId"}`: a code to the phone, which
    /// becomes a factor once the code comes back.
    pub async fn enrol_sms(
        &self,
        collection: &str,
        id: &str,
        body: SmsEnrolment,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<Value> {
        let owner = self
            .factor_owner(collection, id, caller, request, Need::Enrol)
            .await?;
        let c = owner.collection.clone();
        if !c.sms.enabled {
            return Err(disabled(METHOD));
        }
        let phone = self.checked_phone(&body.phone).await?;
        self.require_recent(&owner, &body.reauth, request).await?;
        let record = &owner.record;
        let factor = FactorRow {
            id: random::record_id(),
            collection_id: c.id.clone(),
            record_id: record.id().to_owned(),
            kind: METHOD.to_owned(),
            status: PENDING.to_owned(),
            secret: String::new(),
            target: phone.clone(),
            data: "{}".to_owned(),
            created: self.now(),
            last_used: String::new(),
            last_step: 0,
        };
        match self.store.put_pending_factor(&factor, &[]).await {
            Ok(()) => {}
            Err(StoreError::Unique { .. }) => {
                return Err(Error::bad_request(
                    "A phone is already set up; remove it first.",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let otp_id = self
            .send_sms_code(&c, record, &phone, (ENROL_TICKET, ""), request)
            .await?;
        Ok(json!({ "otpId": otp_id }))
    }

    /// `POST …/records/{id}/mfa/sms/confirm` `{"otpId", "code"}` → `{"backupCodes"}` (a fresh
    /// set when this is the record's first factor, else `[]`).
    pub async fn confirm_sms(
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
        if !c.sms.enabled {
            return Err(disabled(METHOD));
        }
        let enrolment = Enrolment {
            factor: METHOD,
            ticket: ENROL_TICKET,
            hash_purpose: HASH_PURPOSE,
            added: "A phone for sign-in codes was added.",
        };
        let codes = self
            .confirm_possession(&c, &owner.record, &enrolment, (otp_id, code), request)
            .await?;
        Ok(backup_codes_answer(&codes))
    }

    /// `DELETE …/records/{id}/mfa/sms`.
    pub async fn remove_sms(
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

    /// `POST /api/collections/{c}/request-sms-otp` `{"mfaId"}` → `{"otpId"}`: a code to the
    /// verified phone of the session's record, for `auth-with-otp`.
    pub async fn request_sms_otp(
        &self,
        collection: &str,
        mfa_id: &str,
        request: &RequestInfo,
    ) -> Result<Value> {
        let c = self.auth_collection(collection).await?;
        if !c.sms.enabled {
            return Err(disabled(METHOD));
        }
        let mfa_id = super::super::mfa::mfa_id_of(request, mfa_id).to_owned();
        check_fields(&[("mfaId", &mfa_id, 255)])?;
        let now = self.clock.now_millis();
        let session = self
            .store
            .find_ticket(&mfa_id, MFA_TICKET, now)
            .await?
            .filter(|s| s.collection_id == c.id)
            .ok_or_else(|| Error::bad_request(INVALID_SESSION))?;
        let row = self
            .store
            .find_record(&c.id, &session.record_id)
            .await?
            .ok_or_else(|| Error::bad_request(INVALID_SESSION))?;
        let record = Record::from_row(row);
        let factors = self.store.list_factors(record.id()).await?;
        let phone = super::verified(&factors, METHOD)
            .map(|f| f.target.clone())
            .ok_or_else(|| Error::bad_request("No phone is set up for this account."))?;
        let live = self
            .store
            .live_tickets(record.id(), OTP_TICKET, now)
            .await?;
        // Only a code of this session can be answered again: another session's, or an
        // email code, would never complete this one.
        if live.len() >= MAX_LIVE
            && let Some(newest) = live.iter().find(|t| {
                let data = OtpData::of(t);
                data.channel == "sms" && data.mfa_id == mfa_id
            })
        {
            return Ok(json!({"otpId": newest.id}));
        }
        let otp_id = self
            .send_sms_code(&c, &record, &phone, (OTP_TICKET, &mfa_id), request)
            .await?;
        Ok(json!({ "otpId": otp_id }))
    }

    /// Stamps the record's SMS factor as used (a login completed with it).
    pub(in crate::service) async fn touch_sms_factor(&self, record_id: &str) -> Result<()> {
        let factors = self.store.list_factors(record_id).await?;
        if let Some(f) = super::verified(&factors, METHOD) {
            self.store.touch_factor(&f.id, &self.now()).await?;
        }
        Ok(())
    }

    /// A valid phone the settings allow: 400 with a field error otherwise.
    pub(in crate::service) async fn checked_phone(&self, input: &str) -> Result<String> {
        let mut errors = FieldErrors::default();
        let parsed = match phone::parse(input) {
            Ok(p) => Some(p),
            Err(PhoneError::NotE164) if input.trim().is_empty() => {
                errors.add_code("phone", crate::error::codes::REQUIRED);
                None
            }
            Err(PhoneError::NotE164) => {
                errors.add(
                    "phone",
                    "validation_invalid_phone",
                    "Must be a phone number in international format, e.g. +14155552671.",
                );
                None
            }
            Err(PhoneError::Invalid) => {
                errors.add(
                    "phone",
                    "validation_invalid_phone",
                    "Must be a valid phone number.",
                );
                None
            }
        };
        if let Some(p) = &parsed
            && !self.country_allowed(&p.e164).await?
        {
            errors.add(
                "phone",
                "validation_phone_country",
                "Phone numbers of this country are not accepted.",
            );
        }
        errors.into_result("An error occurred while validating the submitted data.")?;
        Ok(parsed.map(|p| p.e164).unwrap_or_default())
    }

    async fn country_allowed(&self, e164: &str) -> Result<bool> {
        Ok(self.current_settings().await?.sms.country_allowed(e164))
    }

    /// Sends a new code to `phone` as a ticket of `kind` (a login code: for MFA session
    /// `mfa_id`, which alone it may complete) and answers its id. The caps are
    /// counted first (over one: 429, an audit row, nothing sent); a provider failure withdraws
    /// the code and answers 400 (the provider refused the number) or 502.
    async fn send_sms_code(
        &self,
        c: &Collection,
        record: &Record,
        phone: &str,
        (kind, mfa_id): (&str, &str),
        request: &RequestInfo,
    ) -> Result<String> {
        let parsed = phone::parse(phone)
            .map_err(|_| Error::bad_request("The phone number is not valid."))?;
        if !self.country_allowed(&parsed.e164).await? {
            return Err(Error::bad_request(
                "Phone numbers of this country are not accepted.",
            ));
        }
        self.count_sms_caps(c, record, phone, request).await?;
        let now = self.clock.now_millis();
        let otp_id = random::record_id();
        let length = usize::try_from(c.sms.length).unwrap_or(6);
        let code = random::string_from(b"0123456789", length);
        let event = Event {
            kind: kinds::OTP_REQUESTED,
            collection_id: &c.id,
            record_id: record.id(),
            method: METHOD,
            // The number parsed above gives the mask: libphonenumber's parse is the costly part.
            data: json!({"channel": "sms", "sentTo": phone::mask(&parsed.e164, parsed.country_code)}),
        };
        let events = [self.audit_row(event, request)];
        let ticket = TicketRow {
            id: otp_id.clone(),
            kind: kind.to_owned(),
            collection_id: c.id.clone(),
            record_id: record.id().to_owned(),
            secret_hash: self.key.hash(HASH_PURPOSE, &format!("{otp_id}:{code}")),
            data: OtpData {
                channel: "sms".to_owned(),
                sent_to: phone.to_owned(),
                mfa_id: mfa_id.to_owned(),
            }
            .to_data(),
            created_ms: now,
            expires_ms: now + c.sms.duration.saturating_mul(1000),
            failures: 0,
        };
        self.store.insert_ticket(&ticket, &events).await?;
        let settings = self.current_settings().await?;
        let message = c
            .sms
            .template
            .replace("{APP_NAME}", &settings.meta.app_name)
            .replace("{OTP}", &code);
        let sms = OutgoingSms {
            to: phone.to_owned(),
            message,
            kind: "otp",
        };
        if let Err(e) = self.sms_transport().send(&settings.sms, &sms).await {
            // A code that could not be delivered must not stay usable.
            let key = TicketKey {
                id: &otp_id,
                kind,
                record_id: record.id(),
            };
            self.store.delete_ticket(key).await?;
            tracing::warn!(record = record.id(), error = %e, "an SMS could not be sent");
            return Err(match e {
                SmsError::Rejected(_) => {
                    Error::bad_request("The SMS provider refused to send to this number.")
                }
                SmsError::Unavailable(_) => Error::bad_gateway(
                    "The SMS provider could not be reached, please try again later.",
                ),
            });
        }
        Ok(otp_id)
    }

    /// Counts a superuser's test message against the number's and the server's caps (it is no
    /// record's): over either, 429 and nothing is counted or sent.
    pub(in crate::service) async fn count_test_sms_caps(&self, phone: &str) -> Result<()> {
        match self.hit_sms_caps(phone, None).await? {
            None => Ok(()),
            Some(_) => Err(Error::too_many_requests(CAPPED)),
        }
    }

    /// Counts one message against every cap; over any of them, 429 and the message is not
    /// counted (nor sent). On PostgreSQL the counters are shared by every instance.
    async fn count_sms_caps(
        &self,
        c: &Collection,
        record: &Record,
        phone: &str,
        request: &RequestInfo,
    ) -> Result<()> {
        let Some(cap) = self.hit_sms_caps(phone, Some(record.id())).await? else {
            return Ok(());
        };
        let event = Event {
            kind: kinds::SMS_CAPPED,
            collection_id: &c.id,
            record_id: record.id(),
            method: METHOD,
            data: json!({"cap": cap, "sentTo": masked(phone)}),
        };
        self.audit(event, request).await?;
        Err(Error::too_many_requests(CAPPED))
    }

    /// Counts one message to `phone` (for `record_id`, if any) against the caps; the first cap
    /// it goes over, in which case nothing stays counted.
    async fn hit_sms_caps(
        &self,
        phone: &str,
        record_id: Option<&str>,
    ) -> Result<Option<&'static str>> {
        let caps = self.current_settings().await?.sms.caps.clone();
        let now = self.clock.now_millis();
        let number = self.key.hash("sms-cap-number", phone);
        let mut counters = vec![(
            format!("{CAP_PREFIX}n:{number}"),
            HOUR_MS,
            caps.per_number_per_hour,
            "number",
        )];
        if let Some(id) = record_id {
            counters.push((
                format!("{CAP_PREFIX}r:{id}"),
                DAY_MS,
                caps.per_record_per_day,
                "record",
            ));
        }
        counters.push((format!("{CAP_PREFIX}day"), DAY_MS, caps.per_day, "server"));
        // A cap of 0 is off.
        let counted: Vec<_> = counters
            .iter()
            .filter(|(.., limit, _)| *limit > 0)
            .collect();
        let mut over = None;
        for (key, window, limit, name) in &counted {
            if self.store.counter_hit(key, now, *window).await? > *limit {
                over.get_or_insert(*name);
            }
        }
        if over.is_some() {
            for (key, ..) in &counted {
                self.store.counter_unhit(key, now).await?;
            }
        }
        Ok(over)
    }
}

/// A stored E.164 number as shown to anyone: the country code and the last two digits.
pub(in crate::service) fn masked(e164: &str) -> String {
    match phone::parse(e164) {
        Ok(p) => phone::mask(&p.e164, p.country_code),
        Err(_) => "+** *** ***".to_owned(),
    }
}
