//! The rate limiter (settings.rateLimits), the failed-password lockout (settings.lockout) and
//! PocketBase's `superuserIPs`. Counters live in the store: in memory on SQLite (one process), in
//! a table on PostgreSQL (so that every instance counts together).
//!
//! Counter keys never hold request text: a collection route counts under the resolved
//! collection's id, a client under its IP (or IPv6 prefix), and the whole bucket is hashed, so
//! neither an encoded name nor a long URL makes a fresh or oversized counter.

use super::Gatehouse;
use crate::collection::SUPERUSERS_ID;
use crate::error::{Error, Result};
use crate::settings::{Audience, Lockout};

pub use gatehouse_store::RATE_LIMIT_PREFIX;
const LOCK_PREFIX: &str = "lock:";
const SLOW_PREFIX: &str = "slow:";
const TOO_MANY_FAILURES: &str = "Too many failed attempts, please try again later.";

/// A routed request as the rate limiter sees it.
#[derive(Debug)]
pub struct Limited<'a> {
    pub method: &'a str,
    /// The matched route, e.g. `/api/collections/{collection}/auth-with-password`.
    pub pattern: &'a str,
    /// The route's parameters, percent-decoded (as the handlers see them).
    pub params: &'a [(&'a str, &'a str)],
    /// PocketBase's tags of a collection route (e.g. `auth`); `None` for other routes.
    pub tags: Option<&'a [&'a str]>,
    pub ip: &'a str,
    pub audience: Audience,
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
        let named = r.params.iter().find(|(k, _)| *k == "collection");
        let collection = match named {
            Some((_, name)) => self.collections.get(name).await?,
            None => None,
        };
        // Labels match the path as the router understood it, with the collection's own name,
        // so neither percent-encoding nor letter case dodges a `METHOD /path` or `/path/` rule.
        let path = route_path(
            r.pattern,
            r.params,
            collection.as_ref().map(|c| c.name.as_str()),
        );
        let mut labels = Vec::with_capacity(6);
        let mut scope = String::new();
        // An unknown collection gets no collection labels (the route answers 404 anyway).
        if let (Some(c), Some(tags)) = (&collection, r.tags) {
            labels.extend(tags.iter().map(|t| format!("{}:{t}", c.name)));
            labels.extend(tags.iter().map(|t| format!("*:{t}")));
            // PocketBase counts each collection route apart, even under one shared label.
            scope = format!("{} {} {}", c.id, r.pattern, tags.join(","));
        }
        labels.push(format!("{} {path}", r.method));
        labels.push(path);
        let Some(rule) = limits.find(&labels, r.audience) else {
            return Ok(());
        };
        let bucket = format!(
            "{scope}|{}|{}|{}",
            rule.label,
            rule.audience,
            limits.client_key(r.ip)
        );
        let key = format!(
            "{RATE_LIMIT_PREFIX}{}",
            self.key.hash("rate-limit", &bucket)
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

    /// PocketBase's `superuserIPs`, for a login into `_superusers` (403 from an unlisted IP).
    pub(crate) async fn check_superuser_ip(&self, collection_id: &str, ip: &str) -> Result<()> {
        if collection_id == SUPERUSERS_ID
            && !self.current_settings().await?.superuser_ip_allowed(ip)
        {
            return Err(Error::forbidden(
                "You are not allowed to perform this request.",
            ));
        }
        Ok(())
    }

    /// Before a password is checked for a typed `identity`: the attempt is counted first (so a
    /// concurrent burst cannot all pass one check), 429 once this client is past the lockout
    /// for it, and the growing wait once the identity has many recent failures overall.
    pub(crate) async fn before_password_check(
        &self,
        collection_id: &str,
        identity: &str,
        ip: &str,
    ) -> Result<()> {
        let keys = self
            .lockout_keys("lockout", collection_id, identity, ip)
            .await?;
        self.reserve_password_attempt(&keys).await
    }

    /// After the password check: a failure stays counted; a success clears this client's count
    /// and takes the attempt back from the identity's overall count.
    pub(crate) async fn after_password_check(
        &self,
        collection_id: &str,
        identity: &str,
        ip: &str,
        ok: bool,
    ) -> Result<()> {
        let keys = self
            .lockout_keys("lockout", collection_id, identity, ip)
            .await?;
        self.settle_password_attempt(&keys, ok).await
    }

    /// The lockout for a record's `oldPassword` (a password change): counted per record, apart
    /// from logins, so a stolen session cannot guess the password freely.
    pub(crate) async fn before_old_password_check(&self, record_id: &str, ip: &str) -> Result<()> {
        let keys = self.lockout_keys("old-password", "", record_id, ip).await?;
        self.reserve_password_attempt(&keys).await
    }

    pub(crate) async fn after_old_password_check(
        &self,
        record_id: &str,
        ip: &str,
        ok: bool,
    ) -> Result<()> {
        let keys = self.lockout_keys("old-password", "", record_id, ip).await?;
        self.settle_password_attempt(&keys, ok).await
    }
}

