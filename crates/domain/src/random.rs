//! Random identifiers and secrets, from the OS-seeded CSPRNG.

use rand::RngExt;

const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` characters drawn uniformly from `alphabet`.
pub fn string_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// A PocketBase record id: 15 characters of `[a-z0-9]`.
pub fn record_id() -> String {
    string_from(LOWER_ALNUM, 15)
}

/// A record's token key or a collection's token secret: 50 characters of `[A-Za-z0-9]`.
pub fn secret() -> String {
    string_from(ALNUM, 50)
}

/// A realtime client's id (PocketBase's `clientId`): 40 characters of `[A-Za-z0-9]`. It is the
/// OAuth2 popup's `state` too, so it must be unguessable.
pub fn client_id() -> String {
    string_from(ALNUM, 40)
}

/// A password nobody knows (for records whose password is reset to a random one).
pub fn password() -> String {
    string_from(ALNUM, 30)
}

/// CRC-32 (IEEE), which PocketBase uses to derive collection and field ids from names.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_pocketbase_shape() {
        let id = record_id();
        assert_eq!(id.len(), 15);
        assert!(id.bytes().all(|b| LOWER_ALNUM.contains(&b)));
        assert_eq!(secret().len(), 50);
    }

    #[test]
    fn crc32_matches_pocketbase_ids() {
        // PocketBase: _superusers = "pbc_" + crc32("auth" + "_superusers"); field ids = type + crc32(name).
        assert_eq!(crc32(b"auth_superusers"), 3_142_635_823);
        assert_eq!(crc32(b"id"), 3_208_210_256);
        assert_eq!(crc32(b"tokenKey"), 2_504_183_744);
    }
}
