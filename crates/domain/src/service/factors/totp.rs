//! Authenticator apps (RFC 6238): enrol with a QR code, confirm with a first code, log in
//! with the next ones. The secret is sealed under the server key, bound to its factor and record;
//! the parameters it was enrolled with stay with it. A time step is accepted once: the update
//! that records it is one conditional statement, so a replayed or concurrently used code loses.

use super::super::Gatehouse;
use super::super::second_step::INVALID_CODE;
use super::access::{Need, Reauth};
use super::spending::Spending;
use super::{PENDING, SecondFactor, backup_codes_answer, check_fields, disabled};
use crate::access::{Caller, RequestInfo};
use crate::collection::Collection;
use crate::error::{Error, Result};
use crate::factor_codes::totp::{self as code, Algorithm, TotpParams};
use crate::factor_codes::{qr, totp::base32};
use crate::random;
use crate::record::Record;
use async_trait::async_trait;
use gatehouse_store::{FactorRow, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const METHOD: &str = "totp";
const ADDED: &str = "An authenticator app was added.";

pub(super) struct Totp;

/// The body of `POST …/mfa/totp`. No `Debug`: it may hold a password.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TotpEnrolment {
    /// `false`: the factor is verified at once (no confirming code), and backup codes come back.
    pub verify: bool,
    #[serde(flatten)]
    pub reauth: Reauth,
}

impl Default for TotpEnrolment {
    fn default() -> Self {
        Self {
            verify: true,
            reauth: Reauth::default(),
        }
    }
}

/// The parameters a factor was enrolled with, kept in its `data`.
#[derive(Serialize, Deserialize)]
struct Stored {
    algorithm: String,
    digits: u32,
    period: u64,
    skew: u8,
}

impl Stored {
    fn of(c: &Collection) -> Self {
        let t = &c.totp;
        Self {
            algorithm: t.algorithm.clone(),
            digits: u32::try_from(t.digits).unwrap_or(6),
            period: u64::try_from(t.period).unwrap_or(30),
            skew: u8::try_from(t.skew).unwrap_or(1),
        }
    }

    fn params(&self) -> TotpParams {
        TotpParams {
            algorithm: Algorithm::parse(&self.algorithm).unwrap_or(Algorithm::Sha1),
            digits: self.digits,
            period: self.period.max(1),
            skew: self.skew,
        }
    }
}

#[async_trait]
impl SecondFactor for Totp {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn offered(&self, c: &Collection) -> bool {
        c.totp.enabled
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
        Ok(super::verified(factors, METHOD).map(|_| json!({"type": METHOD})))
    }

    fn verify(
        &self,
        gh: &Gatehouse,
        record: &Record,
        factors: &[FactorRow],
        code: &str,
    ) -> Result<Option<Spending>> {
        let Some(factor) = super::verified(factors, METHOD) else {
            return Ok(None);
        };
        Ok(gh
            .totp_step(factor, record, code)?
            .map(|step| Spending::TotpStep {
                factor_id: factor.id.clone(),
                step,
            }))
    }
}

