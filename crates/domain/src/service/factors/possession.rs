//! The confirm of a factor that proves an address (an email factor, a phone): the code sent to
//! the address comes back. Shared so both get the same guards: a ticket kind of their own (an
//! enrolment code never logs anyone in), 5 attempts per code, a keyed hash checked under every
//! server key, one consume, and the pending factor verified only for the address the code went to.

use super::super::Gatehouse;
use super::super::second_step::INVALID_CODE;
use super::super::ticket_data::{OtpData, TicketData};
use super::{PENDING, check_fields};
use crate::access::RequestInfo;
use crate::collection::Collection;
use crate::error::{Error, ErrorKind, Result};
use crate::record::Record;
use gatehouse_store::TicketKey;

/// Which enrolment a confirm belongs to.
pub(super) struct Enrolment<'a> {
    /// The factor's kind (`email`, `sms`).
    pub(super) factor: &'a str,
    /// The kind of the enrolment code's ticket.
    pub(super) ticket: &'a str,
    /// What the code was hashed for.
    pub(super) hash_purpose: &'a str,
    /// The mail to the owner once it is verified.
    pub(super) added: &'a str,
}

impl Gatehouse {
    /// Checks the enrolment code `code` of ticket `otp_id` and verifies the pending factor it was
    /// sent for. Any failure is the same 400 (429 past the code's attempts); the fresh backup
    /// codes on success (empty when none were made).
    pub(super) async fn confirm_possession(
        &self,
        c: &Collection,
        record: &Record,
        enrolment: &Enrolment<'_>,
        (otp_id, code): (&str, &str),
        request: &RequestInfo,
    ) -> Result<Vec<String>> {
        check_fields(&[("otpId", otp_id, 255), ("code", code, 64)])?;
        let invalid = || Error::bad_request(INVALID_CODE);
        let key = TicketKey {
            id: otp_id,
            kind: enrolment.ticket,
            record_id: record.id(),
        };
        self.reserve_code_attempt(key)
            .await
            .map_err(|e| match e.kind {
                ErrorKind::TooManyRequests => e,
                _ => invalid(),
            })?;
        let now = self.clock.now_millis();
        let stored = self
            .store
            .find_ticket(otp_id, enrolment.ticket, now)
            .await?
            .filter(|t| t.record_id == record.id())
            .ok_or_else(invalid)?;
        let sent = format!("{otp_id}:{code}");
        if !self
            .key
            .verify(enrolment.hash_purpose, &sent, &stored.secret_hash)
        {
            return Err(invalid());
        }
        let ticket = self
            .store
            .consume_ticket(key, &stored.secret_hash, self.otp_limits().per_code, now)
            .await?
            .ok_or_else(invalid)?;
        let sent_to = OtpData::of(&ticket).sent_to;
        let factors = self.store.list_factors(record.id()).await?;
        let pending = factors
            .iter()
            .find(|f| f.kind == enrolment.factor && f.status == PENDING && f.target == sent_to)
            .ok_or_else(invalid)?;
        self.verify_pending_factor(c, record, pending, 0, enrolment.added, request)
            .await?
            .ok_or_else(invalid)
    }
}
