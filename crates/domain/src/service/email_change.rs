//! Email change: a signed-in record asks for a new address (`request-email-change` mails a link
//! to it), and the link plus the current password confirm it (`confirm-email-change`). The new
//! address is verified by the click; `tokenKey` rotates, so old sessions end.

use super::audit::{Event, kinds};
use super::email_tokens::{Purpose, TokenProblem};
use super::mailing::{check_address, mask_email};
use super::{Gatehouse, require_record_of};
use crate::access::{Caller, RequestInfo};
use crate::error::{Error, FieldErrors, Result, codes};
use crate::password::Password;
use crate::random;
use serde::Deserialize;
use serde_json::json;

const SUPERUSERS: &str = "All superusers can change their emails directly.";
const INVALID_DATA: &str = "An error occurred while validating the submitted data.";
const PASSWORD_MAX: usize = 100;

/// The body of `confirm-email-change`. No `Debug`: it holds a password and a token.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct EmailChangeConfirm {
    pub token: String,
    pub password: String,
}

impl Gatehouse {
    /// `POST /api/collections/{c}/request-email-change` → 204. The mail goes out before the
    /// answer: the caller learns whether it could be sent.
    pub async fn request_email_change(
        &self,
        collection: &str,
        new_email: &str,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<()> {
        let c = self.auth_collection(collection).await?;
        let caller = require_record_of(&c, caller)?;
        if c.is_superusers() {
            return Err(Error::bad_request(SUPERUSERS));
        }
        let new_email = new_email.trim();
        let mut errors = FieldErrors::default();
        check_address(&mut errors, "newEmail", new_email);
        if !errors.has("newEmail") {
            if new_email == caller.record.row.email {
                errors.add(
                    "newEmail",
                    "validation_not_in_invalid",
                    "Must not be in list.",
                );
            } else if self
                .store
                .find_record_by_email(&c.id, new_email)
                .await?
                .is_some()
            {
                errors.add(
                    "newEmail",
                    "validation_invalid_new_email",
                    "Invalid new email address.",
                );
            }
        }
        errors.into_result(INVALID_DATA)?;

        let record = &caller.record;
        let token = self.issue_email_token(&c, record, Purpose::EmailChange, new_email)?;
        let settings = self.current_settings().await?;
        let mail = self.render_mail(
            &settings,
            &c,
            record,
            new_email,
            Purpose::EmailChange.template(&c),
            &[("{TOKEN}", &token)],
        );
        if let Err(e) = self.mailer.send(&settings.smtp, &mail).await {
            tracing::warn!(error = %e, "sending the email change mail failed");
            return Err(Error::bad_request("Failed to request email change."));
        }
        let event = Event {
            kind: kinds::EMAIL_CHANGE_REQUESTED,
            collection_id: &c.id,
            record_id: record.id(),
            method: "",
            data: json!({"sentTo": mask_email(new_email)}),
        };
        self.audit(event, request).await
    }

    /// `POST /api/collections/{c}/confirm-email-change` → 204. No auth header needed: the token
    /// and the record's current password are the proof.
    pub async fn confirm_email_change(
        &self,
        collection: &str,
        form: EmailChangeConfirm,
        request: &RequestInfo,
    ) -> Result<()> {
        let c = self.auth_collection(collection).await?;
        if c.is_superusers() {
            return Err(Error::bad_request(SUPERUSERS));
        }
        let mut errors = FieldErrors::default();
        let redeemed = if form.token.is_empty() {
            errors.add_code("token", codes::REQUIRED);
            None
        } else {
            match self
                .redeem_email_token(&c, &form.token, Purpose::EmailChange)
                .await?
            {
                Ok(found) => Some(found),
                Err(problem) => {
                    problem.report(Purpose::EmailChange, &mut errors);
                    None
                }
            }
        };
        let taken = match &redeemed {
            Some((_, claims)) => self
                .store
                .find_record_by_email(&c.id, &claims.new_email)
                .await?
                .is_some(),
            None => false,
        };
        if taken {
            TokenProblem::EmailTaken.report(Purpose::EmailChange, &mut errors);
        }
        let usable = redeemed.filter(|_| !taken);
        if form.password.is_empty() {
            errors.add_code("password", codes::REQUIRED);
        } else if form.password.chars().count() > PASSWORD_MAX {
            errors.length_out_of_range("password", 1, PASSWORD_MAX);
        } else {
            // Without a usable token there is no record to check against: PocketBase answers
            // "invalid password" too. No hash is run for it: a forged token must not buy
            // argon2 work (the token's validity is no secret to whoever holds it).
            let matched = match &usable {
                Some((record, _)) => {
                    let password = Password(form.password.clone());
                    let stored = Some(record.row.password_hash.as_str());
                    self.passwords.verify(&password, stored).await?.matched
                }
                None => false,
            };
            if !matched {
                errors.add(
                    "password",
                    "validation_invalid_password",
                    "Missing or invalid auth record password.",
                );
            }
        }
        errors.into_result(INVALID_DATA)?;
        let Some((mut record, claims)) = usable else {
            return Err(Error::internal(
                "email change token vanished after validation",
            ));
        };

        let before = record.clone();
        let old = std::mem::replace(&mut record.row.email, claims.new_email.clone());
        record.row.verified = true;
        record.row.token_key = random::secret();
        record.row.updated = self.now();
        let event = Event {
            kind: kinds::EMAIL_CHANGED,
            collection_id: &c.id,
            record_id: record.id(),
            method: "",
            data: json!({"from": mask_email(&old), "to": mask_email(&claims.new_email)}),
        };
        let events = [self.audit_row(event, request)];
        self.save_redeemed(&before, &record, &events, Purpose::EmailChange)
            .await?;
        self.forget_credentials(record.id(), false).await?;
        tracing::info!(record = record.id(), collection = %c.name, "email changed; previous tokens revoked");
        Ok(())
    }
}
