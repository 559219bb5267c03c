//! The assessment of one enterprise: its colour from its current signals
//! under a district's rules at a given time, explained factor by factor,
//! with the time at which it would next change if nothing new were learnt
//! and what would lower it.
//!
//! An assessment is a pure function of the rules, the signals and the time.
//! Every rule that depends on time is a step function, so between two steps
//! nothing changes and [`Assessment::next_change_at`] is exact: the service
//! can schedule the next assessment at that instant instead of polling.

use louyu_kit::time::SHANGHAI;
use time::{Date, Month, OffsetDateTime};

use super::rules::{Counting, MICROS_PER_DAY, Rules, ValueDirection};
use super::{Colour, Signal, SignalKind, Text};

/// How many of the biggest factors [`Assessment::what_would_change`] looks at.
const FACTORS_TO_LIFT: usize = 3;

/// One enterprise's colour at one time, with its explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The colour after floors.
    pub colour: Colour,
    /// The sum of every factor's points, never below 0.
    pub score: i32,
    pub rules_version: String,
    /// Every signal that counted, biggest first; expired signals and those
    /// counting nothing are left out (unless they set a floor).
    pub factors: Vec<Factor>,
    /// The floor that raised the colour above what the score gives, if any.
    pub floor: Option<(Colour, Text)>,
    /// The earliest time after the assessment's `now` at which the same
    /// signals would give a different score or colour; `None` if never.
    pub next_change_at: Option<i64>,
    /// For the biggest factors, the colour without each of them.
    pub what_would_change: Vec<Text>,
}

/// One signal's part in an assessment.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    pub signal_id: String,
    pub kind: SignalKind,
    pub points: i32,
    /// What the signal says and why it counts what it counts.
    pub reason: Text,
}

/// Assesses one enterprise from its current signals at `now` (microseconds
/// since the Unix epoch).
pub fn assess(rules: &Rules, signals: &[Signal], now: i64) -> Assessment {
    let counts: Vec<Count> = signals
        .iter()
        .map(|signal| count(rules, signal, now))
        .collect();
    let summary = summarize(rules, signals, &counts);

    let mut factors: Vec<Factor> = signals
        .iter()
        .zip(&counts)
        .filter(|(signal, signal_count)| {
            signal_count.points != 0 || (signal_count.active && rules.floor(signal.kind).is_some())
        })
        .map(|(signal, signal_count)| Factor {
            signal_id: signal.id.clone(),
            kind: signal.kind,
            points: signal_count.points,
            reason: explain(rules, signal, now, signal_count),
        })
        .collect();
    factors.sort_by(|left, right| {
        right
            .points
            .cmp(&left.points)
            .then(left.kind.cmp(&right.kind))
            .then(left.signal_id.cmp(&right.signal_id))
    });

    let floor = summary.floor.map(|(colour, index)| {
        let meaning = signals[index].kind.describe();
        (
            colour,
            Text::new(
                format!("{}：颜色不低于{}", meaning.zh, colour.chinese_name()),
                format!("{}: at least {}", meaning.en, colour.english_name()),
            ),
        )
    });

    let next_change_at = next_change(rules, signals, now, &summary, counts);
    let what_would_change = what_would_change(rules, signals, now, summary.colour, &factors);

    Assessment {
        colour: summary.colour,
        score: summary.score,
        rules_version: rules.version().to_owned(),
        factors,
        floor,
        next_change_at,
        what_would_change,
    }
}

/// How one signal counts at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Count {
    points: i32,
    /// Not expired and not decayed to nothing: only an active signal sets a
    /// floor.
    active: bool,
    /// The earliest instant after this one at which the signal's count may
    /// change: a step of its table, a step of its decay, its expiry.
    next_change: Option<i64>,
    /// The share its decay leaves (1 without decay).
    share: f64,
}

impl Count {
    const EXPIRED: Count = Count {
        points: 0,
        active: false,
        next_change: None,
        share: 0.0,
    };
}

fn earliest(first: Option<i64>, second: Option<i64>) -> Option<i64> {
    match (first, second) {
        (Some(left), Some(right)) => Some(left.min(right)),
        (left, right) => left.or(right),
    }
}

/// A signal observed after `now` (a clock ahead of ours) counts as just
/// observed rather than not yet: its count never jumps at `observed_at`.
fn age(signal: &Signal, now: i64) -> i64 {
    now.saturating_sub(signal.observed_at).max(0)
}

fn days_after(instant: i64, days: u32) -> i64 {
    instant.saturating_add(i64::from(days) * MICROS_PER_DAY)
}

fn count(rules: &Rules, signal: &Signal, now: i64) -> Count {
    if signal
        .expires_at
        .is_some_and(|expires_at| expires_at <= now)
    {
        return Count::EXPIRED;
    }
    let rule = rules.kind(signal.kind);
    let signal_age = age(signal, now);
    let (base_points, base_next) = match &rule.counting {
        Counting::Fixed { points } => (*points, None),
        Counting::ByValue {
            points_without_value,
            direction,
            steps,
        } => match finite_value(signal) {
            None => (*points_without_value, None),
            Some(value) => (
                value_step(*direction, steps, value).map_or(0, |step| step.points),
                None,
            ),
        },
        Counting::ByMonthsLeft { steps } => match signal.due_at {
            None => (0, None),
            Some(due_at) => {
                let points = steps
                    .iter()
                    .find(|step| now >= months_before(due_at, step.within_months))
                    .map_or(0, |step| step.points);
                let next = steps
                    .iter()
                    .map(|step| months_before(due_at, step.within_months))
                    .filter(|boundary| *boundary > now)
                    .min();
                (points, next)
            }
        },
        Counting::ByDaysOpen {
            steps,
            urgency_multipliers,
            urgency_without_value,
        } => {
            let base = steps
                .iter()
                .rev()
                .find(|step| signal_age >= i64::from(step.open_for_days) * MICROS_PER_DAY)
                .map_or(0, |step| step.points);
            let urgency = urgency(signal, urgency_multipliers.len(), *urgency_without_value);
            let multiplier = urgency_multipliers[urgency - 1];
            let next = steps
                .iter()
                .map(|step| days_after(signal.observed_at, step.open_for_days))
                .find(|boundary| *boundary > now);
            (round_points(f64::from(base) * multiplier), next)
        }
    };
    let (share, decay_next) = match &rule.decay {
        None => (1.0, None),
        Some(name) => {
            let decay = rules.decay(name);
            let step = decay
                .steps
                .iter()
                .find(|step| signal_age < i64::from(step.until_days) * MICROS_PER_DAY);
            (
                step.map_or(0.0, |step| step.share),
                step.map(|step| days_after(signal.observed_at, step.until_days)),
            )
        }
    };
    if share == 0.0 {
        // Decayed to nothing: it never counts again, whatever its table says.
        return Count::EXPIRED;
    }
    let expiry_next = signal.expires_at.filter(|expires_at| *expires_at > now);
    Count {
        points: round_points(f64::from(base_points) * share),
        active: true,
        next_change: earliest(earliest(base_next, decay_next), expiry_next),
        share,
    }
}

