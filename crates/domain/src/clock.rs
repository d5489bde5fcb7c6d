//! The only place that reads the wall clock. Everything else takes a [`Clock`], so tests can move
//! time without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;
use time::macros::format_description;

pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;

    fn now_secs(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }
}

pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now_millis(&self) -> i64 {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A clock the tests set by hand.
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(millis: i64) -> Self {
        Self(AtomicI64::new(millis))
    }
    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// PocketBase's datetime format: `2006-01-02 15:04:05.000Z` (UTC, milliseconds).
pub fn format_datetime(millis: i64) -> String {
    let format =
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// Accepts PocketBase's format and RFC 3339 (what JS `toISOString()` sends); answers in
/// PocketBase's format.
pub fn normalize_datetime(input: &str) -> Option<String> {
    let input = input.trim();
    let rfc3339 = if input.len() > 10 && input.as_bytes().get(10) == Some(&b' ') {
        format!("{}T{}", &input[..10], &input[11..])
    } else {
        input.to_owned()
    };
    if let Ok(t) = OffsetDateTime::parse(&rfc3339, &time::format_description::well_known::Rfc3339) {
        let millis = t.unix_timestamp_nanos() / 1_000_000;
        return i64::try_from(millis).ok().map(format_datetime);
    }
    // A bare date, e.g. "2026-11-23".
    let date_only = format_description!("[year]-[month]-[day]");
    time::Date::parse(input, &date_only).ok().map(|d| {
        let secs = d.midnight().assume_utc().unix_timestamp();
        format_datetime(secs * 1000)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_pocketbase() {
        assert_eq!(
            format_datetime(1_795_854_471_408),
            "2026-11-28 08:27:51.408Z"
        );
    }

    #[test]
    fn normalizes_iso_and_pocketbase_dates() {
        assert_eq!(
            normalize_datetime("2026-11-23T08:27:50.408Z").as_deref(),
            Some("2026-11-23 08:27:50.408Z")
        );
        assert_eq!(
            normalize_datetime("2026-11-23 08:27:50.408Z").as_deref(),
            Some("2026-11-23 08:27:50.408Z")
        );
        assert_eq!(
            normalize_datetime("2026-11-23").as_deref(),
            Some("2026-11-23 00:00:00.000Z")
        );
        assert_eq!(normalize_datetime("yesterday"), None);
    }
}
