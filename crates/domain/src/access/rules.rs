//! Parsed rules, kept by their text: a rule is parsed once, not on every request that checks it.
//! Keyed by the text itself, so an edited rule is simply a new entry and nothing needs
//! invalidating; the map is emptied when it grows past a bound (rules only change by hand).

use super::Rule;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

const MAX_ENTRIES: usize = 512;

#[derive(Default)]
pub struct RuleCache {
    parsed: RwLock<HashMap<String, Arc<Rule>>>,
}

impl RuleCache {
    /// The parsed form of `rule` (`None`: the `null` rule).
    pub fn get(&self, rule: Option<&str>) -> Arc<Rule> {
        let Some(text) = rule else {
            return Arc::new(Rule::SuperusersOnly);
        };
        if let Some(hit) = read(&self.parsed).get(text) {
            return hit.clone();
        }
        let parsed = Arc::new(Rule::of(Some(text)));
        let mut map = match self.parsed.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(text.to_owned(), parsed.clone());
        parsed
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    match lock.read() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_once_per_text() {
        let cache = RuleCache::default();
        let a = cache.get(Some("verified = true"));
        let b = cache.get(Some("verified = true"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(matches!(*cache.get(None), Rule::SuperusersOnly));
        assert!(matches!(*cache.get(Some(" ")), Rule::Everyone));
        assert!(matches!(*cache.get(Some("(")), Rule::SuperusersOnly));
    }

    #[test]
    fn stays_bounded() {
        let cache = RuleCache::default();
        for i in 0..(MAX_ENTRIES * 2) {
            cache.get(Some(&format!("n = {i}")));
        }
        assert!(read(&cache.parsed).len() <= MAX_ENTRIES);
    }
}
