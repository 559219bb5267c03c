//! When each enterprise is next due a visit, and which due visit comes
//! first.

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_proto::common::v1::RiskColour;
use louyu_proto::visits::v1::CadencePolicy;

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Days between visits for each colour, and for enterprises not graded yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    pub red: i64,
    pub orange: i64,
    pub yellow: i64,
    pub blue: i64,
    pub green: i64,
    pub ungraded: i64,
}

impl Default for Cadence {
    /// Red within a day, orange 3 days, yellow 14, blue 30, green 90;
    /// ungraded 30.
    fn default() -> Self {
        Self {
            red: 1,
            orange: 3,
            yellow: 14,
            blue: 30,
            green: 90,
            ungraded: 30,
        }
    }
}

impl Cadence {
    pub fn days(&self, colour: RiskColour) -> i64 {
        match colour {
            RiskColour::Red => self.red,
            RiskColour::Orange => self.orange,
            RiskColour::Yellow => self.yellow,
            RiskColour::Blue => self.blue,
            RiskColour::Green => self.green,
            RiskColour::Unspecified => self.ungraded,
        }
    }

    /// When a visit is due: the last visit, or the start of the plan when the
    /// enterprise was never visited, plus the colour's cadence.
    pub fn due(&self, colour: RiskColour, last_visit: Option<i64>, plan_start: i64) -> i64 {
        last_visit.unwrap_or(plan_start) + self.days(colour) * MICROS_PER_DAY
    }

    /// Parses a policy: every cadence 1 to 365 days.
    pub fn parse(policy: &CadencePolicy) -> Result<Self, InvalidArgument> {
        let mut violations = Violations::new();
        let mut day = |field: &str, value: i32| {
            if (1..=365).contains(&value) {
                i64::from(value)
            } else {
                violations.add(
                    format!("cadence_policy.{field}"),
                    format!("应为1至365天 must be from 1 to 365 days, got {value}"),
                );
                0
            }
        };
        let cadence = Self {
            red: day("red_days", policy.red_days),
            orange: day("orange_days", policy.orange_days),
            yellow: day("yellow_days", policy.yellow_days),
            blue: day("blue_days", policy.blue_days),
            green: day("green_days", policy.green_days),
            ungraded: day("default_days", policy.default_days),
        };
        violations.into_result()?;
        Ok(cadence)
    }

    pub fn to_policy(self, name: String) -> CadencePolicy {
        let days = |value: i64| i32::try_from(value).unwrap_or(i32::MAX);
        CadencePolicy {
            name,
            red_days: days(self.red),
            orange_days: days(self.orange),
            yellow_days: days(self.yellow),
            blue_days: days(self.blue),
            green_days: days(self.green),
            default_days: days(self.ungraded),
        }
    }
}

/// How pressing a colour is: red first, then orange and yellow, then
/// enterprises not graded yet (unknown risk), then blue and green.
pub fn severity(colour: RiskColour) -> u8 {
    match colour {
        RiskColour::Red => 5,
        RiskColour::Orange => 4,
        RiskColour::Yellow => 3,
        RiskColour::Unspecified => 2,
        RiskColour::Blue => 1,
        RiskColour::Green => 0,
    }
}

/// Sort key for due visits: most severe colour first, then the longest
/// overdue (earliest due time), then the enterprise, for a stable order.
pub fn urgency_key(
    colour: RiskColour,
    due: i64,
    enterprise: &str,
) -> (std::cmp::Reverse<u8>, i64, String) {
    (
        std::cmp::Reverse(severity(colour)),
        due,
        enterprise.to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cadence_follows_the_colour() {
        let cadence = Cadence::default();
        let days: Vec<i64> = [
            RiskColour::Red,
            RiskColour::Orange,
            RiskColour::Yellow,
            RiskColour::Blue,
            RiskColour::Green,
            RiskColour::Unspecified,
        ]
        .into_iter()
        .map(|colour| cadence.days(colour))
        .collect();
        assert_eq!(days, vec![1, 3, 14, 30, 90, 30]);
    }

    #[test]
    fn due_counts_from_the_last_visit_or_the_plan_start() {
        let cadence = Cadence::default();
        assert_eq!(
            cadence.due(RiskColour::Red, Some(1_000), 0),
            1_000 + MICROS_PER_DAY
        );
        assert_eq!(
            cadence.due(RiskColour::Green, None, 5),
            5 + 90 * MICROS_PER_DAY
        );
    }

    #[test]
    fn red_comes_before_an_older_yellow_and_ungraded_before_blue() {
        let red = urgency_key(RiskColour::Red, 10 * MICROS_PER_DAY, "a");
        let old_yellow = urgency_key(RiskColour::Yellow, 0, "b");
        let ungraded = urgency_key(RiskColour::Unspecified, 0, "c");
        let blue = urgency_key(RiskColour::Blue, 0, "d");
        let mut keys = vec![
            blue.clone(),
            ungraded.clone(),
            old_yellow.clone(),
            red.clone(),
        ];
        keys.sort();
        assert_eq!(keys, vec![red, old_yellow, ungraded, blue]);
    }

    #[test]
    fn a_policy_must_give_every_colour_a_cadence_within_a_year() {
        let valid = Cadence::default().to_policy("p".into());
        assert_eq!(Cadence::parse(&valid).unwrap(), Cadence::default());
        let invalid = CadencePolicy {
            red_days: 0,
            green_days: 400,
            ..valid
        };
        let error = Cadence::parse(&invalid).unwrap_err();
        let fields: Vec<&str> = error
            .violations
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(
            fields,
            vec!["cadence_policy.red_days", "cadence_policy.green_days"]
        );
    }
}
