//! Instants are stored as microseconds since the Unix epoch (a BIGINT both
//! databases hold alike) and leave the API as `google.protobuf.Timestamp`.
//! The districts' calendar and clocks run on Shanghai time.

//!
//! Every service reads the time from [`now_micros`], the one clock of the
//! process. In development and trials it can be shifted
//! (`LOUYU_DEV_CLOCK_OFFSET=+30d`), so that deadlines, lease ends and expiries
//! can be tried from outside the process.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// How far this process's clock is shifted from the system's, in
/// microseconds: 0 unless [`shift_clock`] was called.
static CLOCK_OFFSET_MICROS: AtomicI64 = AtomicI64::new(0);

/// Microseconds since the Unix epoch, now, on the process's clock.
pub fn now_micros() -> i64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    let system =
        i64::try_from(elapsed.as_micros()).expect("microseconds fit in i64 until the year 294247");
    system + CLOCK_OFFSET_MICROS.load(Ordering::Relaxed)
}

/// Now, on the process's clock.
pub fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_micros()) * 1_000)
        .expect("the clock is within time's range")
}

/// Shifts the process's clock for development and trials: every service in
/// the process then lives `offset` ahead of (or behind) the system clock.
pub fn shift_clock(offset: ClockOffset) {
    CLOCK_OFFSET_MICROS.store(offset.micros, Ordering::Relaxed);
}

/// How far the process's clock is shifted now.
pub fn clock_offset() -> ClockOffset {
    ClockOffset {
        micros: CLOCK_OFFSET_MICROS.load(Ordering::Relaxed),
    }
}

/// A shift of the clock, written with a sign, a number and a unit: `+30d`,
/// `-12h`, `90m`, `3600s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClockOffset {
    micros: i64,
}

impl ClockOffset {
    pub fn is_zero(self) -> bool {
        self.micros == 0
    }

    /// A shift of `micros` microseconds, ahead when positive: how `louyu up
    /// --demo` plays its season in the past.
    pub fn from_micros(micros: i64) -> Self {
        ClockOffset { micros }
    }
}

impl FromStr for ClockOffset {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("{text:?} is not a clock offset such as +30d, -12h, 90m or 3600s");
        let trimmed = text.trim();
        let (sign, unsigned) = match trimmed.strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, trimmed.strip_prefix('+').unwrap_or(trimmed)),
        };
        parse_duration(unsigned)
            .filter(|duration| duration.as_secs() <= 100 * 366 * 86_400)
            .and_then(|duration| i64::try_from(duration.as_micros()).ok())
            .map(|micros| ClockOffset {
                micros: sign * micros,
            })
            .ok_or_else(invalid)
    }
}

/// A duration written as a whole number and its unit: `500ms`, `5s`, `90m`,
/// `12h`, `7d`. `None` for anything else, or one too long to hold.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let split = text.find(|character: char| !character.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let milliseconds_per_unit = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    number
        .checked_mul(milliseconds_per_unit)
        .map(std::time::Duration::from_millis)
}

impl fmt::Display for ClockOffset {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:+}s", self.micros / 1_000_000)
    }
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
    now().to_offset(SHANGHAI).date()
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
    fn clock_offsets_are_written_with_a_sign_a_number_and_a_unit() {
        let seconds = |text: &str| {
            text.parse::<ClockOffset>()
                .map(|offset| offset.micros / 1_000_000)
        };
        assert_eq!(seconds("+30d"), Ok(30 * 86_400));
        assert_eq!(seconds("-12h"), Ok(-12 * 3_600));
        assert_eq!(seconds("90m"), Ok(5_400));
        assert_eq!(seconds(" 3600s "), Ok(3_600));
        for bad in [
            "",
            "30",
            "d",
            "+-3d",
            "3w",
            "1.5d",
            "99999999d",
            "99999999999999999d",
        ] {
            assert!(seconds(bad).is_err(), "{bad:?} is refused");
        }
        assert_eq!("-2h".parse::<ClockOffset>().unwrap().to_string(), "-7200s");
    }

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
