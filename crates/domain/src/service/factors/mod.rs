//! Second factors: one file per factor, the shared steps once.
//!
//! A factor implements [`SecondFactor`] (check a code for a record, say what the MFA challenge
//! shows for it) and is listed in [`second_factors`]; its enrolment calls live in its own file.
//! Everything else — finding the MFA session, locks, failure counting, audit rows, minting the
//! token — is [`super::second_step`]'s, and who may change factors is [`access`]'s. To add a
//! factor: a new file here, one line in [`second_factors`], its routes in the HTTP layer.

mod access;
mod alerts;
mod backup_codes;
mod devices;
mod email;
mod manage;
mod possession;
mod sms;
mod spending;
mod totp;

pub use access::Reauth;
pub use email::EmailEnrolment;
pub use sms::SmsEnrolment;
pub(super) use sms::masked as masked_phone;
pub use totp::TotpEnrolment;

use super::Gatehouse;
use super::auth::{AuthResponse, Proof};
use crate::access::{Caller, RequestInfo};
use crate::collection::Collection;
use crate::error::{Error, FieldErrors, Result, codes};
use crate::record::Record;
use async_trait::async_trait;
use gatehouse_store::FactorRow;
use serde::Deserialize;
use serde_json::{Value, json};
use spending::Spending;

pub(super) const PENDING: &str = "pending";
pub(super) const VERIFIED: &str = "verified";

/// What a factor checks at a second step, a step-up or a re-authentication.
#[async_trait]
pub(super) trait SecondFactor: Send + Sync {
    /// Its method name in `amr`, the challenge's `methods`, audit rows and factor rows.
    fn method(&self) -> &'static str;
    /// Whether the collection offers it.
    fn offered(&self, c: &Collection) -> bool;
    /// Whether a verified factor of this kind asks for a second step at every login (the
    /// per-user opt-in; backup codes only recover).
    fn opts_in(&self) -> bool;
    /// What the challenge lists for a record with `factors`; `None` when it cannot use it.
    async fn challenge_entry(
        &self,
        gh: &Gatehouse,
        record: &Record,
        factors: &[FactorRow],
    ) -> Result<Option<Value>>;
    /// Checks `code` without writing anything: what a success spends (a TOTP step, a backup
    /// code), or `None` for a wrong code. The caller writes the spend, so that a second step
    /// spends it in the same transaction as its MFA session.
    fn verify(
        &self,
        gh: &Gatehouse,
        record: &Record,
        factors: &[FactorRow],
        code: &str,
    ) -> Result<Option<Spending>>;
}

/// Every second factor, in the order the challenge lists them.
pub(super) fn second_factors() -> [&'static dyn SecondFactor; 3] {
    [&totp::Totp, &sms::Sms, &backup_codes::BackupCodes]
}

fn factor_named(method: &str) -> Option<&'static dyn SecondFactor> {
    second_factors().into_iter().find(|f| f.method() == method)
}

/// A record's verified factor of `kind`.
pub(super) fn verified<'a>(factors: &'a [FactorRow], kind: &str) -> Option<&'a FactorRow> {
    factors
        .iter()
        .find(|f| f.kind == kind && f.status == VERIFIED)
}

/// Whether a record with `factors` asks for a second step on its own (MFA design §2).
pub(super) fn opted_in(c: &Collection, factors: &[FactorRow]) -> bool {
    c.mfa.user_opt_in
        && second_factors()
            .iter()
            .any(|f| f.opts_in() && f.offered(c) && verified(factors, f.method()).is_some())
}

/// The body of `auth-with-totp` and `auth-with-backup-code`. No `Debug`: it holds the code.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FactorLogin {
    pub mfa_id: String,
    pub code: String,
    /// Trust this device: the answer's `meta.deviceToken` skips later second steps.
    pub trust_device: bool,
}

