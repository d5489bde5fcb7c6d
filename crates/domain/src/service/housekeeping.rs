//! The hourly purge: expired tickets (OTPs, MFA sessions, …) and trusted devices, audit rows past
//! `settings.retention.auditDays` and mail-folder messages past `mailFolderDays`. Time comes
//! from the service's clock, so tests move it instead of waiting.

use super::Gatehouse;
use crate::clock::format_datetime;
use crate::error::Result;

const DAY_MS: i64 = 86_400_000;

/// What one purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub devices: u64,
    pub audit_rows: u64,
    pub mail_files: usize,
}

impl Gatehouse {
    pub async fn purge(&self) -> Result<Purged> {
        let now = self.clock.now_millis();
        let retention = self.current_settings().await?.retention.clone();
        self.store.delete_expired_tickets(now).await?;
        let devices = self.store.delete_expired_devices(now).await?;
        let audit_cutoff = format_datetime(now - retention.audit_days * DAY_MS);
        let audit_rows = self.store.delete_audit_before(&audit_cutoff).await?;
        let mail_files = self
            .mailer
            .purge_before(now - retention.mail_folder_days * DAY_MS)
            .await
            .unwrap_or_else(|e| {
                // The rest of the purge still counts; the next run tries again.
                tracing::warn!(error = %e, "purging the mail folder failed");
                0
            });
        if devices > 0 || audit_rows > 0 || mail_files > 0 {
            tracing::info!(
                devices,
                audit_rows,
                mail_files,
                "purged expired devices, old audit rows and mail files"
            );
        }
        Ok(Purged {
            devices,
            audit_rows,
            mail_files,
        })
    }
}
