//! Fixed-window counters (rate limits, failed-login counts) kept in process memory. The SQLite
//! backend uses these: SQLite serves one process, so memory is the shared state, and counting
//! there keeps a hot path (a limited endpoint) off the single writer connection. PostgreSQL keeps
//! its counters in a table so that every instance sees the same counts.

use std::collections::HashMap;
use std::sync::Mutex;

/// Past this many live keys, expired ones are dropped; if all are live, the oldest windows go.
/// Bounds memory when an attacker varies IPs or identities.
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct MemoryCounters {
    windows: Mutex<HashMap<String, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    start: i64,
    end: i64,
    hits: i64,
}

impl MemoryCounters {
    pub fn hit(&self, key: &str, now_ms: i64, window_ms: i64) -> i64 {
        let Ok(mut windows) = self.windows.lock() else {
            return 0;
        };
        if windows.len() >= MAX_KEYS && !windows.contains_key(key) {
            prune(&mut windows, now_ms);
        }
        let w = windows.entry(key.to_owned()).or_insert(Window {
            start: now_ms,
            end: now_ms + window_ms,
            hits: 0,
        });
        if now_ms >= w.end {
            *w = Window {
                start: now_ms,
                end: now_ms + window_ms,
                hits: 0,
            };
        }
        w.hits += 1;
        w.hits
    }

    pub fn get(&self, key: &str, now_ms: i64) -> i64 {
        self.windows
            .lock()
            .ok()
            .and_then(|w| w.get(key).copied())
            .filter(|w| now_ms < w.end)
            .map_or(0, |w| w.hits)
    }

    pub fn reset(&self, key: &str) {
        if let Ok(mut windows) = self.windows.lock() {
            windows.remove(key);
        }
    }

    pub fn clear_prefix(&self, prefix: &str) {
        if let Ok(mut windows) = self.windows.lock() {
            windows.retain(|k, _| !k.starts_with(prefix));
        }
    }
}

fn prune(windows: &mut HashMap<String, Window>, now_ms: i64) {
    windows.retain(|_, w| now_ms < w.end);
    if windows.len() >= MAX_KEYS {
        let mut starts: Vec<i64> = windows.values().map(|w| w.start).collect();
        starts.sort_unstable();
        let cutoff = starts[starts.len() / 2];
        windows.retain(|_, w| w.start > cutoff);
    }
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
}
