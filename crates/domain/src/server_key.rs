//! The server's own secret, which never enters the database: it keys the hashes of one-time codes
//! (so a database dump does not let anyone test codes offline) and, later, encrypts TOTP secrets.
//! The binary loads it from `GATEHOUSE_ENCRYPTION_KEY` or from a key file in the data dir.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub struct ServerKey([u8; 32]);

impl ServerKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// HMAC-SHA256 of `data` under a key derived for `purpose`, in hex. Different purposes never
    /// share a key, so a hash made for one cannot be replayed as another.
    pub fn hash(&self, purpose: &str, data: &str) -> String {
        let derived = self.mac(&self.0, purpose.as_bytes());
        hex(&self.mac(&derived, data.as_bytes()))
    }

    /// Whether `data` hashes to `expected`, compared in constant time.
    pub fn verify(&self, purpose: &str, data: &str, expected: &str) -> bool {
        self.hash(purpose, data)
            .as_bytes()
            .ct_eq(expected.as_bytes())
            .into()
    }

    fn mac(&self, key: &[u8], data: &[u8]) -> [u8; 32] {
        // HMAC takes keys of any length; this cannot fail.
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
            return [0; 32];
        };
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(..)")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_depend_on_key_purpose_and_data() {
        let a = ServerKey::new([1; 32]);
        let b = ServerKey::new([2; 32]);
        let h = a.hash("otp", "id:1234");
        assert_eq!(h.len(), 64);
        assert!(a.verify("otp", "id:1234", &h));
        assert!(!a.verify("otp", "id:1235", &h));
        assert!(!a.verify("backup", "id:1234", &h));
        assert!(!b.verify("otp", "id:1234", &h));
    }
}
