//! Instants are stored as microseconds since the Unix epoch (a BIGINT both
//! databases hold alike) and leave the API as `google.protobuf.Timestamp`.
//! The districts' calendar and clocks run on Shanghai time.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(elapsed.as_micros()).expect("microseconds fit in i64 until the year 294247")
}

pub fn timestamp_from_micros(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1_000).expect("below one second"),
    }
}

pub fn micros_from_timestamp(timestamp: &prost_types::Timestamp) -> i64 {
    timestamp.seconds * 1_000_000 + i64::from(timestamp.nanos) / 1_000
}

/// Shanghai's offset from UTC: +8 all year, with no daylight saving.
pub const SHANGHAI: time::UtcOffset = time::macros::offset!(+8);

/// Today in Shanghai, where the district's calendar runs.
pub fn today_in_shanghai() -> time::Date {
    time::OffsetDateTime::now_utc().to_offset(SHANGHAI).date()
}

/// An instant in Shanghai time, RFC 3339: `2026-11-27T09:30:00+08:00`.
pub fn shanghai_time(micros: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .ok()
        .and_then(|instant| {
            instant
                .to_offset(SHANGHAI)
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
    fn timestamps_round_trip_through_micros_including_before_the_epoch() {
        for micros in [0, 1, 1_700_000_000_123_456, -1, -1_500_000] {
            assert_eq!(
                micros_from_timestamp(&timestamp_from_micros(micros)),
                micros
            );
        }
        assert_eq!(timestamp_from_micros(-1).nanos, 999_999_000);
    }

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
