//! Email verification: `request-verification` mails a link, `confirm-verification` marks the
//! record verified (PocketBase's answers). An unknown, a verified and an unverified address get
//! the same 204 after the same work; only the last gets a mail.

use super::Gatehouse;
use super::audit::{Event, kinds};
use super::email_tokens::Purpose;
use crate::access::RequestInfo;
use crate::error::{Error, FieldErrors, Result, codes};
use crate::password::Password;
use crate::random;
use serde_json::json;

const SUPERUSERS: &str = "All superusers are verified by default.";
const INVALID_DATA: &str = "An error occurred while validating the submitted data.";

impl Gatehouse {
    /// `POST /api/collections/{c}/request-verification` → 204.
    pub async fn request_verification(
        &self,
        collection: &str,
        email: &str,
        request: &RequestInfo,
    ) -> Result<()> {
        let c = self.auth_collection(collection).await?;
        if c.is_superusers() {
            return Err(Error::bad_request(SUPERUSERS));
        }
        self.mail_link(
            &c,
            email,
            Purpose::Verification,
            |r| !r.row.verified,
            request,
        )
        .await
    }

    /// `POST /api/collections/{c}/confirm-verification` → 204. The link stays usable until it
    /// expires (confirming twice is a 204 too), as in PocketBase.
    pub async fn confirm_verification(
        &self,
        collection: &str,
        token: &str,
        request: &RequestInfo,
    ) -> Result<()> {
        let c = self.auth_collection(collection).await?;
        if c.is_superusers() {
            return Err(Error::bad_request(SUPERUSERS));
        }
        let mut errors = FieldErrors::default();
        if token.is_empty() {
            errors.add_code("token", codes::REQUIRED);
            return errors.into_result(INVALID_DATA);
        }
        let (mut record, claims) = match self
            .redeem_email_token(&c, token, Purpose::Verification)
            .await?
        {
            Ok(found) => found,
            Err(problem) => {
                problem.report(Purpose::Verification, &mut errors);
                return errors.into_result(INVALID_DATA);
            }
        };
        if claims.email != record.row.email {
            errors.add(
                "token",
                "validation_token_email_mismatch",
                "The record email doesn't match with the requested token claims.",
            );
            return errors.into_result(INVALID_DATA);
        }
        if record.row.verified {
            return Ok(());
        }
        let before = record.clone();
        record.row.verified = true;
        if !c.password_auth.enabled {
            // Whoever signed the address up before its owner must not keep a password to it.
            record.row.password_hash = self.passwords.hash(&Password(random::password())).await?;
            record.row.token_key = random::secret();
        }
        record.row.updated = self.now();
        let event = Event {
            kind: kinds::EMAIL_VERIFIED,
            collection_id: &c.id,
            record_id: record.id(),
            method: "",
            data: json!({}),
        };
        let events = [self.audit_row(event, request)];
        self.save_redeemed(&before, &record, &events, Purpose::Verification)
            .await?;
        Ok(())
    }
}
