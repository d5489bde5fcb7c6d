//! Backup codes: `backupCodes.count` single-use recovery codes of 50 bits (`xxxxx-xxxxx`),
//! shown once, stored as keyed hashes. Using one deletes it in one statement (of concurrent uses
//! exactly one wins); regenerating replaces the whole set in one transaction.

use super::super::Gatehouse;
use super::super::audit::kinds;
use super::access::{Need, Reauth};
use super::spending::Spending;
use super::{SecondFactor, VERIFIED, backup_codes_answer, disabled};
use crate::access::{Caller, RequestInfo};
use crate::collection::Collection;
use crate::error::Result;
use crate::factor_codes::backup;
use crate::random;
use crate::record::Record;
use async_trait::async_trait;
use gatehouse_store::FactorRow;
use serde_json::{Value, json};

pub(super) const METHOD: &str = "backupCode";
const HASH_PURPOSE: &str = "backup-code";

pub(super) struct BackupCodes;

#[async_trait]
impl SecondFactor for BackupCodes {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn offered(&self, c: &Collection) -> bool {
        c.backup_codes.enabled
    }

    fn opts_in(&self) -> bool {
        false
    }

    async fn challenge_entry(
        &self,
        gh: &Gatehouse,
        record: &Record,
        factors: &[FactorRow],
    ) -> Result<Option<Value>> {
        if !factors.iter().any(|f| f.kind == METHOD) {
            return Ok(None);
        }
        let remaining = gh.store.count_backup_codes(record.id()).await?;
        Ok((remaining > 0).then(|| json!({"type": METHOD, "remaining": remaining})))
    }

    fn verify(
        &self,
        gh: &Gatehouse,
        record: &Record,
        _: &[FactorRow],
        code: &str,
    ) -> Result<Option<Spending>> {
        // Whether the code is one of the record's is for the spend to find: its hash is all
        // there is to look for.
        Ok(backup::normalize(code).map(|code| Spending::BackupCode {
            hashes: gh.key.hashes(HASH_PURPOSE, &code_input(record.id(), &code)),
        }))
    }
}

impl Gatehouse {
    /// `POST …/records/{id}/mfa/backup-codes`: a new set replaces the old one (a failure leaves
    /// the old codes working).
    pub async fn regenerate_backup_codes(
        &self,
        collection: &str,
        id: &str,
        reauth: Reauth,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<Value> {
        let owner = self
            .factor_owner(collection, id, caller, request, Need::Change)
            .await?;
        let c = owner.collection.clone();
        if !c.backup_codes.enabled {
            return Err(disabled(METHOD));
        }
        self.require_recent(&owner, &reauth, request).await?;
        let record = &owner.record;
        let (row, codes, hashes) = self.new_backup_codes(&c, record);
        let events = [self.factor_row(
            &c,
            record.id(),
            METHOD,
            kinds::BACKUP_CODES_REGENERATED,
            request,
        )];
        self.store
            .replace_backup_codes(&row, &hashes, &events)
            .await?;
        self.alert_owner(
            &c,
            record,
            "New backup codes were generated; the old ones no longer work.",
            request,
        )
        .await?;
        Ok(backup_codes_answer(&codes))
    }

    /// A fresh set for `record`: its factor row, the codes (to show once) and their hashes.
    pub(super) fn new_backup_codes(
        &self,
        c: &Collection,
        record: &Record,
    ) -> (FactorRow, Vec<String>, Vec<String>) {
        let count = usize::try_from(c.backup_codes.count).unwrap_or(10);
        let codes = backup::generate(count);
        let hashes = codes
            .iter()
            .filter_map(|code| backup::normalize(code))
            .map(|code| self.key.hash(HASH_PURPOSE, &code_input(record.id(), &code)))
            .collect();
        let row = FactorRow {
            id: random::record_id(),
            collection_id: c.id.clone(),
            record_id: record.id().to_owned(),
            kind: METHOD.to_owned(),
            status: VERIFIED.to_owned(),
            secret: String::new(),
            target: String::new(),
            data: "{}".to_owned(),
            created: self.now(),
            last_used: String::new(),
            last_step: 0,
        };
        (row, codes, hashes)
    }
}

/// What is hashed: the code bound to its record, so equal codes of two records differ.
fn code_input(record_id: &str, code: &str) -> String {
    format!("{record_id}:{code}")
}
