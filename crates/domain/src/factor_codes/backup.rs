//! Backup codes: 10 characters of lower-case base32 (50 bits) shown as `xxxxx-xxxxx`, and the one
//! spelling a typed code is reduced to before it is hashed and looked up.

use std::collections::HashSet;

use crate::random;

/// RFC 4648 base32 in lower case: no `0`/`1`/`8`/`9`, so nothing reads like `o`, `l` or `b`.
pub const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

const CODE_CHARS: usize = 10;
const GROUP_CHARS: usize = 5;
/// Longer inputs are refused before any work, so a huge body costs nothing.
const MAX_INPUT: usize = 64;

/// `count` distinct codes, each `xxxxx-xxxxx`, from the OS-seeded CSPRNG.
pub fn generate(count: usize) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut codes = Vec::new();
    while codes.len() < count {
        let raw = random::string_from(ALPHABET, CODE_CHARS);
        if seen.insert(raw.clone()) {
            codes.push(format!("{}-{}", &raw[..GROUP_CHARS], &raw[GROUP_CHARS..]));
        }
    }
    codes
}

/// A typed code in any case, with or without the hyphen or spaces, as its 10 lower-case characters;
/// `None` for anything else.
pub fn normalize(input: &str) -> Option<String> {
    if input.len() > MAX_INPUT {
        return None;
    }
    let code: String = input
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let valid = code.len() == CODE_CHARS && code.bytes().all(|b| ALPHABET.contains(&b));
    valid.then_some(code)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a malformed code fails the test at the line that splits it
    use super::*;

    #[test]
    fn generated_codes_have_the_display_format() {
        let codes = generate(10);
        assert_eq!(codes.len(), 10);
        for code in &codes {
            let (left, right) = code.split_once('-').unwrap();
            assert_eq!((left.len(), right.len()), (5, 5), "{code}");
            assert!(
                left.bytes()
                    .chain(right.bytes())
                    .all(|b| ALPHABET.contains(&b))
            );
            assert_eq!(normalize(code).unwrap(), code.replace('-', ""));
        }
    }

    #[test]
    fn generated_codes_are_distinct() {
        let codes = generate(1_000);
        let distinct: HashSet<&String> = codes.iter().collect();
        assert_eq!(distinct.len(), 1_000);
        assert_ne!(generate(10), generate(10));
        assert!(generate(0).is_empty());
    }

    #[test]
    fn normalize_accepts_any_case_hyphen_and_spaces() {
        for typed in [
            "abcde-fgh23",
            "abcdefgh23",
            "ABCDE-FGH23",
            "AbCdE fGh23",
            " abcde - fgh23 ",
            "ab cd ef gh 23",
        ] {
            assert_eq!(normalize(typed).as_deref(), Some("abcdefgh23"), "{typed}");
        }
    }

    #[test]
    fn normalize_refuses_everything_else() {
        let long = format!("abcde-fgh23{}", " ".repeat(60));
        for typed in [
            "",
            "abcde-fgh2",
            "abcde-fgh234",
            "abcde-fgh01",
            "abcde_fgh23",
            "abcde\tfgh23",
            "abcdé-fgh23",
            "ａbcde-fgh23",
            long.as_str(),
        ] {
            assert_eq!(normalize(typed), None, "{typed:?}");
        }
    }
}
