//! `GET/PATCH /api/settings`, and the cached copy that every rate-limited request reads. The SMTP
//! password and the SMS credentials are stored sealed with the server key (a database dump does
//! not give the mail or SMS account); one stored in plain text by an older version is read as it
//! is and sealed on the next save.

use super::audit::Event;
use super::limits::RATE_LIMIT_PREFIX;
use super::{Gatehouse, require_superuser};
use crate::access::{Caller, RequestInfo};
use crate::collection::merge_json;
use crate::error::{Error, Result};
use crate::settings::Settings;
use serde_json::Value;
use std::sync::{Arc, RwLock};

const SETTINGS_KEY: &str = "settings";
/// What the SMTP password's ciphertext is bound to.
const SMTP_PASSWORD_PURPOSE: &str = "settings.smtp.password";
/// The SMS credentials: where each lives in the settings JSON, and what its ciphertext is bound to.
const SMS_SECRETS: [(&str, &str); 3] = [
    ("/sms/twilio/authToken", "settings.sms.twilio.authToken"),
    ("/sms/vonage/apiSecret", "settings.sms.vonage.apiSecret"),
    ("/sms/webhook/secret", "settings.sms.webhook.secret"),
];

/// The SMS credentials of `settings`, in the order of [`SMS_SECRETS`].
fn sms_secrets_mut(settings: &mut Settings) -> [&mut String; 3] {
    let sms = &mut settings.sms;
    [
        &mut sms.twilio.auth_token,
        &mut sms.vonage.api_secret,
        &mut sms.webhook.secret,
    ]
}

/// How long another instance's settings change may take to be seen here.
const MAX_AGE_MS: i64 = 1000;

/// The settings as last read, and when.
#[derive(Default)]
pub(crate) struct SettingsCache(RwLock<Option<(Arc<Settings>, i64)>>);

impl Gatehouse {
    /// The settings, read from the store at most once a second.
    pub async fn current_settings(&self) -> Result<Arc<Settings>> {
        let now = self.clock.now_millis();
        if let Ok(guard) = self.settings_cache.0.read()
            && let Some((settings, at)) = guard.as_ref()
            && now - at < MAX_AGE_MS
        {
            return Ok(settings.clone());
        }
        let fresh = Arc::new(self.settings().await?);
        if let Ok(mut guard) = self.settings_cache.0.write() {
            *guard = Some((fresh.clone(), now));
        }
        Ok(fresh)
    }

    /// The stored settings, or the defaults.
    pub async fn settings(&self) -> Result<Settings> {
        let Some(raw) = self.store.get_setting(SETTINGS_KEY).await? else {
            return Ok(Settings::default());
        };
        // Start from the defaults so that settings saved by an older version gain new keys.
        let mut merged = serde_json::to_value(Settings::default()).map_err(Error::internal)?;
        let stored: Value = serde_json::from_str(&raw).map_err(Error::internal)?;
        merge_json(&mut merged, &stored);
        let mut settings: Settings = serde_json::from_value(merged).map_err(Error::internal)?;
        // Saved before `tlsMode` existed: `tls` says which.
        settings.smtp.reconcile_tls(&Value::Null);
        match self
            .key
            .open(SMTP_PASSWORD_PURPOSE, &settings.smtp.password)
        {
            Ok(Some(password)) => settings.smtp.password = password,
            Ok(None) => {}
            Err(e) => {
                // Mail then fails to log in, which the mail log shows; the rest keeps working.
                tracing::error!(error = %e, "the stored SMTP password cannot be decrypted with this server key");
                settings.smtp.password.clear();
            }
        }
        for ((_, purpose), secret) in SMS_SECRETS.iter().zip(sms_secrets_mut(&mut settings)) {
            match self.key.open(purpose, secret) {
                Ok(Some(plain)) => *secret = plain,
                Ok(None) => {}
                Err(e) => {
                    // That provider then refuses to send, which its log shows.
                    tracing::error!(error = %e, purpose, "a stored SMS credential cannot be decrypted with this server key");
                    secret.clear();
                }
            }
        }
        Ok(settings)
    }

    /// Stores `settings` with the SMTP password and SMS credentials sealed, and drops the cached
    /// copy.
    async fn save_settings(&self, settings: &Settings) -> Result<()> {
        let mut stored = settings.clone();
        if !stored.smtp.password.is_empty() {
            stored.smtp.password = self
                .key
                .seal(SMTP_PASSWORD_PURPOSE, &settings.smtp.password);
        }
        for ((_, purpose), secret) in SMS_SECRETS.iter().zip(sms_secrets_mut(&mut stored)) {
            if !secret.is_empty() {
                *secret = self.key.seal(purpose, secret);
            }
        }
        let json = serde_json::to_string(&stored).map_err(Error::internal)?;
        self.store.put_setting(SETTINGS_KEY, &json).await?;
        if let Ok(mut guard) = self.settings_cache.0.write() {
            *guard = None;
        }
        Ok(())
    }

