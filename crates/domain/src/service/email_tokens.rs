//! The tokens mailed as links: `verification`, `passwordReset` and `emailChange` (PocketBase's
//! claims and keys, see [`crate::token`]). They are signed with the record's `tokenKey`, so a
//! password or email change kills every link still pending, and a reset link works once.
//! Also the shared half of the two guest requests for a link (verification, password reset).

use super::Gatehouse;
use super::audit::{Event, kinds};
use super::mailing::{check_address, mask_email};
use crate::access::RequestInfo;
use crate::collection::Collection;
use crate::collection::options::{EmailTemplate, TokenOptions};
use crate::error::{Error, FieldErrors, Result};
use crate::record::Record;
use crate::token;
use gatehouse_store::{AuditRow, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;

const INVALID_DATA: &str = "An error occurred while validating the submitted data.";
/// One mail of a kind per address in this window (PocketBase's resend marker).
const RESEND_WINDOW_MS: i64 = 120_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Purpose {
    Verification,
    PasswordReset,
    EmailChange,
}

impl Purpose {
    pub fn kind(self) -> &'static str {
        match self {
            Self::Verification => "verification",
            Self::PasswordReset => "passwordReset",
            Self::EmailChange => "emailChange",
        }
    }

    fn options(self, c: &Collection) -> &TokenOptions {
        match self {
            Self::Verification => &c.verification_token,
            Self::PasswordReset => &c.password_reset_token,
            Self::EmailChange => &c.email_change_token,
        }
    }

    pub fn template(self, c: &Collection) -> &EmailTemplate {
        match self {
            Self::Verification => &c.verification_template,
            Self::PasswordReset => &c.reset_password_template,
            Self::EmailChange => &c.confirm_email_change_template,
        }
    }
}

/// Claims in PocketBase's (alphabetical) order. `email` is the address the link was sent for.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EmailClaims {
    pub collection_id: String,
    #[serde(default)]
    pub email: String,
    pub exp: i64,
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub new_email: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// Why a submitted token was refused: PocketBase's `data.token` codes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum TokenProblem {
    /// Not a token of this purpose, forged, expired or from a stale `tokenKey`.
    Invalid,
    /// Readable, but lacking the claim the flow needs (`email`, or `newEmail`).
    MissingClaim,
    /// A good token of another auth collection.
    CollectionMismatch,
    /// An email change whose new address another record has taken since.
    EmailTaken,
}

impl TokenProblem {
    pub fn report(self, purpose: Purpose, errors: &mut FieldErrors) {
        let (code, message) = match (self, purpose) {
            (Self::Invalid, _) => ("validation_invalid_token", "Invalid or expired token."),
            (Self::MissingClaim, Purpose::EmailChange) => (
                "validation_invalid_token_payload",
                "Invalid token payload - newEmail must be set.",
            ),
            (Self::MissingClaim, _) => (
                "validation_invalid_token_claims",
                "Missing email token claim.",
            ),
            (Self::CollectionMismatch, _) => (
                "validation_token_collection_mismatch",
                "The provided token is for different auth collection.",
            ),
            (Self::EmailTaken, _) => (
                "validation_invalid_token_email",
                "The new email address is invalid.",
            ),
        };
        errors.add("token", code, message);
    }
}

impl Gatehouse {
    /// `request-verification` and `request-password-reset` after their own checks: a link to
    /// the record with `address` when `wanted` holds for it and no such mail went to the
    /// address in the last two minutes. Every address gets the same work and an audit row, so
    /// neither the answer nor its timing tells whether an account exists.
    pub(super) async fn mail_link(
        &self,
        c: &Collection,
        address: &str,
        purpose: Purpose,
        wanted: impl Fn(&Record) -> bool,
        request: &RequestInfo,
    ) -> Result<()> {
        let address = address.trim();
        let mut errors = FieldErrors::default();
        check_address(&mut errors, "email", address);
        errors.into_result(INVALID_DATA)?;

        let record = self
            .store
            .find_record_by_email(&c.id, address)
            .await?
            .map(Record::from_row);
        let fresh = self.claim_resend(purpose, address).await?;
        let record = record.filter(|r| fresh && wanted(r));
        let event = Event {
            kind: match purpose {
                Purpose::PasswordReset => kinds::PASSWORD_RESET_REQUESTED,
                _ => kinds::VERIFICATION_REQUESTED,
            },
            collection_id: &c.id,
            record_id: record.as_ref().map_or("", Record::id),
            method: "",
            data: json!({"sentTo": mask_email(address), "sent": record.is_some()}),
        };
        self.audit(event, request).await?;
        let Some(record) = record else {
            return Ok(());
        };
        let token = self.issue_email_token(c, &record, purpose, "")?;
        let settings = self.current_settings().await?;
        let mail = self.render_mail(
            &settings,
            c,
            &record,
            &record.row.email,
            purpose.template(c),
            &[("{TOKEN}", &token)],
        );
        self.send_in_background(settings.smtp.clone(), mail, async {});
        Ok(())
    }

