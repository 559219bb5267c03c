//! Working days of Asia/Shanghai: Monday to Friday, less the public
//! holidays, plus the adjusted working weekends (调休) the State Council
//! publishes each year. A year the calendar does not have counts Monday to
//! Friday, and [`Calendar::years_missing`] says so, for a warning.
//!
//! A deadline of N working days from a dispatch is the end of the N-th
//! working day after the dispatch's day (24:00 Shanghai time), so a demand
//! dispatched on Friday afternoon with one working day is due at the end of
//! Monday, and one dispatched on a holiday counts from the next working day.

use std::collections::{BTreeMap, BTreeSet};

use time::{Date, Duration, OffsetDateTime, UtcOffset, Weekday};

/// Shanghai is UTC+8 all year (no daylight saving).
const SHANGHAI: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("UTC+8 is a valid offset"),
};

const MICROS_PER_SECOND: i64 = 1_000_000;

/// One year's published arrangement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Year {
    /// Days off, weekends within a holiday included.
    pub holidays: BTreeSet<Date>,
    /// Weekend days worked instead (调休上班).
    pub working_weekends: BTreeSet<Date>,
}

/// The working-day calendar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    years: BTreeMap<i32, Year>,
}

impl Calendar {
    pub fn new(years: BTreeMap<i32, Year>) -> Self {
        Self { years }
    }

    /// The years it has an arrangement for.
    pub fn years(&self) -> Vec<i32> {
        self.years.keys().copied().collect()
    }

    /// Of `years`, those it has no arrangement for: Monday to Friday are
    /// counted there, which may be wrong.
    pub fn years_missing(&self, years: impl IntoIterator<Item = i32>) -> Vec<i32> {
        let mut missing: Vec<i32> = years
            .into_iter()
            .filter(|year| !self.years.contains_key(year))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        missing
    }

    /// Whether `date` is a working day.
    pub fn is_working_day(&self, date: Date) -> bool {
        if let Some(year) = self.years.get(&date.year()) {
            if year.working_weekends.contains(&date) {
                return true;
            }
            if year.holidays.contains(&date) {
                return false;
            }
        }
        !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
    }

    /// The `n`-th working day after `date` (`n` ≥ 1), or the first working
    /// day from `date` on when `n` is 0.
    pub fn working_days_after(&self, date: Date, n: u32) -> Date {
        let mut day = date;
        if n == 0 {
            while !self.is_working_day(day) {
                day = day.next_day().expect("dates stay within range");
            }
            return day;
        }
        let mut counted = 0;
        while counted < n {
            day = day.next_day().expect("dates stay within range");
            if self.is_working_day(day) {
                counted += 1;
            }
        }
        day
    }

    /// How many working days lie in `[from, to)`.
    pub fn working_days_between(&self, from: Date, to: Date) -> u32 {
        let mut day = from;
        let mut count = 0;
        while day < to {
            if self.is_working_day(day) {
                count += 1;
            }
            day = day.next_day().expect("dates stay within range");
        }
        count
    }

    /// The due instant of `n` working days from the instant `from`
    /// (microseconds since the epoch): the end of the `n`-th working day
    /// after `from`'s day in Shanghai.
    pub fn due_after(&self, from: i64, n: u32) -> i64 {
        let day = self.working_days_after(shanghai_date(from), n.max(1));
        end_of_day(day)
    }

    /// Moves a due instant on by `n` working days: the end of the `n`-th
    /// working day after the due day (a due at the end of Monday moved by
    /// two is the end of Wednesday).
    pub fn extend(&self, due: i64, n: u32) -> i64 {
        if n == 0 {
            return due;
        }
        // A due at 24:00 belongs to the day it ends.
        let day = shanghai_date(due - 1);
        end_of_day(self.working_days_after(day, n))
    }
}

/// The Shanghai date of an instant.
pub fn shanghai_date(micros: i64) -> Date {
    OffsetDateTime::from_unix_timestamp(micros.div_euclid(MICROS_PER_SECOND))
        .expect("instants stay within range")
        .to_offset(SHANGHAI)
        .date()
}

/// 24:00 at the end of `date` in Shanghai, as microseconds since the epoch.
pub fn end_of_day(date: Date) -> i64 {
    let next = date.next_day().expect("dates stay within range");
    let midnight = next.midnight().assume_offset(SHANGHAI);
    midnight.unix_timestamp() * MICROS_PER_SECOND
}

/// A due instant as people read it, in Shanghai time: `2026-11-30 24:00`
/// for the end of a day (rather than the next day's 00:00), else
/// `2026-11-30 15:00`.
pub fn due_text(micros: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    let instant = OffsetDateTime::from_unix_timestamp(micros.div_euclid(MICROS_PER_SECOND))
        .expect("instants stay within range")
        .to_offset(SHANGHAI);
    if instant.time() == time::Time::MIDNIGHT {
        let day = instant
            .date()
            .previous_day()
            .expect("dates stay within range");
        let format = time::macros::format_description!("[year]-[month]-[day]");
        return format!("{} 24:00", day.format(format).expect("a date formats"));
    }
    instant.format(format).expect("an instant formats")
}