/// Half points round away from zero: 25 at half counts 13, -5 at half -3.
fn round_points(points: f64) -> i32 {
    // Rules keep points within ±1000 and multipliers within 100.
    points.round() as i32
}

fn finite_value(signal: &Signal) -> Option<f64> {
    signal.value.filter(|value| value.is_finite())
}

/// The urgency of an open demand, 1 to `levels`: the value rounded and
/// kept within the levels the rules give, or the rules' default.
fn urgency(signal: &Signal, levels: usize, without_value: usize) -> usize {
    match finite_value(signal) {
        None => without_value,
        // Within 1..=levels after the clamp, so the cast is exact.
        Some(value) => value.round().clamp(1.0, levels as f64) as usize,
    }
}

fn value_step(
    direction: ValueDirection,
    steps: &[super::rules::ValueStep],
    value: f64,
) -> Option<&super::rules::ValueStep> {
    steps.iter().rev().find(|step| match direction {
        ValueDirection::AtLeast => value >= step.value,
        ValueDirection::AtMost => value <= step.value,
    })
}

/// `instant` moved back by whole calendar months on Shanghai's calendar,
/// at the same time of day; a day the month lacks becomes its last day
/// (three months before 31 May is 28 or 29 February). Strictly decreasing
/// in `months`.
pub(super) fn months_before(instant: i64, months: u32) -> i64 {
    // Only instants beyond the year 9999 miss the calendar; they take
    // 30-day months.
    let fallback = instant.saturating_sub(i64::from(months) * 30 * MICROS_PER_DAY);
    let Ok(utc) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(instant) * 1_000) else {
        return fallback;
    };
    let local = utc.to_offset(SHANGHAI);
    let Ok(months) = i32::try_from(months) else {
        return fallback;
    };
    let month_index = local.year() * 12 + i32::from(u8::from(local.month())) - 1 - months;
    let year = month_index.div_euclid(12);
    let month_number = u8::try_from(month_index.rem_euclid(12) + 1).expect("1 to 12");
    let month = Month::try_from(month_number).expect("1 to 12");
    let day = local.day().min(month.length(year));
    let Ok(date) = Date::from_calendar_date(year, month, day) else {
        return fallback;
    };
    let shifted = date.with_time(local.time()).assume_offset(SHANGHAI);
    i64::try_from(shifted.unix_timestamp_nanos() / 1_000).unwrap_or(fallback)
}

/// The score and colour of a set of counts.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Summary {
    score: i32,
    colour: Colour,
    /// The floor that raised the colour, with the index of the signal that
    /// set it.
    floor: Option<(Colour, usize)>,
}

fn summarize(rules: &Rules, signals: &[Signal], counts: &[Count]) -> Summary {
    let total: i64 = counts.iter().map(|count| i64::from(count.points)).sum();
    let score = i32::try_from(total.max(0)).unwrap_or(i32::MAX);
    let score_colour = rules.colour_for_score(score);
    // The highest floor; among equal floors, the first signal.
    let highest_floor = signals
        .iter()
        .zip(counts)
        .enumerate()
        .filter(|(_, (_, count))| count.active)
        .filter_map(|(index, (signal, _))| rules.floor(signal.kind).map(|colour| (colour, index)))
        .min_by(|left, right| right.0.cmp(&left.0).then(left.1.cmp(&right.1)));
    match highest_floor {
        Some((colour, index)) if colour > score_colour => Summary {
            score,
            colour,
            floor: Some((colour, index)),
        },
        _ => Summary {
            score,
            colour: score_colour,
            floor: None,
        },
    }
}

fn summarize_at(rules: &Rules, signals: &[Signal], now: i64) -> (Summary, Vec<Count>) {
    let counts: Vec<Count> = signals
        .iter()
        .map(|signal| count(rules, signal, now))
        .collect();
    (summarize(rules, signals, &counts), counts)
}

/// Walks the signals' own change times in order and stops at the first at
/// which the score or the colour differs from `now`'s. Between two of those
/// times no count changes, so none is missed; a change time at which counts
/// cancel out, or the floor or the score's clamp at 0 hides the change, is
/// passed over.
fn next_change(
    rules: &Rules,
    signals: &[Signal],
    now: i64,
    summary: &Summary,
    counts: Vec<Count>,
) -> Option<i64> {
    let mut current_counts = counts;
    let mut after = now;
    loop {
        let candidate = current_counts
            .iter()
            .filter_map(|count| count.next_change)
            .min()?;
        debug_assert!(candidate > after, "change times move forward");
        let (later, later_counts) = summarize_at(rules, signals, candidate);
        if later.score != summary.score || later.colour != summary.colour {
            return Some(candidate);
        }
        after = candidate;
        current_counts = later_counts;
    }
}

fn what_would_change(
    rules: &Rules,
    signals: &[Signal],
    now: i64,
    colour: Colour,
    factors: &[Factor],
) -> Vec<Text> {
    factors
        .iter()
        .filter(|factor| factor.points > 0 || rules.floor(factor.kind).is_some())
        .take(FACTORS_TO_LIFT)
        .map(|factor| {
            let others: Vec<Signal> = signals
                .iter()
                .filter(|signal| signal.id != factor.signal_id)
                .cloned()
                .collect();
            let (without, _) = summarize_at(rules, &others, now);
            let remedy = remedy(factor.kind);
            if without.colour < colour {
                Text::new(
                    format!("{}可降为{}", remedy.zh, without.colour.chinese_name()),
                    format!(
                        "{} would lower this to {}",
                        remedy.en,
                        without.colour.english_name()
                    ),
                )
            } else {
                Text::new(
                    format!("仅{}仍为{}", remedy.zh, colour.chinese_name()),
                    format!(
                        "{} alone would leave this {}",
                        remedy.en,
                        colour.english_name()
                    ),
                )
            }
        })
        .collect()
}

