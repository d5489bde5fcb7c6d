//! Password reset: `request-password-reset` mails a link, `confirm-password-reset` sets the new
//! password. The new password rotates `tokenKey`, so the link works once and every session ends.

use super::Gatehouse;
use super::audit::{Event, kinds};
use super::email_tokens::Purpose;
use crate::access::RequestInfo;
use crate::error::{Error, FieldErrors, Result, codes};
use crate::password::Password;
use crate::random;
use serde::Deserialize;
use serde_json::json;

const DISABLED: &str = "The collection is not configured to allow password authentication.";
const INVALID_DATA: &str = "An error occurred while validating the submitted data.";
/// PocketBase's form bound; the collection's own (bcrypt-sized) maximum applies when saving.
const FORM_MAX: usize = 255;
/// Where installers park a superuser before it is claimed; PocketBase never mails it.
const INSTALLER_ADDRESS: &str = "__pbinstaller@example.com";

/// The body of `confirm-password-reset`. No `Debug`: it holds a password and a token.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PasswordResetConfirm {
    pub token: String,
    pub password: String,
    pub password_confirm: String,
}

impl Gatehouse {
    /// `POST /api/collections/{c}/request-password-reset` → 204, mail or not.
    pub async fn request_password_reset(
        &self,
        collection: &str,
        email: &str,
        request: &RequestInfo,
    ) -> Result<()> {
        let c = self.auth_collection(collection).await?;
        if !c.password_auth.enabled {
            return Err(Error::bad_request(DISABLED));
        }
        self.mail_link(
            &c,
            email,
            Purpose::PasswordReset,
            |r| r.row.email != INSTALLER_ADDRESS,
            request,
        )
        .await
    }

    /// `POST /api/collections/{c}/confirm-password-reset` → 204. Password auth need not be
    /// enabled (as in PocketBase).
    pub async fn confirm_password_reset(
        &self,
        collection: &str,
        form: PasswordResetConfirm,
        request: &RequestInfo,
    ) -> Result<()> {
        let c = self.auth_collection(collection).await?;
        let mut errors = FieldErrors::default();
        let min = c.password_min();
        let length = form.password.chars().count();
        if form.password.is_empty() {
            errors.add_code("password", codes::REQUIRED);
        } else if length < min || length > FORM_MAX {
            errors.length_out_of_range("password", min, FORM_MAX);
        }
        if form.password_confirm.is_empty() {
            errors.add_code("passwordConfirm", codes::REQUIRED);
        } else if form.password_confirm != form.password {
            errors.add_code("passwordConfirm", codes::VALUES_MISMATCH);
        }
        let redeemed = if form.token.is_empty() {
            errors.add_code("token", codes::REQUIRED);
            None
        } else {
            match self
                .redeem_email_token(&c, &form.token, Purpose::PasswordReset)
                .await?
            {
                Ok(found) => Some(found),
                Err(problem) => {
                    problem.report(Purpose::PasswordReset, &mut errors);
                    None
                }
            }
        };
        errors.into_result(INVALID_DATA)?;
        let Some((mut record, claims)) = redeemed else {
            return Err(Error::internal("reset token vanished after validation"));
        };
        if form.password.len() > c.password_max() {
            let mut errors = FieldErrors::default();
            errors.add("password", "validation_invalid_value", "Invalid value.");
            return Err(Error::validation("Failed to set new password.", errors));
        }

        let before = record.clone();
        record.row.password_hash = self.passwords.hash(&Password(form.password)).await?;
        record.row.token_key = random::secret();
        if !record.row.verified && claims.email == record.row.email {
            // The link reached this address, which proves it.
            record.row.verified = true;
        }
        record.row.updated = self.now();
        let event = Event {
            kind: kinds::PASSWORD_CHANGED,
            collection_id: &c.id,
            record_id: record.id(),
            method: "reset",
            data: json!({"by": record.id(), "self": true}),
        };
        let events = [self.audit_row(event, request)];
        self.save_redeemed(&before, &record, &events, Purpose::PasswordReset)
            .await?;
        self.forget_credentials(record.id(), true).await?;
        tracing::info!(record = record.id(), collection = %c.name, "password reset; previous tokens revoked");
        Ok(())
    }
}
