//! PocketBase's MFA (`mfa.enabled`, `mfa.duration`, `mfa.rule`): a first step that the rule
//! selects answers 401 `{"mfaId"}`; a second step with a *different* method and that `mfaId`
//! completes the login. Gatehouse adds `methods` to the challenge (what the record can use next),
//! kills an MFA session after 5 failed second steps, and locks a record's second steps for a
//! while after 10 failures across sessions (never its password step).

use super::Gatehouse;
use super::audit::{Event, kinds};
use super::auth::Proof;
use super::mailing::mask_email;
use super::ticket_data::{MfaSessionData, TicketData};
use crate::access::{Caller, RequestInfo, Rule, Scope, Subject};
use crate::collection::Collection;
use crate::error::{Error, Result};
use crate::filter::Expr;
use crate::random;
use crate::record::Record;
use gatehouse_store::{TicketKey, TicketRow};
use serde_json::{Value, json};

pub(crate) const MFA_TICKET: &str = "mfa";
/// Failed second steps that end one MFA session.
const SESSION_FAILURES: i64 = 5;
/// Failed second steps (across sessions) within the window that lock a record's second steps.
const RECORD_FAILURES: i64 = 10;
const RECORD_WINDOW_MS: i64 = 15 * 60 * 1000;
const RECORD_LOCK_PREFIX: &str = "mfa-lock:";

const INVALID_OR_EXPIRED: &str = "Invalid or expired MFA session.";

impl Gatehouse {
    /// Step 4 of the auth pipeline, after the authRule: `proof` unchanged when no MFA applies, the
    /// two-method proof when `mfa_id` completes a session, or the 401 challenge.
    pub(super) async fn check_mfa(
        &self,
        c: &Collection,
        record: &Record,
        caller: Option<&Caller>,
        proof: Proof,
        mfa_id: &str,
        request: &RequestInfo,
    ) -> Result<Proof> {
        let method = proof.amr.first().cloned().unwrap_or_default();
        if !c.mfa.enabled || method.is_empty() {
            return Ok(proof);
        }
        let subject = Subject {
            collection: c,
            record,
            scope: Scope {
                caller,
                context: &method,
                request,
                now_millis: self.clock.now_millis(),
            },
        };
        let rule = self.rules.get(Some(&c.mfa.rule));
        if !mfa_wanted(c, &rule, &subject) {
            return Ok(proof);
        }
        if mfa_id.is_empty() {
            return Err(self.challenge(c, record, &method, request).await?);
        }
        self.check_record_lock(record.id()).await?;
        let now = self.clock.now_millis();
        let event = |kind, data| Event {
            kind,
            collection_id: &c.id,
            record_id: record.id(),
            method: &method,
            data,
        };
        let key = session_key(mfa_id, record.id());
        let Some(session) = self.store.find_ticket(mfa_id, MFA_TICKET, now).await? else {
            // An expired session of this record goes; an id of any other ticket stays untouched.
            self.store.delete_ticket(key).await?;
            self.audit(
                event(kinds::MFA_FAILURE, json!({"reason": "session"})),
                request,
            )
            .await?;
            return Err(Error::bad_request(INVALID_OR_EXPIRED));
        };
        if session.collection_id != c.id || session.record_id != record.id() {
            return Err(Error::bad_request("Invalid MFA session."));
        }
        let first = MfaSessionData::of(&session).method;
        if first == method {
            return Err(Error::bad_request(
                "A different authentication method is required.",
            ));
        }
        // Deleting the session is the consume: of two concurrent second steps one wins.
        if self
            .store
            .consume_ticket(key, "", SESSION_FAILURES - 1, now)
            .await?
            .is_none()
        {
            return Err(Error::bad_request(INVALID_OR_EXPIRED));
        }
        self.audit(event(kinds::MFA_SUCCESS, json!({"first": first})), request)
            .await?;
        Ok(Proof {
            amr: vec![first, method],
            aal: 2,
            auth_time: proof.auth_time,
        })
    }

