//! Reading and removing a record's factors: the owner's overview (`GET …/mfa`), removing one
//! factor, and the superuser's reset (`DELETE …/mfa`, or `gatehouse superuser reset-mfa` for a
//! superuser, which the API refuses).

use super::super::Gatehouse;
use super::super::audit::kinds;
use super::super::mailing::mask_email;
use super::access::{Need, Reauth};
use super::{VERIFIED, backup_codes, opted_in, second_factors};
use crate::access::{Caller, RequestInfo};
use crate::collection::{Collection, SUPERUSERS_ID};
use crate::error::{Error, Result};
use crate::record::Record;
use gatehouse_store::FactorRow;
use serde_json::{Value, json};

impl Gatehouse {
    /// `GET …/records/{id}/mfa`: `{"required", "factors", "backupCodesRemaining"}`.
    pub async fn mfa_overview(
        &self,
        collection: &str,
        id: &str,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<Value> {
        let owner = self
            .factor_owner(collection, id, caller, request, Need::Read)
            .await?;
        let c = &owner.collection;
        let record = &owner.record;
        let factors = self.store.list_factors(record.id()).await?;
        let remaining = self.store.count_backup_codes(record.id()).await?;
        let required = opted_in(c, &factors) || self.mfa_rule_applies(c, record, request);
        let listed: Vec<Value> = factors.iter().map(render_factor).collect();
        Ok(json!({
            "required": required,
            "factors": listed,
            "backupCodesRemaining": remaining,
        }))
    }

    /// Removes the record's factor `kind` (after a recent authentication). When no factor that
    /// asks for a second step remains, the backup codes go too: two-factor is then off. A factor
    /// still pending (a set-up abandoned half-way) never protected anything: removing it neither
    /// alerts the owner nor revokes the trusted devices.
    pub(super) async fn remove_factor(
        &self,
        collection: &str,
        id: &str,
        kind: &str,
        reauth: Reauth,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<()> {
        let owner = self
            .factor_owner(collection, id, caller, request, Need::Change)
            .await?;
        self.require_recent(&owner, &reauth, request).await?;
        let c = &owner.collection;
        let record = &owner.record;
        let was_verified = self
            .store
            .list_factors(record.id())
            .await?
            .iter()
            .any(|f| f.kind == kind && f.status == VERIFIED);
        let events = [self.factor_row(c, record.id(), kind, kinds::FACTOR_REMOVED, request)];
        if !self.store.delete_factor(record.id(), kind, &events).await? {
            return Err(Error::not_found("That factor is not set up."));
        }
        if !was_verified {
            return Ok(());
        }
        let left = self.store.list_factors(record.id()).await?;
        let any_second_step = second_factors().iter().any(|f| {
            f.opts_in()
                && left
                    .iter()
                    .any(|r| r.kind == f.method() && r.status == VERIFIED)
        });
        if !any_second_step && left.iter().any(|f| f.kind == backup_codes::METHOD) {
            let events = [self.factor_row(
                c,
                record.id(),
                backup_codes::METHOD,
                kinds::FACTOR_REMOVED,
                request,
            )];
            self.store
                .delete_factor(record.id(), backup_codes::METHOD, &events)
                .await?;
        }
        self.forget_devices(record.id()).await?;
        let what = format!("A second factor was removed ({}).", describe(kind));
        self.alert_owner(c, record, &what, request).await
    }

    /// `DELETE …/records/{id}/mfa`: a superuser resets every factor of a record that is not a
    /// superuser (lock-out recovery). 204 even when there was nothing to reset.
    pub async fn reset_mfa(
        &self,
        collection: &str,
        id: &str,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<()> {
        super::super::require_superuser(caller)?;
        let c = self.auth_collection(collection).await?;
        if c.id == SUPERUSERS_ID {
            return Err(Error::forbidden(
                "A superuser's second factors can only be reset on the server (gatehouse superuser reset-mfa).",
            ));
        }
        let row = self
            .store
            .find_record(&c.id, id)
            .await?
            .ok_or_else(Error::resource_not_found)?;
        self.reset_factors(&c, &Record::from_row(row), request)
            .await
    }

    /// The CLI's reset, for any record (superusers included): by email in `collection`.
    pub async fn reset_mfa_by_email(&self, collection: &str, email: &str) -> Result<bool> {
        let c = self.auth_collection(collection).await?;
        let Some(row) = self.store.find_record_by_email(&c.id, email).await? else {
            return Ok(false);
        };
        let request = RequestInfo::default();
        self.reset_factors(&c, &Record::from_row(row), &request)
            .await?;
        Ok(true)
    }

    async fn reset_factors(
        &self,
        c: &Collection,
        record: &Record,
        request: &RequestInfo,
    ) -> Result<()> {
        let events = [self.factor_row(c, record.id(), "", kinds::MFA_RESET, request)];
        self.store.delete_factors(record.id(), &events).await?;
        self.forget_devices(record.id()).await?;
        self.alert_owner(
            c,
            record,
            "An administrator reset your two-factor settings.",
            request,
        )
        .await
    }
}

/// A factor as the overview shows it: never a secret; an address masked.
fn render_factor(f: &FactorRow) -> Value {
    let mut out = json!({
        "type": f.kind,
        "status": f.status,
        "createdAt": f.created,
        "lastUsedAt": f.last_used,
    });
    match f.kind.as_str() {
        _ if f.target.is_empty() => {}
        "sms" => out["sentTo"] = json!(super::masked_phone(&f.target)),
        _ => out["sentTo"] = json!(mask_email(&f.target)),
    }
    out
}

/// The factor's name in a mail.
fn describe(kind: &str) -> &str {
    match kind {
        "totp" => "authenticator app",
        "backupCode" => "backup codes",
        "email" => "email address",
        "sms" => "phone",
        other => other,
    }
}