/// A password attempt's counters: per identity and client, and per identity overall.
struct LockoutKeys {
    lock: String,
    slow: String,
    window_ms: i64,
    policy: Lockout,
}

impl Gatehouse {
    /// The counters of an identity, or `None` when the lockout is off. The identity is hashed:
    /// what was typed may be a password pasted into the wrong field, and counters may live in a
    /// database table.
    async fn lockout_keys(
        &self,
        purpose: &str,
        collection_id: &str,
        identity: &str,
        ip: &str,
    ) -> Result<Option<LockoutKeys>> {
        let settings = self.current_settings().await?;
        if !settings.lockout.enabled {
            return Ok(None);
        }
        let identity = self.key.hash(purpose, &identity.trim().to_lowercase());
        let client = settings.rate_limits.client_key(ip);
        Ok(Some(LockoutKeys {
            lock: format!("{LOCK_PREFIX}{collection_id}|{identity}|{client}"),
            slow: format!("{SLOW_PREFIX}{collection_id}|{identity}"),
            window_ms: settings.lockout.duration.saturating_mul(1000),
            policy: settings.lockout.clone(),
        }))
    }

    async fn reserve_password_attempt(&self, keys: &Option<LockoutKeys>) -> Result<()> {
        let Some(keys) = keys else { return Ok(()) };
        let now = self.clock.now_millis();
        // One atomic count per attempt: of N concurrent attempts, only those within
        // `maxFailures` go on to the password.
        if self
            .store
            .counter_hit(&keys.lock, now, keys.window_ms)
            .await?
            > keys.policy.max_failures
        {
            return Err(Error::too_many_requests(TOO_MANY_FAILURES));
        }
        let earlier = self
            .store
            .counter_hit(&keys.slow, now, keys.window_ms)
            .await?
            - 1;
        let delay = keys.policy.delay_ms(earlier);
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        Ok(())
    }

    async fn settle_password_attempt(&self, keys: &Option<LockoutKeys>, ok: bool) -> Result<()> {
        let Some(keys) = keys else { return Ok(()) };
        if ok {
            self.store.counter_reset(&keys.lock).await?;
            self.store
                .counter_unhit(&keys.slow, self.clock.now_millis())
                .await?;
        }
        Ok(())
    }
}

/// The route's path with its parameters filled in (decoded), and `{collection}` as the
/// collection's own name when it is known.
fn route_path(pattern: &str, params: &[(&str, &str)], collection: Option<&str>) -> String {
    pattern
        .split('/')
        .map(|segment| {
            let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                return segment;
            };
            let name = name.trim_start_matches('*');
            match collection {
                Some(canonical) if name == "collection" => canonical,
                _ => params
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map_or(segment, |(_, v)| *v),
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::route_path;

    #[test]
    fn the_path_label_is_the_routed_path() {
        let pattern = "/api/collections/{collection}/records/{id}";
        let params = [("collection", "USERS"), ("id", "abc")];
        assert_eq!(
            route_path(pattern, &params, Some("users")),
            "/api/collections/users/records/abc"
        );
        assert_eq!(
            route_path(pattern, &params, None),
            "/api/collections/USERS/records/abc"
        );
        assert_eq!(route_path("/api/health", &[], None), "/api/health");
    }
}
