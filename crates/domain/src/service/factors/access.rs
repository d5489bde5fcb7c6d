//! Who may touch a record's factors (MFA design §4): the record itself with its own auth token,
//! or with the `enrollToken` of a live MFA session for the enrolment calls; a superuser may
//! read, reset and revoke trusted devices. Changing or removing a factor also needs a *recent* authentication: a token
//! whose `authTime` is within `mfa.reauthWindow`, or the current password or a factor code in
//! the body. A wrong one is a failed attempt like any other (no password oracle).

use super::super::Gatehouse;
use crate::access::{Caller, RequestInfo};
use crate::collection::Collection;
use crate::error::{Error, Result};
use crate::password::Password;
use crate::record::Record;
use crate::token::{self, EnrollClaims, TYPE_ENROLL};
use serde::Deserialize;
use std::sync::Arc;

/// The proof of a recent authentication that a change may carry in its body. No `Debug`.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Reauth {
    pub password: Password,
    pub code: String,
}

/// The record whose factors a call touches, and how its caller is known.
pub(in crate::service) struct Owner {
    pub(in crate::service) collection: Arc<Collection>,
    pub(in crate::service) record: Record,
    pub(in crate::service) how: Via,
}

#[derive(Clone, PartialEq)]
pub(in crate::service) enum Via {
    /// The record's own auth token; `recent` when its `authTime` is within the window.
    Token { recent: bool },
    /// An enrolment token: the MFA session it names is live, so the first step just passed.
    Enrolling { mfa_id: String },
    /// A superuser (read and reset only).
    Superuser,
}

/// What a call may do.
#[derive(Clone, Copy, PartialEq)]
pub(in crate::service) enum Need {
    /// Read the factors (owner or superuser).
    Read,
    /// Enrol or confirm (owner, or an enrolment token).
    Enrol,
    /// Change or remove (owner only).
    Change,
    /// Revoke a trusted device: the owner, or a superuser for a record that is not a superuser
    /// (as the reset; revoking only takes a shortcut away).
    Revoke,
}

const NOT_ALLOWED: &str = "The authorized record is not allowed to perform this action.";

impl Gatehouse {
    /// The record `id` of `collection` and how the caller reaches it, or the refusal: 401 for a
    /// guest, 404 for an unknown record, 403 for anyone else.
    pub(in crate::service) async fn factor_owner(
        &self,
        collection: &str,
        id: &str,
        caller: Option<&Caller>,
        request: &RequestInfo,
        need: Need,
    ) -> Result<Owner> {
        let c = self.auth_collection(collection).await?;
        // An enrolment token for another record is no token at all (design §9): a guest.
        let enrolling = match (caller, need) {
            (None, Need::Enrol | Need::Read) => self
                .enrolment_claims(&c, request)
                .await
                .filter(|claims| claims.id == id),
            _ => None,
        };
        if caller.is_none() && enrolling.is_none() {
            return Err(Error::unauthorized(
                "The request requires valid record authorization token.",
            ));
        }
        let row = self
            .store
            .find_record(&c.id, id)
            .await?
            .ok_or_else(Error::resource_not_found)?;
        let record = Record::from_row(row);
        let how = match (caller, enrolling) {
            (Some(caller), _) if caller.collection.id == c.id && caller.record.id() == id => {
                let age = self
                    .clock
                    .now_secs()
                    .saturating_sub(caller.claims.auth_time);
                let impersonated = caller.claims.amr.iter().any(|m| m == "impersonation");
                Via::Token {
                    recent: !impersonated && age <= c.mfa.reauth_window,
                }
            }
            (Some(caller), _)
                if caller.is_superuser()
                    && (need == Need::Read || (need == Need::Revoke && !c.is_superusers())) =>
            {
                Via::Superuser
            }
            (None, Some(claims)) if claims.id == id => Via::Enrolling {
                mfa_id: claims.mfa_id,
            },
            _ => return Err(Error::forbidden(NOT_ALLOWED)),
        };
        Ok(Owner {
            collection: c,
            record,
            how,
        })
    }

    /// The claims of a valid enrolment token in the `Authorization` header whose MFA session
    /// still lives; `None` otherwise (a spent token is no token at all).
    async fn enrolment_claims(
        &self,
        c: &Collection,
        request: &RequestInfo,
    ) -> Option<EnrollClaims> {
        let header = request.headers.get("authorization")?.as_str()?;
        let raw = header.trim();
        let raw = raw
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("bearer "))
            .map_or(raw, |_| raw[7..].trim());
        let peek = token::peek(raw, self.clock.now_secs())?;
        if peek.kind != TYPE_ENROLL || peek.collection_id != c.id {
            return None;
        }
        let row = self.store.find_record(&c.id, &peek.id).await.ok()??;
        let claims: EnrollClaims = token::verify(raw, &row.token_key, &c.auth_token.secret)?;
        let now = self.clock.now_millis();
        let session = self
            .store
            .find_ticket(&claims.mfa_id, super::super::mfa::MFA_TICKET, now)
            .await
            .ok()??;
        (session.record_id == claims.id && session.collection_id == c.id).then_some(claims)
    }

    /// Refuses a change without a recent authentication (403 `reauthRequired`). A password or
    /// code in the body is checked, and a wrong one counted, as a login's would be.
    pub(in crate::service) async fn require_recent(
        &self,
        owner: &Owner,
        reauth: &Reauth,
        request: &RequestInfo,
    ) -> Result<()> {
        match &owner.how {
            Via::Token { recent: true } | Via::Enrolling { .. } => return Ok(()),
            Via::Superuser => return Err(Error::forbidden(NOT_ALLOWED)),
            Via::Token { recent: false } => {}
        }
        let record = &owner.record;
        if !reauth.password.as_str().is_empty() {
            self.before_old_password_check(record.id(), &request.ip)
                .await?;
            let verdict = self
                .passwords
                .verify(&reauth.password, Some(&record.row.password_hash))
                .await?;
            self.after_old_password_check(record.id(), &request.ip, verdict.matched)
                .await?;
            return verdict
                .matched
                .then_some(())
                .ok_or_else(Error::reauth_required);
        }
        if !reauth.code.is_empty() && reauth.code.len() <= super::CODE_MAX {
            self.check_record_lock(record.id()).await?;
            let c = &owner.collection;
            if self
                .check_any_factor(c, record, &reauth.code, "", request)
                .await?
                .is_some()
            {
                return Ok(());
            }
            self.count_factor_failure(record.id()).await?;
        }
        Err(Error::reauth_required())
    }
}
