//! Field values as every service checks them: text with limits and the
//! control-character rule of [`crate::text`], enums, phone numbers and
//! coordinates. Errors name the field and never repeat the value, which may
//! be personal data.

use louyu_proto::google::r#type::LatLng;

use crate::error::{InvalidArgument, Violations};
use crate::text::Lines;

/// The longest one-line text accepted (a display name, a place), in
/// characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest free text (an address, notes, a description, a reason)
/// accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 1000;

/// One line of trimmed text of at most `max_chars` characters, with no
/// control characters; empty only when not `required`.
pub fn text(
    field: &str,
    value: &str,
    max_chars: usize,
    required: bool,
) -> Result<String, InvalidArgument> {
    crate::text::parse(field, value, max_chars, required, Lines::One)
}

/// Text a person may write over several lines: as [`text`], but `\n` and
/// `\r\n` are kept, each as `\n`.
pub fn multiline_text(
    field: &str,
    value: &str,
    max_chars: usize,
    required: bool,
) -> Result<String, InvalidArgument> {
    crate::text::parse(field, value, max_chars, required, Lines::Many)
}

/// A required display name.
pub fn name(field: &str, value: &str) -> Result<String, InvalidArgument> {
    text(field, value, MAX_NAME_CHARS, true)
}

/// Notes, a description or a reason: several lines, at most
/// [`MAX_TEXT_CHARS`].
pub fn notes(field: &str, value: &str, required: bool) -> Result<String, InvalidArgument> {
    multiline_text(field, value, MAX_TEXT_CHARS, required)
}

/// A required enum value: known to this version of the API and not
/// `..._UNSPECIFIED`.
pub fn required_enum<E: TryFrom<i32>>(field: &str, value: i32) -> Result<E, InvalidArgument> {
    if value == 0 {
        return Err(InvalidArgument::new(field, "必须填写 is required"));
    }
    known_enum(field, value)
}

/// An optional enum value: `..._UNSPECIFIED` (0) or a value known to this
/// version of the API.
pub fn known_enum<E: TryFrom<i32>>(field: &str, value: i32) -> Result<E, InvalidArgument> {
    E::try_from(value)
        .map_err(|_| InvalidArgument::new(field, format!("未知的取值 unknown value {value}")))
}

/// Maps a filter value (`ACTIVE` or `ENTERPRISE_STATUS_ACTIVE`) to an enum
/// number, given prost's `from_str_name`.
pub fn enum_number(
    prefix: &str,
    value: &str,
    from_str_name: impl Fn(&str) -> Option<i32>,
) -> Option<i32> {
    from_str_name(value).or_else(|| from_str_name(&format!("{prefix}{value}")))
}

/// A phone number, optional: digits with `+`, `-`, spaces and parentheses,
/// at most 32.
pub fn phone(field: &str, value: &str) -> Result<String, InvalidArgument> {
    let phone = value.trim();
    let valid = phone.len() <= 32
        && phone
            .chars()
            .all(|character| character.is_ascii_digit() || "+-() ".contains(character));
    if !valid {
        return Err(InvalidArgument::new(
            field,
            "电话号码只能含数字、空格和+-()，不超过32位 must be at most 32 digits, spaces and + - ( )",
        ));
    }
    Ok(phone.to_owned())
}

/// Optional coordinates in range, as `(latitude, longitude)`: WGS-84 once
/// [`crate::geo::Datum::lat_lng_to_wgs84`] has converted them.
pub fn location(
    field: &str,
    value: Option<&LatLng>,
) -> Result<Option<(f64, f64)>, InvalidArgument> {
    let Some(location) = value else {
        return Ok(None);
    };
    let mut violations = Violations::new();
    if !location.latitude.is_finite() || !(-90.0..=90.0).contains(&location.latitude) {
        violations.add(
            format!("{field}.latitude"),
            "纬度应在-90至90之间 must be from -90 to 90",
        );
    }
    if !location.longitude.is_finite() || !(-180.0..=180.0).contains(&location.longitude) {
        violations.add(
            format!("{field}.longitude"),
            "经度应在-180至180之间 must be from -180 to 180",
        );
    }
    violations.into_result()?;
    Ok(Some((location.latitude, location.longitude)))
}

