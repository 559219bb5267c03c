//! The process's clock, shifted as `LOUYU_DEV_CLOCK_OFFSET` shifts it, for
//! tests of deadlines and schedules. The clock is process-wide: a binary
//! that shifts it runs its tests one after the other.

use louyu_kit::time::{ClockOffset, now_micros, shift_clock};

/// Sets the process's clock to a minute past `instant` (microseconds since
/// the Unix epoch).
pub fn shift_to(instant: i64) {
    shift_clock(ClockOffset::default());
    let ahead = instant - now_micros() + 60_000_000;
    let offset: ClockOffset = format!("{}s", ahead / 1_000_000)
        .parse()
        .expect("an offset");
    shift_clock(offset);
}
