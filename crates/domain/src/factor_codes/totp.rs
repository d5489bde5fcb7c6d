//! TOTP (RFC 6238): new secrets, the `otpauth://` URI an authenticator app scans, and checking a code
//! at a given time. The code arithmetic and the constant-time compare are totp-rs's; this module
//! validates the parameters first so that no input can reach one of the crate's panics.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use totp_rs::{Builder, Secret, Totp};

/// RFC 3986 unreserved characters stay as they are; everything else in the label and the issuer
/// is percent-encoded (so `@` is `%40` and a space is `%20`, never `+`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Longer inputs are refused before trimming, so a huge body costs nothing.
const MAX_CODE_INPUT: usize = 64;

/// The HMAC behind the codes, spelled as in the collection option and the URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    /// `"SHA1"`, `"SHA256"` or `"SHA512"`, upper-case exactly; anything else is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "SHA1" => Some(Self::Sha1),
            "SHA256" => Some(Self::Sha256),
            "SHA512" => Some(Self::Sha512),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    fn to_crate(self) -> totp_rs::Algorithm {
        match self {
            Self::Sha1 => totp_rs::Algorithm::SHA1,
            Self::Sha256 => totp_rs::Algorithm::SHA256,
            Self::Sha512 => totp_rs::Algorithm::SHA512,
        }
    }
}

/// A collection's TOTP options. Out-of-range values (digits outside 6..=8, a zero period) make
/// every check fail rather than panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpParams {
    pub algorithm: Algorithm,
    /// 6..=8.
    pub digits: u32,
    /// Seconds per step, at least 1.
    pub period: u64,
    /// Steps accepted on either side of the current one.
    pub skew: u8,
}

/// A new shared secret: 160 bits from the OS-seeded CSPRNG (the size RFC 4226 recommends).
pub fn new_secret() -> Vec<u8> {
    Secret::generate().as_bytes().to_vec()
}

/// The secret as authenticator apps take it: RFC 4648 base32, upper-case, no padding.
pub fn base32(secret: &[u8]) -> String {
    Secret::from(secret).to_base32()
}

/// `otpauth://totp/{issuer}:{account}?secret=…&issuer=…&algorithm=…&digits=…&period=…`, every
/// parameter written out even when it is an app's default. Built here rather than by totp-rs, which
/// omits defaults and refuses a `:` in the issuer or account (percent-encoded here, so harmless).
pub fn uri(p: &TotpParams, secret: &[u8], issuer: &str, account: &str) -> String {
    let issuer = utf8_percent_encode(issuer, NOT_UNRESERVED);
    let account = utf8_percent_encode(account, NOT_UNRESERVED);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm={}&digits={}&period={}",
        base32(secret),
        p.algorithm.as_str(),
        p.digits,
        p.period,
    )
}

/// The time step (`now_secs / period`) whose code `code` is, searched within ±`skew` steps of now;
/// `None` when nothing matches or the input cannot be a code. The caller stores the step and accepts
/// only a later one next time (RFC 6238 §5.2: a code is good once).
pub fn check(p: &TotpParams, secret: &[u8], code: &str, now_secs: i64) -> Option<i64> {
    if code.len() > MAX_CODE_INPUT {
        return None;
    }
    let code = code.trim();
    let digits = usize::try_from(p.digits).ok()?;
    if code.len() != digits || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (totp, now) = totp_at(p, secret, now_secs)?;
    let step = totp.check(code, now)?;
    i64::try_from(step).ok()
}

/// The code at `now_secs`, or an empty string when the parameters, secret or time are unusable.
pub fn code_at(p: &TotpParams, secret: &[u8], now_secs: i64) -> String {
    totp_at(p, secret, now_secs)
        .map(|(totp, now)| totp.generate(now).to_string())
        .unwrap_or_default()
}