    /// A new MFA session and the 401 that names it.
    async fn challenge(
        &self,
        c: &Collection,
        record: &Record,
        method: &str,
        request: &RequestInfo,
    ) -> Result<Error> {
        let now = self.clock.now_millis();
        let id = random::record_id();
        let event = Event {
            kind: kinds::MFA_REQUIRED,
            collection_id: &c.id,
            record_id: record.id(),
            method,
            data: json!({}),
        };
        let events = [self.audit_row(event, request)];
        let session = TicketRow {
            id: id.clone(),
            kind: MFA_TICKET.to_owned(),
            collection_id: c.id.clone(),
            record_id: record.id().to_owned(),
            secret_hash: String::new(),
            data: MfaSessionData {
                method: method.to_owned(),
            }
            .to_data(),
            created_ms: now,
            expires_ms: now + c.mfa.duration.saturating_mul(1000),
            failures: 0,
        };
        self.store.insert_ticket(&session, &events).await?;
        let mut methods = Vec::new();
        if c.password_auth.enabled && method != "password" {
            methods.push(json!({"type": "password"}));
        }
        if c.otp.enabled && method != "otp" && !record.row.email.is_empty() {
            methods.push(json!({"type": "otp", "sentTo": mask_email(&record.row.email)}));
        }
        Ok(Error::challenge(json!({"mfaId": id, "methods": methods})))
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
        let lock = format!("{RECORD_LOCK_PREFIX}{record_id}");
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

/// Whether `mfa.rule` asks `subject` for a second step: an empty rule asks everyone. A rule
/// that does not compile or names a field the collection lacks cannot say; skipping MFA on it
/// would turn a broken rule into a way around the second step, so it asks too.
fn mfa_wanted(c: &Collection, rule: &Rule, subject: &Subject<'_>) -> bool {
    if c.mfa.rule.trim().is_empty() {
        return true;
    }
    match rule {
        Rule::Expr(expr) if names_only_known_fields(c, expr) => rule.allows(subject),
        _ => true,
    }
}

fn names_only_known_fields(c: &Collection, expr: &Expr) -> bool {
    expr.identifiers().iter().all(|(path, _)| {
        path.starts_with('@') || path.split('.').next().is_some_and(|f| c.field(f).is_some())
    })
}

/// An MFA session of one record (never another kind of ticket with the same id).
fn session_key<'a>(mfa_id: &'a str, record_id: &'a str) -> TicketKey<'a> {
    TicketKey {
        id: mfa_id,
        kind: MFA_TICKET,
        record_id,
    }
}

/// The `mfaId` of a second step: the query string first (where the SDK puts it), then the body.
pub(super) fn mfa_id_of<'a>(request: &'a RequestInfo, body: &'a str) -> &'a str {
    match request.query.get("mfaId").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id,
        _ => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_store::RecordRow;

    fn wanted(rule: &str, email: &str) -> bool {
        let mut c = crate::collection::users("2026-01-01 00:00:00.000Z");
        c.mfa.rule = rule.to_owned();
        let record = Record::from_row(RecordRow {
            id: "a00000000000001".to_owned(),
            collection_id: c.id.clone(),
            email: email.to_owned(),
            email_visibility: false,
            verified: true,
            password_hash: String::new(),
            token_key: String::new(),
            data: "{}".to_owned(),
            created: String::new(),
            updated: String::new(),
        });
        let request = RequestInfo::default();
        let subject = Subject {
            collection: &c,
            record: &record,
            scope: Scope {
                caller: None,
                context: "password",
                request: &request,
                now_millis: 0,
            },
        };
        mfa_wanted(&c, &Rule::of(Some(rule)), &subject)
    }

    #[test]
    fn the_rule_picks_who_needs_a_second_step() {
        assert!(wanted("", "max@example.com"));
        assert!(wanted("email ~ 'ivy'", "ivy@example.com"));
        assert!(!wanted("email ~ 'ivy'", "max@example.com"));
    }

    #[test]
    fn a_rule_that_cannot_be_evaluated_asks_for_the_second_step() {
        for broken in [
            "email = ",
            "noSuchField = 1",
            "noSuchField.key = 1",
            "@collection.users.email = 'x'",
            "email ~ 'ivy' || (",
        ] {
            assert!(wanted(broken, "max@example.com"), "{broken}");
        }
    }
}
