use louyu_kit::filter::{SqlQuery, SqlValue};
use louyu_kit::mutation::Mutations;
use louyu_kit::scope::Reach;
use louyu_proto::common::v1::RiskColour;
use louyu_proto::visits::v1::{CadencePolicy, VisitPlan};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Call, Store, scope, timestamp};
use crate::domain::cadence::Cadence;
use crate::error::VisitsError;

/// Which plans a field worker covers: whole buildings, and single
/// enterprises.
#[derive(Debug, Clone, Default)]
pub struct PlanScope {
    pub building_ids: Vec<String>,
    pub usccs: Vec<String>,
}

/// A plan with its due time computed under the current cadence.
#[derive(Debug, Clone)]
pub struct DuePlan {
    pub plan: VisitPlan,
    pub building_id: String,
    pub colour: RiskColour,
    pub due: i64,
}

const COLUMNS: &str = "uscc, building_id, colour, plan_start, last_visit_time, active";

impl Store {
    /// Moves an enterprise's plan to a visit (the later of this and the last
    /// one counts), starting the plan if it had none.
    pub(super) async fn record_visit_on_plan(
        &self,
        connection: &mut AnyConnection,
        uscc: &str,
        building_id: &str,
        visit_time: i64,
    ) -> Result<(), VisitsError> {
        sqlx::query(
            "INSERT INTO visit_plans (uscc, building_id, colour, plan_start, last_visit_time, active, updated_at) \
             VALUES ($1, $2, COALESCE((SELECT colour FROM enterprise_colours WHERE uscc = $1), 0), $3, $3, 1, $4) \
             ON CONFLICT (uscc) DO UPDATE SET building_id = excluded.building_id, active = 1, \
             last_visit_time = CASE WHEN visit_plans.last_visit_time IS NULL \
                 OR visit_plans.last_visit_time < excluded.last_visit_time \
                 THEN excluded.last_visit_time ELSE visit_plans.last_visit_time END, \
             updated_at = excluded.updated_at",
        )
        .bind(uscc)
        .bind(building_id)
        .bind(visit_time)
        .bind(louyu_kit::time::now_micros())
        .execute(&mut *connection)
        .await?;
        Ok(())
    }

    /// Starts (or resumes) an enterprise's plan when it takes a unit. A
    /// repeated event changes nothing: the start time stays the first one.
    async fn start_plan(
        &self,
        connection: &mut AnyConnection,
        uscc: &str,
        building_id: &str,
        started_at: i64,
    ) -> Result<(), VisitsError> {
        sqlx::query(
            "INSERT INTO visit_plans (uscc, building_id, colour, plan_start, last_visit_time, active, updated_at) \
             VALUES ($1, $2, COALESCE((SELECT colour FROM enterprise_colours WHERE uscc = $1), 0), $3, NULL, 1, $4) \
             ON CONFLICT (uscc) DO UPDATE SET building_id = excluded.building_id, active = 1, updated_at = excluded.updated_at",
        )
        .bind(uscc)
        .bind(building_id)
        .bind(started_at)
        .bind(louyu_kit::time::now_micros())
        .execute(&mut *connection)
        .await?;
        Ok(())
    }

    /// Takes an enterprise's colour from the risk service's feed: its plan,
    /// if it has one, is due by the colour's cadence from now on. A repeated
    /// event changes nothing.
    pub async fn colour_changed(
        &self,
        connection: &mut AnyConnection,
        uscc: &str,
        colour: RiskColour,
    ) -> Result<(), VisitsError> {
        sqlx::query(
            "INSERT INTO enterprise_colours (uscc, colour) VALUES ($1, $2) \
             ON CONFLICT (uscc) DO UPDATE SET colour = excluded.colour",
        )
        .bind(uscc)
        .bind(i64::from(colour as i32))
        .execute(&mut *connection)
        .await?;
        sqlx::query("UPDATE visit_plans SET colour = $1, updated_at = $2 WHERE uscc = $3")
            .bind(i64::from(colour as i32))
            .bind(louyu_kit::time::now_micros())
            .bind(uscc)
            .execute(&mut *connection)
            .await?;
        Ok(())
    }

    /// Remembers a tenancy the registry announced. A repeated event changes
    /// nothing.
    pub async fn tenancy_started(
        &self,
        connection: &mut AnyConnection,
        tenancy_id: &str,
        uscc: &str,
        building_id: &str,
        started_at: i64,
    ) -> Result<(), VisitsError> {
        sqlx::query(
            "INSERT INTO tenancies_seen (tenancy_id, uscc, building_id, started_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenancy_id) DO NOTHING",
        )
        .bind(tenancy_id)
        .bind(uscc)
        .bind(building_id)
        .bind(started_at)
        .execute(&mut *connection)
        .await?;
        self.start_plan(connection, uscc, building_id, started_at)
            .await
    }

    /// Forgets an ended tenancy. With no tenancy left the enterprise's plan
    /// ends; otherwise it follows the enterprise to the building of its
    /// latest tenancy.
    pub async fn tenancy_ended(
        &self,
        connection: &mut AnyConnection,
        tenancy_id: &str,
        uscc: &str,
    ) -> Result<(), VisitsError> {
        sqlx::query("DELETE FROM tenancies_seen WHERE tenancy_id = $1")
            .bind(tenancy_id)
            .execute(&mut *connection)
            .await?;
        let remaining: Option<String> = sqlx::query_scalar(
            "SELECT building_id FROM tenancies_seen WHERE uscc = $1 ORDER BY started_at DESC, tenancy_id DESC LIMIT 1",
        )
        .bind(uscc)
        .fetch_optional(&mut *connection)
        .await?;
        match remaining {
            None => self.end_plan(connection, uscc).await,
            Some(building_id) => {
                sqlx::query(
                    "UPDATE visit_plans SET building_id = $1, updated_at = $2 WHERE uscc = $3",
                )
                .bind(building_id)
                .bind(louyu_kit::time::now_micros())
                .bind(uscc)
                .execute(&mut *connection)
                .await?;
                Ok(())
            }
        }
    }

