//! Superuser management from the command line (`gatehouse superuser upsert|delete`), for the first
//! superuser and for recovery when nobody can log in.

use super::Gatehouse;
use super::audit::{Event, kinds};
use crate::access::RequestInfo;
use crate::collection::SUPERUSERS_ID;
use crate::collection::field::is_email;
use crate::error::{Error, Result};
use crate::password::Password;
use crate::random;
use crate::record::Record;
use gatehouse_store::RecordRow;
use serde_json::json;

impl Gatehouse {
    /// Creates the superuser, or sets a new password (revoking its tokens) if it exists.
    /// Returns `true` when a new superuser was created.
    pub async fn upsert_superuser(&self, email: &str, password: &Password) -> Result<bool> {
        if !is_email(email) {
            return Err(Error::bad_request("Invalid email address."));
        }
        let min = self.auth_collection(SUPERUSERS_ID).await?.password_min();
        if password.as_str().chars().count() < min || password.as_str().len() > 71 {
            return Err(Error::bad_request(format!(
                "The password must be {min} to 71 characters long."
            )));
        }
        let hash = self.passwords.hash(password).await?;
        let now = self.now();
        if let Some(row) = self
            .store
            .find_record_by_email(SUPERUSERS_ID, email)
            .await?
        {
            let before = Record::from_row(row);
            let mut record = before.clone();
            record.row.password_hash = hash;
            record.row.token_key = random::secret();
            record.row.updated = now;
            let event = Event {
                kind: kinds::PASSWORD_CHANGED,
                collection_id: SUPERUSERS_ID,
                record_id: record.id(),
                method: "",
                data: json!({"by": "cli"}),
            };
            let events = [self.audit_row(event, &RequestInfo::default())];
            self.save_changes(&before, &record, &events).await?;
            return Ok(false);
        }
        let row = RecordRow {
            id: random::record_id(),
            collection_id: SUPERUSERS_ID.to_owned(),
            email: email.to_owned(),
            email_visibility: false,
            verified: true,
            password_hash: hash,
            token_key: random::secret(),
            data: "{}".to_owned(),
            created: now.clone(),
            updated: now,
        };
        self.store.insert_record(&row).await?;
        Ok(true)
    }

    /// Deletes a superuser by email; the last one cannot be deleted.
    pub async fn delete_superuser(&self, email: &str) -> Result<()> {
        let row = self
            .store
            .find_record_by_email(SUPERUSERS_ID, email)
            .await?
            .ok_or_else(|| Error::not_found(format!("No superuser with email {email}.")))?;
        self.delete_checked(SUPERUSERS_ID, &row.id).await
    }
}