/// The body of `step-up`: a code of one of the record's factors (`type` names which; without
/// it, digits are tried as TOTP and anything else as a backup code).
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StepUp {
    pub code: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// Longest code any factor takes (a backup code with spaces, an 8-digit TOTP code).
const CODE_MAX: usize = 64;

impl Gatehouse {
    /// `POST /api/collections/{c}/auth-with-{method}`: the second step of an MFA login with a
    /// second factor.
    pub async fn auth_with_factor(
        &self,
        collection: &str,
        method: &str,
        login: FactorLogin,
        request: &RequestInfo,
    ) -> Result<AuthResponse> {
        let c = self.auth_collection(collection).await?;
        let factor = factor_named(method)
            .filter(|f| f.offered(&c))
            .ok_or_else(|| disabled(method))?;
        let mfa_id = super::mfa::mfa_id_of(request, &login.mfa_id).to_owned();
        check_fields(&[("mfaId", &mfa_id, 255), ("code", &login.code, CODE_MAX)])?;
        let step = self.open_second_step(&c, &mfa_id, method).await?;
        self.check_superuser_ip(&c.id, &request.ip).await?;
        let context = format!("{},{method}", step.first);
        self.check_auth_rule(&c, &step.record, None, &context, request)?;
        let record = &step.record;
        let Some(spending) = factor.verify(self, record, &step.factors, &login.code)? else {
            return Err(self.refuse_second_step(&c, &step, method, request).await);
        };
        // The session, the spend and the audit rows go in one transaction: of concurrent steps
        // on one session one spends, and a code used meanwhile leaves the session as it was.
        let events = spending
            .audit_kind()
            .map(|kind| self.factor_row(&c, record.id(), method, kind, request))
            .into_iter()
            .collect();
        let used_at = self.now();
        let spend = spending.as_spend(record.id(), &used_at);
        let (proof, codes_left) = self
            .pass_second_step(&c, &step, method, spend, events, request)
            .await?;
        let meta = match codes_left {
            Some(left) => self.backup_code_spent(&c, record, left, request).await?,
            None => None,
        };
        let record = step.record;
        let device = match login.trust_device {
            true => self.trust_device(&c, &record, request).await?,
            false => None,
        };
        let mut answer = self.finish_login(&c, record, &proof, request).await?;
        answer.meta = meta;
        add_device_token(&mut answer, device);
        Ok(answer)
    }

    /// `POST /api/collections/{c}/step-up`: a logged-in record proves a second factor and gets
    /// a fresh `aal: 2` token (a new authentication: `authTime` is now).
    pub async fn step_up(
        &self,
        collection: &str,
        body: StepUp,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<AuthResponse> {
        let c = self.auth_collection(collection).await?;
        let caller = super::require_record_of(&c, caller)?;
        check_fields(&[("code", &body.code, CODE_MAX)])?;
        let record = caller.record.clone();
        self.check_record_lock(record.id()).await?;
        let Some((method, meta)) = self
            .check_any_factor(&c, &record, &body.code, &body.kind, request)
            .await?
        else {
            self.count_factor_failure(record.id()).await?;
            self.audit_factor(
                &c,
                record.id(),
                "",
                super::audit::kinds::MFA_FAILURE,
                request,
            )
            .await?;
            return Err(Error::bad_request(super::second_step::INVALID_CODE));
        };
        let mut amr = caller.claims.amr.clone();
        if !amr.iter().any(|m| m == method) {
            amr.push(method.to_owned());
        }
        let proof = Proof {
            amr,
            aal: 2,
            auth_time: self.clock.now_secs(),
        };
        self.audit_factor(
            &c,
            record.id(),
            method,
            super::audit::kinds::STEP_UP,
            request,
        )
        .await?;
        let mut answer = self.finish_login(&c, record, &proof, request).await?;
        answer.meta = meta.filter(|m| m.as_object().is_some_and(|o| !o.is_empty()));
        Ok(answer)
    }

    /// Checks `code` against the record's factors (`kind` names one, or empty: digits are a
    /// TOTP code, anything else a backup code). The method that matched and its `meta`.
    pub(super) async fn check_any_factor(
        &self,
        c: &Collection,
        record: &Record,
        code: &str,
        kind: &str,
        request: &RequestInfo,
    ) -> Result<Option<(&'static str, Option<Value>)>> {
        let method = match kind {
            "" if code.trim().bytes().all(|b| b.is_ascii_digit()) => "totp",
            "" => "backupCode",
            named => named,
        };
        let Some(factor) = factor_named(method).filter(|f| f.offered(c)) else {
            return Ok(None);
        };
        let factors = self.store.list_factors(record.id()).await?;
        let Some(spending) = factor.verify(self, record, &factors, code)? else {
            return Ok(None);
        };
        Ok(self
            .spend_alone(c, record, spending, request)
            .await?
            .map(|meta| (factor.method(), Some(meta))))
    }

    /// Verifies a pending factor and, when it is the record's first that asks for a second
    /// step, creates its backup codes in the same transaction; mails the owner `what`. The
    /// fresh codes (empty when there are none), or `None` when it was no longer pending.
    pub(super) async fn verify_pending_factor(
        &self,
        c: &Collection,
        record: &Record,
        factor: &FactorRow,
        step: i64,
        what: &str,
        request: &RequestInfo,
    ) -> Result<Option<Vec<String>>> {
        let factors = self.store.list_factors(record.id()).await?;
        let opts_in = factor_named(&factor.kind).is_some_and(|f| f.opts_in());
        let fresh = opts_in
            && c.backup_codes.enabled
            && !factors.iter().any(|f| f.kind == backup_codes::METHOD);
        let set = fresh.then(|| self.new_backup_codes(c, record));
        let backup = set
            .as_ref()
            .map(|(row, _, hashes)| (row, hashes.as_slice()));
        let events = [self.factor_row(
            c,
            record.id(),
            &factor.kind,
            super::audit::kinds::FACTOR_ENROLLED,
            request,
        )];
        let done = self
            .store
            .verify_factor(record.id(), &factor.id, step, backup, &events)
            .await?;
        if !done {
            return Ok(None);
        }
        self.alert_owner(c, record, what, request).await?;
        Ok(Some(set.map(|(_, codes, _)| codes).unwrap_or_default()))
    }

    /// The challenge's entries for the second factors `record` can use.
    pub(super) async fn factor_methods(
        &self,
        c: &Collection,
        record: &Record,
        factors: &[FactorRow],
        first: &str,
    ) -> Result<Vec<Value>> {
        let mut methods = Vec::new();
        for f in second_factors() {
            if f.method() == first || !f.offered(c) {
                continue;
            }
            if let Some(entry) = f.challenge_entry(self, record, factors).await? {
                methods.push(entry);
            }
        }
        Ok(methods)
    }
}

/// Puts a new device token into the answer's `meta` (shown once).
pub(super) fn add_device_token(answer: &mut AuthResponse, token: Option<String>) {
    let Some(token) = token else {
        return;
    };
    let meta = answer.meta.get_or_insert_with(|| json!({}));
    meta["deviceToken"] = json!(token);
}

/// 403 for a factor the collection does not offer (PocketBase's wording for its methods).
fn disabled(method: &str) -> Error {
    let name = match method {
        "totp" => "TOTP",
        "backupCode" => "backup code",
        "email" => "OTP",
        other => other,
    };
    Error::forbidden(format!(
        "The collection is not configured to allow {name} authentication."
    ))
}

/// PocketBase's field errors for required and over-long string fields.
fn check_fields(fields: &[(&str, &str, usize)]) -> Result<()> {
    let mut errors = FieldErrors::default();
    for (name, value, max) in fields {
        if value.is_empty() {
            errors.add_code(name, codes::REQUIRED);
        } else if value.chars().count() > *max {
            errors.length_out_of_range(name, 1, *max);
        }
    }
    errors.into_result("An error occurred while validating the submitted data.")
}

/// `{"backupCodes": [...]}`, the answer that shows a fresh set once.
fn backup_codes_answer(codes: &[String]) -> Value {
    json!({ "backupCodes": codes })
}
