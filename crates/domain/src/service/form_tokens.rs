//! The anti-forgery tokens of the hosted pages' forms: a random per-browser value (kept in a
//! cookie) and its keyed hash (a hidden field). Only the server key makes a hash that matches,
//! so a page on another site can neither read nor forge the pair.

use super::Gatehouse;
use crate::random;

const PURPOSE: &str = "pages.csrf";
const NONCE_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A fresh per-browser value for the form-token cookie.
pub fn new_form_nonce() -> String {
    random::string_from(NONCE_ALPHABET, 32)
}

impl Gatehouse {
    /// The hidden-field token that goes with `nonce`.
    pub fn form_token(&self, nonce: &str) -> String {
        self.key.hash(PURPOSE, nonce)
    }

    /// Whether `token` was made by [`form_token`](Self::form_token) for `nonce` (any key of the
    /// ring, constant time).
    pub fn form_token_valid(&self, nonce: &str, token: &str) -> bool {
        !nonce.is_empty() && !token.is_empty() && self.key.verify(PURPOSE, nonce, token)
    }
}
