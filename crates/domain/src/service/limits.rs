//! The rate limiter (settings.rateLimits) and the failed-password lockout (settings.lockout).
//! Counters live in the store: in memory on SQLite (one process), in a table on PostgreSQL (so
//! that every instance counts together).

use super::Gatehouse;
use crate::error::{Error, Result};
use crate::settings::Audience;

/// Key prefix of rate-limit counters (cleared whenever the settings are saved).
pub const RATE_LIMIT_PREFIX: &str = "rl:";
const LOCK_PREFIX: &str = "lock:";
const SLOW_PREFIX: &str = "slow:";

/// A request as the rate limiter sees it.
#[derive(Debug)]
pub struct Limited<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub collection_route: Option<CollectionRoute<'a>>,
    pub ip: &'a str,
    pub audience: Audience,
}

/// A route under `/api/collections/{collection}/…` with PocketBase's tags (e.g. `auth`).
#[derive(Debug)]
pub struct CollectionRoute<'a> {
    /// The collection as named in the URL (name or id).
    pub collection: &'a str,
    pub pattern: &'a str,
    pub tags: &'a [&'a str],
}

impl Gatehouse {
    /// Counts the request against the first rule that matches it (PocketBase's label search)
    /// and refuses it with 429 past the rule's limit. Superusers are not limited: the caller
    /// does not ask for them.
    pub async fn check_rate_limit(&self, r: &Limited<'_>) -> Result<()> {
        let settings = self.current_settings().await?;
        let limits = &settings.rate_limits;
        if !limits.enabled || limits.is_excluded(r.ip) {
            return Ok(());
        }
        let mut labels = Vec::with_capacity(6);
        let mut scope = String::new();
        if let Some(route) = &r.collection_route {
            let collection = self.collections.get(route.collection).await?;
            let (id, name) = collection
                .as_ref()
                .map_or((route.collection, route.collection), |c| (&c.id, &c.name));
            labels.extend(route.tags.iter().map(|t| format!("{name}:{t}")));
            labels.extend(route.tags.iter().map(|t| format!("*:{t}")));
            // PocketBase counts each collection route apart, even under one shared label.
            scope = format!("{id} {} {}", route.pattern, route.tags.join(","));
        }
        labels.push(format!("{} {}", r.method, r.path));
        labels.push(r.path.to_owned());
        let Some(rule) = limits.find(&labels, r.audience) else {
            return Ok(());
        };
        let key = format!(
            "{RATE_LIMIT_PREFIX}{scope}|{}|{}|{}",
            rule.label, rule.audience, r.ip
        );
        let window_ms = rule.duration.saturating_mul(1000);
        let hits = self
            .store
            .counter_hit(&key, self.clock.now_millis(), window_ms)
            .await?;
        if hits > rule.max_requests {
            tracing::info!(label = %rule.label, ip = r.ip, "rate limited");
            return Err(Error::too_many_requests("Too Many Requests."));
        }
        Ok(())
    }

    /// Before a password is checked for `identity`: 429 when this IP is locked out for it, and
    /// the growing wait once the identity has many recent failures (see `settings::Lockout`).
    pub(crate) async fn before_password_check(
        &self,
        collection_id: &str,
        identity: &str,
        ip: &str,
    ) -> Result<()> {
        let settings = self.current_settings().await?;
        let lockout = &settings.lockout;
        if !lockout.enabled {
            return Ok(());
        }
        let now = self.clock.now_millis();
        let (lock_key, slow_key) = self.lockout_keys(collection_id, identity, ip);
        if self.store.counter_get(&lock_key, now).await? >= lockout.max_failures {
            return Err(Error::too_many_requests(
                "Too many failed attempts, please try again later.",
            ));
        }
        let delay = lockout.delay_ms(self.store.counter_get(&slow_key, now).await?);
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        Ok(())
    }

    /// After the password check: a failure counts for the identity (per IP and overall); a
    /// success clears this IP's count.
    pub(crate) async fn after_password_check(
        &self,
        collection_id: &str,
        identity: &str,
        ip: &str,
        ok: bool,
    ) -> Result<()> {
        let settings = self.current_settings().await?;
        let lockout = &settings.lockout;
        if !lockout.enabled {
            return Ok(());
        }
        let (lock_key, slow_key) = self.lockout_keys(collection_id, identity, ip);
        if ok {
            return Ok(self.store.counter_reset(&lock_key).await?);
        }
        let now = self.clock.now_millis();
        let window = lockout.duration.saturating_mul(1000);
        self.store.counter_hit(&lock_key, now, window).await?;
        self.store.counter_hit(&slow_key, now, window).await?;
        Ok(())
    }
}

impl Gatehouse {
    /// Counter keys for an identity. The identity is hashed: what was typed may be a password
    /// pasted into the wrong field, and counters may live in a database table.
    fn lockout_keys(&self, collection_id: &str, identity: &str, ip: &str) -> (String, String) {
        let identity = self.key.hash("lockout", &identity.trim().to_lowercase());
        (
            format!("{LOCK_PREFIX}{collection_id}|{identity}|{ip}"),
            format!("{SLOW_PREFIX}{collection_id}|{identity}"),
        )
    }
}
