//! When an offering of a building resource is on, and what is on in a
//! window of time: opening hours per weekday (a self-service tax machine),
//! or sessions, weekly (a reading club every Wednesday evening) and one-off
//! (a job fair). A weekly rule and one-off dates cover what the districts
//! run; RFC 5545 recurrence rules would be more than they need.
//!
//! Weekly times are Shanghai local time, which is UTC+8 all year, so a
//! local date and time is always one instant. Public holidays are not
//! special-cased: a session that falls on one still shows as on.

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::fields;
use louyu_kit::time::{SHANGHAI, timestamp_from_micros};
use louyu_proto::google::r#type::{DayOfWeek, Interval, TimeOfDay};
use louyu_proto::registry::v1::{
    OpeningHours, Sessions, WeeklyPeriod, WeeklySession as WeeklySessionMessage, offering,
};
use time::Weekday;

/// The most periods, weekly sessions or one-off sessions one offering holds
/// of each.
pub const MAX_ENTRIES: usize = 50;

/// The longest window a "what is on" query and a one-off session may span.
pub const MAX_SPAN_DAYS: i64 = 31;

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: u32 = 86_400;
const MAX_SPAN_MICROS: i64 = MAX_SPAN_DAYS * SECONDS_PER_DAY as i64 * MICROS_PER_SECOND;

/// A time of day as seconds after local midnight: 0 to 86,400, where
/// 86,400 is the 24:00 that ends a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecondOfDay(u32);

impl SecondOfDay {
    /// A start of a period: from 00:00 to 23:59:59, in whole seconds.
    pub fn parse_start(field: &str, value: Option<&TimeOfDay>) -> Result<Self, InvalidArgument> {
        let seconds = whole_seconds(field, value)?;
        if seconds >= SECONDS_PER_DAY {
            return Err(InvalidArgument::new(
                field,
                "开始时间应在00:00至23:59:59之间 must be from 00:00 to 23:59:59",
            ));
        }
        Ok(Self(seconds))
    }

    /// An end of a period: from 00:00:01 to 24:00, in whole seconds.
    pub fn parse_end(field: &str, value: Option<&TimeOfDay>) -> Result<Self, InvalidArgument> {
        Ok(Self(whole_seconds(field, value)?))
    }

    /// As stored; `None` when out of range.
    pub fn from_stored(seconds: i64) -> Option<Self> {
        u32::try_from(seconds)
            .ok()
            .filter(|seconds| *seconds <= SECONDS_PER_DAY)
            .map(Self)
    }

    pub fn seconds(self) -> i64 {
        i64::from(self.0)
    }

    fn to_time_of_day(self) -> TimeOfDay {
        let seconds = i32::try_from(self.0).expect("at most 86,400");
        TimeOfDay {
            hours: seconds / 3_600,
            minutes: seconds % 3_600 / 60,
            seconds: seconds % 60,
            nanos: 0,
        }
    }
}

/// `hours:minutes:seconds` as seconds of the day, 24:00:00 included;
/// anything else out of range, or a fraction of a second, is rejected.
fn whole_seconds(field: &str, value: Option<&TimeOfDay>) -> Result<u32, InvalidArgument> {
    let Some(time) = value else {
        return Err(InvalidArgument::new(field, "必须填写 is required"));
    };
    let in_range = (0..=23).contains(&time.hours)
        && (0..=59).contains(&time.minutes)
        && (0..=59).contains(&time.seconds)
        && time.nanos == 0;
    let midnight_ending =
        time.hours == 24 && time.minutes == 0 && time.seconds == 0 && time.nanos == 0;
    if !in_range && !midnight_ending {
        return Err(InvalidArgument::new(
            field,
            "应为00:00至24:00之间的整秒时间 must be a time of day from 00:00 to 24:00 in whole seconds",
        ));
    }
    let seconds = time.hours * 3_600 + time.minutes * 60 + time.seconds;
    Ok(u32::try_from(seconds).expect("checked to be within a day"))
}

/// A period of one weekday, local time; the end after the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyPeriod {
    pub weekday: Weekday,
    pub start: SecondOfDay,
    pub end: SecondOfDay,
}

