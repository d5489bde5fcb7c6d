//! What a right code spends, apart from checking it. A factor's [`super::SecondFactor::verify`]
//! only reads; the spend is then written either together with the MFA session's consume and the
//! audit rows (a second step: one transaction, [`Spending::as_spend`]) or on its own (a step-up or
//! a re-authentication, which have no session: [`Gatehouse::spend_alone`]).

use super::super::Gatehouse;
use super::super::audit::kinds;
use super::backup_codes;
use crate::access::RequestInfo;
use crate::collection::Collection;
use crate::error::Result;
use crate::record::Record;
use gatehouse_store::Spend;
use serde_json::{Value, json};

/// What a right code would spend. No `Debug`: a backup code's hashes identify the code.
pub(in crate::service) enum Spending {
    /// A TOTP time step of the record's verified factor.
    TotpStep { factor_id: String, step: i64 },
    /// The backup code hashed under each server key.
    BackupCode { hashes: Vec<String> },
}

impl Spending {
    /// The store's form of this spend for `record_id`, stamped `used_at`.
    pub(super) fn as_spend<'a>(&'a self, record_id: &'a str, used_at: &'a str) -> Spend<'a> {
        match self {
            Self::TotpStep { factor_id, step } => Spend::TotpStep {
                factor_id,
                step: *step,
                used_at,
            },
            Self::BackupCode { hashes } => Spend::BackupCode {
                record_id,
                code_hashes: hashes,
                used_at,
            },
        }
    }

    /// The kind of the audit row a spend adds to the step's own (a used backup code's).
    pub(super) fn audit_kind(&self) -> Option<&'static str> {
        match self {
            Self::TotpStep { .. } => None,
            Self::BackupCode { .. } => Some(kinds::BACKUP_CODE_USED),
        }
    }
}

impl Gatehouse {
    /// Spends on its own what a right code spends (no MFA session to consume with it). The
    /// answer's `meta`, or `None` when the spend was refused (a replayed step, a code used
    /// meanwhile): a wrong code then.
    pub(super) async fn spend_alone(
        &self,
        c: &Collection,
        record: &Record,
        spending: Spending,
        request: &RequestInfo,
    ) -> Result<Option<Value>> {
        let now = self.now();
        match spending {
            Spending::TotpStep { factor_id, step } => Ok(self
                .store
                .use_totp_step(&factor_id, step, &now)
                .await?
                .then(|| json!({}))),
            Spending::BackupCode { hashes } => {
                let Some(left) = self
                    .store
                    .consume_backup_code(record.id(), &hashes, &now)
                    .await?
                else {
                    return Ok(None);
                };
                self.audit_factor(
                    c,
                    record.id(),
                    backup_codes::METHOD,
                    kinds::BACKUP_CODE_USED,
                    request,
                )
                .await?;
                self.backup_code_spent(c, record, left, request).await
            }
        }
    }

    /// After a backup code was spent (and committed): mails the owner and answers the `meta`.
    pub(super) async fn backup_code_spent(
        &self,
        c: &Collection,
        record: &Record,
        left: i64,
        request: &RequestInfo,
    ) -> Result<Option<Value>> {
        let what = format!("A backup code was used; {left} left.");
        self.alert_owner(c, record, &what, request).await?;
        Ok(Some(json!({"backupCodesRemaining": left})))
    }
}
