//! Email one-time codes: `request-otp` and `auth-with-otp`, with PocketBase's answers and
//! stricter insides. A code is stored only as a keyed hash, dies after 5 wrong tries, and is
//! consumed by one conditional delete (of concurrent uses exactly one wins). An unknown email
//! gets the same answer after the same work: a decoy that no code can ever match.

use super::Gatehouse;
use super::audit::{Event, kinds};
use super::auth::{AuthResponse, Proof};
use super::mailing::{check_address, mask_email};
use super::mfa::mfa_id_of;
use super::otp_limits::INVALID;
use super::ticket_data::{OtpData, TicketData};
use crate::access::{Caller, RequestInfo};
use crate::collection::Collection;
use crate::error::{Error, FieldErrors, Result, codes};
use crate::random;
use crate::record::Record;
use gatehouse_store::{TicketKey, TicketRow};
use serde::Deserialize;
use serde_json::{Value, json};

pub(crate) const OTP_TICKET: &str = "otp";
const HASH_PURPOSE: &str = "otp";
/// PocketBase: at most 10 live codes per record; past that the newest id is answered again.
const MAX_LIVE: usize = 10;

/// Marks the owner of a decoy code (see `decoy_owner`).
const DECOY_PREFIX: &str = "decoy:";

const DISABLED: &str = "The collection is not configured to allow OTP authentication.";
const SMS_DISABLED: &str = "The collection is not configured to allow SMS authentication.";

/// The body of `auth-with-otp`. No `Debug`: it holds the code.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OtpLogin {
    pub otp_id: String,
    pub password: String,
    pub mfa_id: String,
    /// With a second step: trust this device (`meta.deviceToken`).
    pub trust_device: bool,
}

impl Gatehouse {
    /// `POST /api/collections/{c}/request-otp` → `{"otpId"}`. With the `mfaId` of a live MFA
    /// session, `email` may also be the verified alternate address (an `email` factor) of that
    /// session's record: the code goes there.
    pub async fn request_otp(
        &self,
        collection: &str,
        email: &str,
        mfa_id: &str,
        request: &RequestInfo,
    ) -> Result<Value> {
        let c = self.auth_collection(collection).await?;
        if !c.otp.enabled {
            return Err(Error::forbidden(DISABLED));
        }
        let email = email.trim();
        let mut errors = FieldErrors::default();
        check_address(&mut errors, "email", email);
        errors.into_result("An error occurred while validating the submitted data.")?;

        let now = self.clock.now_millis();
        // Where the code goes: the MFA session's record when `email` is its alternate
        // address, else the record whose address it is (as stored).
        let (record, to) = match self.alternate_address_owner(&c, mfa_id, email).await? {
            Some(record) => (Some(record), email.to_owned()),
            None => match self.store.find_record_by_email(&c.id, email).await? {
                Some(row) => {
                    let to = row.email.clone();
                    (Some(Record::from_row(row)), to)
                }
                None => (None, String::new()),
            },
        };
        let owner = match &record {
            Some(r) => r.id().to_owned(),
            None => self.decoy_owner(&c, email),
        };
        let live = self.store.live_tickets(&owner, OTP_TICKET, now).await?;
        if live.len() >= MAX_LIVE
            && let Some(newest) = live.first()
        {
            return Ok(json!({"otpId": newest.id}));
        }
        let id = random::record_id();
        let code = random::string_from(b"0123456789", usize::try_from(c.otp.length).unwrap_or(8));
        // Unknown emails get a decoy row: the same work and the same later answers, no mail.
        let hash = match &record {
            Some(_) => self.key.hash(HASH_PURPOSE, &format!("{id}:{code}")),
            None => self.key.hash(HASH_PURPOSE, &random::secret()),
        };
        let event = Event {
            kind: kinds::OTP_REQUESTED,
            collection_id: &c.id,
            record_id: account_of(&owner),
            method: "otp",
            data: json!({"channel": "email", "sentTo": mask_email(email)}),
        };
        let events = [self.audit_row(event, request)];
        let ticket = TicketRow {
            id: id.clone(),
            kind: OTP_TICKET.to_owned(),
            collection_id: c.id.clone(),
            record_id: owner.clone(),
            secret_hash: hash,
            data: OtpData {
                channel: "email".to_owned(),
                sent_to: to.clone(),
                mfa_id: String::new(),
            }
            .to_data(),
            created_ms: now,
            expires_ms: now + c.otp.duration.saturating_mul(1000),
            failures: 0,
        };
        self.store.insert_ticket(&ticket, &events).await?;
        if let Some(record) = record {
            let settings = self.current_settings().await?;
            let mail = self.render_mail(
                &settings,
                &c,
                &record,
                &to,
                &c.otp.email_template,
                &[("{OTP}", &code), ("{OTP_ID}", &id)],
            );
            // A code that could not be delivered must not stay usable.
            let store = self.store.clone();
            let ticket = id.clone();
            self.send_in_background(settings.smtp.clone(), mail, async move {
                let key = TicketKey {
                    id: &ticket,
                    kind: OTP_TICKET,
                    record_id: &owner,
                };
                if let Err(e) = store.delete_ticket(key).await {
                    tracing::error!(error = %e, "withdrawing an undelivered OTP failed");
                }
            });
        }
        Ok(json!({"otpId": id}))
    }

