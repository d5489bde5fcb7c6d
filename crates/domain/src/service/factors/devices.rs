//! Trusted devices ("remember this device"): `trustDevice: true` on a second step that passed
//! answers `meta.deviceToken`; sending it back in the `X-Gatehouse-Device` header (or the
//! `gh_device` cookie of the pages) skips the second step for that record until
//! `mfa.trustedDeviceDuration` passes. The token is kept only as a keyed hash bound to its
//! collection and record. A token that is unknown, expired, revoked or another record's is
//! ignored without a word: the login goes on as if none was sent.

use super::super::Gatehouse;
use super::super::audit::kinds;
use super::access::Need;
use crate::access::{Caller, RequestInfo};
use crate::clock::format_datetime;
use crate::collection::Collection;
use crate::error::{Error, Result};
use crate::random;
use crate::record::Record;
use gatehouse_store::DeviceRow;
use serde_json::{Value, json};

/// The request header as `RequestInfo` names it (lower case, `-` as `_`).
const HEADER: &str = "x_gatehouse_device";
const COOKIE: &str = "gh_device";
const HASH_PURPOSE: &str = "trusted-device";
/// Longest token looked at; ours are 50 characters.
const TOKEN_MAX: usize = 128;

impl Gatehouse {
    /// The record's live trusted device that the request names, if any (its use is stamped).
    pub(in crate::service) async fn trusted_device(
        &self,
        c: &Collection,
        record: &Record,
        request: &RequestInfo,
    ) -> Result<Option<DeviceRow>> {
        if c.mfa.trusted_device_duration <= 0 {
            return Ok(None);
        }
        let Some(token) = presented_token(request) else {
            return Ok(None);
        };
        let hashes = self
            .key
            .hashes(HASH_PURPOSE, &token_input(c, record, &token));
        let now = self.clock.now_millis();
        let Some(device) = self
            .store
            .find_device(record.id(), &hashes, now)
            .await?
            .filter(|d| d.collection_id == c.id)
        else {
            return Ok(None);
        };
        self.store.touch_device(&device.id, &self.now()).await?;
        Ok(Some(device))
    }

    /// Trusts the requesting device for `record` after a second step passed: its token, shown
    /// once (`None` when the collection trusts no device).
    pub(in crate::service) async fn trust_device(
        &self,
        c: &Collection,
        record: &Record,
        request: &RequestInfo,
    ) -> Result<Option<String>> {
        let duration = c.mfa.trusted_device_duration;
        if duration <= 0 {
            return Ok(None);
        }
        let token = random::string_from(b"abcdefghijklmnopqrstuvwxyz0123456789", 50);
        let now = self.clock.now_millis();
        let name = device_name(request);
        let row = DeviceRow {
            id: random::record_id(),
            collection_id: c.id.clone(),
            record_id: record.id().to_owned(),
            token_hash: self.key.hash(HASH_PURPOSE, &token_input(c, record, &token)),
            name: name.clone(),
            created: self.now(),
            last_used: String::new(),
            expires_ms: now.saturating_add(duration.saturating_mul(1000)),
        };
        let events = [self.factor_row(c, record.id(), "", kinds::DEVICE_TRUSTED, request)];
        self.store.insert_device(&row, &events).await?;
        let what = format!("A device ({name}) was trusted to skip the second sign-in step.");
        self.alert_owner(c, record, &what, request).await?;
        Ok(Some(token))
    }

    /// `GET …/records/{id}/mfa/devices`: the record's trusted devices (never a token).
    pub async fn list_trusted_devices(
        &self,
        collection: &str,
        id: &str,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<Value> {
        let owner = self
            .factor_owner(collection, id, caller, request, Need::Read)
            .await?;
        let now = self.clock.now_millis();
        let devices = self.store.list_devices(owner.record.id(), now).await?;
        Ok(Value::Array(
            devices
                .iter()
                .map(|d| {
                    json!({
                        "id": d.id,
                        "name": d.name,
                        "created": d.created,
                        "lastUsedAt": d.last_used,
                        "expires": format_datetime(d.expires_ms),
                    })
                })
                .collect(),
        ))
    }

    /// `DELETE …/records/{id}/mfa/devices/{deviceId}`: the owner (or a superuser, for a record
    /// that is not one) revokes one device.
    pub async fn revoke_trusted_device(
        &self,
        collection: &str,
        id: &str,
        device_id: &str,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<()> {
        let owner = self
            .factor_owner(collection, id, caller, request, Need::Revoke)
            .await?;
        let c = &owner.collection;
        let record = &owner.record;
        let events = [self.factor_row(c, record.id(), "", kinds::DEVICE_REVOKED, request)];
        if !self
            .store
            .delete_device(record.id(), device_id, &events)
            .await?
        {
            return Err(Error::resource_not_found());
        }
        Ok(())
    }

    /// Revokes every trusted device of a record (a new password, a factor removed, a reset).
    pub(in crate::service) async fn forget_devices(&self, record_id: &str) -> Result<()> {
        self.store.delete_devices(record_id).await?;
        Ok(())
    }
}

/// What a device token is hashed with: bound to its collection and record.
fn token_input(c: &Collection, record: &Record, token: &str) -> String {
    format!("{}\n{}\n{token}", c.id, record.id())
}

/// The device token of the request: the header, else the pages' cookie.
fn presented_token(request: &RequestInfo) -> Option<String> {
    let header = request.headers.get(HEADER).and_then(Value::as_str);
    let cookie = || {
        let cookies = request.headers.get("cookie")?.as_str()?;
        cookies
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE)
            .map(|(_, value)| value)
    };
    let token = header.or_else(cookie)?.trim();
    (!token.is_empty() && token.len() <= TOKEN_MAX).then(|| token.to_owned())
}

/// A label for the device list from the user agent: "Firefox on Linux".
fn device_name(request: &RequestInfo) -> String {
    let agent = request
        .headers
        .get("user_agent")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("node", "Node.js"),
    ]
    .iter()
    .find(|(mark, _)| agent.contains(mark))
    .map(|(_, name)| *name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(mark, _)| agent.contains(mark))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) => "Unknown device".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> RequestInfo {
        let mut r = RequestInfo::default();
        for (k, v) in headers {
            r.headers.insert((*k).to_owned(), json!(v));
        }
        r
    }

    #[test]
    fn names_come_from_the_user_agent() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(
            device_name(&request(&[("user_agent", firefox)])),
            "Firefox on Linux"
        );
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(
            device_name(&request(&[("user_agent", iphone)])),
            "Safari on iOS"
        );
        assert_eq!(device_name(&request(&[])), "Unknown device");
    }

    #[test]
    fn the_header_wins_over_the_cookie_and_oversized_tokens_are_ignored() {
        let both = request(&[
            (HEADER, "from-header"),
            ("cookie", "a=b; gh_device=from-cookie"),
        ]);
        assert_eq!(presented_token(&both).as_deref(), Some("from-header"));
        let cookie = request(&[("cookie", "a=b; gh_device=from-cookie")]);
        assert_eq!(presented_token(&cookie).as_deref(), Some("from-cookie"));
        let long = "x".repeat(TOKEN_MAX + 1);
        assert_eq!(presented_token(&request(&[(HEADER, &long)])), None);
        assert_eq!(presented_token(&request(&[(HEADER, "  ")])), None);
    }
}