/// totp-rs panics on more than 9 digits and on a zero period, and its window arithmetic
/// (`(now / period + skew) * period`) must not overflow; refuse all of that up front.
/// Secrets shorter than RFC 4226's 128 bits are accepted (`build_noncompliant`): older systems issued
/// 80-bit secrets that users may bring along, and ours are always 160 bits. An empty one is refused.
fn totp_at(p: &TotpParams, secret: &[u8], now_secs: i64) -> Option<(Totp, u64)> {
    let digits = u8::try_from(p.digits)
        .ok()
        .filter(|d| (6..=8).contains(d))?;
    let now = u64::try_from(now_secs).ok()?;
    if secret.is_empty() || p.period == 0 {
        return None;
    }
    (now / p.period)
        .checked_add(u64::from(p.skew))?
        .checked_mul(p.period)?;
    let totp = Builder::new()
        .with_algorithm(p.algorithm.to_crate())
        .with_digits(digits)
        .with_skew(u16::from(p.skew))
        .with_step_duration(p.period)
        .with_secret(secret)
        .build_noncompliant();
    Some((totp, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_SHA1: &[u8] = b"12345678901234567890";
    const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
    const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    /// RFC 6238 Appendix B: (time, SHA1, SHA256, SHA512), 8 digits, 30-second steps.
    const RFC_VECTORS: &[(i64, &str, &str, &str)] = &[
        (59, "94287082", "46119246", "90693936"),
        (1_111_111_109, "07081804", "68084774", "25091201"),
        (1_111_111_111, "14050471", "67062674", "99943326"),
        (1_234_567_890, "89005924", "91819424", "93441116"),
        (2_000_000_000, "69279037", "90698825", "38618901"),
        (20_000_000_000, "65353130", "77737706", "47863826"),
    ];

    fn params(algorithm: Algorithm, digits: u32, skew: u8) -> TotpParams {
        TotpParams {
            algorithm,
            digits,
            period: 30,
            skew,
        }
    }

    #[test]
    fn rfc6238_vectors_generate_and_check() {
        for &(time, sha1, sha256, sha512) in RFC_VECTORS {
            for (algorithm, seed, expected) in [
                (Algorithm::Sha1, SEED_SHA1, sha1),
                (Algorithm::Sha256, SEED_SHA256, sha256),
                (Algorithm::Sha512, SEED_SHA512, sha512),
            ] {
                let p = params(algorithm, 8, 0);
                assert_eq!(code_at(&p, seed, time), expected, "{algorithm:?} at {time}");
                assert_eq!(check(&p, seed, expected, time), Some(time / 30));
            }
        }
    }

    #[test]
    fn skew_steps_are_accepted_and_one_more_is_refused() {
        let p = params(Algorithm::Sha1, 6, 2);
        let now = 1_700_000_015;
        let step_now = now / 30;
        for offset in -2..=2 {
            let code = code_at(&p, SEED_SHA1, now + offset * 30);
            assert_eq!(check(&p, SEED_SHA1, &code, now), Some(step_now + offset));
        }
        for offset in [-3, 3] {
            let code = code_at(&p, SEED_SHA1, now + offset * 30);
            assert_eq!(check(&p, SEED_SHA1, &code, now), None, "offset {offset}");
        }
    }

    #[test]
    fn spaces_around_a_code_are_ignored() {
        let p = params(Algorithm::Sha1, 6, 1);
        let code = code_at(&p, SEED_SHA1, 1_000);
        assert_eq!(check(&p, SEED_SHA1, &format!("  {code} "), 1_000), Some(33));
    }

    #[test]
    fn garbage_codes_are_refused() {
        let p = params(Algorithm::Sha1, 6, 1);
        let code = code_at(&p, SEED_SHA1, 1_000);
        let huge = "1".repeat(1 << 20);
        let wrong_digit = format!("{}{}", &code[..5], (code.as_bytes()[5] - b'0' + 1) % 10);
        for bad in [
            "",
            "abcdef",
            "12345",
            "1234567",
            "+12345",
            "12 345",
            "１２３４５６",
            huge.as_str(),
            &code[..5],
            wrong_digit.as_str(),
        ] {
            assert_eq!(check(&p, SEED_SHA1, bad, 1_000), None, "{bad:.20}");
        }
    }

    #[test]
    fn unusable_parameters_never_panic() {
        let good = params(Algorithm::Sha1, 6, 1);
        let code = code_at(&good, SEED_SHA1, 1_000);
        assert_eq!(check(&good, SEED_SHA1, &code, -1), None);
        assert_eq!(check(&good, SEED_SHA1, &code, i64::MIN), None);
        assert_eq!(check(&good, b"", &code, 1_000), None);
        assert_eq!(code_at(&good, b"", 1_000), "");
        let huge_skew = TotpParams {
            skew: u8::MAX,
            ..good
        };
        assert_eq!(check(&huge_skew, SEED_SHA1, &code, 1_000), Some(33));
        let latest = code_at(&huge_skew, SEED_SHA1, i64::MAX);
        assert_eq!(
            check(&huge_skew, SEED_SHA1, &latest, i64::MAX),
            Some(i64::MAX / 30)
        );
        for broken in [
            TotpParams { digits: 0, ..good },
            TotpParams { digits: 5, ..good },
            TotpParams { digits: 10, ..good },
            TotpParams {
                digits: u32::MAX,
                ..good
            },
            TotpParams { period: 0, ..good },
            TotpParams {
                period: u64::MAX,
                skew: 2,
                ..good
            },
        ] {
            assert_eq!(check(&broken, SEED_SHA1, "123456", i64::MAX), None);
            assert_eq!(code_at(&broken, SEED_SHA1, i64::MAX), "");
        }
    }

    #[test]
    fn new_secrets_are_160_random_bits() {
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert_eq!(base32(&a).len(), 32);
    }

    #[test]
    fn base32_is_rfc4648_upper_case_without_padding() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(SEED_SHA1), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn uri_has_the_exact_shape() {
        let p = params(Algorithm::Sha1, 6, 1);
        assert_eq!(
            uri(&p, SEED_SHA1, "Acme Co", "ann@example.com"),
            "otpauth://totp/Acme%20Co:ann%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Acme%20Co&algorithm=SHA1&digits=6&period=30"
        );
        let p = TotpParams {
            algorithm: Algorithm::Sha512,
            digits: 8,
            period: 60,
            skew: 1,
        };
        assert_eq!(
            uri(&p, b"foobar", "a:b/é", "x+y z~._-"),
            "otpauth://totp/a%3Ab%2F%C3%A9:x%2By%20z~._-?secret=MZXW6YTBOI\
             &issuer=a%3Ab%2F%C3%A9&algorithm=SHA512&digits=8&period=60"
        );
    }

    #[test]
    fn algorithm_names_round_trip_upper_case_only() {
        for a in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
            assert_eq!(Algorithm::parse(a.as_str()), Some(a));
        }
        assert_eq!(Algorithm::parse("sha1"), None);
        assert_eq!(Algorithm::parse("SHA-1"), None);
        assert_eq!(Algorithm::parse(""), None);
    }
}
