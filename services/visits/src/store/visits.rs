use louyu_kit::feed::NewEvent;
use louyu_kit::filter::{self, FieldKind, FilterField, SqlQuery, SqlValue};
use louyu_kit::mutation::Mutations;
use louyu_kit::names::last_id;
use louyu_kit::page::{self, ChildRows, Order, PageQuery};
use louyu_kit::scope::Reach;
use louyu_proto::visits::v1::*;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::scope::{self, Place};
use super::{Call, DemandInput, Store, int32, timestamp};
use crate::error::VisitsError;

/// A visit, parsed and checked against the registry.
#[derive(Debug, Clone)]
pub struct VisitInput {
    pub building_id: String,
    /// The building's managing sub-district as the registry answered it,
    /// once it has; until then the registry's feed says.
    pub sub_district_id: Option<String>,
    pub staff_ids: Vec<String>,
    pub visit_time: i64,
    pub kind: VisitKind,
    pub notes: String,
    pub observations: Vec<ObservationInput>,
}

/// What was observed of one enterprise, parsed.
#[derive(Debug, Clone)]
pub struct ObservationInput {
    pub uscc: String,
    pub lease_months_left: Option<i64>,
    pub lease_renewed: bool,
    pub relocation_intent: RelocationIntent,
    pub relocation_destination: String,
    pub expansion_need: bool,
    pub expansion_fit: ExpansionFit,
    pub headcount_trend: Trend,
    pub business_trend: Trend,
    pub satisfaction: i64,
    pub notes: String,
}

impl VisitInput {
    /// Where the visit records something: its building with each
    /// enterprise met or raising a demand on it, or the building alone when
    /// it names none. A field worker who covers single enterprises of a
    /// building records visits that name only those.
    pub fn places(&self, demands: &[DemandInput]) -> Vec<Place> {
        let mut usccs: Vec<&str> = Vec::new();
        let named = self
            .observations
            .iter()
            .map(|observation| observation.uscc.as_str())
            .chain(demands.iter().map(|demand| demand.uscc.as_str()));
        for uscc in named {
            if !usccs.contains(&uscc) {
                usccs.push(uscc);
            }
        }
        let place = |uscc: Option<&str>| Place {
            building_id: Some(self.building_id.clone()),
            uscc: uscc.map(str::to_owned),
            sub_district_id: self.sub_district_id.clone(),
        };
        if usccs.is_empty() {
            return vec![place(None)];
        }
        usccs.into_iter().map(|uscc| place(Some(uscc))).collect()
    }
}

impl Store {
    /// Whether the call may record `visit` and raise `demands` on it,
    /// judged before the registry is asked, so that a caller out of reach
    /// learns nothing from its answers. [`Store::submit_visit`] judges again
    /// in its transaction.
    pub async fn check_visit_reach(
        &self,
        call: &Call,
        visit: &VisitInput,
        demands: &[DemandInput],
    ) -> Result<(), VisitsError> {
        // A building the registry's feed has not brought yet (one created a
        // moment ago) cannot be judged here; it is judged on the registry's
        // own answer, which the registry gives within the caller's scope,
        // in the transaction of the visit.
        let seen = sqlx::query("SELECT 1 FROM scope_buildings WHERE building_id = $1")
            .bind(&visit.building_id)
            .fetch_optional(self.db.pool())
            .await?;
        if seen.is_none() && visit.sub_district_id.is_none() {
            return Ok(());
        }
        self.check_places(
            call,
            scope::GET_VISIT,
            &visit.places(demands),
            &self.names.building(&visit.building_id),
        )
        .await
    }

