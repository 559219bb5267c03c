//! Free text as people type it, checked the same way in every service and in
//! CSV import: trimmed, bounded, and free of control characters, except the
//! line breaks of the fields where a person writes several lines (an
//! address, a description, notes).

use crate::error::InvalidArgument;

/// Whether a field may hold more than one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Names, titles, ids: any line break is rejected.
    One,
    /// Addresses, descriptions, notes, reasons: `\n` and `\r\n` are kept,
    /// each stored as `\n`.
    Many,
}

/// Trimmed text of at most `max_chars` characters (counted after line
/// breaks are normalised); empty only when not `required`. The error never
/// repeats the value, which may be personal data.
pub fn parse(
    field: &str,
    value: &str,
    max_chars: usize,
    required: bool,
    lines: Lines,
) -> Result<String, InvalidArgument> {
    let trimmed = value.trim();
    if required && trimmed.is_empty() {
        return Err(InvalidArgument::new(field, "不能为空 must not be empty"));
    }
    let normalised = match lines {
        Lines::One => trimmed.to_owned(),
        Lines::Many => trimmed.replace("\r\n", "\n"),
    };
    let chars = normalised.chars().count();
    if chars > max_chars {
        return Err(InvalidArgument::new(
            field,
            format!(
                "不能超过{max_chars}个字符（实为{chars}个） must be at most {max_chars} characters, not {chars}"
            ),
        ));
    }
    let line_break_allowed = |character: char| lines == Lines::Many && character == '\n';
    if normalised
        .chars()
        .any(|character| character.is_control() && !line_break_allowed(character))
    {
        let message = match lines {
            Lines::One => "不能含换行或其他控制字符 must be one line, without control characters",
            Lines::Many => {
                "除换行外不能含控制字符 must not contain control characters other than line breaks"
            }
        };
        return Err(InvalidArgument::new(field, message));
    }
    Ok(normalised)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_lines_keep_their_breaks_as_newlines() {
        assert_eq!(
            parse(
                "address",
                " 南京西路1266号\r\n恒隆广场\n",
                100,
                true,
                Lines::Many
            )
            .unwrap(),
            "南京西路1266号\n恒隆广场"
        );
    }

    #[test]
    fn one_line_rejects_a_line_break_naming_the_field() {
        let error = parse("display_name", "恒隆\n广场", 100, true, Lines::One).unwrap_err();
        assert_eq!(error.violations[0].field, "display_name");
    }

    #[test]
    fn other_control_characters_are_rejected_everywhere() {
        for value in ["a\u{0}b", "a\tb", "a\rb", "a\u{7f}b"] {
            assert!(
                parse("notes", value, 100, false, Lines::Many).is_err(),
                "{value:?}"
            );
            assert!(
                parse("notes", value, 100, false, Lines::One).is_err(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn length_is_counted_in_characters_after_normalising() {
        let two_lines = format!("{}\r\n{}", "楼".repeat(5), "楼".repeat(4));
        assert!(parse("notes", &two_lines, 10, false, Lines::Many).is_ok());
        assert!(parse("notes", &"楼".repeat(11), 10, false, Lines::Many).is_err());
        assert!(parse("notes", "   ", 10, true, Lines::Many).is_err());
        assert_eq!(parse("notes", "   ", 10, false, Lines::Many).unwrap(), "");
    }
}
