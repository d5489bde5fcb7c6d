//! The one path every second step of an MFA login takes, whatever checks its code: find the
//! live MFA session (`mfaId`) and its record, refuse while the record's second steps are
//! locked, then — after the method checked its code — count a failure (the session dies after 5,
//! the record's second steps lock after 10 within 15 minutes, the password step never) or
//! consume the session (of two concurrent second steps exactly one wins) and write the audit row.
//!
//! A second factor ([`super::factors`]) only checks its code; first-step methods used as a
//! second step (password, email OTP) come here through `check_mfa`.

use super::Gatehouse;
use super::audit::{Event, kinds};
use super::auth::Proof;
use super::mfa::MFA_TICKET;
use super::ticket_data::{MfaSessionData, TicketData};
use crate::collection::Collection;
use crate::error::{Error, Result};
use crate::record::Record;
use gatehouse_store::{AuditRow, FactorRow, Spend, StepOutcome, TicketKey, TicketRow};
use serde_json::json;

/// Failed second steps that end one MFA session.
const SESSION_FAILURES: i64 = 5;
/// Failed second steps (across sessions) within the window that lock a record's second steps.
const RECORD_FAILURES: i64 = 10;
const RECORD_WINDOW_MS: i64 = 15 * 60 * 1000;
const RECORD_LOCK_PREFIX: &str = "mfa-lock:";

pub(super) const INVALID_SESSION: &str = "Invalid or expired MFA session.";
/// The answer to any wrong second-factor code: never which part was wrong.
pub(super) const INVALID_CODE: &str = "Invalid or expired code.";

/// A live MFA session, opened for a second step.
pub(super) struct OpenStep {
    pub(super) session: TicketRow,
    pub(super) record: Record,
    /// The record's factors, read with the session.
    pub(super) factors: Vec<FactorRow>,
    /// The method of the first step (the second must differ).
    pub(super) first: String,
}

impl Gatehouse {
    /// The live MFA session `mfa_id` of collection `c` and its record, for a second step with
    /// `method`. 400 for an unknown, expired or foreign session or a repeated method; 429 while
    /// the record's second steps are locked (nothing is checked or consumed then).
    pub(super) async fn open_second_step(
        &self,
        c: &Collection,
        mfa_id: &str,
        method: &str,
    ) -> Result<OpenStep> {
        let now = self.clock.now_millis();
        let rows = match could_be_session_id(mfa_id) {
            false => None,
            true => {
                self.store
                    .second_step_rows(mfa_id, MFA_TICKET, &c.id, now)
                    .await?
            }
        }
        .filter(|rows| rows.ticket.collection_id == c.id)
        .ok_or_else(|| Error::bad_request(INVALID_SESSION))?;
        let session = rows.ticket;
        let first = MfaSessionData::of(&session).method;
        if first == method {
            return Err(Error::bad_request(
                "A different authentication method is required.",
            ));
        }
        self.check_record_lock(&session.record_id).await?;
        Ok(OpenStep {
            session,
            record: Record::from_row(rows.record),
            factors: rows.factors,
            first,
        })
    }

    /// The bookkeeping after `method` checked its code on `step`: a failure is counted and
    /// audited and answers [`INVALID_CODE`]; a success consumes the session and answers the
    /// two-method proof.
    pub(super) async fn close_second_step(
        &self,
        c: &Collection,
        step: &OpenStep,
        method: &str,
        passed: bool,
        request: &crate::access::RequestInfo,
    ) -> Result<Proof> {
        if !passed {
            return Err(self.refuse_second_step(c, step, method, request).await);
        }
        self.consume_session(&step.session.id, step.record.id())
            .await?;
        self.audit(step_event(c, step, method, kinds::MFA_SUCCESS), request)
            .await?;
        Ok(second_step_proof(step, method, self.clock.now_secs()))
    }

    /// A second factor's code was right: consumes the session, spends `spend` and writes the
    /// `mfa.success` row after `events`, all in one transaction. The proof and, for a backup
    /// code, the codes left. A refused spend (a replayed step, a code used meanwhile) counts as
    /// a wrong code; a session spent meanwhile answers [`INVALID_SESSION`].
    pub(super) async fn pass_second_step(
        &self,
        c: &Collection,
        step: &OpenStep,
        method: &str,
        spend: Spend<'_>,
        mut events: Vec<AuditRow>,
        request: &crate::access::RequestInfo,
    ) -> Result<(Proof, Option<i64>)> {
        events.push(self.audit_row(step_event(c, step, method, kinds::MFA_SUCCESS), request));
        let key = session_key(&step.session.id, step.record.id());
        let now = self.clock.now_millis();
        match self
            .store
            .complete_second_step(key, SESSION_FAILURES - 1, now, spend, &events)
            .await?
        {
            StepOutcome::Done { backup_codes_left } => Ok((
                second_step_proof(step, method, self.clock.now_secs()),
                backup_codes_left,
            )),
            StepOutcome::NoSession => Err(Error::bad_request(INVALID_SESSION)),
            StepOutcome::Refused => Err(self.refuse_second_step(c, step, method, request).await),
        }
    }

