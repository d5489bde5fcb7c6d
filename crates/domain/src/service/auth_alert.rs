//! The new-location alert (PocketBase's `authAlert`): each record keeps the fingerprints of the
//! last few places it logged in from; a login from a new one mails the owner. The first login
//! ever sends nothing (there is nothing to compare with).
//!
//! A fingerprint is the client IP and user agent under the server key (PocketBase uses a plain
//! md5), so the stored rows do not reveal where anyone logged in from. They live in the tickets
//! table with no expiry, `created_ms` being the last time the place was seen.

use super::Gatehouse;
use super::audit::{Event, kinds};
use super::mailing::escape;
use crate::access::RequestInfo;
use crate::clock::format_datetime;
use crate::collection::Collection;
use crate::error::Result;
use crate::random;
use crate::record::Record;
use gatehouse_store::{TicketKey, TicketRow};
use serde_json::{Value, json};

pub(crate) const ORIGIN_TICKET: &str = "origin";
/// Places remembered per record; the least recently seen is dropped first.
const MAX_ORIGINS: usize = 5;
/// A known place's "last seen" is rewritten at most this often, so that a busy account does not
/// turn every login into a write.
const REFRESH_MS: i64 = 3_600_000;
const USER_AGENT_MAX: usize = 200;

impl Gatehouse {
    /// Called once a login has fully succeeded (after MFA). Mail failures are only logged.
    pub(super) async fn note_login_origin(
        &self,
        c: &Collection,
        record: &Record,
        request: &RequestInfo,
    ) -> Result<()> {
        if !c.auth_alert.enabled {
            return Ok(());
        }
        let user_agent = user_agent(request);
        let fingerprint = self
            .key
            .hash(ORIGIN_TICKET, &format!("{}{}", request.ip, user_agent));
        let now = self.clock.now_millis();
        let origins = self
            .store
            .live_tickets(record.id(), ORIGIN_TICKET, now)
            .await?;
        let known = origins.iter().find(|o| o.secret_hash == fingerprint);
        if known.is_some_and(|o| now - o.created_ms < REFRESH_MS) {
            return Ok(());
        }
        self.store
            .insert_ticket(
                &TicketRow {
                    id: random::record_id(),
                    kind: ORIGIN_TICKET.to_owned(),
                    collection_id: c.id.clone(),
                    record_id: record.id().to_owned(),
                    secret_hash: fingerprint,
                    data: "{}".to_owned(),
                    created_ms: now,
                    expires_ms: i64::MAX,
                    failures: 0,
                },
                &[],
            )
            .await?;
        // `origins` is newest first; the new row makes one more.
        let stale = match known {
            Some(old) => vec![old],
            None => origins.iter().skip(MAX_ORIGINS - 1).collect(),
        };
        for old in stale {
            let key = TicketKey {
                id: &old.id,
                kind: ORIGIN_TICKET,
                record_id: record.id(),
            };
            self.store.delete_ticket(key).await?;
        }
        if known.is_none() && !origins.is_empty() && !record.row.email.is_empty() {
            self.send_auth_alert(c, record, request, &user_agent)
                .await?;
        }
        Ok(())
    }

    async fn send_auth_alert(
        &self,
        c: &Collection,
        record: &Record,
        request: &RequestInfo,
        user_agent: &str,
    ) -> Result<()> {
        let info = format!(
            "{} - {} {}",
            format_datetime(self.clock.now_millis()),
            request.ip,
            user_agent
        );
        let settings = self.current_settings().await?;
        let mail = self.render_mail(
            &settings,
            c,
            record,
            &record.row.email,
            &c.auth_alert.email_template,
            &[("{ALERT_INFO}", &escape(&info))],
        );
        self.send_in_background(settings.smtp.clone(), mail, async {});
        let event = Event {
            kind: kinds::AUTH_ALERT_SENT,
            collection_id: &c.id,
            record_id: record.id(),
            method: "",
            data: json!({}),
        };
        self.audit(event, request).await
    }
}

/// The user agent as PocketBase fingerprints it: cut at 200 characters, marked with `...`.
fn user_agent(request: &RequestInfo) -> String {
    let full = request
        .headers
        .get("user_agent")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if full.chars().count() > USER_AGENT_MAX {
        let cut: String = full.chars().take(USER_AGENT_MAX).collect();
        format!("{cut}...")
    } else {
        full.to_owned()
    }
}
