//! After `gatehouse keys rotate` puts a new server key first in the ring: every stored secret
//! sealed under an older key is sealed again under the new one. Codes hashed under older keys
//! (backup codes, live OTPs) are not touched: the ring still checks them.

use super::Gatehouse;
use crate::error::Result;

/// What a re-seal changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resealed {
    pub totp_secrets: usize,
    pub smtp_password: bool,
}

impl Gatehouse {
    /// Seals every secret that an older key of the ring sealed under the current key.
    pub async fn reseal_secrets(&self) -> Result<Resealed> {
        Ok(Resealed {
            totp_secrets: self.reseal_totp_secrets().await?,
            smtp_password: self.reseal_smtp_password().await?,
        })
    }
}
