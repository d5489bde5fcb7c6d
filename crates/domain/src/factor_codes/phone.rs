//! Phone numbers for SMS codes: E.164 only (`+` and the country code, no national forms that
//! would need a guessed region), checked against libphonenumber's metadata (the `phonenumber`
//! crate), and masked wherever they are shown.

/// A valid phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    /// `+` and digits, e.g. `+14155552671`.
    pub e164: String,
    /// The country calling code, e.g. 1.
    pub country_code: u16,
}

/// Why a number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneError {
    /// Not `+` followed by 8 to 15 digits (spaces, dots, dashes and brackets are dropped).
    NotE164,
    /// Well-formed but no valid number of any country.
    Invalid,
}

/// Longest input looked at (an E.164 number has at most 15 digits; room for punctuation).
const INPUT_MAX: usize = 32;

/// Parses `input` as an E.164 number.
pub fn parse(input: &str) -> Result<Phone, PhoneError> {
    if input.len() > INPUT_MAX {
        return Err(PhoneError::NotE164);
    }
    let compact: String = input
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = compact.strip_prefix('+').ok_or(PhoneError::NotE164)?;
    if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PhoneError::NotE164);
    }
    let number = phonenumber::parse(None, &compact).map_err(|_| PhoneError::Invalid)?;
    if !phonenumber::is_valid(&number) {
        return Err(PhoneError::Invalid);
    }
    let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
    Ok(Phone {
        e164,
        country_code: number.code().value(),
    })
}

/// `+1 *** *** **71`: the country code and the last two digits, nothing else.
pub fn mask(e164: &str, country_code: u16) -> String {
    let digits = e164.trim_start_matches('+');
    let national = digits
        .strip_prefix(&country_code.to_string())
        .unwrap_or(digits);
    let shown = national.len().saturating_sub(2);
    let mut masked = String::new();
    // Groups of three from the front while more than four digits remain (`415 555 2671`).
    let mut group = 0;
    for (i, c) in national.chars().enumerate() {
        if group == 3 && national.len() - i >= 4 {
            masked.push(' ');
            group = 0;
        }
        group += 1;
        masked.push(if i < shown { '*' } else { c });
    }
    format!("+{country_code} {masked}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers_parse_and_others_do_not() {
        let us = parse("+1 (415) 555-2671").map(|p| (p.e164, p.country_code));
        assert_eq!(us, Ok(("+14155552671".to_owned(), 1)));
        let uk = parse("+44 7911 123456").map(|p| (p.e164, p.country_code));
        assert_eq!(uk, Ok(("+447911123456".to_owned(), 44)));
        for bad in [
            "4155552671",
            "+1",
            "+1415555267a",
            "",
            "++14155552671",
            &"9".repeat(40),
        ] {
            assert_eq!(parse(bad), Err(PhoneError::NotE164), "{bad}");
        }
        assert_eq!(parse("+10005552671"), Err(PhoneError::Invalid));
        assert_eq!(parse("+999123456789"), Err(PhoneError::Invalid));
    }

    #[test]
    fn masks_show_only_the_country_and_the_last_two_digits() {
        assert_eq!(mask("+14155552671", 1), "+1 *** *** **71");
        assert_eq!(mask("+447911123456", 44), "+44 *** *** **56");
        assert_eq!(mask("+4930123456", 49), "+49 *** ***56");
    }
}