    /// Records a visit, its observations and its demands, and moves the
    /// visited enterprises' plans forward, in one transaction.
    pub async fn submit_visit(
        &self,
        call: &Call,
        visit: VisitInput,
        demands: Vec<DemandInput>,
    ) -> Result<SubmitVisitResponse, VisitsError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.check_places_in(
                &mut transaction,
                call,
                scope::GET_VISIT,
                &visit.places(&demands),
                &self.names.building(&visit.building_id),
            )
            .await?;
            let id = louyu_kit::names::generate_time_ordered_id("v");
            let now = louyu_kit::time::now_micros();
            sqlx::query("INSERT INTO visits (id, building_id, visit_time, kind, notes, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&id)
                .bind(&visit.building_id)
                .bind(visit.visit_time)
                .bind(i64::from(visit.kind as i32))
                .bind(&visit.notes)
                .bind(now)
                .execute(&mut *transaction)
                .await?;
            for (position, staff_id) in visit.staff_ids.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO visit_staff (visit_id, staff_id, position) VALUES ($1, $2, $3)",
                )
                .bind(&id)
                .bind(staff_id)
                .bind(position as i64)
                .execute(&mut *transaction)
                .await?;
            }
            for (position, observation) in visit.observations.iter().enumerate() {
                insert_observation(&mut transaction, &id, position, observation).await?;
                self.record_visit_on_plan(
                    &mut transaction,
                    &observation.uscc,
                    &visit.building_id,
                    visit.visit_time,
                )
                .await?;
            }
            let mut events = Vec::new();
            let mut raised = Vec::new();
            for demand in demands {
                let linked = self
                    .raise_demand(&mut transaction, &call.context, &demand, Some(&id))
                    .await?;
                if let Some(event) = linked.event {
                    events.push(event);
                }
                raised.push(linked.demand);
            }
            let recorded = self
                .visit_in(&mut transaction, &id, &Reach::District)
                .await?;
            events.insert(
                0,
                NewEvent::new(
                    &recorded.name,
                    &VisitRecorded {
                        visit: Some(recorded.clone()),
                    },
                ),
            );
            let response = SubmitVisitResponse {
                visit: Some(recorded),
                demands: raised,
            };
            let name = self.names.name("visits", &id);
            self.finish(transaction, call, &name, &response, events)
                .await?;
            Ok(response)
        })
        .await
    }

    /// A visit within `reach`; out of it, NOT_FOUND as if it did not exist.
    pub async fn get_visit(&self, id: &str, reach: &Reach) -> Result<Visit, VisitsError> {
        let mut connection = self.db.pool().acquire().await?;
        self.visit_in(&mut connection, id, reach).await
    }

    async fn visit_in(
        &self,
        connection: &mut AnyConnection,
        id: &str,
        reach: &Reach,
    ) -> Result<Visit, VisitsError> {
        let mut query = SqlQuery::new(
            "SELECT id, building_id, visit_time, kind, notes, created_at FROM visits WHERE id = ",
        );
        query.push_value(SqlValue::Text(id.to_owned()));
        reach.push_condition(&mut query, &scope::VISITS);
        let row = query
            .build()
            .fetch_optional(&mut *connection)
            .await?
            .ok_or_else(|| VisitsError::not_found(self.names.name("visits", id)))?;
        let mut visit = self.visit_from_row(&row)?;
        self.fill_visits(connection, std::slice::from_mut(&mut visit))
            .await?;
        Ok(visit)
    }

    /// Fills the staff, observations and demands of a page of visits: one
    /// query per child table for the whole page.
    async fn fill_visits(
        &self,
        connection: &mut AnyConnection,
        visits: &mut [Visit],
    ) -> Result<(), VisitsError> {
        let ids: Vec<String> = visits
            .iter()
            .map(|visit| last_id(&visit.name).to_owned())
            .collect();
        let mut staff = ChildRows::fetch(
            &mut *connection,
            "SELECT visit_id, staff_id FROM visit_staff WHERE 1 = 1",
            "visit_id",
            &ids,
            "position",
        )
        .await?;
        let mut observations = ChildRows::fetch(
            &mut *connection,
            "SELECT visit_id, uscc, lease_months_left, lease_renewed, relocation_intent, relocation_destination, \
             expansion_need, expansion_fit, headcount_trend, business_trend, satisfaction, notes FROM observations \
             WHERE 1 = 1",
            "visit_id",
            &ids,
            "position",
        )
        .await?;
        let mut demands = ChildRows::fetch(
            &mut *connection,
            "SELECT visit_id, demand_id FROM demand_reports WHERE 1 = 1",
            "visit_id",
            &ids,
            "id",
        )
        .await?;
        for (visit, id) in visits.iter_mut().zip(&ids) {
            visit.staff = staff.take_as(id, |row| -> Result<_, VisitsError> {
                Ok(self
                    .names
                    .name("staff", &row.try_get::<String, _>("staff_id")?))
            })?;
            visit.observations = observations.take_as(id, |row| self.observation_from_row(row))?;
            visit.demands = demands.take_as(id, |row| -> Result<_, VisitsError> {
                Ok(self
                    .names
                    .name("demands", &row.try_get::<String, _>("demand_id")?))
            })?;
        }
        Ok(())
    }

    /// A page of the visits within `reach`.
    pub async fn list_visits(
        &self,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<Visit>, String), VisitsError> {
        let mut query = SqlQuery::new(
            "SELECT id, building_id, visit_time, kind, notes, created_at FROM visits WHERE 1 = 1",
        );
        reach.push_condition(&mut query, &scope::VISITS);
        filter::push_conditions(&page.comparisons, VISIT_FILTERS, &mut query)?;
        let (mut visits, next) = page::fetch_page(
            self.db.pool(),
            &self.page_tokens,
            query,
            "id",
            Order::Descending,
            page,
            |row| self.visit_from_row(row),
            |visit: &Visit| last_id(&visit.name).to_owned(),
        )
        .await?;
        let mut connection = self.db.pool().acquire().await?;
        self.fill_visits(&mut connection, &mut visits).await?;
        Ok((visits, next))
    }

    fn visit_from_row(&self, row: &AnyRow) -> Result<Visit, VisitsError> {
        let id: String = row.try_get("id")?;
        let building_id: String = row.try_get("building_id")?;
        let visit_time: i64 = row.try_get("visit_time")?;
        Ok(Visit {
            name: self.names.name("visits", &id),
            building: self.names.name("buildings", &building_id),
            staff: Vec::new(),
            visit_time: timestamp(visit_time),
            local_visit_time: crate::domain::shanghai_time(visit_time),
            kind: int32(row, "kind")?,
            notes: row.try_get("notes")?,
            observations: Vec::new(),
            demands: Vec::new(),
            create_time: timestamp(row.try_get("created_at")?),
        })
    }

    fn observation_from_row(&self, row: &AnyRow) -> Result<Observation, VisitsError> {
        let uscc: String = row.try_get("uscc")?;
        let months: Option<i64> = row.try_get("lease_months_left")?;
        let flag =
            |column: &str| -> Result<bool, VisitsError> { Ok(row.try_get::<i64, _>(column)? == 1) };
        Ok(Observation {
            enterprise: self.names.name("enterprises", &uscc),
            lease_months_left: months.map(|months| i32::try_from(months).unwrap_or(i32::MAX)),
            lease_renewed: flag("lease_renewed")?,
            relocation_intent: int32(row, "relocation_intent")?,
            relocation_destination: row.try_get("relocation_destination")?,
            expansion_need: flag("expansion_need")?,
            expansion_fit: int32(row, "expansion_fit")?,
            headcount_trend: int32(row, "headcount_trend")?,
            business_trend: int32(row, "business_trend")?,
            satisfaction: int32(row, "satisfaction")?,
            notes: row.try_get("notes")?,
        })
    }
}