impl Gatehouse {
    /// `POST …/records/{id}/mfa/totp`: a new secret, pending until a code confirms it (or, with
    /// `verify: false`, verified at once with backup codes).
    pub async fn enrol_totp(
        &self,
        collection: &str,
        id: &str,
        body: TotpEnrolment,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<Value> {
        let owner = self
            .factor_owner(collection, id, caller, request, Need::Enrol)
            .await?;
        let c = owner.collection.clone();
        if !c.totp.enabled {
            return Err(disabled(METHOD));
        }
        self.require_recent(&owner, &body.reauth, request).await?;
        let record = &owner.record;
        let factors = self.store.list_factors(record.id()).await?;
        if super::verified(&factors, METHOD).is_some() {
            return Err(already_set_up());
        }
        let secret = code::new_secret();
        let stored = Stored::of(&c);
        let factor_id = random::record_id();
        let row = FactorRow {
            id: factor_id.clone(),
            collection_id: c.id.clone(),
            record_id: record.id().to_owned(),
            kind: METHOD.to_owned(),
            status: PENDING.to_owned(),
            secret: self
                .key
                .seal(&seal_purpose(&factor_id, record.id()), &base32(&secret)),
            target: String::new(),
            data: serde_json::to_string(&stored).unwrap_or_default(),
            created: self.now(),
            last_used: String::new(),
            last_step: 0,
        };
        match self.store.put_pending_factor(&row, &[]).await {
            Ok(()) => {}
            Err(StoreError::Unique { .. }) => return Err(already_set_up()),
            Err(e) => return Err(e.into()),
        }
        let uri = self.otpauth_uri(&c, record, &stored, &secret).await?;
        let mut answer = json!({
            "secret": base32(&secret),
            "uri": uri,
            "qr": qr::png_data_url(&uri).unwrap_or_default(),
            "qrSvg": qr::svg(&uri).unwrap_or_default(),
        });
        if !body.verify {
            let codes = self
                .verify_pending_factor(&c, record, &row, 0, ADDED, request)
                .await?;
            answer["backupCodes"] = json!(codes.unwrap_or_default());
        }
        Ok(answer)
    }

    /// `POST …/records/{id}/mfa/totp/confirm` `{"code"}`: the first code proves the app holds
    /// the secret. A wrong code leaves the pending factor as it was (and counts as a failure).
    pub async fn confirm_totp(
        &self,
        collection: &str,
        id: &str,
        code: &str,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<Value> {
        let owner = self
            .factor_owner(collection, id, caller, request, Need::Enrol)
            .await?;
        let c = owner.collection.clone();
        if !c.totp.enabled {
            return Err(disabled(METHOD));
        }
        check_fields(&[("code", code, super::CODE_MAX)])?;
        let record = &owner.record;
        let factors = self.store.list_factors(record.id()).await?;
        let pending = factors
            .iter()
            .find(|f| f.kind == METHOD && f.status == PENDING)
            .ok_or_else(|| Error::bad_request("There is no authenticator app to confirm."))?;
        self.check_record_lock(record.id()).await?;
        let Some(step) = self.totp_step(pending, record, code)? else {
            self.count_factor_failure(record.id()).await?;
            return Err(Error::bad_request(INVALID_CODE));
        };
        let codes = self
            .verify_pending_factor(&c, record, pending, step, ADDED, request)
            .await?
            .ok_or_else(|| Error::bad_request("There is no authenticator app to confirm."))?;
        Ok(backup_codes_answer(&codes))
    }

    /// `GET …/records/{id}/mfa/totp/uri`: the otpauth URI again (to add a second device).
    pub async fn totp_uri(
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
        self.require_recent(&owner, &reauth, request).await?;
        let record = &owner.record;
        let factors = self.store.list_factors(record.id()).await?;
        let factor = super::verified(&factors, METHOD).ok_or_else(not_set_up)?;
        let secret = self.totp_secret(factor, record)?;
        let stored: Stored = serde_json::from_str(&factor.data)
            .map_err(|_| Error::internal("stored TOTP parameters unreadable"))?;
        let uri = self
            .otpauth_uri(&owner.collection, record, &stored, &secret)
            .await?;
        Ok(json!({ "uri": uri }))
    }

    /// `DELETE …/records/{id}/mfa/totp`.
    pub async fn remove_totp(
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

    /// The time step `code` matches for `factor`, if any (not yet checked against replay).
    fn totp_step(&self, factor: &FactorRow, record: &Record, code: &str) -> Result<Option<i64>> {
        let stored: Stored = serde_json::from_str(&factor.data)
            .map_err(|_| Error::internal("stored TOTP parameters unreadable"))?;
        let secret = self.totp_secret(factor, record)?;
        Ok(code::check(
            &stored.params(),
            &secret,
            code,
            self.clock.now_secs(),
        ))
    }

    fn totp_secret(&self, factor: &FactorRow, record: &Record) -> Result<Vec<u8>> {
        let purpose = seal_purpose(&factor.id, record.id());
        let text = self
            .key
            .open(&purpose, &factor.secret)
            .ok()
            .flatten()
            .ok_or_else(|| {
                Error::internal("a TOTP secret cannot be opened with this server key")
            })?;
        decode_base32(&text).ok_or_else(|| Error::internal("a TOTP secret is malformed"))
    }

    /// `otpauth://totp/{issuer}:{email}?…` (MFA design §9); the issuer defaults to the app name.
    async fn otpauth_uri(
        &self,
        c: &Collection,
        record: &Record,
        stored: &Stored,
        secret: &[u8],
    ) -> Result<String> {
        let issuer = match c.totp.issuer.trim() {
            "" => self.current_settings().await?.meta.app_name.clone(),
            named => named.to_owned(),
        };
        let account = match record.row.email.as_str() {
            "" => record.id(),
            email => email,
        };
        Ok(code::uri(&stored.params(), secret, &issuer, account))
    }
}

impl Gatehouse {
    /// Seals every TOTP secret that an older server key sealed under the current key (after a
    /// key rotation). Each swap is conditional on the old value, so a factor removed or
    /// re-enrolled meanwhile is left alone. How many were re-sealed.
    pub(in crate::service) async fn reseal_totp_secrets(&self) -> Result<usize> {
        let mut resealed = 0;
        for factor in self.store.factors_of_kind(METHOD).await? {
            if !self.key.sealed_by_older(&factor.secret) {
                continue;
            }
            let purpose = seal_purpose(&factor.id, &factor.record_id);
            let Ok(Some(secret)) = self.key.open(&purpose, &factor.secret) else {
                tracing::error!(factor = %factor.id, "a TOTP secret does not open with any server key");
                continue;
            };
            let fresh = self.key.seal(&purpose, &secret);
            if self
                .store
                .replace_factor_secret(&factor.id, &factor.secret, &fresh)
                .await?
            {
                resealed += 1;
            }
        }
        Ok(resealed)
    }
}

/// What a sealed secret is bound to: a ciphertext moved to another factor or record won't open.
pub(super) fn seal_purpose(factor_id: &str, record_id: &str) -> String {
    format!("totp\n{factor_id}\n{record_id}")
}

fn decode_base32(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut count = 0u32;
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    for ch in text.bytes() {
        let value = match ch {
            b'A'..=b'Z' => ch - b'A',
            b'2'..=b'7' => ch - b'2' + 26,
            _ => return None,
        };
        bits = (bits << 5) | u32::from(value);
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push(u8::try_from((bits >> count) & 0xff).ok()?);
        }
    }
    Some(out)
}

fn already_set_up() -> Error {
    Error::bad_request("An authenticator app is already set up; remove it first.")
}

fn not_set_up() -> Error {
    Error::not_found("No authenticator app is set up.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_round_trips() {
        let secret: Vec<u8> = (0u8..20).collect();
        assert_eq!(decode_base32(&base32(&secret)), Some(secret));
        assert_eq!(decode_base32("not base32!"), None);
    }
}
