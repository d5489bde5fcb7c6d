//! The audit log: one row per security event (and a structured log line), never a secret.
//! Superusers read all of it (`GET /api/audit`); a record reads its own events
//! (`GET /api/collections/{c}/records/{id}/security-events`).

use super::{Gatehouse, ListOf, require_superuser};
use crate::access::{Caller, RequestInfo};
use crate::error::{Error, Result};
use crate::random;
use gatehouse_store::{AuditQuery, AuditRow};
use serde_json::{Value, json};

/// The event types (mfa-design §9). Later features add theirs here.
pub mod kinds {
    pub const LOGIN_SUCCESS: &str = "login.success";
    pub const LOGIN_FAILURE: &str = "login.failure";
    pub const IMPERSONATION: &str = "impersonation";
    pub const PASSWORD_CHANGED: &str = "password.changed";
    pub const SETTINGS_CHANGED: &str = "settings.changed";
    /// A superuser sent a test mail or text message (`/api/settings/test/*`).
    pub const SETTINGS_TESTED: &str = "settings.tested";
    pub const MFA_REQUIRED: &str = "mfa.required";
    pub const MFA_SUCCESS: &str = "mfa.success";
    pub const MFA_FAILURE: &str = "mfa.failure";
    pub const OTP_REQUESTED: &str = "otp.requested";
    pub const VERIFICATION_REQUESTED: &str = "verification.requested";
    pub const EMAIL_VERIFIED: &str = "email.verified";
    pub const PASSWORD_RESET_REQUESTED: &str = "password.reset_requested";
    pub const EMAIL_CHANGE_REQUESTED: &str = "email.change_requested";
    pub const EMAIL_CHANGED: &str = "email.changed";
    pub const AUTH_ALERT_SENT: &str = "login.new_location";
    pub const FACTOR_ENROLLED: &str = "factor.enrolled";
    pub const FACTOR_REMOVED: &str = "factor.removed";
    pub const BACKUP_CODES_REGENERATED: &str = "backupCodes.regenerated";
    pub const BACKUP_CODE_USED: &str = "backupCode.used";
    pub const MFA_RESET: &str = "mfa.reset";
    pub const STEP_UP: &str = "mfa.stepUp";
    pub const SMS_CAPPED: &str = "sms.capped";
    pub const DEVICE_TRUSTED: &str = "device.trusted";
    pub const DEVICE_REVOKED: &str = "device.revoked";
    /// A record created by an OAuth2 login (`data.provider`).
    pub const OAUTH2_SIGNUP: &str = "oauth2.signup";
    /// An OAuth2 account linked to an existing record (`data.provider`).
    pub const OAUTH2_LINKED: &str = "oauth2.linked";
    /// An OAuth2 link removed through `_externalAuths` (`data.provider`, `data.by`).
    pub const OAUTH2_UNLINKED: &str = "oauth2.unlinked";
}

const DEFAULT_PER_PAGE: i64 = 30;
const MAX_PER_PAGE: i64 = 500;

/// Filters of an audit list, as given in the query string.
#[derive(Debug, Default, Clone)]
pub struct AuditParams {
    pub page: i64,
    pub per_page: i64,
    pub record_id: String,
    pub collection_id: String,
    /// Comma-separated types.
    pub kinds: String,
    pub since: String,
    pub until: String,
}

/// What an event is about, and how: the pieces every row has.
pub struct Event<'a> {
    pub kind: &'static str,
    pub collection_id: &'a str,
    pub record_id: &'a str,
    /// The auth method (`password`, `otp`, …) where there is one.
    pub method: &'a str,
    pub data: Value,
}

impl<'a> Event<'a> {
    /// A superuser changed settings (`collection_id` empty) or a collection's options: which
    /// top-level keys were sent and by whom, never their values (an SMTP password, say).
    pub fn settings_changed(
        collection_id: &'a str,
        patch: &Value,
        caller: Option<&Caller>,
    ) -> Self {
        let keys: Vec<&String> = patch
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        let by = caller.map(|x| x.record.id()).unwrap_or_default();
        Self {
            kind: kinds::SETTINGS_CHANGED,
            collection_id,
            record_id: "",
            method: "",
            data: json!({"keys": keys, "by": by}),
        }
    }
}

