//! `settings.retention` (Gatehouse's own): how long the audit log and the mail folder keep what
//! they hold. The purge runs hourly; expired tickets go at once, whatever these say.

use crate::error::FieldErrors;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Retention {
    /// Days an audit row is kept.
    pub audit_days: i64,
    /// Days a message written to the mail folder (SMTP off) is kept: it holds codes and links.
    pub mail_folder_days: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            audit_days: 90,
            mail_folder_days: 7,
        }
    }
}

/// Ten years: longer is a typo, and day counts beyond it overflow nothing but intent.
const MAX_DAYS: i64 = 3650;

impl Retention {
    pub fn check(&self, errors: &mut FieldErrors) {
        let mut own = FieldErrors::default();
        for (name, value) in [
            ("auditDays", self.audit_days),
            ("mailFolderDays", self.mail_folder_days),
        ] {
            if value < 1 {
                own.min_threshold(name, 1);
            } else if value > MAX_DAYS {
                own.max_threshold(name, MAX_DAYS);
            }
        }
        errors.nest("retention", own);
    }
}