impl DailyPeriod {
    /// The period of `day_of_week`, `start_time` and `end_time`, the fields
    /// named under `field`.
    fn parse(
        field: &str,
        day_of_week: i32,
        start_time: Option<&TimeOfDay>,
        end_time: Option<&TimeOfDay>,
    ) -> Result<Self, InvalidArgument> {
        let mut violations = Violations::new();
        let weekday = violations
            .check(fields::required_enum::<DayOfWeek>(
                &format!("{field}.day_of_week"),
                day_of_week,
            ))
            .and_then(weekday_of);
        let start = violations.check(SecondOfDay::parse_start(
            &format!("{field}.start_time"),
            start_time,
        ));
        let end = violations.check(SecondOfDay::parse_end(
            &format!("{field}.end_time"),
            end_time,
        ));
        if let (Some(start), Some(end)) = (start, end)
            && end <= start
        {
            violations.add(
                format!("{field}.end_time"),
                "结束时间应晚于开始时间 must be after start_time",
            );
        }
        violations.into_result()?;
        Ok(Self {
            weekday: weekday.expect("checked"),
            start: start.expect("checked"),
            end: end.expect("checked"),
        })
    }

    /// As stored: the ISO weekday number (1 Monday to 7 Sunday) and the
    /// seconds of the day; `None` when out of range.
    pub fn from_stored(day_of_week: i64, start: i64, end: i64) -> Option<Self> {
        let weekday = i32::try_from(day_of_week)
            .ok()
            .and_then(|number| DayOfWeek::try_from(number).ok())
            .and_then(weekday_of)?;
        let start = SecondOfDay::from_stored(start)?;
        let end = SecondOfDay::from_stored(end)?;
        (start < end && start.0 < SECONDS_PER_DAY).then_some(Self {
            weekday,
            start,
            end,
        })
    }

    /// The ISO weekday number: 1 for Monday to 7 for Sunday, as
    /// `google.type.DayOfWeek` numbers them too.
    pub fn day_number(self) -> i64 {
        i64::from(self.weekday.number_from_monday())
    }

    fn day_of_week(self) -> i32 {
        i32::from(self.weekday.number_from_monday())
    }

    /// Its times in `window` on the local dates from `first` to `last`.
    fn occurrences(
        self,
        first: Option<time::Date>,
        last: Option<time::Date>,
        window: Span,
        into: &mut Vec<Span>,
    ) {
        // A period ends by the next midnight, so only the window's own
        // dates can hold one that overlaps it.
        let window_first = local_date(window.start_micros);
        let window_last = local_date(window.end_micros - 1);
        let from = first.map_or(window_first, |first| first.max(window_first));
        let until = last.map_or(window_last, |last| last.min(window_last));
        let days_ahead = (7 + i64::from(self.weekday.number_days_from_monday())
            - i64::from(from.weekday().number_days_from_monday()))
            % 7;
        let mut day = from.checked_add(time::Duration::days(days_ahead));
        while let Some(date) = day.filter(|date| *date <= until) {
            let midnight = local_midnight_micros(date);
            let occurrence = Span {
                start_micros: midnight + self.start.seconds() * MICROS_PER_SECOND,
                end_micros: midnight + self.end.seconds() * MICROS_PER_SECOND,
            };
            if occurrence.overlaps(window) {
                into.push(occurrence);
            }
            day = date.checked_add(time::Duration::days(7));
        }
    }
}

/// The weekday a `google.type.DayOfWeek` names; `None` for unspecified.
fn weekday_of(day: DayOfWeek) -> Option<Weekday> {
    match day {
        DayOfWeek::Unspecified => None,
        DayOfWeek::Monday => Some(Weekday::Monday),
        DayOfWeek::Tuesday => Some(Weekday::Tuesday),
        DayOfWeek::Wednesday => Some(Weekday::Wednesday),
        DayOfWeek::Thursday => Some(Weekday::Thursday),
        DayOfWeek::Friday => Some(Weekday::Friday),
        DayOfWeek::Saturday => Some(Weekday::Saturday),
        DayOfWeek::Sunday => Some(Weekday::Sunday),
    }
}

/// The Shanghai date of an instant.
fn local_date(micros: i64) -> time::Date {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .expect("instants are checked to lie within years 1 to 9999")
        .to_offset(SHANGHAI)
        .date()
}

/// The instant a Shanghai date begins.
fn local_midnight_micros(date: time::Date) -> i64 {
    date.midnight().assume_offset(SHANGHAI).unix_timestamp() * MICROS_PER_SECOND
}

