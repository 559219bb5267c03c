//! The scorecard, computed from the referrals dispatched in a period and
//! the rejections made in it, under the formula of the rules in force.

use std::collections::BTreeMap;

use louyu_kit::time::timestamp_from_micros;
use louyu_proto::referral::v1::{self as proto, Resolution};
use sqlx::Row;

use super::Store;
use crate::domain::referral::ConfirmationRecord;
use crate::domain::scorecard::{self, Scored};
use crate::error::ReferralError;

/// What a scorecard's lines are of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreBy {
    /// The lead department of each referral; returns by the department
    /// that made them.
    Department,
    /// The sub-district of each referral's building.
    SubDistrict,
}

impl Store {
    /// The scorecard of referrals dispatched in `[start, end)`.
    pub async fn scorecard(
        &self,
        by: ScoreBy,
        start: i64,
        end: i64,
    ) -> Result<proto::Scorecard, ReferralError> {
        let mut connection = self.db.pool().acquire().await?;
        let (rules, _) = self.rules_in_force(&mut connection).await?;
        let rows = sqlx::query(
            "SELECT lead_department, sub_district_id, dispatched_at, accept_due, accepted_at, first_contact_due, \
             first_contact_at, completed_at, confirmation, round, exclusion \
             FROM referrals WHERE dispatched_at >= $1 AND dispatched_at < $2 AND split = 0",
        )
        .bind(start)
        .bind(end)
        .fetch_all(&mut *connection)
        .await?;
        let mut referrals = Vec::with_capacity(rows.len());
        for row in &rows {
            let group: String = match by {
                ScoreBy::Department => row.try_get("lead_department")?,
                ScoreBy::SubDistrict => row.try_get("sub_district_id")?,
            };
            if group.is_empty() {
                // Not routed yet, or raised in no building.
                continue;
            }
            let dispatched_at: i64 = row.try_get("dispatched_at")?;
            let in_time = |done: &str, due: &str| -> Result<bool, ReferralError> {
                let done: Option<i64> = row.try_get(done)?;
                let due: Option<i64> = row.try_get(due)?;
                Ok(matches!((done, due), (Some(done), Some(due)) if done <= due))
            };
            let confirmation: Option<String> = row.try_get("confirmation")?;
            let answer = confirmation
                .map(|text| serde_json::from_str::<ConfirmationRecord>(&text))
                .transpose()?
                .map(|answer| {
                    (
                        answer.resolution == Resolution::Solved as i32,
                        answer.satisfaction,
                    )
                });
            let completed_at: Option<i64> = row.try_get("completed_at")?;
            let exclusion: Option<String> = row.try_get("exclusion")?;
            referrals.push(Scored {
                group,
                dispatched_at,
                responded_in_time: in_time("accepted_at", "accept_due")?
                    && in_time("first_contact_at", "first_contact_due")?,
                answer,
                time_to_complete: completed_at.map(|completed| completed - dispatched_at),
                reopened: row.try_get::<i64, _>("round")? > 1,
                excluded: exclusion.is_some(),
            });
        }
        let group_column = match by {
            ScoreBy::Department => "t.department_id",
            ScoreBy::SubDistrict => "r.sub_district_id",
        };
        let returned = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {group_column} AS grouped, COUNT(*) AS returns FROM referral_transitions t \
             JOIN referrals r ON r.id = t.referral_id \
             WHERE t.action = 'reject' AND t.at >= $1 AND t.at < $2 AND {group_column} <> '' \
             GROUP BY {group_column}"
        )))
        .bind(start)
        .bind(end)
        .fetch_all(&mut *connection)
        .await?;
        let mut returns = BTreeMap::new();
        for row in &returned {
            returns.insert(
                row.try_get::<String, _>("grouped")?,
                row.try_get::<i64, _>("returns")? as u32,
            );
        }
        let lines = scorecard::compute(&referrals, &returns, rules.scorecard());
        Ok(proto::Scorecard {
            start_time: Some(timestamp_from_micros(start)),
            end_time: Some(timestamp_from_micros(end)),
            group_by: match by {
                ScoreBy::Department => "department",
                ScoreBy::SubDistrict => "sub_district",
            }
            .to_owned(),
            rules_version: rules.version().to_owned(),
            lines: lines
                .into_iter()
                .map(|line| proto::ScorecardLine {
                    group: match by {
                        ScoreBy::Department => self.names.department(&line.group),
                        ScoreBy::SubDistrict => self.names.sub_district(&line.group),
                    },
                    dispatched: line.dispatched as i32,
                    assessed: line.assessed as i32,
                    response_rate: line.response_rate,
                    resolution_rate: line.resolution_rate,
                    satisfaction_rate: line.satisfaction_rate,
                    median_hours_to_complete: line.median_hours_to_complete,
                    returns: line.returns as i32,
                    reopened_share: line.reopened_share,
                    score: line.score,
                    rank: line.rank.map_or(0, |rank| rank as i32),
                    excluded: line.excluded as i32,
                })
                .collect(),
        })
    }
}
