//! `settings.lockout` (Gatehouse's own): what repeated wrong passwords for one identity do.
//!
//! The policy, in two parts, so that nobody can lock an owner out for good:
//! - per identity and client IP: after `maxFailures` wrong passwords within `duration` seconds,
//!   that IP gets `429` for that identity until the window ends. Another IP (the owner's) is not
//!   affected, and a correct password from the IP clears its count.
//! - per identity across all IPs: past `slowdownAfter` failures within the window, every further
//!   attempt for it waits before the password is checked (0.25 s doubling per failure, at most 5 s).
//!   Slow, never refused: distributed guessing is throttled while the owner can still log in.
//!
//! Counts are kept per identity as typed (lower-cased), whether or not a record has it, so the
//! answers never tell which accounts exist.

use crate::error::{FieldErrors, codes};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Lockout {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub max_failures: i64,
    /// Seconds.
    #[serde(default)]
    pub duration: i64,
    #[serde(default)]
    pub slowdown_after: i64,
}

impl Default for Lockout {
    fn default() -> Self {
        Self {
            enabled: true,
            max_failures: 5,
            duration: 900,
            slowdown_after: 20,
        }
    }
}

/// The longest wait the slowdown imposes.
pub const MAX_DELAY_MS: u64 = 5000;

impl Lockout {
    pub fn check(&self, errors: &mut FieldErrors) {
        let mut own = FieldErrors::default();
        for (name, value) in [
            ("maxFailures", self.max_failures),
            ("duration", self.duration),
            ("slowdownAfter", self.slowdown_after),
        ] {
            if self.enabled && value == 0 {
                own.add_code(name, codes::REQUIRED);
            } else if value < 0 || (self.enabled && value < 1) {
                own.min_threshold(name, 1);
            }
        }
        if self.duration > super::MAX_WINDOW_SECS {
            own.max_threshold("duration", super::MAX_WINDOW_SECS);
        }
        errors.nest("lockout", own);
    }

    /// The wait before checking a password for an identity that has `failures` recent failures.
    pub fn delay_ms(&self, failures: i64) -> u64 {
        let over = failures - self.slowdown_after;
        if !self.enabled || over < 0 {
            return 0;
        }
        let doublings = u32::try_from(over.min(16)).unwrap_or(16);
        (250u64 << doublings).min(MAX_DELAY_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_grows_and_is_capped() {
        let l = Lockout::default();
        assert_eq!(l.delay_ms(19), 0);
        assert_eq!(l.delay_ms(20), 250);
        assert_eq!(l.delay_ms(22), 1000);
        assert_eq!(l.delay_ms(500), MAX_DELAY_MS);
    }
}