/// A session every week on one weekday, from a first local date until a
/// last one, if any (not before the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklySession {
    pub period: DailyPeriod,
    pub first_date: time::Date,
    pub last_date: Option<time::Date>,
}

impl WeeklySession {
    fn parse(field: &str, value: &WeeklySessionMessage) -> Result<Self, InvalidArgument> {
        let mut violations = Violations::new();
        let period = violations.check(DailyPeriod::parse(
            field,
            value.day_of_week,
            value.start_time.as_ref(),
            value.end_time.as_ref(),
        ));
        let first_date = violations.check(crate::domain::fields::date(
            &format!("{field}.first_date"),
            value.first_date.as_ref(),
        ));
        let last_date = match &value.last_date {
            None => Some(None),
            Some(last) => violations
                .check(crate::domain::fields::date(
                    &format!("{field}.last_date"),
                    Some(last),
                ))
                .map(Some),
        };
        if let (Some(first), Some(Some(last))) = (first_date, last_date)
            && last < first
        {
            violations.add(
                format!("{field}.last_date"),
                "不能早于 first_date must not be before first_date",
            );
        }
        violations.into_result()?;
        Ok(Self {
            period: period.expect("checked"),
            first_date: first_date.expect("checked"),
            last_date: last_date.expect("checked"),
        })
    }
}

/// A stretch of time from `start_micros` (inclusive) to `end_micros`
/// (exclusive), microseconds since the Unix epoch; the end after the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub start_micros: i64,
    pub end_micros: i64,
}

impl Span {
    /// A required interval with both ends, the end after the start and at
    /// most [`MAX_SPAN_DAYS`] later: a one-off session, or the window of a
    /// "what is on" query.
    pub fn parse(field: &str, value: Option<&Interval>) -> Result<Self, InvalidArgument> {
        let Some(interval) = value else {
            return Err(InvalidArgument::new(field, "必须填写 is required"));
        };
        let mut violations = Violations::new();
        let start = violations.check(fields::instant(
            &format!("{field}.start_time"),
            interval.start_time.as_ref(),
        ));
        let end = violations.check(fields::instant(
            &format!("{field}.end_time"),
            interval.end_time.as_ref(),
        ));
        if let (Some(start), Some(end)) = (start, end) {
            if end <= start {
                violations.add(
                    format!("{field}.end_time"),
                    "结束时间应晚于开始时间 must be after start_time",
                );
            } else if end - start > MAX_SPAN_MICROS {
                violations.add(
                    format!("{field}.end_time"),
                    format!(
                        "不能晚于开始时间{MAX_SPAN_DAYS}天以上 must be at most {MAX_SPAN_DAYS} days after start_time"
                    ),
                );
            }
        }
        violations.into_result()?;
        Ok(Self {
            start_micros: start.expect("checked"),
            end_micros: end.expect("checked"),
        })
    }

    /// As stored; `None` unless the end is after the start.
    pub fn from_stored(start_micros: i64, end_micros: i64) -> Option<Self> {
        (start_micros < end_micros).then_some(Self {
            start_micros,
            end_micros,
        })
    }

    /// Whether the two share an instant.
    pub fn overlaps(self, other: Span) -> bool {
        self.start_micros < other.end_micros && other.start_micros < self.end_micros
    }

    pub fn to_interval(self) -> Interval {
        Interval {
            start_time: Some(timestamp_from_micros(self.start_micros)),
            end_time: Some(timestamp_from_micros(self.end_micros)),
        }
    }
}

/// When an offering is available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// Whenever it is open, in these weekly periods; at least one.
    OpeningHours(Vec<DailyPeriod>),
    /// At set times only: at least one session in all.
    Sessions {
        weekly: Vec<WeeklySession>,
        one_off: Vec<Span>,
    },
}

impl Availability {
    /// The oneof of an `Offering`, its fields named under `field`
    /// (`offering`).
    pub fn parse(
        field: &str,
        value: Option<&offering::Availability>,
    ) -> Result<Self, InvalidArgument> {
        match value {
            None => Err(InvalidArgument::new(
                format!("{field}.availability"),
                "必须填写 opening_hours 或 sessions one of opening_hours and sessions is required",
            )),
            Some(offering::Availability::OpeningHours(hours)) => {
                parse_opening_hours(&format!("{field}.opening_hours"), hours)
            }
            Some(offering::Availability::Sessions(sessions)) => {
                parse_sessions(&format!("{field}.sessions"), sessions)
            }
        }
    }

