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
    /// How many of the SMS credentials (Twilio token, Vonage secret, webhook secret).
    pub sms_secrets: usize,
}

impl Gatehouse {
    /// Seals every secret that an older key of the ring sealed under the current key.
    pub async fn reseal_secrets(&self) -> Result<Resealed> {
        let totp_secrets = self.reseal_totp_secrets().await?;
        let (smtp_password, sms_secrets) = self.reseal_settings_secrets().await?;
        Ok(Resealed {
            totp_secrets,
            smtp_password,
            sms_secrets,
        })
    }
}
