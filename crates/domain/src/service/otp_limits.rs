//! How many guesses email codes allow: per code, per (owner, client IP) as in PocketBase's
//! guard, and per owner from everywhere (so that many IPs cannot brute-force one address).
//! Every attempt is counted before the code is compared, each count in one statement, so a
//! concurrent burst gets no more guesses than a sequence would. The defaults are the product's;
//! an embedding program (or a test that needs concurrent uses of one code to all reach the
//! consume) may change them.

use super::Gatehouse;
use crate::error::{Error, Result};
use gatehouse_store::TicketKey;
use std::sync::RwLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpLimits {
    /// Attempts one code allows.
    pub per_code: i64,
    /// PocketBase's guard: attempts per (owner, client IP) within `per_ip_window_ms`.
    pub per_ip: i64,
    pub per_ip_window_ms: i64,
    /// Attempts per owner (a record, or the stand-in owner of an unknown address) from every IP
    /// within `per_owner_window_ms`.
    pub per_owner: i64,
    pub per_owner_window_ms: i64,
}

impl Default for OtpLimits {
    fn default() -> Self {
        Self {
            per_code: 5,
            per_ip: 5,
            per_ip_window_ms: 180_000,
            per_owner: 10,
            per_owner_window_ms: 15 * 60 * 1000,
        }
    }
}

const TOO_MANY: &str = "Too many attempts, please try again later with a new OTP.";
pub(super) const INVALID: &str = "Invalid or expired OTP.";

/// The limits in force, shared by every request of one server.
#[derive(Debug, Default)]
pub(super) struct OtpLimitsCell(RwLock<OtpLimits>);

impl OtpLimitsCell {
    fn get(&self) -> OtpLimits {
        match self.0.read() {
            Ok(guard) => *guard,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

impl Gatehouse {
    pub fn set_otp_limits(&self, limits: OtpLimits) {
        let mut guard = match self.otp_limits.0.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = limits;
    }

    pub fn otp_limits(&self) -> OtpLimits {
        self.otp_limits.get()
    }

    /// Counts one attempt at a code of `owner` from `ip` before the code is looked at; 429 past
    /// the guard or the owner's cap.
    pub(super) async fn count_otp_attempt(&self, owner: &str, ip: &str) -> Result<()> {
        let limits = self.otp_limits();
        let now = self.clock.now_millis();
        // A client as the limiter and the lockout see it (an IPv6 /64 is one client).
        let client = self.current_settings().await?.rate_limits.client_key(ip);
        let counters = [
            (
                format!("otp-guard:{owner}|{client}"),
                limits.per_ip,
                limits.per_ip_window_ms,
            ),
            (
                format!("otp-owner:{owner}"),
                limits.per_owner,
                limits.per_owner_window_ms,
            ),
        ];
        for (key, max, window_ms) in counters {
            if self.store.counter_hit(&key, now, window_ms).await? > max {
                return Err(Error::too_many_requests(TOO_MANY));
            }
        }
        Ok(())
    }

    /// Counts this attempt on the code itself before it is compared. The store refuses once the
    /// code has had `per_code` attempts (429), or when it is gone, consumed meanwhile by a
    /// concurrent use (400, as for any unknown code).
    pub(super) async fn reserve_code_attempt(&self, key: TicketKey<'_>) -> Result<()> {
        let limits = self.otp_limits();
        let now = self.clock.now_millis();
        if self
            .store
            .fail_ticket(key, limits.per_code, now)
            .await?
            .is_some()
        {
            return Ok(());
        }
        match self.store.find_ticket(key.id, key.kind, now).await? {
            Some(_) => Err(Error::too_many_requests(TOO_MANY)),
            None => Err(Error::bad_request(INVALID)),
        }
    }
}
