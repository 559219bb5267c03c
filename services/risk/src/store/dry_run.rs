//! What new rules would do (`DryRunRules`): every enterprise assessed under
//! them, chunk by chunk in key order, and compared with its colour under the
//! rules in force. Nothing is written and nothing locked.

use louyu_proto::common::v1::RiskColour;
use louyu_proto::risk::v1 as proto;

use super::{Store, signals};
use crate::domain::{self, Rules};
use crate::error::RiskError;

/// Enterprises read at once.
const CHUNK: i64 = 10_000;

/// How many changes a dry run lists (it counts them all).
const LISTED: usize = 1_000;

impl Store {
    pub async fn dry_run(
        &self,
        rules: &Rules,
        now: i64,
    ) -> Result<proto::DryRunRulesResponse, RiskError> {
        let mut response = proto::DryRunRulesResponse {
            version: rules.version().to_owned(),
            ..proto::DryRunRulesResponse::default()
        };
        let mut connection = self.db.pool().acquire().await?;
        let mut after = String::new();
        loop {
            let current: Vec<(String, i64)> = sqlx::query_as(
                "SELECT uscc, colour FROM assessments WHERE uscc > $1 AND colour <> 0 ORDER BY uscc LIMIT $2",
            )
            .bind(&after)
            .bind(CHUNK)
            .fetch_all(&mut *connection)
            .await?;
            let (Some((first, _)), Some((last, _))) = (current.first(), current.last()) else {
                break;
            };
            let signals =
                signals::signals_in_range(&mut connection, first, last, current.len()).await?;
            for (uscc, colour) in &current {
                let under_new = domain::assess(
                    rules,
                    signals.get(uscc).map(Vec::as_slice).unwrap_or_default(),
                    now,
                );
                response.assessed += 1;
                let to = under_new.colour.to_proto() as i32;
                if i64::from(to) != *colour {
                    response.changed += 1;
                    if response.changes.len() < LISTED {
                        response.changes.push(proto::ColourChange {
                            enterprise: self.names.enterprise(uscc),
                            from_colour: i32::try_from(*colour)
                                .unwrap_or(RiskColour::Unspecified as i32),
                            to_colour: to,
                        });
                    }
                }
            }
            after = last.clone();
        }
        Ok(response)
    }
}