/// Hours after an instant, for deadlines that count hours (a retention
/// case's joint visit within 24 hours), not working days.
pub fn hours_after(from: i64, hours: u32) -> i64 {
    from + Duration::hours(i64::from(hours)).whole_microseconds() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    use crate::domain::rules::Rules;

    fn calendar() -> Calendar {
        Rules::default_rules().calendar().clone()
    }

    fn at(date: Date, hour: u8) -> i64 {
        date.with_hms(hour, 0, 0)
            .expect("valid")
            .assume_offset(SHANGHAI)
            .unix_timestamp()
            * MICROS_PER_SECOND
    }

    #[test]
    fn the_shipped_calendar_has_2026_as_the_state_council_published_it() {
        let calendar = calendar();
        assert_eq!(calendar.years(), vec![2026]);
        // 春节: 2月15日至23日放假; 2月14日、2月28日（周六）上班.
        for day in 15..=23 {
            let holiday = Date::from_calendar_date(2026, time::Month::February, day).unwrap();
            assert!(!calendar.is_working_day(holiday), "{holiday} is a holiday");
        }
        assert!(calendar.is_working_day(date!(2026 - 02 - 14)));
        assert!(calendar.is_working_day(date!(2026 - 02 - 28)));
        // 国庆节: 10月1日至7日; 9月20日（周日）、10月10日（周六）上班.
        assert!(!calendar.is_working_day(date!(2026 - 10 - 05)));
        assert!(calendar.is_working_day(date!(2026 - 09 - 20)));
        assert!(calendar.is_working_day(date!(2026 - 10 - 10)));
        // 元旦 1月1日至3日, 1月4日（周日）上班; 劳动节 5月1日至5日, 5月9日上班.
        assert!(!calendar.is_working_day(date!(2026 - 01 - 02)));
        assert!(calendar.is_working_day(date!(2026 - 01 - 04)));
        assert!(!calendar.is_working_day(date!(2026 - 05 - 04)));
        assert!(calendar.is_working_day(date!(2026 - 05 - 09)));
        // 清明 4月4日至6日, 端午 6月19日至21日, 中秋 9月25日至27日.
        assert!(!calendar.is_working_day(date!(2026 - 04 - 06)));
        assert!(!calendar.is_working_day(date!(2026 - 06 - 19)));
        assert!(!calendar.is_working_day(date!(2026 - 09 - 25)));
        // An ordinary weekend and weekday.
        assert!(!calendar.is_working_day(date!(2026 - 11 - 28)));
        assert!(calendar.is_working_day(date!(2026 - 11 - 27)));
    }

    #[test]
    fn one_working_day_from_friday_afternoon_is_the_end_of_monday() {
        let due = calendar().due_after(at(date!(2026 - 11 - 27), 15), 1);
        assert_eq!(due, end_of_day(date!(2026 - 11 - 30)));
        assert_eq!(
            shanghai_date(due - 1),
            date!(2026 - 11 - 30),
            "24:00 ends Monday"
        );
    }

    #[test]
    fn the_national_day_holiday_is_skipped_and_its_adjusted_saturday_counted() {
        let calendar = calendar();
        // Dispatched Wednesday 30 September: 1 October to 7 October are off,
        // Thursday 8 and Friday 9 are working days, Saturday 10 is worked.
        let from = at(date!(2026 - 09 - 30), 10);
        assert_eq!(
            calendar.due_after(from, 1),
            end_of_day(date!(2026 - 10 - 08))
        );
        assert_eq!(
            calendar.due_after(from, 3),
            end_of_day(date!(2026 - 10 - 10))
        );
        assert_eq!(
            calendar.due_after(from, 4),
            end_of_day(date!(2026 - 10 - 12))
        );
    }

    #[test]
    fn a_dispatch_on_a_holiday_counts_from_the_next_working_day() {
        // 3 October is a holiday; the first working day after it is 8 October.
        let due = calendar().due_after(at(date!(2026 - 10 - 03), 9), 1);
        assert_eq!(due, end_of_day(date!(2026 - 10 - 08)));
    }

    #[test]
    fn a_year_without_a_calendar_counts_monday_to_friday_and_is_reported() {
        let calendar = calendar();
        assert_eq!(calendar.years_missing([2026, 2027]), vec![2027]);
        // 1 January 2027 is a Friday: without a published arrangement it is
        // a working day.
        assert!(calendar.is_working_day(date!(2027 - 01 - 01)));
        assert!(!calendar.is_working_day(date!(2027 - 01 - 02)));
    }

    #[test]
    fn working_days_between_counts_the_suspended_days() {
        let calendar = calendar();
        // Friday to Tuesday: Friday and Monday.
        assert_eq!(
            calendar.working_days_between(date!(2026 - 11 - 27), date!(2026 - 12 - 01)),
            2
        );
        assert_eq!(
            calendar.working_days_between(date!(2026 - 11 - 27), date!(2026 - 11 - 27)),
            0
        );
    }

    #[test]
    fn a_due_at_the_end_of_a_day_reads_as_24_00_of_that_day() {
        assert_eq!(
            due_text(end_of_day(date!(2026 - 11 - 30))),
            "2026-11-30 24:00"
        );
        assert_eq!(due_text(at(date!(2026 - 11 - 30), 15)), "2026-11-30 15:00");
    }

    #[test]
    fn extending_a_due_moves_it_by_working_days() {
        let calendar = calendar();
        let due = end_of_day(date!(2026 - 11 - 30));
        assert_eq!(calendar.extend(due, 2), end_of_day(date!(2026 - 12 - 02)));
        // Friday's due moved by one is Monday's.
        let friday = end_of_day(date!(2026 - 12 - 04));
        assert_eq!(
            calendar.extend(friday, 1),
            end_of_day(date!(2026 - 12 - 07))
        );
    }
}