/// What would take a factor away, as staff would say it.
fn remedy(kind: SignalKind) -> Text {
    let (zh, en) = match kind {
        SignalKind::LeaseEnding => ("续签租约", "renewing the lease"),
        SignalKind::MovedOut => ("企业迁回", "the enterprise moving back"),
        SignalKind::HeadcountDrop => ("登记人数恢复", "the registered headcount recovering"),
        SignalKind::RelocationConsidering => (
            "打消迁出意向",
            "the enterprise setting aside its thought of relocating",
        ),
        SignalKind::RelocationDecided => ("企业决定留下", "the enterprise deciding to stay"),
        SignalKind::ExpansionUnmet => ("满足扩租需求", "meeting its need for more room"),
        SignalKind::BusinessDeclining => ("经营好转", "its business recovering"),
        SignalKind::HeadcountDeclining => ("人员企稳", "its headcount steadying"),
        SignalKind::LowSatisfaction => (
            "提升服务满意度",
            "raising its satisfaction with the district's service",
        ),
        SignalKind::OpenDemand => ("解决该诉求", "resolving this demand"),
        SignalKind::ReferralResolved => ("撤销已解决的诉求", "undoing the resolved demand"),
        SignalKind::ReferralFailed => ("办结受阻的转办", "seeing the referral through"),
        SignalKind::TaxRevenueDrop => ("税收恢复", "tax revenue recovering"),
        SignalKind::SocialInsuranceDrop => {
            ("社保人数恢复", "social-insurance headcount recovering")
        }
        SignalKind::CourtCase => ("了结诉讼", "settling the court case"),
        SignalKind::CreditDowngrade => ("信用等级恢复", "its credit rating being restored"),
    };
    Text::new(zh, en)
}

/// The date of an instant on Shanghai's calendar: `2027-01-31`.
fn shanghai_date(micros: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map(|instant| {
            let date = instant.to_offset(SHANGHAI).date();
            format!(
                "{:04}-{:02}-{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            )
        })
        .unwrap_or_else(|_| micros.to_string())
}

/// A number as people write it: `3`, `2.5`.
fn plain_number(value: f64) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        let text = format!("{rounded:.2}");
        text.trim_end_matches('0').to_owned()
    }
}

/// A share as a percentage: `30%`, `12.5%`.
fn percent(value: f64) -> String {
    format!("{}%", plain_number(value * 100.0))
}

/// Whether a kind's value is a share lost (shown as a percentage).
fn value_is_share(kind: SignalKind) -> bool {
    matches!(
        kind,
        SignalKind::HeadcountDrop | SignalKind::TaxRevenueDrop | SignalKind::SocialInsuranceDrop
    )
}

fn explain(rules: &Rules, signal: &Signal, now: i64, signal_count: &Count) -> Text {
    let rule = rules.kind(signal.kind);
    let meaning = signal.kind.describe();
    let main = match &rule.counting {
        Counting::Fixed { .. } => meaning,
        Counting::ByValue {
            direction, steps, ..
        } => match finite_value(signal) {
            None => Text::new(
                format!("{}（未给出数值）", meaning.zh),
                format!("{} (no value given)", meaning.en),
            ),
            Some(value) => explain_value(signal.kind, *direction, steps, value),
        },
        Counting::ByMonthsLeft { steps } => explain_lease(signal, now, steps),
        Counting::ByDaysOpen {
            steps,
            urgency_multipliers,
            urgency_without_value,
        } => {
            let days_open = age(signal, now) / MICROS_PER_DAY;
            let urgency = urgency(signal, urgency_multipliers.len(), *urgency_without_value);
            let multiplier = plain_number(urgency_multipliers[urgency - 1]);
            let step = steps
                .iter()
                .rev()
                .find(|step| i64::from(step.open_for_days) <= days_open);
            let (step_zh, step_en) = match step {
                Some(step) => (
                    format!("，满{}天一档", step.open_for_days),
                    format!(", the {}-day step", step.open_for_days),
                ),
                None => (String::new(), String::new()),
            };
            Text::new(
                format!("诉求已开放{days_open}天{step_zh}，紧急程度{urgency}（×{multiplier}）"),
                format!(
                    "a demand has been open for {days_open} days{step_en}, urgency {urgency} (×{multiplier})"
                ),
            )
        }
    };
    let Some(decay_name) = &rule.decay else {
        return main;
    };
    let observed = shanghai_date(signal.observed_at);
    if signal_count.share >= 1.0 {
        return Text::new(
            format!("{}，观察于{observed}", main.zh),
            format!("{}, observed on {observed}", main.en),
        );
    }
    // The step it has passed: the last whose `until_days` its age reached.
    let signal_age = age(signal, now);
    let passed_days = rules
        .decay(decay_name)
        .steps
        .iter()
        .map(|step| step.until_days)
        .filter(|days| signal_age >= i64::from(*days) * MICROS_PER_DAY)
        .max()
        .unwrap_or(0);
    let share = percent(signal_count.share);
    Text::new(
        format!(
            "{}，观察于{observed}，已超过{passed_days}天，按{share}计",
            main.zh
        ),
        format!(
            "{}, observed on {observed}, over {passed_days} days ago, counted at {share}",
            main.en
        ),
    )
}

fn explain_value(
    kind: SignalKind,
    direction: ValueDirection,
    steps: &[super::rules::ValueStep],
    value: f64,
) -> Text {
    let show = |number: f64| {
        if value_is_share(kind) {
            percent(number)
        } else {
            plain_number(number)
        }
    };
    let meaning = kind.describe();
    let (head_zh, head_en) = if value_is_share(kind) {
        (
            format!("{}{}", meaning.zh, show(value)),
            format!("{} by {}", meaning.en, show(value)),
        )
    } else {
        (
            format!("{}（{}）", meaning.zh, show(value)),
            format!("{} ({})", meaning.en, show(value)),
        )
    };
    match value_step(direction, steps, value) {
        None => Text::new(
            format!("{head_zh}，未达计分档"),
            format!("{head_en}, below every step"),
        ),
        Some(step) => {
            let (zh, en) = match direction {
                ValueDirection::AtLeast => ("不低于", "or more"),
                ValueDirection::AtMost => ("不高于", "or less"),
            };
            let bound = show(step.value);
            Text::new(
                format!("{head_zh}（{zh}{bound}一档）"),
                format!("{head_en} (the {bound} {en} step)"),
            )
        }
    }
}

/// Whole calendar months and days from `now` to `due_at` (after `now`).
fn months_and_days_left(due_at: i64, now: i64) -> (u32, i64) {
    let mut months = 0;
    while months < 1_200 && months_before(due_at, months + 1) >= now {
        months += 1;
    }
    let days = (months_before(due_at, months) - now) / MICROS_PER_DAY;
    (months, days)
}

fn explain_lease(signal: &Signal, now: i64, steps: &[super::rules::MonthsStep]) -> Text {
    let Some(due_at) = signal.due_at else {
        return Text::new(
            "租约到期日未知，不计分",
            "the lease's end date is unknown; it counts nothing",
        );
    };
    let date = shanghai_date(due_at);
    let step = steps
        .iter()
        .find(|step| now >= months_before(due_at, step.within_months));
    if due_at <= now {
        let within = steps.first().map_or(0, |step| step.within_months);
        return Text::new(
            format!("租约已于{date}到期（按不超过{within}个月计）"),
            format!("the lease ended on {date} (counted as within {within} months)"),
        );
    }
    let (months, days) = months_and_days_left(due_at, now);
    let (left_zh, left_en) = match (months, days) {
        (0, 0) => ("不足1天".to_owned(), "less than a day".to_owned()),
        (0, days) => (format!("{days}天"), format!("{days} days")),
        (months, 0) => (format!("{months}个月"), plural_months(months)),
        (months, days) => (
            format!("{months}个月{days}天"),
            format!("{} and {days} days", plural_months(months)),
        ),
    };
    let (step_zh, step_en) = match step {
        Some(step) => (
            format!("不超过{}个月", step.within_months),
            format!("within {}", plural_months(step.within_months)),
        ),
        None => {
            let farthest = steps.last().map_or(0, |step| step.within_months);
            (
                format!("超过{farthest}个月不计分"),
                format!("more than {} counts nothing", plural_months(farthest)),
            )
        }
    };
    Text::new(
        format!("租约将于{date}到期（剩余{left_zh}，{step_zh}）"),
        format!("the lease ends on {date} ({left_en} left, {step_en})"),
    )
}

