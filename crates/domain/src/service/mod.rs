//! [`Gatehouse`]: the service object the HTTP layer and the CLI call. One file per area.

pub mod audit;
pub mod auth;
mod auth_alert;
pub mod collections;
pub mod email_change;
mod email_tokens;
pub mod external_auths;
pub mod factors;
pub mod form_tokens;
pub mod housekeeping;
pub mod key_rotation;
pub mod limits;
mod mailing;
mod mfa;
pub mod oauth2_login;
pub mod oauth2_redirect;
pub mod otp;
pub mod otp_limits;
mod paging;
pub mod password_reset;
pub mod records;
mod second_step;
mod settings;
mod subscriptions;
mod superusers;
pub mod test_send;
mod ticket_data;
mod verification;

use crate::access::{Caller, ListConditionCache, RuleCache, is_superuser};
use crate::clock::{Clock, format_datetime};
use crate::collection::{self, Collection};
use crate::error::{Error, Result};
use crate::mail::MailTransport;
use crate::oauth2::OAuth2Exchange;
use crate::password::Passwords;
use crate::realtime::Hub;
use crate::registry::Registry;
use crate::server_key::ServerKey;
use crate::sms::SmsTransport;
use gatehouse_store::{Store, StoreError};
use serde::Serialize;
use std::sync::Arc;

pub struct Gatehouse {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    collections: Registry,
    passwords: Passwords,
    settings_cache: settings::SettingsCache,
    mailer: Arc<dyn MailTransport>,
    outbox: Arc<mailing::Outbox>,
    sms: Arc<dyn SmsTransport>,
    key: ServerKey,
    rules: RuleCache,
    list_conditions: ListConditionCache,
    otp_limits: otp_limits::OtpLimitsCell,
    oauth2: Arc<dyn OAuth2Exchange>,
    apple_names: crate::oauth2::apple_names::AppleNames,
    realtime: Arc<Hub>,
}

/// PocketBase's list answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListOf<T> {
    pub items: Vec<T>,
    pub page: i64,
    pub per_page: i64,
    pub total_items: i64,
    pub total_pages: i64,
}

impl Gatehouse {
    /// Opens the service on a migrated store, creating the built-in collections on first start.
    /// `hash_parallelism` bounds concurrent password hashes (use the number of cores).
    pub async fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        hash_parallelism: usize,
        mailer: Arc<dyn MailTransport>,
        sms: Arc<dyn SmsTransport>,
        key: ServerKey,
        oauth2: Arc<dyn OAuth2Exchange>,
    ) -> Result<Self> {
        bootstrap(&*store, &*clock).await?;
        let collections = Registry::load(store.clone(), clock.clone()).await?;
        Ok(Self {
            store,
            clock,
            collections,
            passwords: Passwords::new(hash_parallelism),
            settings_cache: settings::SettingsCache::default(),
            mailer,
            outbox: Arc::default(),
            sms,
            key,
            rules: RuleCache::default(),
            list_conditions: ListConditionCache::default(),
            otp_limits: otp_limits::OtpLimitsCell::default(),
            oauth2,
            apple_names: Default::default(),
            realtime: Arc::default(),
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Where text messages go (the provider is chosen per message from `settings.sms`).
    #[allow(dead_code)] // The SMS factor is its first user.
    pub(crate) fn sms_transport(&self) -> &Arc<dyn SmsTransport> {
        &self.sms
    }

    /// Password hashes and verifications run so far (a measure of CPU spent on passwords).
    pub fn password_hashes_run(&self) -> u64 {
        self.passwords.runs()
    }

    fn now(&self) -> String {
        format_datetime(self.clock.now_millis())
    }

    /// The collection addressed by a record route: 404 `Missing collection context.` if unknown.
    pub async fn collection_for_records(&self, id_or_name: &str) -> Result<Arc<Collection>> {
        self.collections
            .get(id_or_name)
            .await?
            .ok_or_else(|| Error::not_found("Missing collection context."))
    }

    /// The collection addressed by an auth route (PocketBase's two 404 messages).
    pub async fn auth_collection(&self, id_or_name: &str) -> Result<Arc<Collection>> {
        let c = self
            .collections
            .get(id_or_name)
            .await?
            .ok_or_else(|| Error::not_found("Missing or invalid collection context."))?;
        if c.kind != "auth" {
            return Err(Error::not_found(
                "Missing or invalid auth collection context.",
            ));
        }
        Ok(c)
    }

    /// How many superusers exist (the CLI and `serve` tell the operator when there are none).
    pub async fn superuser_count(&self) -> Result<i64> {
        Ok(self.store.count_records(collection::SUPERUSERS_ID).await?)
    }
}

/// 401 for guests, 403 for records that are not superusers (PocketBase's admin-only routes).
pub fn require_superuser(caller: Option<&Caller>) -> Result<()> {
    match caller {
        None => Err(Error::unauthorized(
            "The request requires valid record authorization token.",
        )),
        Some(_) if !is_superuser(caller) => Err(Error::forbidden(
            "The authorized record is not allowed to perform this action.",
        )),
        Some(_) => Ok(()),
    }
}

/// The caller, who must be a record of `c` (auth-refresh, request-email-change): 401 for
/// guests, 403 for a record of another collection (PocketBase names the caller's collection).
pub fn require_record_of<'a>(c: &Collection, caller: Option<&'a Caller>) -> Result<&'a Caller> {
    let caller = caller.ok_or_else(|| {
        Error::unauthorized("The request requires valid record authorization token.")
    })?;
    if caller.collection.id != c.id {
        return Err(Error::forbidden(format!(
            "The request requires auth record from {} collection.",
            caller.collection.name
        )));
    }
    Ok(caller)
}

/// First start: create `_superusers` and `users`. Several instances starting together on one
/// PostgreSQL database may race here; the loser's unique violation is harmless.
async fn bootstrap(store: &dyn Store, clock: &dyn Clock) -> Result<()> {
    if !store.list_collections().await?.is_empty() {
        return Ok(());
    }
    let now = format_datetime(clock.now_millis());
    for c in [collection::superusers(&now), collection::users(&now)] {
        match store.insert_collection(&collections::row_of(&c)).await {
            Ok(()) | Err(StoreError::Unique { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
