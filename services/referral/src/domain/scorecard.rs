//! The scorecard: how well departments (or sub-districts) handle what is
//! referred to them over a period, by the three rates Chinese government
//! hotlines are ranked by, computed from the referrals and their history.
//!
//! - 响应率 response: of the referrals dispatched in the period, the share
//!   accepted and first contacted within their deadlines;
//! - 解决率 resolution: of those the enterprise has answered on (assessed),
//!   the share it called solved;
//! - 满意率 satisfaction: of those assessed, the share with satisfaction at
//!   least the formula's `satisfied_at_least`;
//!
//! with the median hours from dispatch to completion, the returns
//! (rejections) and the share reopened. The score weighs the three rates by
//! the district's formula; groups with fewer referrals than its minimum
//! sample get no rank. Referrals excluded after review (unreasonable
//! demands) are left out and counted apart.

use std::collections::BTreeMap;

/// The district's formula (the rules' `[scorecard]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Formula {
    pub response_weight: f64,
    pub resolution_weight: f64,
    pub satisfaction_weight: f64,
    /// Fewer referrals than this in a group: no rank.
    pub minimum_sample: u32,
    /// The least satisfaction (1–5) that counts as satisfied.
    pub satisfied_at_least: u8,
}

/// One referral as the scorecard sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The department or sub-district it counts for.
    pub group: String,
    pub dispatched_at: i64,
    pub responded_in_time: bool,
    /// The enterprise's latest answer: solved, and satisfaction.
    pub answer: Option<(bool, u8)>,
    /// Dispatch to completion, in microseconds, when completed.
    pub time_to_complete: Option<i64>,
    pub reopened: bool,
    pub excluded: bool,
}

/// One group's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub group: String,
    pub dispatched: u32,
    pub assessed: u32,
    pub response_rate: f64,
    pub resolution_rate: f64,
    pub satisfaction_rate: f64,
    /// Median hours from dispatch to completion; `None` with none
    /// completed.
    pub median_hours_to_complete: Option<f64>,
    pub returns: u32,
    pub reopened_share: f64,
    pub score: f64,
    /// 1 for the best; `None` below the minimum sample.
    pub rank: Option<u32>,
    pub excluded: u32,
}

fn share(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        0.0
    } else {
        f64::from(part) / f64::from(whole)
    }
}

fn median(mut values: Vec<i64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let middle = values.len() / 2;
    let micros = if values.len().is_multiple_of(2) {
        (values[middle - 1] as f64 + values[middle] as f64) / 2.0
    } else {
        values[middle] as f64
    };
    Some(micros / 3_600_000_000.0)
}

