//! The visits service's rules, with no I/O: the demand lifecycle, visit
//! cadence and urgency, and local time.

pub mod cadence;
pub mod lifecycle;

/// An instant in Asia/Shanghai (UTC+8, no daylight saving), RFC 3339.
pub fn shanghai_time(micros: i64) -> String {
    let offset = time::UtcOffset::from_hms(8, 0, 0).expect("UTC+8 is a valid offset");
    let instant = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map(|instant| instant.to_offset(offset));
    instant
        .ok()
        .and_then(|instant| {
            instant
                .format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Parses an RFC 3339 instant (as written in a filter) to microseconds.
pub fn parse_instant(text: &str) -> Option<i64> {
    let instant =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(instant.unix_timestamp_nanos() / 1_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_shown_in_shanghai_time() {
        // 2026-11-27T01:30:00Z
        let micros = 1_795_743_000_000_000;
        assert_eq!(shanghai_time(micros), "2026-11-27T09:30:00+08:00");
        assert_eq!(parse_instant("2026-11-27T09:30:00+08:00"), Some(micros));
        assert_eq!(parse_instant("2026-11-27T01:30:00Z"), Some(micros));
        assert_eq!(parse_instant("yesterday"), None);
    }
}
