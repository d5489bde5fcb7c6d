//! Fixed-window counters (rate limits, failed-login counts) kept in process memory. The SQLite
//! backend uses these: SQLite serves one process, so memory is the shared state, and counting
//! there keeps a hot path (a limited endpoint) off the single writer connection. PostgreSQL keeps
//! its counters in a table so that every instance sees the same counts.
//!
//! Two classes, so that request traffic cannot push out what protects accounts: rate-limit
//! counters (keys starting with [`RATE_LIMIT_PREFIX`]) are capped and the oldest windows give
//! way to new ones; every other counter (lockouts, guards, resend markers) leaves only when its
//! window ends. Callers keep keys short (ids and hashes, never request text), and every window
//! is dropped within a second of its end.

use std::collections::HashMap;
use std::sync::Mutex;

/// Key prefix of rate-limit counters: the evictable class, cleared whenever settings are saved.
pub const RATE_LIMIT_PREFIX: &str = "rl:";

/// Past this many live rate-limit keys, the oldest windows go. Bounds memory when an attacker
/// varies IPs.
const MAX_RATE_LIMIT_KEYS: usize = 100_000;

/// How often (in clock time) lapsed windows are swept out.
const SWEEP_EVERY_MS: i64 = 1000;

pub struct MemoryCounters {
    inner: Mutex<Inner>,
    max_rate_limit_keys: usize,
}

#[derive(Default)]
struct Inner {
    rate_limits: HashMap<String, Window>,
    security: HashMap<String, Window>,
    next_sweep_ms: i64,
}

#[derive(Clone, Copy)]
struct Window {
    start: i64,
    end: i64,
    hits: i64,
}

impl Default for MemoryCounters {
    fn default() -> Self {
        Self::with_rate_limit_cap(MAX_RATE_LIMIT_KEYS)
    }
}

impl Inner {
    fn class(&mut self, key: &str) -> &mut HashMap<String, Window> {
        if key.starts_with(RATE_LIMIT_PREFIX) {
            &mut self.rate_limits
        } else {
            &mut self.security
        }
    }

    /// Drops every lapsed window, at most once per [`SWEEP_EVERY_MS`], so memory follows the
    /// live windows rather than every key ever seen.
    fn sweep(&mut self, now_ms: i64) {
        if now_ms < self.next_sweep_ms {
            return;
        }
        self.next_sweep_ms = now_ms.saturating_add(SWEEP_EVERY_MS);
        self.rate_limits.retain(|_, w| now_ms < w.end);
        self.security.retain(|_, w| now_ms < w.end);
    }
}

impl MemoryCounters {
    pub fn with_rate_limit_cap(max_rate_limit_keys: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            max_rate_limit_keys,
        }
    }

    pub fn hit(&self, key: &str, now_ms: i64, window_ms: i64) -> i64 {
        let Ok(mut inner) = self.inner.lock() else {
            return 0;
        };
        inner.sweep(now_ms);
        let cap = self.max_rate_limit_keys;
        if key.starts_with(RATE_LIMIT_PREFIX)
            && inner.rate_limits.len() >= cap
            && !inner.rate_limits.contains_key(key)
        {
            evict_oldest_half(&mut inner.rate_limits, now_ms);
        }
        let fresh = Window {
            start: now_ms,
            end: now_ms.saturating_add(window_ms),
            hits: 0,
        };
        let w = inner.class(key).entry(key.to_owned()).or_insert(fresh);
        if now_ms >= w.end {
            *w = fresh;
        }
        w.hits += 1;
        w.hits
    }

    pub fn get(&self, key: &str, now_ms: i64) -> i64 {
        let Ok(mut inner) = self.inner.lock() else {
            return 0;
        };
        inner
            .class(key)
            .get(key)
            .filter(|w| now_ms < w.end)
            .map_or(0, |w| w.hits)
    }

    /// Takes back one hit of the live window (an attempt that turned out fine).
    pub fn unhit(&self, key: &str, now_ms: i64) {
        if let Ok(mut inner) = self.inner.lock()
            && let Some(w) = inner.class(key).get_mut(key)
            && now_ms < w.end
            && w.hits > 0
        {
            w.hits -= 1;
        }
    }

    pub fn reset(&self, key: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.class(key).remove(key);
        }
    }

    pub fn clear_prefix(&self, prefix: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.rate_limits.retain(|k, _| !k.starts_with(prefix));
            inner.security.retain(|k, _| !k.starts_with(prefix));
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner
            .lock()
            .map_or(0, |i| i.rate_limits.len() + i.security.len())
    }
}

/// Makes room among rate-limit windows: the lapsed ones first, then the older half.
fn evict_oldest_half(windows: &mut HashMap<String, Window>, now_ms: i64) {
    windows.retain(|_, w| now_ms < w.end);
    if windows.is_empty() {
        return;
    }
    let mut starts: Vec<i64> = windows.values().map(|w| w.start).collect();
    starts.sort_unstable();
    let cutoff = starts[starts.len() / 2];
    windows.retain(|_, w| w.start > cutoff);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_then_starts_afresh() {
        let c = MemoryCounters::default();
        assert_eq!(c.hit("k", 1000, 2000), 1);
        assert_eq!(c.hit("k", 2999, 2000), 2);
        assert_eq!(c.get("k", 2999), 2);
        c.unhit("k", 2999);
        assert_eq!(c.get("k", 2999), 1);
        assert_eq!(c.get("k", 3000), 0);
        assert_eq!(c.hit("k", 3000, 2000), 1);
        c.reset("k");
        assert_eq!(c.get("k", 3001), 0);
        c.hit("rl:a", 0, 10);
        c.hit("lock:a", 0, 10);
        c.clear_prefix("rl:");
        assert_eq!(c.get("rl:a", 1), 0);
        assert_eq!(c.get("lock:a", 1), 1);
    }

    const SECURITY_KEYS: [&str; 5] = [
        "lock:x",
        "slow:x",
        "mfa-lock:r",
        "resend:h",
        "otp-guard:r|ip",
    ];

    #[test]
    fn a_flood_of_rate_limit_keys_never_evicts_a_security_counter() {
        let c = MemoryCounters::with_rate_limit_cap(100);
        for key in SECURITY_KEYS {
            c.hit(key, 0, 60_000);
        }
        for i in 0..1000 {
            c.hit(&format!("rl:{i}"), i, 60_000);
        }
        for key in SECURITY_KEYS {
            assert_eq!(c.get(key, 1000), 1, "{key} was evicted");
        }
        assert!(
            c.len() <= 100 + 5,
            "rate-limit keys are capped: {}",
            c.len()
        );
    }

    #[test]
    fn lapsed_windows_leave_memory_without_a_cap_being_reached() {
        let c = MemoryCounters::default();
        for i in 0..500 {
            c.hit(&format!("rl:{i}"), 0, 1000);
            c.hit(&format!("lock:{i}"), 0, 1000);
        }
        assert_eq!(c.len(), 1000);
        // Any later hit, past the windows' end, sweeps them.
        c.hit("rl:other", 2500, 1000);
        assert_eq!(c.len(), 1);
    }
}
