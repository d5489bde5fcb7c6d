//! When a login needs a second step, and the challenge that says so. PocketBase's MFA
//! (`mfa.enabled`, `mfa.duration`, `mfa.rule`) asks the records its rule selects; Gatehouse also
//! asks any record that enrolled a second factor (`mfa.userOptIn`). The 401 `{"mfaId"}` gains
//! `methods` (what this record can use next), or an `enrollToken` when it has none. A first-step
//! method used as the second step (PocketBase's way) closes the session through
//! [`super::second_step`], like the factors do.

use super::Gatehouse;
use super::audit::{Event, kinds};
use super::auth::Proof;
use super::factors;
use super::mailing::mask_email;
use super::second_step::{INVALID_SESSION, could_be_session_id, session_key};
use super::ticket_data::{MfaSessionData, TicketData};
use crate::access::{Caller, RequestInfo, Rule, Scope, Subject};
use crate::collection::Collection;
use crate::error::{Error, Result};
use crate::filter::Expr;
use crate::random;
use crate::record::Record;
use crate::token::{self, EnrollClaims, TYPE_ENROLL};
use gatehouse_store::{FactorRow, TicketRow};
use serde_json::{Value, json};

pub(crate) const MFA_TICKET: &str = "mfa";

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
        if method.is_empty() {
            return Ok(proof);
        }
        let by_rule =
            c.mfa.enabled && self.mfa_rule_applies_to(c, record, caller, &method, request);
        // The opt-in needs the record's factors: read only when the rule did not decide.
        let factors = match by_rule || c.mfa.user_opt_in {
            true => self.store.list_factors(record.id()).await?,
            false => Vec::new(),
        };
        if !by_rule && !factors::opted_in(c, &factors) {
            return Ok(proof);
        }
        if mfa_id.is_empty() {
            if let Some(device) = self.trusted_device(c, record, request).await? {
                let event = Event {
                    kind: kinds::MFA_SUCCESS,
                    collection_id: &c.id,
                    record_id: record.id(),
                    method: "device",
                    data: json!({"first": method, "device": device.id}),
                };
                self.audit(event, request).await?;
                return Ok(Proof {
                    amr: vec![method, "device".to_owned()],
                    aal: 2,
                    auth_time: proof.auth_time,
                });
            }
            return Err(self
                .challenge(c, record, &factors, &method, request)
                .await?);
        }
        let step = match self.open_second_step(c, mfa_id, &method).await {
            Ok(step) if step.record.id() == record.id() => step,
            Ok(_) => return Err(Error::bad_request("Invalid MFA session.")),
            Err(e) => {
                if e.message == INVALID_SESSION {
                    // An expired session of this record goes; any other ticket stays untouched.
                    if could_be_session_id(mfa_id) {
                        self.store
                            .delete_ticket(session_key(mfa_id, record.id()))
                            .await?;
                    }
                    let event = Event {
                        kind: kinds::MFA_FAILURE,
                        collection_id: &c.id,
                        record_id: record.id(),
                        method: &method,
                        data: json!({"reason": "session"}),
                    };
                    self.audit(event, request).await?;
                }
                return Err(e);
            }
        };
        // The first step's own check passed: this closes the session as a success.
        let closed = self
            .close_second_step(c, &step, &method, true, request)
            .await?;
        Ok(Proof {
            auth_time: proof.auth_time,
            ..closed
        })
    }

    /// Whether `mfa.rule` asks this record for a second step (with `mfa.enabled` on).
    pub(super) fn mfa_rule_applies(
        &self,
        c: &Collection,
        record: &Record,
        request: &RequestInfo,
    ) -> bool {
        c.mfa.enabled && self.mfa_rule_applies_to(c, record, None, "default", request)
    }

    fn mfa_rule_applies_to(
        &self,
        c: &Collection,
        record: &Record,
        caller: Option<&Caller>,
        method: &str,
        request: &RequestInfo,
    ) -> bool {
        let subject = Subject {
            collection: c,
            record,
            scope: Scope {
                caller,
                context: method,
                request,
                now_millis: self.clock.now_millis(),
            },
        };
        let rule = self.rules.get(Some(&c.mfa.rule));
        mfa_wanted(c, &rule, &subject)
    }

    /// A new MFA session and the 401 that names it, with the methods this record can use next;
    /// when it has none, an enrolment token instead (design §2, "enrollment required").
    async fn challenge(
        &self,
        c: &Collection,
        record: &Record,
        factors: &[FactorRow],
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
        let expires_ms = now + c.mfa.duration.saturating_mul(1000);
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
            expires_ms,
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
        if c.otp.enabled && method != "otp" {
            // Verified alternate addresses: `request-otp` with this `mfaId` sends there.
            let alternates = factors
                .iter()
                .filter(|f| f.kind == "email" && f.status == factors::VERIFIED);
            methods.extend(alternates.map(
                |f| json!({"type": "otp", "sentTo": mask_email(&f.target), "alternate": true}),
            ));
        }
        methods.extend(self.factor_methods(c, record, factors, method).await?);
        let mut body = json!({"mfaId": id, "methods": methods});
        if methods_empty(&body) {
            body["enrollmentRequired"] = json!(true);
            body["enrollToken"] = json!(self.enroll_token(c, record, &id, expires_ms)?);
        }
        Ok(Error::challenge(body))
    }

    /// A token that may only enrol a factor, as long as MFA session `mfa_id` lives.
    fn enroll_token(
        &self,
        c: &Collection,
        record: &Record,
        mfa_id: &str,
        expires_ms: i64,
    ) -> Result<String> {
        let claims = EnrollClaims {
            collection_id: c.id.clone(),
            exp: expires_ms / 1000,
            id: record.id().to_owned(),
            mfa_id: mfa_id.to_owned(),
            kind: TYPE_ENROLL.to_owned(),
        };
        token::sign(&claims, &record.row.token_key, &c.auth_token.secret)
            .ok_or_else(|| Error::internal("token signing failed"))
    }
}

fn methods_empty(body: &Value) -> bool {
    body["methods"].as_array().is_none_or(Vec::is_empty)
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
