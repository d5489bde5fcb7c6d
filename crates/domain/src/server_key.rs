//! The server's own secret, which never enters the database: it keys the hashes of one-time codes
//! (so a database dump does not let anyone test codes offline) and encrypts the secrets the database
//! must keep (the SMTP password; later TOTP secrets). The binary loads it from
//! `GATEHOUSE_ENCRYPTION_KEY` or from a key file in the data dir.
//!
//! A sealed value is `gh-enc:v1:<key id>:<hex of nonce ‖ ciphertext>`: XChaCha20-Poly1305 under a
//! key derived from the server key, with the purpose (e.g. `settings.smtp.password`) and the key
//! id as associated data, so a ciphertext cannot be moved to another purpose and a value sealed
//! under another key is recognised as such rather than mistaken for garbage.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngExt;
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

    /// `data` hashed for `purpose` under every key that may have hashed a stored value (the
    /// current key first): a lookup by hash finds values stored before a key rotation.
    pub fn hashes(&self, purpose: &str, data: &str) -> Vec<String> {
        vec![self.hash(purpose, data)]
    }

    /// Whether `data` hashes to `expected`, compared in constant time.
    pub fn verify(&self, purpose: &str, data: &str, expected: &str) -> bool {
        self.hash(purpose, data)
            .as_bytes()
            .ct_eq(expected.as_bytes())
            .into()
    }

    /// `plaintext` encrypted for `purpose` (see the module notes for the format).
    pub fn seal(&self, purpose: &str, plaintext: &str) -> String {
        let key_id = self.key_id();
        let mut nonce = [0u8; 24];
        rand::rng().fill(&mut nonce);
        let aad = format!("{purpose}\n{key_id}");
        let sealed = self.cipher().encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext.as_bytes(),
                aad: aad.as_bytes(),
            },
        );
        // Encrypting into a Vec cannot fail for inputs this size.
        let ciphertext = sealed.unwrap_or_default();
        format!(
            "{SEALED_PREFIX}{key_id}:{}{}",
            hex(&nonce),
            hex(&ciphertext)
        )
    }

    /// What [`seal`](Self::seal) made for `purpose`. `Ok(None)`: `value` is not sealed (a value
    /// stored before encryption, kept as it is). An error: sealed under another key, for another
    /// purpose, or altered.
    pub fn open(&self, purpose: &str, value: &str) -> Result<Option<String>, OpenError> {
        let Some(rest) = value.strip_prefix(SEALED_PREFIX) else {
            return Ok(None);
        };
        let (key_id, body) = rest.split_once(':').ok_or(OpenError::Malformed)?;
        if key_id != self.key_id() {
            return Err(OpenError::OtherKey);
        }
        let bytes = unhex(body).ok_or(OpenError::Malformed)?;
        if bytes.len() < 24 {
            return Err(OpenError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| OpenError::Malformed)?;
        let aad = format!("{purpose}\n{key_id}");
        let plain = self
            .cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| OpenError::Altered)?;
        String::from_utf8(plain)
            .map(Some)
            .map_err(|_| OpenError::Malformed)
    }

    /// A short public name of this key: it tells which key sealed a value, nothing about the key.
    pub fn key_id(&self) -> String {
        hex(&self.mac(&self.0, b"key-id")[..4])
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.mac(&self.0, b"aead-v1").into())
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

const SEALED_PREFIX: &str = "gh-enc:v1:";

/// Why a sealed value could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Sealed under another server key (the key changed, or instances do not share it).
    OtherKey,
    /// Not in the sealed format.
    Malformed,
    /// Changed since it was sealed, or sealed for another purpose.
    Altered,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::OtherKey => "sealed under another server key",
            Self::Malformed => "not a sealed value",
            Self::Altered => "altered, or sealed for another purpose",
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
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

    #[test]
    fn sealed_values_open_only_for_their_key_and_purpose() {
        let key = ServerKey::new([7; 32]);
        let sealed = key.seal("settings.smtp.password", "hunter2");
        assert!(sealed.starts_with("gh-enc:v1:"), "{sealed}");
        assert!(!sealed.contains("hunter2"));
        // A fresh nonce each time.
        assert_ne!(sealed, key.seal("settings.smtp.password", "hunter2"));
        assert_eq!(
            key.open("settings.smtp.password", &sealed),
            Ok(Some("hunter2".to_owned()))
        );
        assert_eq!(key.open("totp", &sealed), Err(OpenError::Altered));
        assert_eq!(
            ServerKey::new([8; 32]).open("settings.smtp.password", &sealed),
            Err(OpenError::OtherKey)
        );
        let mut tampered = sealed.clone();
        let last = if tampered.ends_with('0') { "1" } else { "0" };
        tampered.replace_range(tampered.len() - 1.., last);
        assert_eq!(
            key.open("settings.smtp.password", &tampered),
            Err(OpenError::Altered)
        );
        assert_eq!(
            key.open("settings.smtp.password", "gh-enc:v1:zz"),
            Err(OpenError::Malformed)
        );
        // Stored before encryption: read as it is.
        assert_eq!(key.open("settings.smtp.password", "plain-old"), Ok(None));
    }
}