fn plural_months(months: u32) -> String {
    if months == 1 {
        "1 month".to_owned()
    } else {
        format!("{months} months")
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use super::super::rules::{Thresholds, ValueStep};
    use super::*;

    const DAY: i64 = MICROS_PER_DAY;
    /// 2026-11-30T00:00:00+08:00.
    const NOW: i64 = 1_795_968_000_000_000;

    fn instant(rfc3339: &str) -> i64 {
        louyu_kit::time::parse_instant(rfc3339).expect("an RFC 3339 instant")
    }

    fn signal(id: &str, kind: SignalKind, observed_at: i64) -> Signal {
        Signal {
            id: id.to_owned(),
            kind,
            source: "test".to_owned(),
            observed_at,
            value: None,
            expires_at: None,
            due_at: None,
            subject: String::new(),
        }
    }

    fn lease(id: &str, due_at: i64) -> Signal {
        Signal {
            due_at: Some(due_at),
            ..signal(id, SignalKind::LeaseEnding, NOW - 700 * DAY)
        }
    }

    fn valued(id: &str, kind: SignalKind, observed_at: i64, value: f64) -> Signal {
        Signal {
            value: Some(value),
            ..signal(id, kind, observed_at)
        }
    }

    fn points_of(signals: &[Signal], now: i64) -> i32 {
        assess(&Rules::default_rules(), signals, now).score
    }

    fn one(signal: Signal, now: i64) -> i32 {
        points_of(&[signal], now)
    }

    #[test]
    fn nothing_known_is_green_for_ever() {
        let assessment = assess(&Rules::default_rules(), &[], NOW);
        assert_eq!(assessment.colour, Colour::Green);
        assert_eq!(assessment.score, 0);
        assert_eq!(assessment.rules_version, "2026-11-default-1");
        assert!(assessment.factors.is_empty());
        assert_eq!(assessment.floor, None);
        assert_eq!(assessment.next_change_at, None);
        assert!(assessment.what_would_change.is_empty());
    }

    #[test]
    fn each_fixed_kind_counts_its_points_when_fresh() {
        for (kind, points) in [
            (SignalKind::MovedOut, 100),
            (SignalKind::RelocationConsidering, 25),
            (SignalKind::RelocationDecided, 40),
            (SignalKind::ExpansionUnmet, 25),
            (SignalKind::BusinessDeclining, 15),
            (SignalKind::HeadcountDeclining, 10),
            (SignalKind::ReferralFailed, 10),
            (SignalKind::CourtCase, 25),
            (SignalKind::CreditDowngrade, 20),
        ] {
            let assessment = assess(&Rules::default_rules(), &[signal("s", kind, NOW)], NOW);
            assert_eq!(assessment.score, points, "{kind}");
            assert_eq!(assessment.factors.len(), 1, "{kind}");
            let factor = &assessment.factors[0];
            assert_eq!((factor.kind, factor.points), (kind, points));
            assert!(
                factor.reason.zh.starts_with(&kind.describe().zh),
                "{:?}",
                factor.reason
            );
            assert!(
                factor.reason.en.starts_with(&kind.describe().en),
                "{:?}",
                factor.reason
            );
        }
    }

    #[test]
    fn a_resolved_referral_lowers_the_score_but_never_below_zero() {
        let resolved = signal("resolved", SignalKind::ReferralResolved, NOW - DAY);
        let expansion = signal("expansion", SignalKind::ExpansionUnmet, NOW - DAY);
        assert_eq!(points_of(&[expansion.clone(), resolved.clone()], NOW), 15);
        let alone = assess(
            &Rules::default_rules(),
            std::slice::from_ref(&resolved),
            NOW,
        );
        assert_eq!(alone.score, 0);
        assert_eq!(alone.factors.len(), 1);
        assert_eq!(alone.factors[0].points, -10);
        let both = assess(&Rules::default_rules(), &[resolved, expansion], NOW);
        assert_eq!(
            both.factors
                .iter()
                .map(|factor| factor.points)
                .collect::<Vec<_>>(),
            vec![25, -10],
            "biggest first"
        );
    }

    #[test]
    fn a_lease_counts_by_the_calendar_months_left_and_past_its_end_as_the_nearest_step() {
        let due = instant("2027-01-30T00:00:00+08:00");
        assert_eq!(one(lease("l", due), NOW), 30, "two months left");
        assert_eq!(
            one(lease("l", instant("2027-05-30T00:00:00+08:00")), NOW),
            20,
            "six months"
        );
        assert_eq!(
            one(lease("l", instant("2027-05-30T00:00:00.000001+08:00")), NOW),
            10,
            "just over six"
        );
        assert_eq!(
            one(lease("l", instant("2027-11-30T00:00:00+08:00")), NOW),
            10,
            "twelve months"
        );
        assert_eq!(
            one(lease("l", instant("2027-11-30T00:00:00.000001+08:00")), NOW),
            0,
            "just over twelve"
        );
        assert_eq!(one(lease("l", NOW - 40 * DAY), NOW), 30, "past its end");
        assert_eq!(
            one(
                Signal {
                    due_at: None,
                    ..lease("l", due)
                },
                NOW
            ),
            0,
            "no end date"
        );
    }

    #[test]
    fn a_lease_moves_up_a_step_exactly_when_the_months_left_reach_it() {
        let due = instant("2027-03-15T09:30:00+08:00");
        let boundary = instant("2026-12-15T09:30:00+08:00");
        assert_eq!(months_before(due, 3), boundary);
        assert_eq!(one(lease("l", due), boundary - 1), 20);
        assert_eq!(one(lease("l", due), boundary), 30);
        let assessment = assess(&Rules::default_rules(), &[lease("l", due)], NOW);
        assert_eq!(assessment.next_change_at, Some(boundary));
        let at_boundary = assess(&Rules::default_rules(), &[lease("l", due)], boundary);
        assert_eq!(
            at_boundary.next_change_at, None,
            "past the last step nothing changes"
        );
    }

    #[test]
    fn months_before_keeps_to_the_last_day_of_a_shorter_month() {
        assert_eq!(
            months_before(instant("2027-05-31T00:00:00+08:00"), 3),
            instant("2027-02-28T00:00:00+08:00")
        );
        assert_eq!(
            months_before(instant("2028-05-31T00:00:00+08:00"), 3),
            instant("2028-02-29T00:00:00+08:00")
        );
        assert_eq!(
            months_before(instant("2027-01-15T00:00:00+08:00"), 12),
            instant("2026-01-15T00:00:00+08:00")
        );
        // Midnight in Shanghai is the previous day in UTC: the calendar is Shanghai's.
        assert_eq!(
            months_before(instant("2027-03-01T00:00:00+08:00"), 1),
            instant("2027-02-01T00:00:00+08:00")
        );
    }

    #[test]
    fn a_lease_factor_says_when_it_ends_and_how_long_is_left() {
        let assessment = assess(
            &Rules::default_rules(),
            &[lease("l", instant("2027-01-30T00:00:00+08:00"))],
            NOW,
        );
        assert_eq!(
            assessment.factors[0].reason,
            Text::new(
                "租约将于2027-01-30到期（剩余2个月，不超过3个月）",
                "the lease ends on 2027-01-30 (2 months left, within 3 months)"
            )
        );
        let later = assess(
            &Rules::default_rules(),
            &[lease("l", instant("2027-02-12T00:00:00+08:00"))],
            NOW,
        );
        assert_eq!(
            later.factors[0].reason.en,
            "the lease ends on 2027-02-12 (2 months and 12 days left, within 3 months)"
        );
        let tomorrow = assess(&Rules::default_rules(), &[lease("l", NOW + DAY - 1)], NOW);
        assert_eq!(
            tomorrow.factors[0].reason.en,
            "the lease ends on 2026-11-30 (less than a day left, within 3 months)"
        );
        let ended = assess(&Rules::default_rules(), &[lease("l", NOW - 2 * DAY)], NOW);
        assert_eq!(
            ended.factors[0].reason.zh,
            "租约已于2026-11-28到期（按不超过3个月计）"
        );
    }

    #[test]
    fn an_open_demand_counts_more_the_longer_it_stays_open() {
        let raised = NOW - 200 * DAY;
        let demand = valued("d", SignalKind::OpenDemand, raised, 2.0);
        assert_eq!(one(demand.clone(), raised), 5);
        assert_eq!(one(demand.clone(), raised + 30 * DAY - 1), 5);
        assert_eq!(one(demand.clone(), raised + 30 * DAY), 10);
        assert_eq!(one(demand.clone(), raised + 90 * DAY - 1), 10);
        assert_eq!(one(demand.clone(), raised + 90 * DAY), 20);
        assert_eq!(one(demand.clone(), raised + 900 * DAY), 20);
        let assessment = assess(&Rules::default_rules(), &[demand], raised + 10 * DAY);
        assert_eq!(assessment.next_change_at, Some(raised + 30 * DAY));
        assert_eq!(
            assessment.factors[0].reason.en,
            "a demand has been open for 10 days, the 0-day step, urgency 2 (×1)"
        );
    }

    #[test]
    fn an_open_demand_is_scaled_by_its_urgency() {
        let raised = NOW - 100 * DAY;
        let with = |urgency: Option<f64>| {
            one(
                Signal {
                    value: urgency,
                    ..signal("d", SignalKind::OpenDemand, raised)
                },
                NOW,
            )
        };
        assert_eq!(with(Some(1.0)), 10);
        assert_eq!(with(Some(2.0)), 20);
        assert_eq!(with(Some(3.0)), 30);
        assert_eq!(with(Some(4.0)), 40);
        assert_eq!(with(None), 20, "without an urgency, normal");
        assert_eq!(with(Some(9.0)), 40, "beyond critical counts as critical");
        assert_eq!(with(Some(0.0)), 10, "below low counts as low");
        assert_eq!(with(Some(f64::NAN)), 20, "not a number counts as none");
    }

    #[test]
    fn a_share_lost_counts_by_the_step_it_reaches() {
        let tax = |share: f64| one(valued("t", SignalKind::TaxRevenueDrop, NOW, share), NOW);
        assert_eq!(tax(0.049), 0);
        assert_eq!(tax(0.05), 10);
        assert_eq!(tax(0.149), 10);
        assert_eq!(tax(0.15), 20);
        assert_eq!(tax(0.299), 20);
        assert_eq!(tax(0.3), 30);
        assert_eq!(tax(0.9), 30);
        assert_eq!(
            one(signal("t", SignalKind::TaxRevenueDrop, NOW), NOW),
            10,
            "no value"
        );
        let headcount = |share: f64| one(valued("h", SignalKind::HeadcountDrop, NOW, share), NOW);
        assert_eq!(
            (
                headcount(0.09),
                headcount(0.1),
                headcount(0.25),
                headcount(0.5)
            ),
            (0, 10, 20, 30)
        );
        let insurance = |share: f64| {
            one(
                valued("s", SignalKind::SocialInsuranceDrop, NOW, share),
                NOW,
            )
        };
        assert_eq!(
            (
                insurance(0.09),
                insurance(0.1),
                insurance(0.25),
                insurance(0.5)
            ),
            (0, 10, 20, 30)
        );

        let assessment = assess(
            &Rules::default_rules(),
            &[valued("t", SignalKind::TaxRevenueDrop, NOW, 0.3)],
            NOW,
        );
        assert_eq!(
            assessment.factors[0].reason,
            Text::new(
                "税收下降30%（不低于30%一档），观察于2026-11-30",
                "tax revenue fell by 30% (the 30% or more step), observed on 2026-11-30"
            )
        );
        let below = assess(
            &Rules::default_rules(),
            &[valued("t", SignalKind::TaxRevenueDrop, NOW, 0.02)],
            NOW,
        );
        assert!(
            below.factors.is_empty(),
            "a value below every step is no factor"
        );
    }

    #[test]
    fn low_satisfaction_counts_more_the_lower_it_is() {
        let satisfaction =
            |value: f64| one(valued("s", SignalKind::LowSatisfaction, NOW, value), NOW);
        assert_eq!(satisfaction(5.0), 0);
        assert_eq!(satisfaction(3.5), 0);
        assert_eq!(satisfaction(3.0), 5);
        assert_eq!(satisfaction(2.0), 10);
        assert_eq!(satisfaction(1.0), 15);
        assert_eq!(
            one(signal("s", SignalKind::LowSatisfaction, NOW), NOW),
            10,
            "no value"
        );
    }

    #[test]
    fn a_visit_observation_counts_in_full_for_ninety_days_then_half_until_one_hundred_and_eighty() {
        let observed = NOW - 365 * DAY;
        let expansion = signal("e", SignalKind::ExpansionUnmet, observed);
        assert_eq!(one(expansion.clone(), observed + 90 * DAY - 1), 25);
        assert_eq!(
            one(expansion.clone(), observed + 90 * DAY),
            13,
            "half of 25 rounds up"
        );
        assert_eq!(one(expansion.clone(), observed + 180 * DAY - 1), 13);
        assert_eq!(one(expansion.clone(), observed + 180 * DAY), 0);
        let gone = assess(
            &Rules::default_rules(),
            std::slice::from_ref(&expansion),
            observed + 180 * DAY,
        );
        assert!(gone.factors.is_empty());

        let halved = assess(&Rules::default_rules(), &[expansion], observed + 100 * DAY);
        assert_eq!(halved.next_change_at, Some(observed + 180 * DAY));
        assert_eq!(
            halved.factors[0].reason.en,
            "needs more room than the building offers, observed on 2025-11-30, over 90 days ago, counted at 50%"
        );
    }

    #[test]
    fn a_record_counts_in_full_for_half_a_year_then_half_until_a_year() {
        let observed = NOW - 400 * DAY;
        let court = signal("c", SignalKind::CourtCase, observed);
        assert_eq!(one(court.clone(), observed + 180 * DAY - 1), 25);
        assert_eq!(one(court.clone(), observed + 180 * DAY), 13);
        assert_eq!(one(court.clone(), observed + 365 * DAY - 1), 13);
        assert_eq!(one(court, observed + 365 * DAY), 0);
        let resolved = signal("r", SignalKind::ReferralResolved, observed);
        let expansion = signal("e", SignalKind::ExpansionUnmet, observed);
        assert_eq!(
            points_of(&[resolved.clone(), expansion.clone()], observed + 90 * DAY),
            13 - 5
        );
    }

    #[test]
    fn an_expired_signal_never_counts() {
        let court = Signal {
            expires_at: Some(NOW),
            ..signal("c", SignalKind::CourtCase, NOW - DAY)
        };
        let assessment = assess(&Rules::default_rules(), std::slice::from_ref(&court), NOW);
        assert_eq!(assessment.score, 0);
        assert!(assessment.factors.is_empty());
        assert_eq!(assessment.next_change_at, None);
        assert_eq!(one(court.clone(), NOW - 1), 25, "until it expires");
        let before = assess(&Rules::default_rules(), &[court], NOW - DAY);
        assert_eq!(
            before.next_change_at,
            Some(NOW),
            "the expiry is the next change"
        );
    }

    #[test]
    fn a_decided_relocation_is_at_least_orange_whatever_the_score() {
        let decided = signal("r", SignalKind::RelocationDecided, NOW - 400 * DAY);
        let assessment = assess(&Rules::default_rules(), std::slice::from_ref(&decided), NOW);
        assert_eq!(assessment.score, 40);
        assert_eq!(Rules::default_rules().colour_for_score(40), Colour::Yellow);
        assert_eq!(assessment.colour, Colour::Orange);
        assert_eq!(
            assessment.floor,
            Some((
                Colour::Orange,
                Text::new(
                    "已决定迁出：颜色不低于较不稳定（橙）",
                    "decided to relocate: at least fairly unstable (orange)"
                )
            ))
        );
        assert_eq!(assessment.next_change_at, None, "it does not decay");

        // A floor below what the score gives is not reported.
        let with_more = [
            decided,
            lease("l", NOW + 10 * DAY),
            signal("e", SignalKind::ExpansionUnmet, NOW),
        ];
        let red = assess(&Rules::default_rules(), &with_more, NOW);
        assert_eq!((red.score, red.colour, red.floor), (95, Colour::Red, None));
    }

    #[test]
    fn a_moved_out_enterprise_is_red_and_a_floor_ends_with_its_signal() {
        let moved = Signal {
            expires_at: Some(NOW + 10 * DAY),
            ..signal("m", SignalKind::MovedOut, NOW)
        };
        let assessment = assess(&Rules::default_rules(), std::slice::from_ref(&moved), NOW);
        assert_eq!(assessment.colour, Colour::Red);
        assert_eq!(assessment.next_change_at, Some(NOW + 10 * DAY));
        let after = assess(&Rules::default_rules(), &[moved], NOW + 10 * DAY);
        assert_eq!(after.colour, Colour::Green);
        assert_eq!(after.floor, None);
    }

    #[test]
    fn a_floor_from_a_kind_counting_no_points_still_applies_and_is_a_factor() {
        let text = Rules::default_rules().to_toml().replace(
            "[kinds.relocation_decided]\npoints = 40",
            "[kinds.relocation_decided]\npoints = 0",
        );
        let rules = Rules::parse(&text).unwrap();
        let assessment = assess(
            &rules,
            &[signal("r", SignalKind::RelocationDecided, NOW)],
            NOW,
        );
        assert_eq!((assessment.score, assessment.colour), (0, Colour::Orange));
        assert_eq!(assessment.factors.len(), 1);
    }

    #[test]
    fn a_score_exactly_at_the_orange_threshold_is_orange_and_one_below_is_yellow() {
        let rules = Rules::default_rules();
        let fifty = [
            lease("l", NOW + 30 * DAY),
            signal("h", SignalKind::HeadcountDeclining, NOW),
            signal("f", SignalKind::ReferralFailed, NOW),
        ];
        let at = assess(&rules, &fifty, NOW);
        assert_eq!((at.score, at.colour), (50, Colour::Orange));
        let forty_nine = [
            signal("c", SignalKind::CourtCase, NOW - 200 * DAY),
            signal("e", SignalKind::ExpansionUnmet, NOW),
            signal("b", SignalKind::BusinessDeclining, NOW - 100 * DAY),
            valued("d", SignalKind::OpenDemand, NOW, 1.0),
        ];
        let below = assess(&rules, &forty_nine, NOW);
        assert_eq!(
            below
                .factors
                .iter()
                .map(|factor| factor.points)
                .collect::<Vec<_>>(),
            vec![25, 13, 8, 3]
        );
        assert_eq!((below.score, below.colour), (49, Colour::Yellow));
    }

    #[test]
    fn a_fresh_court_case_with_a_large_tax_revenue_drop_is_at_least_orange() {
        let assessment = assess(
            &Rules::default_rules(),
            &[
                signal("c", SignalKind::CourtCase, NOW - 5 * DAY),
                valued("t", SignalKind::TaxRevenueDrop, NOW - 5 * DAY, 0.3),
            ],
            NOW,
        );
        assert_eq!(assessment.score, 55);
        assert!(assessment.colour >= Colour::Orange);
    }

    #[test]
    fn the_next_change_passes_over_changes_that_move_neither_score_nor_colour() {
        // A resolved referral alone decays from -10 to -5 to 0: the score stays 0.
        let resolved = signal("r", SignalKind::ReferralResolved, NOW - DAY);
        let assessment = assess(
            &Rules::default_rules(),
            std::slice::from_ref(&resolved),
            NOW,
        );
        assert_eq!(assessment.next_change_at, None);

        // With a court case it shows: at 90 days the score rises by 5.
        let court = signal("c", SignalKind::CourtCase, NOW - DAY);
        let both = assess(&Rules::default_rules(), &[resolved, court], NOW);
        assert_eq!(both.score, 15);
        assert_eq!(both.next_change_at, Some(NOW - DAY + 90 * DAY));
    }

    #[test]
    fn the_next_change_is_the_earliest_of_expiry_decay_and_lease_steps() {
        let due = NOW + 200 * DAY;
        let lease_signal = lease("l", due);
        let expansion = signal("e", SignalKind::ExpansionUnmet, NOW - 10 * DAY);
        let expiring = Signal {
            expires_at: Some(NOW + 15 * DAY),
            ..signal("c", SignalKind::CourtCase, NOW)
        };
        let rules = Rules::default_rules();
        let all = [lease_signal.clone(), expansion.clone(), expiring];
        assert_eq!(
            assess(&rules, &all, NOW).next_change_at,
            Some(NOW + 15 * DAY)
        );
        let two = [lease_signal, expansion];
        assert_eq!(
            assess(&rules, &two, NOW).next_change_at,
            Some(months_before(due, 6))
        );
        assert_eq!(months_before(due, 6), NOW + 18 * DAY);
        let at_six = assess(&rules, &two, months_before(due, 6));
        assert_eq!(
            at_six.next_change_at,
            Some(NOW + 80 * DAY),
            "the expansion halves"
        );
    }

    /// The enterprise of the report: a small foreign-owned company whose
    /// lease ends in two months and which needs more room than its building
    /// offers; then, moved to a larger unit in the district, visited again.
    #[test]
    fn the_reported_enterprise_is_orange_and_at_most_yellow_once_it_has_moved() {
        let rules = Rules::default_rules();
        let old_lease = lease("tenancy-old", NOW + 60 * DAY);
        let expansion = signal(
            "visit-1-expansion",
            SignalKind::ExpansionUnmet,
            NOW - 3 * DAY,
        );
        let before = assess(&rules, &[old_lease.clone(), expansion.clone()], NOW);
        assert_eq!(before.score, 55);
        assert_eq!(before.colour, Colour::Orange);
        assert_eq!(before.floor, None);
        assert_eq!(
            before
                .factors
                .iter()
                .map(|factor| (factor.kind, factor.points))
                .collect::<Vec<_>>(),
            vec![
                (SignalKind::LeaseEnding, 30),
                (SignalKind::ExpansionUnmet, 25)
            ]
        );
        assert_eq!(
            before.what_would_change,
            vec![
                Text::new(
                    "续签租约可降为一般（黄）",
                    "renewing the lease would lower this to average (yellow)"
                ),
                Text::new(
                    "满足扩租需求可降为一般（黄）",
                    "meeting its need for more room would lower this to average (yellow)"
                ),
            ]
        );
        // Nothing changes until the expansion observation halves, 90 days after it was made.
        assert_eq!(before.next_change_at, Some(NOW - 3 * DAY + 90 * DAY));
        let halved = assess(
            &rules,
            &[old_lease.clone(), expansion.clone()],
            NOW + 87 * DAY,
        );
        assert_eq!((halved.score, halved.colour), (43, Colour::Yellow));

        // Had the visit also seen it considering relocating: still orange, short of red.
        let considering = signal(
            "visit-1-relocation",
            SignalKind::RelocationConsidering,
            NOW - 3 * DAY,
        );
        let with_intent = assess(&rules, &[old_lease, expansion, considering], NOW);
        assert_eq!(
            (with_intent.score, with_intent.colour),
            (80, Colour::Orange)
        );

        // A month later: the old tenancy has ended (its signal gone), the new
        // lease ends in three years, the next visit saw neither relocation
        // intent nor unmet expansion (so those signals were removed), and the
        // office-space demand was resolved.
        let moved_at = NOW + 30 * DAY;
        let new_lease = Signal {
            observed_at: moved_at,
            ..lease("tenancy-new", moved_at + 3 * 365 * DAY)
        };
        let resolved = signal("demand-1-resolved", SignalKind::ReferralResolved, moved_at);
        let after = assess(&rules, &[new_lease.clone(), resolved], moved_at);
        assert_eq!(after.score, 0);
        assert!(after.colour <= Colour::Yellow);
        assert_eq!(after.colour, Colour::Green);
        assert_eq!(after.factors.len(), 1, "only the resolved demand");
        assert_eq!(
            after.next_change_at,
            Some(months_before(moved_at + 3 * 365 * DAY, 12)),
            "the resolved demand's decay is hidden by the score's floor at 0"
        );

        // Without the resolved demand it is green too: the new lease counts
        // nothing until a year before its end.
        let lease_only = assess(&rules, std::slice::from_ref(&new_lease), moved_at);
        assert_eq!((lease_only.score, lease_only.colour), (0, Colour::Green));
        assert_eq!(
            lease_only.next_change_at,
            Some(months_before(moved_at + 3 * 365 * DAY, 12))
        );
    }

    // Property tests: thousands of cases from a fixed seed, so a failure is
    // reproducible.

    const CASES: usize = 4_000;

    fn random_signal(random: &mut StdRng, index: usize, now: i64) -> Signal {
        let kind = SignalKind::ALL[random.random_range(0..SignalKind::ALL.len())];
        let observed_at = now - random.random_range(0..400 * DAY);
        let value = match kind {
            SignalKind::OpenDemand => random
                .random_bool(0.8)
                .then(|| f64::from(random.random_range(1..=4))),
            SignalKind::LowSatisfaction => random
                .random_bool(0.8)
                .then(|| f64::from(random.random_range(1..=5))),
            _ => random
                .random_bool(0.8)
                .then(|| random.random_range(0.0..1.0)),
        };
        let expires_at = random
            .random_bool(0.3)
            .then(|| now + random.random_range(-30 * DAY..400 * DAY));
        let due_at = (kind == SignalKind::LeaseEnding)
            .then(|| now + random.random_range(-60 * DAY..800 * DAY));
        Signal {
            value,
            expires_at,
            due_at,
            ..signal(&format!("s{index}"), kind, observed_at)
        }
    }

    fn random_signals(random: &mut StdRng, now: i64) -> Vec<Signal> {
        let count = random.random_range(0..7);
        (0..count)
            .map(|index| random_signal(random, index, now))
            .collect()
    }

    /// The rules with every step and point of `kind` raised by `delta`.
    fn with_more_points(rules: &Rules, kind: SignalKind, delta: i32) -> Rules {
        let mut raised = rules.clone();
        let rule = raised.kinds.get_mut(&kind).unwrap();
        match &mut rule.counting {
            Counting::Fixed { points } => *points += delta,
            Counting::ByValue {
                points_without_value,
                steps,
                ..
            } => {
                *points_without_value += delta;
                steps
                    .iter_mut()
                    .for_each(|step: &mut ValueStep| step.points += delta);
            }
            Counting::ByMonthsLeft { steps } => {
                steps.iter_mut().for_each(|step| step.points += delta)
            }
            Counting::ByDaysOpen { steps, .. } => {
                steps.iter_mut().for_each(|step| step.points += delta)
            }
        }
        raised
    }

    #[test]
    fn the_score_never_falls_when_a_kind_counts_more() {
        let rules = Rules::default_rules();
        let mut random = StdRng::seed_from_u64(0x1001);
        for _ in 0..CASES {
            let signals = random_signals(&mut random, NOW);
            let kind = SignalKind::ALL[random.random_range(0..SignalKind::ALL.len())];
            let raised = with_more_points(&rules, kind, random.random_range(1..50));
            let before = assess(&rules, &signals, NOW);
            let after = assess(&raised, &signals, NOW);
            assert!(after.score >= before.score, "{kind}: {signals:?}");
            assert!(after.colour >= before.colour, "{kind}: {signals:?}");
        }
    }

    #[test]
    fn the_score_never_falls_when_a_lease_end_comes_nearer() {
        let rules = Rules::default_rules();
        let mut random = StdRng::seed_from_u64(0x1002);
        for index in 0..CASES {
            let mut signals = random_signals(&mut random, NOW);
            let due_at = NOW + random.random_range(-60 * DAY..800 * DAY);
            signals.push(lease(&format!("l{index}"), due_at));
            let before = assess(&rules, &signals, NOW);
            let nearer = due_at - random.random_range(1..400 * DAY);
            *signals.last_mut().unwrap() = lease(&format!("l{index}"), nearer);
            let after = assess(&rules, &signals, NOW);
            assert!(
                after.score >= before.score,
                "{due_at} to {nearer}: {signals:?}"
            );
            assert!(after.colour >= before.colour);
        }
    }

    #[test]
    fn the_score_never_falls_when_a_demand_stays_open_longer() {
        let rules = Rules::default_rules();
        let mut random = StdRng::seed_from_u64(0x1003);
        for _ in 0..CASES {
            let mut signals = random_signals(&mut random, NOW);
            let raised = NOW - random.random_range(0..200 * DAY);
            let urgency = random
                .random_bool(0.8)
                .then(|| f64::from(random.random_range(1..=4)));
            let demand = Signal {
                value: urgency,
                ..signal("demand", SignalKind::OpenDemand, raised)
            };
            signals.push(demand.clone());
            let before = assess(&rules, &signals, NOW);
            *signals.last_mut().unwrap() = Signal {
                observed_at: raised - random.random_range(1..200 * DAY),
                ..demand
            };
            let after = assess(&rules, &signals, NOW);
            assert!(after.score >= before.score, "{signals:?}");
        }
    }

    #[test]
    fn the_score_never_falls_when_a_value_grows_worse() {
        let rules = Rules::default_rules();
        let mut random = StdRng::seed_from_u64(0x1004);
        let valued_kinds = [
            SignalKind::HeadcountDrop,
            SignalKind::TaxRevenueDrop,
            SignalKind::SocialInsuranceDrop,
            SignalKind::LowSatisfaction,
            SignalKind::OpenDemand,
        ];
        for _ in 0..CASES {
            let mut signals = random_signals(&mut random, NOW);
            let kind = valued_kinds[random.random_range(0..valued_kinds.len())];
            let (low, high) = match kind {
                SignalKind::LowSatisfaction => (1.0, 5.0),
                SignalKind::OpenDemand => (1.0, 4.0),
                _ => (0.0, 1.0),
            };
            let first: f64 = random.random_range(low..high);
            let second: f64 = random.random_range(low..high);
            let observed = NOW - random.random_range(0..200 * DAY);
            let (smaller, larger) = (first.min(second), first.max(second));
            // Satisfaction is worse the lower it is; the others the higher.
            let (better, worse) = if kind == SignalKind::LowSatisfaction {
                (larger, smaller)
            } else {
                (smaller, larger)
            };
            signals.push(valued("v", kind, observed, better));
            let before = assess(&rules, &signals, NOW);
            *signals.last_mut().unwrap() = valued("v", kind, observed, worse);
            let after = assess(&rules, &signals, NOW);
            assert!(
                after.score >= before.score,
                "{kind} {better} to {worse}: {signals:?}"
            );
        }
    }

    #[test]
    fn colour_is_monotone_in_score_for_any_increasing_thresholds() {
        let mut rules = Rules::default_rules();
        let mut random = StdRng::seed_from_u64(0x1005);
        for _ in 0..CASES {
            let blue = random.random_range(1..100);
            let yellow = blue + random.random_range(1..100);
            let orange = yellow + random.random_range(1..100);
            let red = orange + random.random_range(1..100);
            rules.thresholds = Thresholds {
                blue,
                yellow,
                orange,
                red,
            };
            let low = random.random_range(0..500);
            let high = low + random.random_range(0..500);
            assert!(rules.colour_for_score(low) <= rules.colour_for_score(high));
            assert_eq!(rules.colour_for_score(blue - 1), Colour::Green);
            assert_eq!(rules.colour_for_score(red), Colour::Red);
        }
        // And an assessment's colour is its score's unless a floor raised it.
        let default = Rules::default_rules();
        for _ in 0..CASES {
            let signals = random_signals(&mut random, NOW);
            let assessment = assess(&default, &signals, NOW);
            match &assessment.floor {
                None => assert_eq!(
                    assessment.colour,
                    default.colour_for_score(assessment.score)
                ),
                Some((colour, _)) => {
                    assert_eq!(assessment.colour, *colour);
                    assert!(*colour > default.colour_for_score(assessment.score));
                }
            }
            assert!(assessment.score >= 0);
        }
    }

    #[test]
    fn the_next_change_is_exact() {
        let rules = Rules::default_rules();
        let mut random = StdRng::seed_from_u64(0x1006);
        let mut changes_seen = 0;
        for _ in 0..CASES {
            let signals = random_signals(&mut random, NOW);
            let now = NOW + random.random_range(0..30 * DAY);
            let assessment = assess(&rules, &signals, now);
            let same = |at: i64| {
                let later = assess(&rules, &signals, at);
                (later.score, later.colour) == (assessment.score, assessment.colour)
            };
            match assessment.next_change_at {
                Some(next) => {
                    changes_seen += 1;
                    assert!(next > now);
                    assert!(same(next - 1), "unchanged just before {next}: {signals:?}");
                    assert!(!same(next), "changed at {next}: {signals:?}");
                    for _ in 0..5 {
                        assert!(same(random.random_range(now..next)), "{signals:?}");
                    }
                }
                None => {
                    for _ in 0..5 {
                        let later = now + random.random_range(0..3_000 * DAY);
                        assert!(same(later), "never changes: {signals:?}");
                    }
                }
            }
        }
        assert!(
            changes_seen > CASES / 4,
            "the cases exercise changes: {changes_seen}"
        );
    }
}