    /// `POST /api/collections/{c}/auth-with-otp`.
    pub async fn auth_with_otp(
        &self,
        collection: &str,
        login: OtpLogin,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<AuthResponse> {
        let c = self.auth_collection(collection).await?;
        if !c.otp.enabled && !c.sms.enabled {
            return Err(Error::forbidden(DISABLED));
        }
        let mut errors = FieldErrors::default();
        for (name, value, max) in [
            ("otpId", &login.otp_id, 255),
            ("password", &login.password, 71),
        ] {
            if value.is_empty() {
                errors.add_code(name, codes::REQUIRED);
            } else if value.chars().count() > max {
                errors.length_out_of_range(name, 1, max);
            }
        }
        errors.into_result("An error occurred while validating the submitted data.")?;

        let now = self.clock.now_millis();
        let mfa_id = mfa_id_of(request, &login.mfa_id);
        let ticket = self
            .store
            .find_ticket(&login.otp_id, OTP_TICKET, now)
            .await?
            .filter(|t| t.collection_id == c.id)
            .ok_or_else(|| Error::bad_request(INVALID))?;
        // The channel decides which option governs the code (MFA design §9).
        let sms = OtpData::of(&ticket).channel == "sms";
        match sms {
            true if !c.sms.enabled => return Err(Error::forbidden(SMS_DISABLED)),
            false if !c.otp.enabled => return Err(Error::forbidden(DISABLED)),
            _ => {}
        }
        self.count_otp_attempt(&ticket.record_id, &request.ip)
            .await?;
        // An SMS code is only ever a second step, of the session it was sent for.
        let sent_for = OtpData::of(&ticket).mfa_id;
        let sms_step = match sms {
            true => match self.open_second_step(&c, mfa_id, "sms").await? {
                step if step.record.id() == ticket.record_id && step.session.id == sent_for => {
                    Some(step)
                }
                _ => return Err(Error::bad_request(INVALID)),
            },
            false => None,
        };
        if !mfa_id.is_empty() {
            self.check_record_lock(&ticket.record_id).await?;
        }
        let key = TicketKey {
            id: &login.otp_id,
            kind: OTP_TICKET,
            record_id: &ticket.record_id,
        };
        self.reserve_code_attempt(key).await?;
        let matched = self.key.verify(
            HASH_PURPOSE,
            &format!("{}:{}", login.otp_id, login.password),
            &ticket.secret_hash,
        );
        // The conditional delete is the consume: of concurrent right guesses one wins. The
        // stored hash is named (it may be under an older server key, which `verify` accepts).
        let consumed = match matched {
            true => {
                self.store
                    .consume_ticket(key, &ticket.secret_hash, self.otp_limits().per_code, now)
                    .await?
            }
            false => None,
        };
        let record = match consumed {
            Some(_) => self.store.find_record(&c.id, &ticket.record_id).await?,
            None => None,
        };
        let Some(row) = record else {
            if !matched {
                self.second_step_failed(mfa_id, &ticket.record_id).await?;
            }
            let event = Event {
                kind: kinds::LOGIN_FAILURE,
                collection_id: &c.id,
                record_id: account_of(&ticket.record_id),
                method: "otp",
                data: json!({}),
            };
            self.audit(event, request).await?;
            return Err(Error::bad_request(INVALID));
        };
        if let Some(step) = sms_step {
            return self
                .finish_sms_step(&c, step, login.trust_device, request)
                .await;
        }
        let record = self
            .verify_by_otp(&c, Record::from_row(row), &ticket)
            .await?;
        let proof = Proof {
            amr: vec!["otp".to_owned()],
            aal: 1,
            auth_time: self.clock.now_secs(),
        };
        let record_id = record.id().to_owned();
        let answer = self
            .auth_response(
                &c,
                record,
                caller,
                proof,
                (mfa_id, login.trust_device),
                request,
            )
            .await;
        self.audit_login(&c, &record_id, "otp", &answer, request)
            .await?;
        answer
    }

    /// The end of an SMS second step whose code was right and consumed.
    async fn finish_sms_step(
        &self,
        c: &std::sync::Arc<Collection>,
        step: super::second_step::OpenStep,
        trust_device: bool,
        request: &RequestInfo,
    ) -> Result<AuthResponse> {
        let record_id = step.record.id().to_owned();
        let answer = async {
            self.check_superuser_ip(&c.id, &request.ip).await?;
            let context = format!("{},sms", step.first);
            self.check_auth_rule(c, &step.record, None, &context, request)?;
            let proof = self
                .close_second_step(c, &step, "sms", true, request)
                .await?;
            self.touch_sms_factor(&record_id).await?;
            let device = match trust_device {
                true => self.trust_device(c, &step.record, request).await?,
                false => None,
            };
            let mut answer = self.finish_login(c, step.record, &proof, request).await?;
            super::factors::add_device_token(&mut answer, device);
            Ok(answer)
        }
        .await;
        self.audit_login(c, &record_id, "sms", &answer, request)
            .await?;
        answer
    }

    /// The record of live MFA session `mfa_id` if `email` is its verified alternate address.
    async fn alternate_address_owner(
        &self,
        c: &Collection,
        mfa_id: &str,
        email: &str,
    ) -> Result<Option<Record>> {
        if mfa_id.is_empty() {
            return Ok(None);
        }
        let now = self.clock.now_millis();
        let Some(session) = self
            .store
            .find_ticket(mfa_id, super::mfa::MFA_TICKET, now)
            .await?
            .filter(|s| s.collection_id == c.id)
        else {
            return Ok(None);
        };
        let factors = self.store.list_factors(&session.record_id).await?;
        let holds = factors.iter().any(|f| {
            f.kind == "email" && f.status == "verified" && f.target.eq_ignore_ascii_case(email)
        });
        if !holds {
            return Ok(None);
        }
        Ok(self
            .store
            .find_record(&c.id, &session.record_id)
            .await?
            .map(Record::from_row))
    }

    /// The stand-in owner of the codes asked for an address with no account: derived from the
    /// address, so that its codes are counted, guarded and capped exactly like a record's (the
    /// answers then cannot tell the two apart). The `:` keeps it from ever being a record id.
    fn decoy_owner(&self, c: &Collection, email: &str) -> String {
        let address = format!("{}|{}", c.id, email.to_lowercase());
        format!("{DECOY_PREFIX}{}", self.key.hash("otp-decoy", &address))
    }

    /// A code that reached the record's current address proves the address: an unverified record
    /// becomes verified, and (as in PocketBase, when MFA is off) gets a random password so that
    /// whoever pre-registered the address cannot keep a way in.
    async fn verify_by_otp(
        &self,
        c: &Collection,
        mut record: Record,
        ticket: &TicketRow,
    ) -> Result<Record> {
        let sent_to = OtpData::of(ticket).sent_to;
        if record.row.verified || sent_to.is_empty() || sent_to != record.row.email {
            return Ok(record);
        }
        let before = record.clone();
        record.row.verified = true;
        let new_password = !c.mfa.enabled;
        if new_password {
            record.row.password_hash = self
                .passwords
                .hash(&crate::password::Password(random::password()))
                .await?;
            record.row.token_key = random::secret();
        }
        record.row.updated = self.now();
        match self.save_changes(&before, &record, &[]).await {
            Ok(()) => {}
            // Deleted, or given new credentials, since the code was checked: no login on it.
            Err(gatehouse_store::StoreError::NotFound | gatehouse_store::StoreError::Stale) => {
                return Err(Error::bad_request(INVALID));
            }
            Err(e) => return Err(e.into()),
        }
        if new_password {
            // Codes and sessions issued under the squatter's password end with it.
            self.forget_credentials(record.id(), true).await?;
        }
        Ok(record)
    }
}

/// The record a ticket owner names, for the audit log: none for a decoy.
fn account_of(owner: &str) -> &str {
    if owner.starts_with(DECOY_PREFIX) {
        ""
    } else {
        owner
    }
}