    pub fn to_proto(&self) -> offering::Availability {
        let period = |period: &DailyPeriod| WeeklyPeriod {
            day_of_week: period.day_of_week(),
            start_time: Some(period.start.to_time_of_day()),
            end_time: Some(period.end.to_time_of_day()),
        };
        match self {
            Availability::OpeningHours(periods) => {
                offering::Availability::OpeningHours(OpeningHours {
                    periods: periods.iter().map(period).collect(),
                })
            }
            Availability::Sessions { weekly, one_off } => {
                offering::Availability::Sessions(Sessions {
                    weekly: weekly
                        .iter()
                        .map(|session| WeeklySessionMessage {
                            day_of_week: session.period.day_of_week(),
                            start_time: Some(session.period.start.to_time_of_day()),
                            end_time: Some(session.period.end.to_time_of_day()),
                            first_date: Some(date_message(session.first_date)),
                            last_date: session.last_date.map(date_message),
                        })
                        .collect(),
                    one_off: one_off.iter().map(|span| span.to_interval()).collect(),
                })
            }
        }
    }

    /// Every session or open period that overlaps `window`, whole (not cut
    /// to the window), in time order.
    pub fn occurrences(&self, window: Span) -> Vec<Span> {
        let mut occurrences = Vec::new();
        match self {
            Availability::OpeningHours(periods) => {
                for period in periods {
                    period.occurrences(None, None, window, &mut occurrences);
                }
            }
            Availability::Sessions { weekly, one_off } => {
                for session in weekly {
                    session.period.occurrences(
                        Some(session.first_date),
                        session.last_date,
                        window,
                        &mut occurrences,
                    );
                }
                occurrences.extend(one_off.iter().filter(|span| span.overlaps(window)));
            }
        }
        occurrences.sort();
        occurrences.dedup();
        occurrences
    }
}

fn parse_opening_hours(field: &str, value: &OpeningHours) -> Result<Availability, InvalidArgument> {
    let mut violations = Violations::new();
    check_count(
        &mut violations,
        &format!("{field}.periods"),
        value.periods.len(),
        true,
    );
    let mut periods = Vec::new();
    for (index, period) in value.periods.iter().enumerate() {
        if let Some(parsed) = violations.check(DailyPeriod::parse(
            &format!("{field}.periods[{index}]"),
            period.day_of_week,
            period.start_time.as_ref(),
            period.end_time.as_ref(),
        )) {
            periods.push(parsed);
        }
    }
    violations.into_result()?;
    Ok(Availability::OpeningHours(periods))
}

fn parse_sessions(field: &str, value: &Sessions) -> Result<Availability, InvalidArgument> {
    let mut violations = Violations::new();
    if value.weekly.is_empty() && value.one_off.is_empty() {
        violations.add(
            field,
            "至少需要一场活动 needs at least one weekly or one-off session",
        );
    }
    check_count(
        &mut violations,
        &format!("{field}.weekly"),
        value.weekly.len(),
        false,
    );
    check_count(
        &mut violations,
        &format!("{field}.one_off"),
        value.one_off.len(),
        false,
    );
    let mut weekly = Vec::new();
    for (index, session) in value.weekly.iter().enumerate() {
        if let Some(parsed) = violations.check(WeeklySession::parse(
            &format!("{field}.weekly[{index}]"),
            session,
        )) {
            weekly.push(parsed);
        }
    }
    let mut one_off = Vec::new();
    for (index, session) in value.one_off.iter().enumerate() {
        if let Some(parsed) = violations.check(Span::parse(
            &format!("{field}.one_off[{index}]"),
            Some(session),
        )) {
            one_off.push(parsed);
        }
    }
    violations.into_result()?;
    Ok(Availability::Sessions { weekly, one_off })
}

fn check_count(violations: &mut Violations, field: &str, count: usize, required: bool) {
    if required && count == 0 {
        violations.add(field, "至少需要一项 needs at least one");
    }
    if count > MAX_ENTRIES {
        violations.add(
            field,
            format!("最多{MAX_ENTRIES}项 must hold at most {MAX_ENTRIES}, not {count}"),
        );
    }
}

fn date_message(date: time::Date) -> louyu_proto::google::r#type::Date {
    louyu_proto::google::r#type::Date {
        year: date.year(),
        month: i32::from(u8::from(date.month())),
        day: i32::from(date.day()),
    }
}