    /// Whether a mail of `purpose` may go to `address` now (counted before the send, and
    /// shared by instances).
    async fn claim_resend(&self, purpose: Purpose, address: &str) -> Result<bool> {
        let key = format!(
            "resend:{}",
            self.key.hash(purpose.kind(), &address.to_lowercase())
        );
        let now = self.clock.now_millis();
        Ok(self.store.counter_hit(&key, now, RESEND_WINDOW_MS).await? <= 1)
    }

    /// Writes what a redeemed token changed in the record (read as `before`), with its audit
    /// rows. The write lands only if the record still has the `tokenKey` the token was checked
    /// against, so of concurrent uses of one link exactly one wins; a record deleted or given new
    /// credentials since makes the token invalid, and for an email change, an address taken in the
    /// meantime makes it `validation_invalid_token_email` (PocketBase's answers).
    pub(super) async fn save_redeemed(
        &self,
        before: &Record,
        record: &Record,
        events: &[AuditRow],
        purpose: Purpose,
    ) -> Result<()> {
        let mut errors = FieldErrors::default();
        match self.save_changes(before, record, events).await {
            Ok(()) => return Ok(()),
            Err(StoreError::NotFound | StoreError::Stale) => {
                TokenProblem::Invalid.report(purpose, &mut errors);
            }
            Err(StoreError::Unique { .. }) if purpose == Purpose::EmailChange => {
                TokenProblem::EmailTaken.report(purpose, &mut errors);
            }
            Err(e) => return Err(e.into()),
        }
        errors.into_result(INVALID_DATA)
    }

    pub(super) fn issue_email_token(
        &self,
        c: &Collection,
        record: &Record,
        purpose: Purpose,
        new_email: &str,
    ) -> Result<String> {
        let options = purpose.options(c);
        let claims = EmailClaims {
            collection_id: c.id.clone(),
            email: record.row.email.clone(),
            exp: self.clock.now_secs() + options.duration,
            id: record.id().to_owned(),
            new_email: new_email.to_owned(),
            kind: purpose.kind().to_owned(),
        };
        token::sign(&claims, &record.row.token_key, &options.secret)
            .ok_or_else(|| Error::internal("token signing failed"))
    }

    /// The record a mailed token is for, checked in PocketBase's order: the claims the flow
    /// needs, then type, expiry and signature (against the record's current `tokenKey`), then
    /// the collection.
    pub(super) async fn redeem_email_token(
        &self,
        c: &Collection,
        raw: &str,
        purpose: Purpose,
    ) -> Result<std::result::Result<(Record, EmailClaims), TokenProblem>> {
        let unverified =
            jsonwebtoken::dangerous::insecure_decode_claims::<serde_json::Value>(raw).ok();
        let needed = match purpose {
            Purpose::EmailChange => "newEmail",
            _ => "email",
        };
        let has_claim = unverified
            .as_ref()
            .and_then(|v| v.get(needed))
            .and_then(serde_json::Value::as_str)
            .is_some_and(|s| !s.is_empty());
        // PocketBase reads the claim first for verification and email change; a reset token
        // without one is simply invalid.
        if !has_claim && purpose != Purpose::PasswordReset {
            return Ok(Err(TokenProblem::MissingClaim));
        }
        let Some(peek) = token::peek(raw, self.clock.now_secs()) else {
            return Ok(Err(TokenProblem::Invalid));
        };
        if peek.kind != purpose.kind() {
            return Ok(Err(TokenProblem::Invalid));
        }
        let Some(owner) = self.collections.get(&peek.collection_id).await? else {
            return Ok(Err(TokenProblem::Invalid));
        };
        if owner.id != peek.collection_id || owner.kind != "auth" {
            return Ok(Err(TokenProblem::Invalid));
        }
        let Some(row) = self.store.find_record(&owner.id, &peek.id).await? else {
            return Ok(Err(TokenProblem::Invalid));
        };
        let secret = &purpose.options(&owner).secret;
        let Some(claims) = token::verify::<EmailClaims>(raw, &row.token_key, secret) else {
            return Ok(Err(TokenProblem::Invalid));
        };
        if owner.id != c.id {
            return Ok(Err(TokenProblem::CollectionMismatch));
        }
        Ok(Ok((Record::from_row(row), claims)))
    }
}
