//! The server's own secret, which never enters the database: it keys the hashes of one-time codes
//! (so a database dump does not let anyone test codes offline) and encrypts the secrets the database
//! must keep (the SMTP password; later TOTP secrets). The binary loads it from
//! `GATEHOUSE_ENCRYPTION_KEY` or from a key file in the data dir.
//!
//! A sealed value is `gh-enc:v1:<key id>:<hex of nonce ‖ ciphertext>`: XChaCha20-Poly1305 under a
//! key derived from the server key, with the purpose (e.g. `settings.smtp.password`) and the key
//! id as associated data, so a ciphertext cannot be moved to another purpose and a value sealed
//! under another key is recognised as such rather than mistaken for garbage.
//!
//! After a key rotation the server key is a ring: the current key hashes and seals; older keys
//! still open what they sealed (until `gatehouse keys rotate` re-seals it) and still check codes
//! hashed under them (backup codes live for years).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngExt;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::RwLock;
use subtle::ConstantTimeEq;

pub struct ServerKey {
    current: Key,
    /// Keys of earlier rotations, newest first.
    older: Vec<Key>,
}

/// One key of the ring with what is derived from it, derived once: a code check hashes on
/// every request, and deriving again each time cost more than the check itself.
struct Key {
    /// HMAC keyed with the key itself, cloned for each derivation.
    base: Hmac<Sha256>,
    id: String,
    cipher: XChaCha20Poly1305,
    /// HMAC keyed with each purpose's derived key. Purposes are the program's own constants,
    /// a handful; the bound only guards against a caller ever passing something else.
    purposes: RwLock<HashMap<String, Hmac<Sha256>>>,
}

/// More purposes than the program has; past it a derived key is used without being kept.
const MAX_PURPOSES: usize = 64;

impl ServerKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self::with_older(bytes, Vec::new())
    }

    /// A ring: `current` hashes and seals, `older` only open and verify.
    pub fn with_older(current: [u8; 32], older: Vec<[u8; 32]>) -> Self {
        Self {
            current: Key::new(&current),
            older: older.iter().map(Key::new).collect(),
        }
    }

    /// The ids of every key in the ring, the current one first.
    pub fn key_ids(&self) -> Vec<String> {
        self.keys().map(|k| k.id.clone()).collect()
    }

    fn keys(&self) -> impl Iterator<Item = &Key> {
        std::iter::once(&self.current).chain(&self.older)
    }

    /// HMAC-SHA256 of `data` under a key derived for `purpose`, in hex. Different purposes never
    /// share a key, so a hash made for one cannot be replayed as another.
    pub fn hash(&self, purpose: &str, data: &str) -> String {
        self.current.hash(purpose, data)
    }

    /// `data` hashed for `purpose` under every key that may have hashed a stored value (the
    /// current key first): a lookup by hash finds values stored before a key rotation.
    pub fn hashes(&self, purpose: &str, data: &str) -> Vec<String> {
        self.keys().map(|k| k.hash(purpose, data)).collect()
    }

    /// Whether `data` hashes to `expected` under any key of the ring, compared in constant time
    /// (every key is tried, so the time does not tell which matched).
    pub fn verify(&self, purpose: &str, data: &str, expected: &str) -> bool {
        self.keys().fold(false, |found, k| {
            let same: bool = k
                .hash(purpose, data)
                .as_bytes()
                .ct_eq(expected.as_bytes())
                .into();
            found | same
        })
    }

    /// `plaintext` encrypted for `purpose` (see the module notes for the format).
    pub fn seal(&self, purpose: &str, plaintext: &str) -> String {
        let key_id = &self.current.id;
        let key = &self.current;
        let mut nonce = [0u8; 24];
        rand::rng().fill(&mut nonce);
        let aad = format!("{purpose}\n{key_id}");
        let sealed = key.cipher.encrypt(
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
        let key = self
            .keys()
            .find(|k| k.id == key_id)
            .ok_or(OpenError::OtherKey)?;
        let bytes = unhex(body).ok_or(OpenError::Malformed)?;
        if bytes.len() < 24 {
            return Err(OpenError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| OpenError::Malformed)?;
        let aad = format!("{purpose}\n{key_id}");
        let plain = key
            .cipher
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

    /// Whether `value` was sealed under an older key of the ring (rotation re-seals it).
    pub fn sealed_by_older(&self, value: &str) -> bool {
        value
            .strip_prefix(SEALED_PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .is_some_and(|(id, _)| id != self.current.id)
    }

    /// A short public name of the current key: it tells which key sealed a value, nothing
    /// about the key.
    pub fn key_id(&self) -> String {
        self.current.id.clone()
    }
}

impl Key {
    fn new(bytes: &[u8; 32]) -> Self {
        let base = hmac_with(bytes);
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut mac = base.clone();
            mac.update(label);
            mac.finalize().into_bytes().into()
        };
        let id = hex(&derive(b"key-id")[..4]);
        let cipher = XChaCha20Poly1305::new(&derive(b"aead-v1").into());
        Self {
            base,
            id,
            cipher,
            purposes: RwLock::default(),
        }
    }

    /// HMAC-SHA256 of `data` under the key derived for `purpose` (an HMAC of the purpose), in hex.
    fn hash(&self, purpose: &str, data: &str) -> String {
        let cached = self
            .purposes
            .read()
            .ok()
            .and_then(|purposes| purposes.get(purpose).cloned());
        let mut mac = match cached {
            Some(mac) => mac,
            None => self.derive(purpose),
        };
        mac.update(data.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// The HMAC keyed for `purpose`, kept for the next hash.
    fn derive(&self, purpose: &str) -> Hmac<Sha256> {
        let mut base = self.base.clone();
        base.update(purpose.as_bytes());
        let derived: [u8; 32] = base.finalize().into_bytes().into();
        let mac = hmac_with(&derived);
        if let Ok(mut purposes) = self.purposes.write()
            && purposes.len() < MAX_PURPOSES
        {
            purposes.insert(purpose.to_owned(), mac.clone());
        }
        mac
    }
}

fn hmac_with(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: this cannot fail, and the fallback is never reached.
    <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()))
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
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
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
    fn a_ring_seals_with_its_first_key_and_still_opens_and_verifies_older_ones() {
        let old = ServerKey::new([1; 32]);
        let sealed = old.seal("totp", "JBSWY3DP");
        let hash = old.hash("backup-code", "r:abcde12345");
        let ring = ServerKey::with_older([2; 32], vec![[1; 32]]);
        assert_eq!(ring.key_ids(), [ring.key_id(), old.key_id()]);
        assert_eq!(ring.open("totp", &sealed), Ok(Some("JBSWY3DP".to_owned())));
        assert!(ring.sealed_by_older(&sealed));
        let resealed = ring.seal("totp", "JBSWY3DP");
        assert!(!ring.sealed_by_older(&resealed));
        assert_eq!(old.open("totp", &resealed), Err(OpenError::OtherKey));
        assert!(ring.verify("backup-code", "r:abcde12345", &hash));
        assert_eq!(ring.hashes("backup-code", "r:abcde12345")[1], hash);
        assert_ne!(ring.hash("backup-code", "r:abcde12345"), hash);
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
