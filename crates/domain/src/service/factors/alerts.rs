//! Telling the owner: every change to a record's factors is an audit row, and a mail (the
//! collection's `securityAlertTemplate`) when it adds, removes or spends something.

use super::super::Gatehouse;
use super::super::audit::Event;
use super::super::mailing::escape;
use crate::access::RequestInfo;
use crate::clock::format_datetime;
use crate::collection::Collection;
use crate::error::Result;
use crate::record::Record;
use gatehouse_store::AuditRow;
use serde_json::json;

impl Gatehouse {
    /// One audit row of kind `kind` about `record_id`'s `method`.
    pub(in crate::service) async fn audit_factor(
        &self,
        c: &Collection,
        record_id: &str,
        method: &str,
        kind: &'static str,
        request: &RequestInfo,
    ) -> Result<()> {
        self.audit(factor_event(c, record_id, method, kind), request)
            .await
    }

    /// The audit row of a factor change, to be written with the change itself.
    pub(in crate::service) fn factor_row(
        &self,
        c: &Collection,
        record_id: &str,
        method: &str,
        kind: &'static str,
        request: &RequestInfo,
    ) -> AuditRow {
        self.audit_row(factor_event(c, record_id, method, kind), request)
    }

    /// Mails the owner that `what` happened (e.g. "An authenticator app was added."), unless
    /// the record has no address. Sending happens in the background; a failure is logged.
    pub(in crate::service) async fn alert_owner(
        &self,
        c: &Collection,
        record: &Record,
        what: &str,
        request: &RequestInfo,
    ) -> Result<()> {
        if record.row.email.is_empty() {
            return Ok(());
        }
        let info = format!(
            "{what} ({} - {})",
            format_datetime(self.clock.now_millis()),
            request.ip
        );
        let settings = self.current_settings().await?;
        let mail = self.render_mail(
            &settings,
            c,
            record,
            &record.row.email,
            &c.security_alert_template,
            &[("{ALERT_INFO}", &escape(&info))],
        );
        self.send_in_background(settings.smtp.clone(), mail, async {});
        Ok(())
    }
}

fn factor_event<'a>(
    c: &'a Collection,
    record_id: &'a str,
    method: &'a str,
    kind: &'static str,
) -> Event<'a> {
    Event {
        kind,
        collection_id: &c.id,
        record_id,
        method,
        data: json!({}),
    }
}