    /// A wrong code on `step`: counts it on the session and the record, audits `mfa.failure`,
    /// and answers [`INVALID_CODE`] (or the error that stopped the bookkeeping).
    pub(super) async fn refuse_second_step(
        &self,
        c: &Collection,
        step: &OpenStep,
        method: &str,
        request: &crate::access::RequestInfo,
    ) -> Error {
        let counted = self
            .second_step_failed(&step.session.id, step.record.id())
            .await;
        let audited = match counted {
            Ok(()) => {
                self.audit(step_event(c, step, method, kinds::MFA_FAILURE), request)
                    .await
            }
            Err(e) => Err(e),
        };
        audited
            .err()
            .unwrap_or_else(|| Error::bad_request(INVALID_CODE))
    }

    /// Deletes the MFA session: the consume of a second step. Of two concurrent second steps
    /// on one session only one gets it; the other gets [`INVALID_SESSION`].
    pub(super) async fn consume_session(&self, mfa_id: &str, record_id: &str) -> Result<TicketRow> {
        let now = self.clock.now_millis();
        self.store
            .consume_ticket(
                session_key(mfa_id, record_id),
                "",
                SESSION_FAILURES - 1,
                now,
            )
            .await?
            .ok_or_else(|| Error::bad_request(INVALID_SESSION))
    }

    /// A second step carrying `mfa_id` failed (a wrong code or password). Only a live session of
    /// `record_id` is charged: the session ends after a few failures, and the record's second
    /// steps lock after more. A made-up or foreign `mfa_id` charges nothing, so a stranger cannot
    /// lock anyone's second step.
    pub(super) async fn second_step_failed(&self, mfa_id: &str, record_id: &str) -> Result<()> {
        if mfa_id.is_empty() || record_id.is_empty() {
            return Ok(());
        }
        let key = session_key(mfa_id, record_id);
        let now = self.clock.now_millis();
        let Some(failures) = self.store.fail_ticket(key, SESSION_FAILURES, now).await? else {
            return Ok(());
        };
        if failures >= SESSION_FAILURES {
            self.store.delete_ticket(key).await?;
        }
        self.count_factor_failure(record_id).await
    }

    /// Counts one failed second-factor code of a record (a second step, a step-up, an
    /// enrolment confirm) towards its lock.
    pub(super) async fn count_factor_failure(&self, record_id: &str) -> Result<()> {
        let lock = format!("{RECORD_LOCK_PREFIX}{record_id}");
        let now = self.clock.now_millis();
        self.store.counter_hit(&lock, now, RECORD_WINDOW_MS).await?;
        Ok(())
    }

    /// 429 while a record's second steps are locked (nothing is checked or consumed).
    pub(super) async fn check_record_lock(&self, record_id: &str) -> Result<()> {
        let key = format!("{RECORD_LOCK_PREFIX}{record_id}");
        if self
            .store
            .counter_get(&key, self.clock.now_millis())
            .await?
            >= RECORD_FAILURES
        {
            return Err(Error::too_many_requests(
                "Too many failed attempts, please try again later.",
            ));
        }
        Ok(())
    }
}

/// The audit event of `step` closing with `method` (a success names the first method too).
fn step_event<'a>(
    c: &'a Collection,
    step: &'a OpenStep,
    method: &'a str,
    kind: &'static str,
) -> Event<'a> {
    let data = match kind {
        kinds::MFA_SUCCESS => json!({"first": step.first}),
        _ => json!({}),
    };
    Event {
        kind,
        collection_id: &c.id,
        record_id: step.record.id(),
        method,
        data,
    }
}

/// The proof of a passed second step: both methods, `aal` 2, authenticated at `now_secs`.
fn second_step_proof(step: &OpenStep, method: &str, now_secs: i64) -> Proof {
    Proof {
        amr: vec![step.first.clone(), method.to_owned()],
        aal: 2,
        auth_time: now_secs,
    }
}

/// Whether `id` could name an MFA session at all. Anything else (empty, over-long, a NUL that
/// PostgreSQL text cannot hold) is unknown without asking the database, instead of failing there.
pub(super) fn could_be_session_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// An MFA session of one record (never another kind of ticket with the same id).
pub(super) fn session_key<'a>(mfa_id: &'a str, record_id: &'a str) -> TicketKey<'a> {
    TicketKey {
        id: mfa_id,
        kind: MFA_TICKET,
        record_id,
    }
}