    /// Seals the stored SMTP password and SMS credentials under the current server key where an
    /// older key sealed them (a key rotation): whether the SMTP password was, and how many SMS
    /// credentials were, sealed again. One save re-seals them all.
    pub(super) async fn reseal_settings_secrets(&self) -> Result<(bool, usize)> {
        let Some(raw) = self.store.get_setting(SETTINGS_KEY).await? else {
            return Ok((false, 0));
        };
        let stored: Value = serde_json::from_str(&raw).map_err(Error::internal)?;
        let by_older = |pointer: &str| {
            let sealed = stored.pointer(pointer).and_then(Value::as_str);
            sealed.is_some_and(|s| self.key.sealed_by_older(s))
        };
        let smtp = by_older("/smtp/password");
        let sms = SMS_SECRETS.iter().filter(|(p, _)| by_older(p)).count();
        if smtp || sms > 0 {
            let settings = self.settings().await?;
            self.save_settings(&settings).await?;
        }
        Ok((smtp, sms))
    }

    pub async fn get_settings(&self, caller: Option<&Caller>) -> Result<Value> {
        require_superuser(caller)?;
        render(self.settings().await?)
    }

    pub async fn update_settings(
        &self,
        caller: Option<&Caller>,
        patch: Value,
        request: &RequestInfo,
    ) -> Result<Value> {
        require_superuser(caller)?;
        let current = self.settings().await?;
        // Only sections that exist are named (an unknown key is ignored by the save).
        let known: serde_json::Map<String, Value> = match (&patch, serde_json::to_value(&current)) {
            (Value::Object(sent), Ok(Value::Object(all))) => sent
                .iter()
                .filter(|(k, _)| all.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            _ => serde_json::Map::new(),
        };
        let event = Event::settings_changed("", &Value::Object(known), caller);
        if !patch.is_object() {
            return Err(Error::bad_request(
                "An error occurred while loading the submitted data.",
            ));
        }
        let mut merged = serde_json::to_value(&current).map_err(Error::internal)?;
        merge_json(&mut merged, &patch);
        // The SMTP password is write-only: an empty one in a PATCH (what a GET showed) keeps it.
        if merged["smtp"]["password"] == "" {
            merged["smtp"]["password"] = Value::String(current.smtp.password.clone());
        }
        // So are the SMS credentials.
        let mut kept = current.clone();
        for ((pointer, _), secret) in SMS_SECRETS.iter().zip(sms_secrets_mut(&mut kept)) {
            if let Some(sent) = merged.pointer_mut(pointer)
                && sent == ""
            {
                *sent = Value::String(std::mem::take(secret));
            }
        }
        let mut settings: Settings = serde_json::from_value(merged).map_err(|_| {
            Error::bad_request("An error occurred while loading the submitted data.")
        })?;
        settings.smtp.reconcile_tls(&patch["smtp"]);
        settings
            .check_update(&current, &patch)
            .into_result("An error occurred while saving the new settings.")?;
        self.save_settings(&settings).await?;
        self.audit(event, request).await?;
        // As in PocketBase, saving the settings starts every rate-limit window afresh.
        self.store.counters_clear(RATE_LIMIT_PREFIX).await?;
        tracing::info!("settings updated");
        render(settings)
    }

    /// A renamed collection keeps its `name:tag` rate-limit rules (as in PocketBase).
    pub(crate) async fn rename_rate_limit_labels(&self, old: &str, new: &str) -> Result<()> {
        let mut settings = self.settings().await?;
        let prefix = format!("{old}:");
        let mut renamed = false;
        for rule in &mut settings.rate_limits.rules {
            if let Some(tag) = rule.label.strip_prefix(&prefix) {
                rule.label = format!("{new}:{tag}");
                renamed = true;
            }
        }
        if renamed {
            self.save_settings(&settings).await?;
        }
        Ok(())
    }
}

/// The settings as the API shows them: without the SMTP password (as PocketBase, which omits it)
/// and, the same way, without the SMS credentials.
fn render(settings: Settings) -> Result<Value> {
    let mut json = serde_json::to_value(settings).map_err(Error::internal)?;
    if let Some(smtp) = json.get_mut("smtp").and_then(Value::as_object_mut) {
        smtp.remove("password");
    }
    for (pointer, _) in SMS_SECRETS {
        if let Some((section, key)) = pointer.rsplit_once('/')
            && let Some(object) = json.pointer_mut(section).and_then(Value::as_object_mut)
        {
            object.remove(key);
        }
    }
    Ok(json)
}