async fn insert_observation(
    connection: &mut AnyConnection,
    visit_id: &str,
    position: usize,
    observation: &ObservationInput,
) -> Result<(), VisitsError> {
    sqlx::query(
        "INSERT INTO observations (visit_id, uscc, position, lease_months_left, lease_renewed, relocation_intent, \
         relocation_destination, expansion_need, expansion_fit, headcount_trend, business_trend, satisfaction, notes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(visit_id)
    .bind(&observation.uscc)
    .bind(position as i64)
    .bind(observation.lease_months_left)
    .bind(i64::from(observation.lease_renewed))
    .bind(i64::from(observation.relocation_intent as i32))
    .bind(&observation.relocation_destination)
    .bind(i64::from(observation.expansion_need))
    .bind(i64::from(observation.expansion_fit as i32))
    .bind(i64::from(observation.headcount_trend as i32))
    .bind(i64::from(observation.business_trend as i32))
    .bind(observation.satisfaction)
    .bind(&observation.notes)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// `staff = "districts/d/staff/s"`: visits that member of staff made.
fn staff_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    subquery_filter(
        comparison,
        query,
        "SELECT visit_id FROM visit_staff WHERE staff_id = ",
        str::to_owned,
    )
}

/// `enterprise = "districts/d/enterprises/u"`: visits that met it.
fn enterprise_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    subquery_filter(
        comparison,
        query,
        "SELECT visit_id FROM observations WHERE uscc = ",
        filter::normalise_uscc,
    )
}

fn subquery_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
    subquery: &str,
    normalise: fn(&str) -> String,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    let id = normalise(last_id(filter::quoted_name(comparison)?));
    let negate = if comparison.op == filter::Op::Ne {
        "NOT "
    } else {
        ""
    };
    query
        .push(" AND id ")
        .push(negate)
        .push("IN (")
        .push(subquery)
        .push_value(SqlValue::Text(id))
        .push(")");
    Ok(())
}

/// `visit_time >= "2026-11-01T00:00:00+08:00"`.
fn visit_time_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    crate::store::demands::instant_condition(comparison, "visit_time", query)
}

const VISIT_FILTERS: &[FilterField] = &[
    FilterField {
        name: "building",
        column: "building_id",
        kind: FieldKind::Custom(|comparison, query| {
            filter::push_resource_id_condition(comparison, "building_id", query)
        }),
    },
    FilterField {
        name: "staff",
        column: "",
        kind: FieldKind::Custom(staff_filter),
    },
    FilterField {
        name: "enterprise",
        column: "",
        kind: FieldKind::Custom(enterprise_filter),
    },
    FilterField {
        name: "visit_time",
        column: "visit_time",
        kind: FieldKind::Custom(visit_time_filter),
    },
];