/// Who runs an offering: an organisation's name, required, one line. A run
/// of seven or more digits (spaces, `-`, `+` and brackets between them
/// included) looks like a phone number, which has no place here: offerings
/// are read by all the staff, and name no person.
pub fn provider(field: &str, value: &str) -> Result<String, InvalidArgument> {
    let provider = fields::text(field, value, fields::MAX_NAME_CHARS, true)?;
    let mut digits_in_a_row = 0;
    for character in provider.chars() {
        if character.is_numeric() {
            digits_in_a_row += 1;
            if digits_in_a_row >= 7 {
                return Err(InvalidArgument::new(
                    field,
                    "请填写机构名称，不要填写电话号码 must name an organisation, not hold a phone number",
                ));
            }
        } else if !" -+()（）".contains(character) {
            digits_in_a_row = 0;
        }
    }
    Ok(provider)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn micros(instant: time::OffsetDateTime) -> i64 {
        i64::try_from(instant.unix_timestamp_nanos() / 1_000).unwrap()
    }

    fn time_of_day(hours: i32, minutes: i32) -> TimeOfDay {
        TimeOfDay {
            hours,
            minutes,
            seconds: 0,
            nanos: 0,
        }
    }

    fn period(weekday: Weekday, start_hour: u32, end_hour: u32) -> DailyPeriod {
        DailyPeriod {
            weekday,
            start: SecondOfDay(start_hour * 3_600),
            end: SecondOfDay(end_hour * 3_600),
        }
    }

    /// Monday 2026-03-02 00:00 to Monday 2026-03-09 00:00, Shanghai.
    fn week() -> Span {
        Span {
            start_micros: micros(datetime!(2026-03-02 00:00 +8)),
            end_micros: micros(datetime!(2026-03-09 00:00 +8)),
        }
    }

    #[test]
    fn a_weekly_session_falls_on_its_weekday_in_shanghai_time_within_its_dates() {
        let club = Availability::Sessions {
            weekly: vec![WeeklySession {
                period: period(Weekday::Wednesday, 19, 21),
                first_date: date!(2026 - 01 - 01),
                last_date: None,
            }],
            one_off: Vec::new(),
        };
        assert_eq!(
            club.occurrences(week()),
            vec![Span {
                start_micros: micros(datetime!(2026-03-04 19:00 +8)),
                end_micros: micros(datetime!(2026-03-04 21:00 +8)),
            }]
        );
        let ended = Availability::Sessions {
            weekly: vec![WeeklySession {
                period: period(Weekday::Wednesday, 19, 21),
                first_date: date!(2026 - 01 - 01),
                last_date: Some(date!(2026 - 03 - 03)),
            }],
            one_off: Vec::new(),
        };
        assert!(ended.occurrences(week()).is_empty(), "its last date passed");
        let not_yet = Availability::Sessions {
            weekly: vec![WeeklySession {
                period: period(Weekday::Wednesday, 19, 21),
                first_date: date!(2026 - 03 - 05),
                last_date: None,
            }],
            one_off: Vec::new(),
        };
        assert!(not_yet.occurrences(week()).is_empty(), "not begun");
    }

    #[test]
    fn opening_hours_give_one_period_a_day_and_touching_the_window_edge_is_not_overlap() {
        let machine = Availability::OpeningHours(
            [
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
            ]
            .into_iter()
            .map(|weekday| period(weekday, 9, 17))
            .collect(),
        );
        let occurrences = machine.occurrences(week());
        assert_eq!(occurrences.len(), 5);
        assert_eq!(
            occurrences[0].start_micros,
            micros(datetime!(2026-03-02 09:00 +8))
        );
        assert_eq!(
            occurrences[4].end_micros,
            micros(datetime!(2026-03-06 17:00 +8))
        );
        // Friday 17:00 to Monday 09:00: closed throughout.
        let weekend = Span {
            start_micros: micros(datetime!(2026-03-06 17:00 +8)),
            end_micros: micros(datetime!(2026-03-09 09:00 +8)),
        };
        assert!(machine.occurrences(weekend).is_empty());
        // A window inside opening hours gets the whole period.
        let lunch = Span {
            start_micros: micros(datetime!(2026-03-03 12:00 +8)),
            end_micros: micros(datetime!(2026-03-03 13:00 +8)),
        };
        assert_eq!(
            machine.occurrences(lunch),
            vec![Span {
                start_micros: micros(datetime!(2026-03-03 09:00 +8)),
                end_micros: micros(datetime!(2026-03-03 17:00 +8)),
            }]
        );
    }

    #[test]
    fn a_period_ending_at_midnight_and_a_window_given_in_utc_follow_shanghai_dates() {
        let late = Availability::OpeningHours(vec![DailyPeriod {
            weekday: Weekday::Sunday,
            start: SecondOfDay(20 * 3_600),
            end: SecondOfDay(SECONDS_PER_DAY),
        }]);
        // Sunday 2026-03-08 in Shanghai is 16:00Z Saturday to 16:00Z Sunday.
        let sunday_in_utc = Span {
            start_micros: micros(datetime!(2026-03-07 16:00 UTC)),
            end_micros: micros(datetime!(2026-03-08 16:00 UTC)),
        };
        assert_eq!(
            late.occurrences(sunday_in_utc),
            vec![Span {
                start_micros: micros(datetime!(2026-03-08 20:00 +8)),
                end_micros: micros(datetime!(2026-03-09 00:00 +8)),
            }]
        );
    }

    #[test]
    fn one_off_sessions_count_when_they_overlap_the_window() {
        let fair = Span {
            start_micros: micros(datetime!(2026-03-10 09:30 +8)),
            end_micros: micros(datetime!(2026-03-10 16:00 +8)),
        };
        let sessions = Availability::Sessions {
            weekly: Vec::new(),
            one_off: vec![fair],
        };
        assert!(sessions.occurrences(week()).is_empty());
        let next_week = Span {
            start_micros: week().end_micros,
            end_micros: week().end_micros + 7 * 86_400 * MICROS_PER_SECOND,
        };
        assert_eq!(sessions.occurrences(next_week), vec![fair]);
    }

    #[test]
    fn times_of_day_are_whole_seconds_up_to_midnight() {
        assert_eq!(
            SecondOfDay::parse_end("t", Some(&time_of_day(24, 0))).unwrap(),
            SecondOfDay(SECONDS_PER_DAY)
        );
        assert!(SecondOfDay::parse_start("t", Some(&time_of_day(24, 0))).is_err());
        assert!(SecondOfDay::parse_end("t", Some(&time_of_day(24, 30))).is_err());
        assert!(SecondOfDay::parse_end("t", Some(&time_of_day(9, 60))).is_err());
        let fraction = TimeOfDay {
            nanos: 1,
            ..time_of_day(9, 0)
        };
        assert!(SecondOfDay::parse_start("t", Some(&fraction)).is_err());
        assert_eq!(
            SecondOfDay(SECONDS_PER_DAY).to_time_of_day(),
            time_of_day(24, 0)
        );
    }

    #[test]
    fn a_bad_period_names_each_field() {
        let error = DailyPeriod::parse("p", 8, Some(&time_of_day(17, 0)), Some(&time_of_day(9, 0)))
            .unwrap_err();
        let fields: Vec<&str> = error
            .violations
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(fields, vec!["p.day_of_week", "p.end_time"]);
    }

    #[test]
    fn stored_periods_round_trip_and_bad_ones_are_refused() {
        let wednesday = period(Weekday::Wednesday, 19, 21);
        assert_eq!(
            DailyPeriod::from_stored(
                wednesday.day_number(),
                wednesday.start.seconds(),
                wednesday.end.seconds()
            ),
            Some(wednesday)
        );
        assert_eq!(DailyPeriod::from_stored(0, 0, 60), None);
        assert_eq!(DailyPeriod::from_stored(8, 0, 60), None);
        assert_eq!(DailyPeriod::from_stored(1, 60, 60), None);
        assert_eq!(DailyPeriod::from_stored(1, 0, 86_401), None);
    }

    #[test]
    fn a_provider_is_an_organisation_not_a_phone_number() {
        assert_eq!(provider("p", " 区税务局 ").unwrap(), "区税务局");
        assert!(provider("p", "静安区第1服务站").is_ok());
        assert!(provider("p", "12345热线").is_ok());
        for phone in [
            "王老师 13800138000",
            "联系 138-0013-8000",
            "（021）6288 1234",
        ] {
            assert_eq!(
                provider("p", phone).unwrap_err().violations[0].field,
                "p",
                "{phone}"
            );
        }
        assert!(provider("p", "").is_err());
    }
}
