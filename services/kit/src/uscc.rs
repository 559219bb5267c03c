//! The unified social credit code (统一社会信用代码), GB 32100-2015, that
//! names an enterprise in every service.
//!
//! 18 characters from a 31-character set (digits and capital letters without
//! I, O, S, V and Z). The last is a check character: the weighted sum of the
//! first 17 values, weights `3^i mod 31`, taken so that the total is a
//! multiple of 31.

use std::fmt;

use crate::error::InvalidArgument;

const CHARACTERS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
const LENGTH: usize = 18;

/// A unified social credit code with a correct check character.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uscc(String);

impl Uscc {
    /// Parses a code, normalising surrounding spaces and lower case; `field`
    /// names the request field in the error.
    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidArgument> {
        let code = normalise(raw);
        let length = code.chars().count();
        if length != LENGTH {
            return Err(InvalidArgument::new(
                field,
                format!(
                    "统一社会信用代码应为18位，实为{length}位 must be 18 characters, not {length}"
                ),
            ));
        }
        let mut values = Vec::with_capacity(LENGTH);
        for (position, character) in code.chars().enumerate() {
            let Some(value) = value_of(character) else {
                return Err(InvalidArgument::new(
                    field,
                    format!(
                        "第{}位字符“{character}”不允许（不使用I、O、S、V、Z） character {} '{character}' is not allowed: only digits and capital letters except I, O, S, V and Z",
                        position + 1,
                        position + 1
                    ),
                ));
            };
            values.push(value);
        }
        let expected = check_character(&values[..LENGTH - 1]);
        let found = code.as_bytes()[LENGTH - 1] as char;
        if found != expected {
            return Err(InvalidArgument::new(
                field,
                format!(
                    "校验码错误，应为“{expected}” check character is wrong: expected '{expected}', found '{found}'"
                ),
            ));
        }
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A code as stored and compared: trimmed, upper case. Where a value is
/// only looked up (a filter), not accepted, it is normalised without the
/// check.
pub fn normalise(raw: &str) -> String {
    raw.trim().to_ascii_uppercase()
}

fn value_of(character: char) -> Option<u32> {
    CHARACTERS
        .iter()
        .position(|candidate| *candidate as char == character)
        .map(|position| position as u32)
}

/// The check character for the first 17 values.
fn check_character(values: &[u32]) -> char {
    let sum: u32 = values
        .iter()
        .zip(WEIGHTS)
        .map(|(value, weight)| value * weight)
        .sum();
    let check = (31 - sum % 31) % 31;
    CHARACTERS[check as usize] as char
}

/// Completes 17 characters into a valid code, for tests and demo data.
pub fn with_check_character(first_seventeen: &str) -> String {
    let values: Vec<u32> = first_seventeen
        .chars()
        .map(|character| value_of(character).expect("an allowed character"))
        .collect();
    assert_eq!(values.len(), LENGTH - 1, "17 characters");
    format!("{first_seventeen}{}", check_character(&values))
}

/// A valid code, different for each `n` below 961: for tests and demo
/// data.
pub fn sample(n: u32) -> String {
    let first = CHARACTERS[(n / 31 % 31) as usize] as char;
    let second = CHARACTERS[(n % 31) as usize] as char;
    with_check_character(&format!("91310106MA1G5KT{first}{second}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Two published codes of well-known enterprises, and one made up.
    const VALID: &[&str] = &[
        "91310000MA1FL4TQ8Q",
        "91110000802100433B",
        "91440300708461136T",
    ];

    #[test]
    fn accepts_published_codes() {
        for code in VALID {
            assert_eq!(Uscc::parse("uscc", code).unwrap().as_str(), *code, "{code}");
        }
    }

    #[test]
    fn normalises_spaces_and_lower_case() {
        let parsed = Uscc::parse("uscc", "  91310000ma1fl4tq8q \t").unwrap();
        assert_eq!(parsed.as_str(), "91310000MA1FL4TQ8Q");
    }

    #[test]
    fn rejects_a_wrong_check_character_saying_which_is_right() {
        let error = Uscc::parse("enterprise.uscc", "91310000MA1FL4TQ8K").unwrap_err();
        assert_eq!(error.violations[0].field, "enterprise.uscc");
        assert!(
            error.violations[0].description.contains("expected 'Q'"),
            "{error}"
        );
    }

    #[test]
    fn rejects_wrong_lengths() {
        let error = Uscc::parse("uscc", "91310000MA1FL4TQ8").unwrap_err();
        assert!(
            error.violations[0].description.contains("not 17"),
            "{error}"
        );
        assert!(Uscc::parse("uscc", "").is_err());
        assert!(Uscc::parse("uscc", "91310000MA1FL4TQ8QK").is_err());
    }

    #[test]
    fn rejects_the_letters_the_standard_leaves_out() {
        for letter in ['I', 'O', 'S', 'V', 'Z'] {
            let code = format!("9131000{letter}MA1FL4TQ8Q");
            let error = Uscc::parse("uscc", &code).unwrap_err();
            assert!(
                error.violations[0]
                    .description
                    .contains(&format!("'{letter}'")),
                "{error}"
            );
        }
        assert!(Uscc::parse("uscc", "91310000MA1FL4TQ8统").is_err());
    }

    #[test]
    fn with_check_character_completes_valid_codes() {
        assert_eq!(
            with_check_character("91310000MA1FL4TQ8"),
            "91310000MA1FL4TQ8Q"
        );
    }
}
