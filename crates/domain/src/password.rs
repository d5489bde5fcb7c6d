//! Password hashing: argon2id for everything Gatehouse writes; PocketBase's bcrypt hashes are
//! still accepted and flagged for re-hashing. Hashing is CPU-bound, so it runs on the blocking
//! pool, at most one hash per core at a time: extra logins queue instead of starving the server.

use crate::error::{Error, Result};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// OWASP's minimum for argon2id (2026 cheat sheet): 19 MiB, 2 passes, 1 lane.
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
pub const ARGON2_PASSES: u32 = 2;
pub const ARGON2_LANES: u32 = 1;

/// A hash with the current parameters of a password nobody has: unknown accounts are checked
/// against it so that they cost the same time as known ones.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$Vdh1ih7dy6Hi4lCb3LQVY9+sEz1NAH8aO8kzyGc8sqE";

/// A plain-text password from a request. Never printed.
#[derive(Clone, Default, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matched: bool,
    /// The hash is bcrypt or uses older argon2 parameters: store a fresh one.
    pub needs_rehash: bool,
}

pub struct Passwords {
    permits: Arc<Semaphore>,
}

fn argon2() -> Argon2<'static> {
    let params =
        Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl Passwords {
    /// `parallel` hashes may run at once (the number of cores is the sensible value).
    pub fn new(parallel: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(parallel.max(1))),
        }
    }

    pub async fn hash(&self, password: &Password) -> Result<String> {
        let password = password.clone();
        self.blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.as_str().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::internal(format!("argon2 hash: {e}")))
        })
        .await
    }

    /// Checks `password` against `stored`, or against a dummy hash when there is no account, so
    /// both cases take the same time.
    pub async fn verify(&self, password: &Password, stored: Option<&str>) -> Result<Verification> {
        let password = password.clone();
        let known = stored.is_some();
        let stored = stored.unwrap_or(DUMMY_HASH).to_owned();
        let result = self
            .blocking(move || Ok(verify_blocking(password.as_str(), &stored)))
            .await?;
        Ok(Verification {
            matched: result.matched && known,
            needs_rehash: result.needs_rehash && known,
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self.permits.acquire().await.map_err(Error::internal)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(Error::internal)?
    }
}

fn verify_blocking(password: &str, stored: &str) -> Verification {
    if stored.starts_with("$2") {
        let matched = bcrypt::verify(password, stored).unwrap_or(false);
        return Verification {
            matched,
            needs_rehash: true,
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verification {
            matched: false,
            needs_rehash: false,
        };
    };
    let matched = argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    let current = Params::try_from(&parsed).is_ok_and(|p| {
        p.m_cost() == ARGON2_MEMORY_KIB && p.t_cost() == ARGON2_PASSES && p.p_cost() == ARGON2_LANES
    }) && parsed.algorithm.as_str() == "argon2id";
    Verification {
        matched,
        needs_rehash: !current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> Password {
        Password(s.to_owned())
    }

    #[tokio::test]
    async fn argon2id_round_trip() {
        let p = Passwords::new(1);
        let hash = p.hash(&pw("correct horse")).await.unwrap_or_default();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let ok = p.verify(&pw("correct horse"), Some(&hash)).await.ok();
        assert_eq!(
            ok,
            Some(Verification {
                matched: true,
                needs_rehash: false
            })
        );
        let bad = p.verify(&pw("wrong"), Some(&hash)).await.ok();
        assert_eq!(bad.map(|v| v.matched), Some(false));
    }

    #[tokio::test]
    async fn pocketbase_bcrypt_hashes_verify_and_ask_for_rehash() {
        let hash = bcrypt::hash("12345678", 4).unwrap_or_default();
        let v = Passwords::new(1)
            .verify(&pw("12345678"), Some(&hash))
            .await
            .ok();
        assert_eq!(
            v,
            Some(Verification {
                matched: true,
                needs_rehash: true
            })
        );
    }

    #[tokio::test]
    async fn unknown_account_never_matches() {
        let v = Passwords::new(1).verify(&pw(""), None).await.ok();
        assert_eq!(v.map(|v| v.matched), Some(false));
    }

    #[test]
    fn dummy_hash_uses_current_parameters() {
        assert!(!verify_blocking("x", DUMMY_HASH).needs_rehash);
    }

    #[test]
    fn debug_never_prints_the_password() {
        assert_eq!(format!("{:?}", pw("hunter2")), "Password(***)");
    }
}