impl Gatehouse {
    /// The row for `event` as seen in `request` (client IP and user agent).
    pub(crate) fn audit_row(&self, event: Event<'_>, request: &RequestInfo) -> AuditRow {
        let user_agent = request
            .headers
            .get("user_agent")
            .and_then(Value::as_str)
            .unwrap_or_default();
        tracing::info!(
            target: "audit",
            kind = event.kind,
            collection = event.collection_id,
            record = event.record_id,
            method = event.method,
            ip = %request.ip,
            "{}", event.data
        );
        AuditRow {
            id: random::record_id(),
            kind: event.kind.to_owned(),
            created: self.now(),
            collection_id: event.collection_id.to_owned(),
            record_id: event.record_id.to_owned(),
            method: event.method.to_owned(),
            ip: request.ip.clone(),
            user_agent: user_agent.chars().take(512).collect(),
            data: event.data.to_string(),
        }
    }

    /// Records an event on its own (events that change state go with the change instead).
    pub(crate) async fn audit(&self, event: Event<'_>, request: &RequestInfo) -> Result<()> {
        let row = self.audit_row(event, request);
        Ok(self.store.insert_audit(&row).await?)
    }

    /// `GET /api/audit`: every event, for superusers.
    pub async fn list_audit(
        &self,
        caller: Option<&Caller>,
        params: AuditParams,
    ) -> Result<ListOf<Value>> {
        require_superuser(caller)?;
        self.audit_page(params).await
    }

    /// `GET …/records/{id}/security-events`: a record's own events, for the record itself (or a superuser).
    pub async fn security_events(
        &self,
        collection: &str,
        id: &str,
        caller: Option<&Caller>,
        mut params: AuditParams,
    ) -> Result<ListOf<Value>> {
        let c = self
            .collections
            .get(collection)
            .await?
            .ok_or_else(|| Error::not_found("Missing collection context."))?;
        let caller = caller.ok_or_else(|| {
            Error::unauthorized("The request requires valid record authorization token.")
        })?;
        let own = caller.collection.id == c.id && caller.record.id() == id;
        if !own && !caller.is_superuser() {
            return Err(Error::forbidden(
                "The authorized record is not allowed to perform this action.",
            ));
        }
        params.record_id = id.to_owned();
        params.collection_id = c.id.clone();
        self.audit_page(params).await
    }

    async fn audit_page(&self, params: AuditParams) -> Result<ListOf<Value>> {
        let page = params.page.max(1);
        let per_page = match params.per_page {
            n if n <= 0 => DEFAULT_PER_PAGE,
            n => n.min(MAX_PER_PAGE),
        };
        let some = |s: String| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        let since = some(params.since)
            .map(|s| datetime_param("since", &s))
            .transpose()?;
        let until = some(params.until)
            .map(|s| datetime_param("until", &s))
            .transpose()?;
        let query = AuditQuery {
            record_id: some(params.record_id),
            collection_id: some(params.collection_id),
            kinds: params
                .kinds
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect(),
            since,
            until,
            limit: per_page,
            offset: (page - 1).saturating_mul(per_page),
        };
        let result = self.store.list_audit(&query).await?;
        Ok(ListOf {
            items: result.rows.into_iter().map(render).collect(),
            page,
            per_page,
            total_items: result.total,
            total_pages: (result.total + per_page - 1) / per_page,
        })
    }
}

/// `since`/`until`: a PocketBase datetime or an ISO 8601 one (`T` and an offset), as the
/// stored format so that text comparison is time comparison. Anything else is a 400.
fn datetime_param(name: &str, value: &str) -> Result<String> {
    use time::format_description::well_known::Rfc3339;
    let iso = value.replacen(' ', "T", 1);
    let parsed = time::OffsetDateTime::parse(&iso, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(&format!("{iso}T00:00:00Z"), &Rfc3339));
    match parsed {
        Ok(t) => Ok(crate::clock::format_datetime(
            i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or_default(),
        )),
        Err(_) => {
            let mut errors = crate::error::FieldErrors::default();
            errors.add(
                name,
                "validation_invalid_datetime",
                "Must be a valid date and time.",
            );
            Err(Error::validation("Invalid audit filter.", errors))
        }
    }
}

fn render(row: AuditRow) -> Value {
    json!({
        "id": row.id,
        "type": row.kind,
        "created": row.created,
        "collectionId": row.collection_id,
        "recordId": row.record_id,
        "method": row.method,
        "ip": row.ip,
        "userAgent": row.user_agent,
        "data": serde_json::from_str::<Value>(&row.data).unwrap_or_else(|_| json!({})),
    })
}