    /// Ends the plan of an enterprise that left the district.
    pub async fn end_plan(
        &self,
        connection: &mut AnyConnection,
        uscc: &str,
    ) -> Result<(), VisitsError> {
        sqlx::query(
            "UPDATE visit_plans SET active = 0, updated_at = $1 WHERE uscc = $2 AND active = 1",
        )
        .bind(louyu_kit::time::now_micros())
        .bind(uscc)
        .execute(&mut *connection)
        .await?;
        Ok(())
    }

    /// An enterprise's plan within `reach`; out of it, NOT_FOUND as if it
    /// did not exist.
    pub async fn get_plan(
        &self,
        uscc: &str,
        as_of: i64,
        reach: &Reach,
    ) -> Result<VisitPlan, VisitsError> {
        let cadence = self.cadence().await?;
        let mut query = SqlQuery::new(&format!("SELECT {COLUMNS} FROM visit_plans WHERE uscc = "));
        query.push_value(SqlValue::Text(uscc.to_owned()));
        reach.push_condition(&mut query, &scope::PLANS);
        let row = query
            .build()
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| VisitsError::not_found(self.names.name("visitPlans", uscc)))?;
        Ok(self.plan_from_row(&row, &cadence, as_of)?.plan)
    }

    /// The active plans a worker covers (`covered`) that are within the
    /// caller's `reach`, with due times under the current cadence.
    pub async fn plans_in(
        &self,
        covered: &PlanScope,
        as_of: i64,
        reach: &Reach,
    ) -> Result<Vec<DuePlan>, VisitsError> {
        if covered.building_ids.is_empty() && covered.usccs.is_empty() {
            return Ok(Vec::new());
        }
        let cadence = self.cadence().await?;
        let mut query = SqlQuery::new(&format!(
            "SELECT {COLUMNS} FROM visit_plans WHERE active = 1 AND (1 = 0"
        ));
        for (column, values) in [
            ("building_id", &covered.building_ids),
            ("uscc", &covered.usccs),
        ] {
            if values.is_empty() {
                continue;
            }
            query.push(" OR ").push(column).push(" IN (");
            for (index, value) in values.iter().enumerate() {
                if index > 0 {
                    query.push(", ");
                }
                query.push_value(SqlValue::Text(value.clone()));
            }
            query.push(")");
        }
        query.push(")");
        reach.push_condition(&mut query, &scope::PLANS);
        let rows = query.build().fetch_all(self.db.pool()).await?;
        rows.iter()
            .map(|row| self.plan_from_row(row, &cadence, as_of))
            .collect()
    }

    fn plan_from_row(
        &self,
        row: &AnyRow,
        cadence: &Cadence,
        as_of: i64,
    ) -> Result<DuePlan, VisitsError> {
        let uscc: String = row.try_get("uscc")?;
        let building_id: String = row.try_get("building_id")?;
        let colour =
            RiskColour::try_from(super::int32(row, "colour")?).unwrap_or(RiskColour::Unspecified);
        let plan_start: i64 = row.try_get("plan_start")?;
        let last_visit: Option<i64> = row.try_get("last_visit_time")?;
        let active: i64 = row.try_get("active")?;
        let due = cadence.due(colour, last_visit, plan_start);
        let plan = VisitPlan {
            name: self.names.name("visitPlans", &uscc),
            enterprise: self.names.name("enterprises", &uscc),
            building: self.names.name("buildings", &building_id),
            colour: colour as i32,
            cadence_days: i32::try_from(cadence.days(colour)).unwrap_or(i32::MAX),
            last_visit_time: last_visit.and_then(timestamp),
            due_time: timestamp(due),
            overdue: due < as_of,
            active: active == 1,
        };
        Ok(DuePlan {
            plan,
            building_id,
            colour,
            due,
        })
    }

    pub async fn cadence(&self) -> Result<Cadence, VisitsError> {
        let row = sqlx::query(
            "SELECT red_days, orange_days, yellow_days, blue_days, green_days, default_days FROM cadence_policy WHERE id = 1",
        )
        .fetch_one(self.db.pool())
        .await?;
        Ok(Cadence {
            red: row.try_get("red_days")?,
            orange: row.try_get("orange_days")?,
            yellow: row.try_get("yellow_days")?,
            blue: row.try_get("blue_days")?,
            green: row.try_get("green_days")?,
            ungraded: row.try_get("default_days")?,
        })
    }

    pub fn cadence_policy_name(&self) -> String {
        format!("{}/cadencePolicy", self.names.district())
    }

    pub async fn update_cadence(
        &self,
        call: &Call,
        cadence: Cadence,
    ) -> Result<CadencePolicy, VisitsError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            sqlx::query(
                "UPDATE cadence_policy SET red_days = $1, orange_days = $2, yellow_days = $3, blue_days = $4, \
                 green_days = $5, default_days = $6, updated_at = $7 WHERE id = 1",
            )
            .bind(cadence.red)
            .bind(cadence.orange)
            .bind(cadence.yellow)
            .bind(cadence.blue)
            .bind(cadence.green)
            .bind(cadence.ungraded)
            .bind(louyu_kit::time::now_micros())
            .execute(&mut *transaction)
            .await?;
            let name = self.cadence_policy_name();
            let policy = cadence.to_policy(name.clone());
            self.finish(transaction, call, &name, &policy, Vec::new())
                .await?;
            Ok(policy)
        })
        .await
    }
}
