//! The providers' signing keys (JWKS), cached per URL. An id_token signed with a key the cache
//! does not know makes one fresh fetch (the provider may have rotated its keys), and such
//! refetches are bounded per URL so that forged tokens with made-up key ids cannot make Gatehouse
//! hammer the provider.

use crate::http::{HttpError, read_body};
use openidconnect::core::CoreJsonWebKeySet;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Refetches on an unknown key allowed per URL within [`REFETCH_WINDOW`].
const MAX_REFETCHES: usize = 3;
const REFETCH_WINDOW: Duration = Duration::from_secs(60);
/// A cached set is fetched again after this long anyway.
const MAX_AGE: Duration = Duration::from_secs(3600);

struct Cached {
    keys: CoreJsonWebKeySet,
    fetched: Instant,
    refetches: Vec<Instant>,
}

#[derive(Default)]
pub struct JwksCache {
    sets: Mutex<HashMap<String, Cached>>,
}

impl JwksCache {
    /// The cached keys of `url`, fetched when missing or old.
    pub async fn keys(
        &self,
        http: &reqwest::Client,
        url: &str,
    ) -> Result<CoreJsonWebKeySet, HttpError> {
        let cached = self.with(url, |c| {
            (c.fetched.elapsed() < MAX_AGE).then(|| c.keys.clone())
        });
        match cached.flatten() {
            Some(keys) => Ok(keys),
            None => self.fetch(http, url, false).await,
        }
    }

    /// A fresh set after an unknown key, or `None` when this URL had its share of refetches.
    pub async fn refetch(
        &self,
        http: &reqwest::Client,
        url: &str,
    ) -> Result<Option<CoreJsonWebKeySet>, HttpError> {
        let allowed = self
            .with(url, |c| {
                c.refetches.retain(|t| t.elapsed() < REFETCH_WINDOW);
                c.refetches.len() < MAX_REFETCHES
            })
            .unwrap_or(true);
        if !allowed {
            return Ok(None);
        }
        self.fetch(http, url, true).await.map(Some)
    }

    fn with<T>(&self, url: &str, f: impl FnOnce(&mut Cached) -> T) -> Option<T> {
        let mut sets = self.sets.lock().unwrap_or_else(|p| p.into_inner());
        sets.get_mut(url).map(f)
    }

    async fn fetch(
        &self,
        http: &reqwest::Client,
        url: &str,
        refetch: bool,
    ) -> Result<CoreJsonWebKeySet, HttpError> {
        let sent = http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| HttpError(format!("fetching the JWKS: {}", e.without_url())))?;
        if !sent.status().is_success() {
            return Err(HttpError(format!("the JWKS answered {}", sent.status())));
        }
        let body = read_body(sent).await?;
        let keys: CoreJsonWebKeySet = serde_json::from_slice(&body)
            .map_err(|e| HttpError(format!("reading the JWKS: {e}")))?;
        let now = Instant::now();
        let mut sets = self.sets.lock().unwrap_or_else(|p| p.into_inner());
        let entry = sets.entry(url.to_owned()).or_insert_with(|| Cached {
            keys: keys.clone(),
            fetched: now,
            refetches: Vec::new(),
        });
        entry.keys = keys.clone();
        entry.fetched = now;
        if refetch {
            entry.refetches.push(now);
        }
        Ok(keys)
    }
}