/// The scorecard of `referrals` under `formula`, with each group's
/// `returns` (rejections it made in the period), one line per group, the
/// ranked best first, then the unranked by group.
pub fn compute(
    referrals: &[Scored],
    returns: &BTreeMap<String, u32>,
    formula: &Formula,
) -> Vec<Line> {
    let mut groups: BTreeMap<&str, Vec<&Scored>> = BTreeMap::new();
    for referral in referrals {
        groups.entry(&referral.group).or_default().push(referral);
    }
    for group in returns.keys() {
        groups.entry(group).or_default();
    }
    let mut lines: Vec<Line> = groups
        .into_iter()
        .map(|(group, all)| {
            let excluded = all.iter().filter(|referral| referral.excluded).count() as u32;
            let counted: Vec<&&Scored> = all.iter().filter(|referral| !referral.excluded).collect();
            let dispatched = counted.len() as u32;
            let responded = counted
                .iter()
                .filter(|referral| referral.responded_in_time)
                .count() as u32;
            let answers: Vec<(bool, u8)> = counted
                .iter()
                .filter_map(|referral| referral.answer)
                .collect();
            let assessed = answers.len() as u32;
            let solved = answers.iter().filter(|(solved, _)| *solved).count() as u32;
            let satisfied = answers
                .iter()
                .filter(|(_, satisfaction)| *satisfaction >= formula.satisfied_at_least)
                .count() as u32;
            let reopened = counted.iter().filter(|referral| referral.reopened).count() as u32;
            let response_rate = share(responded, dispatched);
            let resolution_rate = share(solved, assessed);
            let satisfaction_rate = share(satisfied, assessed);
            let score = formula.response_weight * response_rate
                + formula.resolution_weight * resolution_rate
                + formula.satisfaction_weight * satisfaction_rate;
            Line {
                group: group.to_owned(),
                dispatched,
                assessed,
                response_rate,
                resolution_rate,
                satisfaction_rate,
                median_hours_to_complete: median(
                    counted
                        .iter()
                        .filter_map(|referral| referral.time_to_complete)
                        .collect(),
                ),
                returns: returns.get(group).copied().unwrap_or(0),
                reopened_share: share(reopened, assessed),
                score,
                rank: None,
                excluded,
            }
        })
        .collect();
    lines.sort_by(|a, b| {
        let ranked = |line: &Line| line.dispatched >= formula.minimum_sample;
        ranked(b)
            .cmp(&ranked(a))
            .then(if ranked(a) {
                b.score.total_cmp(&a.score)
            } else {
                std::cmp::Ordering::Equal
            })
            .then(a.group.cmp(&b.group))
    });
    let mut rank = 0;
    for line in &mut lines {
        if line.dispatched >= formula.minimum_sample {
            rank += 1;
            line.rank = Some(rank);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    fn formula() -> Formula {
        Formula {
            response_weight: 0.3,
            resolution_weight: 0.4,
            satisfaction_weight: 0.3,
            minimum_sample: 2,
            satisfied_at_least: 4,
        }
    }

    fn scored(group: &str) -> Scored {
        Scored {
            group: group.to_owned(),
            dispatched_at: 0,
            responded_in_time: true,
            answer: None,
            time_to_complete: None,
            reopened: false,
            excluded: false,
        }
    }

    #[test]
    fn the_rates_of_a_known_set() {
        let referrals = vec![
            Scored {
                answer: Some((true, 5)),
                time_to_complete: Some(10 * HOUR),
                ..scored("office")
            },
            Scored {
                answer: Some((false, 2)),
                time_to_complete: Some(30 * HOUR),
                reopened: true,
                ..scored("office")
            },
            Scored {
                responded_in_time: false,
                ..scored("office")
            },
            Scored {
                answer: Some((true, 4)),
                time_to_complete: Some(20 * HOUR),
                ..scored("office")
            },
            Scored {
                excluded: true,
                ..scored("office")
            },
            Scored {
                answer: Some((true, 3)),
                ..scored("tax")
            },
        ];
        let returns = BTreeMap::from([("office".to_owned(), 1), ("legal".to_owned(), 2)]);
        let lines = compute(&referrals, &returns, &formula());
        let office = &lines[0];
        assert_eq!(office.group, "office");
        assert_eq!(
            (office.dispatched, office.assessed, office.excluded),
            (4, 3, 1)
        );
        assert_eq!(office.response_rate, 0.75);
        assert!((office.resolution_rate - 2.0 / 3.0).abs() < 1e-9);
        assert!((office.satisfaction_rate - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(office.median_hours_to_complete, Some(20.0));
        assert_eq!(office.returns, 1);
        assert!((office.reopened_share - 1.0 / 3.0).abs() < 1e-9);
        assert!((office.score - (0.3 * 0.75 + 0.4 * 2.0 / 3.0 + 0.3 * 2.0 / 3.0)).abs() < 1e-9);
        assert_eq!(office.rank, Some(1));
        // Returns only, and one referral: below the minimum sample, no rank.
        assert_eq!(lines[1].group, "legal");
        assert_eq!((lines[1].dispatched, lines[1].returns), (0, 2));
        assert_eq!(lines[2].group, "tax");
        assert_eq!(lines[2].rank, None);
        assert_eq!(lines[2].satisfaction_rate, 0.0, "3 is not satisfied");
    }
}
