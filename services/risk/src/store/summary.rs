//! What the live screen shows of the colours: counts by colour (overall,
//! by building or by sub-district) and the enterprises that turned worse
//! lately, all within the caller's reach and each in one query; and the
//! district's count by colour for `louyu_enterprises_by_colour`.

use louyu_kit::filter::{SqlQuery, SqlValue};
use louyu_kit::scope::Reach;
use louyu_proto::risk::v1 as proto;
use sqlx::Row;

use super::{ASSESSMENTS, Store};
use crate::domain::colour::Colour;
use crate::error::RiskError;

/// How counts are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Nothing,
    Building,
    SubDistrict,
}

/// How many of the latest worsenings a summary lists.
const WORSENED_LISTED: i64 = 100;

impl Store {
    /// The district's enterprises by the colour it acts on (an override
    /// while it lasts, else the computed one), every colour present, 0 when
    /// none; never assessed ones are left out. One `GROUP BY` over
    /// `assessments`, a scan of the table (for a million rows, about 0.35 s
    /// on PostgreSQL and 1 s on SQLite), so it is counted every
    /// `metrics_refresh_interval`, not at every turn of the scheduler.
    pub async fn count_by_colour(&self) -> Result<Vec<(Colour, u64)>, RiskError> {
        let rows = sqlx::query(
            "SELECT effective_colour, COUNT(*) AS n FROM assessments \
             WHERE effective_colour <> 0 GROUP BY effective_colour",
        )
        .fetch_all(self.db.pool())
        .await?;
        let mut counts: Vec<(Colour, u64)> =
            Colour::ALL.iter().map(|colour| (*colour, 0)).collect();
        for row in &rows {
            let number: i64 = row.try_get("effective_colour")?;
            let count: i64 = row.try_get("n")?;
            let Some(colour) = i32::try_from(number).ok().and_then(Colour::from_proto) else {
                continue;
            };
            if let Some(entry) = counts.iter_mut().find(|(known, _)| *known == colour) {
                entry.1 = u64::try_from(count).unwrap_or_default();
            }
        }
        Ok(counts)
    }

    pub async fn summarize(
        &self,
        group_by: GroupBy,
        worsened_since: i64,
        reach: &Reach,
    ) -> Result<proto::AssessmentSummary, RiskError> {
        let group = match group_by {
            GroupBy::Nothing => "''",
            GroupBy::Building => "COALESCE(assessments.building_id, '')",
            GroupBy::SubDistrict => "COALESCE(scope_buildings.sub_district_id, '')",
        };
        let mut counts = SqlQuery::new(&format!(
            "SELECT {group} AS grp, assessments.effective_colour AS colour, COUNT(*) AS n FROM assessments \
             LEFT JOIN scope_buildings ON scope_buildings.building_id = assessments.building_id \
             WHERE assessments.effective_colour <> 0"
        ));
        reach.push_condition(&mut counts, &ASSESSMENTS);
        counts.push(" GROUP BY grp, assessments.effective_colour ORDER BY grp, assessments.effective_colour");
        let rows = counts.build().fetch_all(self.db.pool()).await?;
        let mut summary = proto::AssessmentSummary::default();
        for row in &rows {
            let id: String = row.try_get("grp")?;
            let count: i64 = row.try_get("n")?;
            summary.total += count;
            summary.counts.push(proto::ColourCount {
                group: match group_by {
                    _ if id.is_empty() => String::new(),
                    GroupBy::Nothing => String::new(),
                    GroupBy::Building => self.names.building(&id),
                    GroupBy::SubDistrict => self.names.sub_district(&id),
                },
                colour: row.try_get::<i64, _>("colour")? as i32,
                count,
            });
        }

        let worse = " FROM assessment_changes JOIN assessments ON assessments.uscc = assessment_changes.uscc \
             WHERE assessment_changes.previous_colour <> 0 \
             AND assessment_changes.colour > assessment_changes.previous_colour \
             AND assessment_changes.changed_at >= ";
        let mut count = SqlQuery::new(&format!(
            "SELECT COUNT(DISTINCT assessment_changes.uscc) AS n{worse}"
        ));
        count.push_value(SqlValue::Integer(worsened_since));
        reach.push_condition(&mut count, &ASSESSMENTS);
        summary.worsened_count = count
            .build()
            .fetch_one(self.db.pool())
            .await?
            .try_get("n")?;

        let mut latest = SqlQuery::new(&format!(
            "SELECT assessment_changes.uscc, assessment_changes.previous_colour, assessment_changes.colour, \
             assessment_changes.score, assessment_changes.cause_zh, assessment_changes.cause_en, \
             assessment_changes.changed_at{worse}"
        ));
        latest.push_value(SqlValue::Integer(worsened_since));
        reach.push_condition(&mut latest, &ASSESSMENTS);
        latest
            .push(" ORDER BY assessment_changes.changed_at DESC, assessment_changes.id DESC LIMIT ")
            .push_value(SqlValue::Integer(WORSENED_LISTED));
        for row in latest.build().fetch_all(self.db.pool()).await? {
            let uscc: String = row.try_get("uscc")?;
            summary.worsened.push(proto::AssessmentChange {
                enterprise: self.names.enterprise(&uscc),
                previous_colour: row.try_get::<i64, _>("previous_colour")? as i32,
                colour: row.try_get::<i64, _>("colour")? as i32,
                score: row.try_get::<i64, _>("score")? as i32,
                cause: Some(proto::LocalizedText {
                    zh: row.try_get("cause_zh")?,
                    en: row.try_get("cause_en")?,
                }),
                change_time: Some(louyu_kit::time::timestamp_from_micros(
                    row.try_get("changed_at")?,
                )),
            });
        }
        Ok(summary)
    }
}