/// The earliest and latest instants a `google.protobuf.Timestamp` may hold
/// (0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, as its documentation
/// says), in seconds since the Unix epoch.
const TIMESTAMP_SECONDS: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;

/// A required instant, as microseconds since the Unix epoch (nanoseconds
/// below a microsecond are dropped). Seconds outside the years 1 to 9999,
/// or nanoseconds outside 0 to 999,999,999, are rejected rather than
/// overflowing.
pub fn instant(
    field: &str,
    value: Option<&prost_types::Timestamp>,
) -> Result<i64, InvalidArgument> {
    let Some(timestamp) = value else {
        return Err(InvalidArgument::new(field, "必须填写 is required"));
    };
    if !TIMESTAMP_SECONDS.contains(&timestamp.seconds)
        || !(0..1_000_000_000).contains(&timestamp.nanos)
    {
        return Err(InvalidArgument::new(
            field,
            "时间应在公元1年至9999年之间 must be an instant from year 1 to 9999",
        ));
    }
    Ok(crate::time::micros_from_timestamp(timestamp))
}

/// Stored coordinates back as a `LatLng`, when both are there.
pub fn lat_lng(latitude: Option<f64>, longitude: Option<f64>) -> Option<LatLng> {
    Some(LatLng {
        latitude: latitude?,
        longitude: longitude?,
    })
}

/// Great-circle distance in metres between two WGS84 points.
pub fn distance_meters(from: (f64, f64), to: (f64, f64)) -> f64 {
    const EARTH_RADIUS_METERS: f64 = 6_371_008.8;
    let (latitude_from, longitude_from) = (from.0.to_radians(), from.1.to_radians());
    let (latitude_to, longitude_to) = (to.0.to_radians(), to.1.to_radians());
    let half_chord = ((latitude_to - latitude_from) / 2.0).sin().powi(2)
        + latitude_from.cos()
            * latitude_to.cos()
            * ((longitude_to - longitude_from) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_METERS * half_chord.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(name("n", "  恒隆广场 ").unwrap(), "恒隆广场");
        assert_eq!(name("n", "   ").unwrap_err().violations[0].field, "n");
        let long = "楼".repeat(10_000);
        let error = name("n", &long).unwrap_err();
        assert!(
            error.violations[0].description.contains("not 10000"),
            "{error}"
        );
        assert!(name("n", "a\u{0}b").is_err());
    }

    #[test]
    fn notes_keep_line_breaks_and_reject_other_control_characters() {
        assert_eq!(notes("notes", "a\r\nb", false).unwrap(), "a\nb");
        assert!(notes("notes", "a\u{7}b", false).is_err());
        assert!(notes("notes", &"字".repeat(MAX_TEXT_CHARS + 1), false).is_err());
    }

    #[test]
    fn enums_are_required_or_merely_known() {
        let required: Result<u8, _> = required_enum("kind", 0);
        assert_eq!(required.unwrap_err().violations[0].field, "kind");
        let known: Result<u8, _> = known_enum("kind", 0);
        assert_eq!(known.unwrap(), 0);
        let unknown: Result<u8, _> = known_enum("kind", 300);
        assert!(unknown.is_err());
    }

    #[test]
    fn instants_are_required_and_within_what_a_timestamp_may_hold() {
        let at = |seconds, nanos| prost_types::Timestamp { seconds, nanos };
        assert_eq!(instant("t", Some(&at(1, 2_500))).unwrap(), 1_000_002);
        assert_eq!(instant("t", None).unwrap_err().violations[0].field, "t");
        assert!(instant("t", Some(&at(i64::MAX, 0))).is_err());
        assert!(instant("t", Some(&at(0, -1))).is_err());
        assert!(instant("t", Some(&at(0, 1_000_000_000))).is_err());
    }

    #[test]
    fn distances_match_known_values() {
        // One degree of latitude is about 111.2 km.
        let distance = distance_meters((31.0, 121.0), (32.0, 121.0));
        assert!((distance - 111_195.0).abs() < 50.0, "{distance}");
        assert_eq!(distance_meters((31.2, 121.4), (31.2, 121.4)), 0.0);
    }
}
