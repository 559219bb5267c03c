//! Retention cases, opened, updated and closed by the risk feed's changes
//! of colour; read within the caller's reach.

use louyu_kit::feed::NewEvent;
use louyu_kit::filter::{self, Comparison, FieldKind, FilterField, SqlQuery, SqlValue};
use louyu_kit::page::PageQuery;
use louyu_kit::scope::{Reach, ScopeSql};
use louyu_kit::time::timestamp_from_micros;
use louyu_proto::common::v1::RiskColour;
use louyu_proto::referral::v1::{self as proto, RetentionCaseChanged, RetentionCaseState};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::Store;
use super::notifications;
use crate::domain::DirectoryEntry;
use crate::domain::calendar::hours_after;
use crate::domain::notification::{self, Kind};
use crate::domain::retention::{self, CaseChange};
use crate::domain::rules::{Rules, Within};
use crate::error::ReferralError;

/// Which cases a caller reads: as referrals, by building, enterprise,
/// sub-district, or a department that acts on it.
const RETENTION_CASES: ScopeSql = ScopeSql {
    own_assignments: Some(louyu_kit::own_assignments_sql!(
        "retention_cases.building_id",
        "retention_cases.uscc"
    )),
    own_sub_district: Some(louyu_kit::own_sub_district_buildings_sql!(
        "retention_cases.building_id"
    )),
    own_department: Some(
        "retention_cases.id IN (SELECT case_id FROM retention_case_departments WHERE department_id = ?)",
    ),
};

const COLUMNS: &str = "id, uscc, building_id, colour, state, response, due_at, close_reason, rules_version, \
     score, created_at, updated_at, closed_at";

const OPEN: i64 = RetentionCaseState::Open as i64;
const CLOSED: i64 = RetentionCaseState::Closed as i64;

/// An enterprise's colour as the risk feed says it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColourChange {
    pub uscc: String,
    /// Empty when it is in no building.
    pub building_id: String,
    /// The colour the district acts on.
    pub colour: RiskColour,
    pub score: i32,
    pub rules_version: String,
}

impl Store {
    fn case_name(&self, id: &str) -> String {
        self.names.name("retentionCases", id)
    }

    /// What `change` does to the enterprise's open case, if it has one:
    /// the case's id and colour, locked for the transaction.
    pub async fn case_change(
        &self,
        connection: &mut AnyConnection,
        change: &ColourChange,
    ) -> Result<(Option<String>, CaseChange), ReferralError> {
        let lock = self
            .db
            .row_lock(louyu_kit::db::RowLock::ForUpdate, "retention_cases");
        let open: Option<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, colour FROM retention_cases WHERE uscc = $1 AND state = {OPEN}{lock}"
        )))
        .bind(&change.uscc)
        .fetch_optional(&mut *connection)
        .await?;
        let colour = open.as_ref().map(|(_, colour)| {
            RiskColour::try_from(*colour as i32).unwrap_or(RiskColour::Unspecified)
        });
        Ok((
            open.map(|(id, _)| id),
            retention::change(colour, change.colour),
        ))
    }

    /// The sub-district managing a building, as the registry's feed said.
    pub async fn sub_district_of(
        &self,
        connection: &mut AnyConnection,
        building_id: &str,
    ) -> Result<String, ReferralError> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT sub_district_id FROM scope_buildings WHERE building_id = $1",
        )
        .bind(building_id)
        .fetch_optional(&mut *connection)
        .await?;
        Ok(found.unwrap_or_default())
    }

    /// Makes `decided` happen to the enterprise's case, in the consumer's
    /// transaction, with the playbook's response and departments (resolved
    /// in `directory`) where the colour asks for one. Returns the event.
    pub async fn change_case(
        &self,
        connection: &mut AnyConnection,
        open: Option<String>,
        decided: CaseChange,
        change: &ColourChange,
        directory: &[DirectoryEntry],
    ) -> Result<Option<NewEvent>, ReferralError> {
        let now = louyu_kit::time::now_micros();
        let (rules, _) = self.rules_in_force(connection).await?;
        let responded = matches!(
            decided,
            CaseChange::Open | CaseChange::Update { respond: true }
        );
        let id = match (decided, open) {
            (CaseChange::Nothing, _) => return Ok(None),
            (CaseChange::Open, _) => {
                let id = louyu_kit::names::generate_id("rc");
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO retention_cases (id, uscc, building_id, colour, state, response, due_at, \
                     close_reason, rules_version, score, created_at, updated_at) \
                     VALUES ($1, $2, $3, 0, {OPEN}, '', 0, '', '', 0, $4, $4)"
                )))
                .bind(&id)
                .bind(&change.uscc)
                .bind(&change.building_id)
                .bind(now)
                .execute(&mut *connection)
                .await?;
                self.respond(connection, &id, change, &rules, directory, now)
                    .await?;
                id
            }
            (CaseChange::Update { respond }, Some(id)) => {
                if respond {
                    self.respond(connection, &id, change, &rules, directory, now)
                        .await?;
                } else {
                    self.note_colour(connection, &id, change, now).await?;
                }
                id
            }
            (CaseChange::Close, Some(id)) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE retention_cases SET state = {CLOSED}, colour = $1, close_reason = $2, score = $3, \
                     rules_version = $4, updated_at = $5, closed_at = $5 WHERE id = $6"
                )))
                .bind(i64::from(change.colour as i32))
                .bind(retention::close_reason(change.colour))
                .bind(i64::from(change.score))
                .bind(&change.rules_version)
                .bind(now)
                .bind(&id)
                .execute(&mut *connection)
                .await?;
                id
            }
            (CaseChange::Update { .. } | CaseChange::Close, None) => return Ok(None),
        };
        let case = self.case_in(connection, &id).await?;
        if responded {
            notifications::enqueue(
                connection,
                Kind::RetentionCase,
                &case.name,
                &notification::retention_case(&case),
            )
            .await?;
        }
        let name = case.name.clone();
        Ok(Some(NewEvent::new(
            &name,
            &RetentionCaseChanged {
                retention_case: Some(case),
            },
        )))
    }

    /// Sets the case's colour with the playbook's response to it: what to
    /// do, who, and by when (from `now`).
    async fn respond(
        &self,
        connection: &mut AnyConnection,
        id: &str,
        change: &ColourChange,
        rules: &Rules,
        directory: &[DirectoryEntry],
        now: i64,
    ) -> Result<(), ReferralError> {
        let Some(response) = rules.response_to(change.colour) else {
            return self.note_colour(connection, id, change, now).await;
        };
        let due = match response.within {
            Within::Hours(hours) => hours_after(now, hours),
            Within::WorkingDays(days) => rules.calendar().due_after(now, days),
        };
        let sub_district = self
            .sub_district_of(connection, &change.building_id)
            .await?;
        let departments = Rules::resolve(&response.targets, &sub_district, directory);
        sqlx::query(
            "UPDATE retention_cases SET colour = $1, response = $2, due_at = $3, score = $4, rules_version = $5, \
             building_id = $6, updated_at = $7 WHERE id = $8",
        )
        .bind(i64::from(change.colour as i32))
        .bind(&response.text)
        .bind(due)
        .bind(i64::from(change.score))
        .bind(&change.rules_version)
        .bind(&change.building_id)
        .bind(now)
        .bind(id)
        .execute(&mut *connection)
        .await?;
        sqlx::query("DELETE FROM retention_case_departments WHERE case_id = $1")
            .bind(id)
            .execute(&mut *connection)
            .await?;
        for (position, department) in departments.iter().enumerate() {
            sqlx::query(
                "INSERT INTO retention_case_departments (case_id, department_id, position) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(department)
            .bind(position as i64)
            .execute(&mut *connection)
            .await?;
        }
        Ok(())
    }

    /// The case takes the colour, keeping its response and due time.
    async fn note_colour(
        &self,
        connection: &mut AnyConnection,
        id: &str,
        change: &ColourChange,
        now: i64,
    ) -> Result<(), ReferralError> {
        sqlx::query(
            "UPDATE retention_cases SET colour = $1, score = $2, rules_version = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(i64::from(change.colour as i32))
        .bind(i64::from(change.score))
        .bind(&change.rules_version)
        .bind(now)
        .bind(id)
        .execute(&mut *connection)
        .await?;
        Ok(())
    }

    async fn case_in(
        &self,
        connection: &mut AnyConnection,
        id: &str,
    ) -> Result<proto::RetentionCase, ReferralError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM retention_cases WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *connection)
        .await?
        .ok_or_else(|| ReferralError::not_found(self.case_name(id)))?;
        let mut cases = vec![self.case_from_row(&row)?];
        self.fill_case_departments(connection, &mut cases).await?;
        Ok(cases.remove(0))
    }

    async fn fill_case_departments(
        &self,
        connection: &mut AnyConnection,
        cases: &mut [proto::RetentionCase],
    ) -> Result<(), ReferralError> {
        if cases.is_empty() {
            return Ok(());
        }
        let mut query = SqlQuery::new(
            "SELECT case_id, department_id FROM retention_case_departments WHERE case_id IN (",
        );
        for (index, case) in cases.iter().enumerate() {
            if index > 0 {
                query.push(", ");
            }
            query.push_value(SqlValue::Text(
                louyu_kit::names::last_id(&case.name).to_owned(),
            ));
        }
        query.push(") ORDER BY case_id, position");
        for row in query.build().fetch_all(&mut *connection).await? {
            let case_id: String = row.try_get("case_id")?;
            let department: String = row.try_get("department_id")?;
            if let Some(case) = cases
                .iter_mut()
                .find(|case| louyu_kit::names::last_id(&case.name) == case_id)
            {
                case.departments.push(self.names.department(&department));
            }
        }
        Ok(())
    }

    fn case_from_row(&self, row: &AnyRow) -> Result<proto::RetentionCase, ReferralError> {
        let id: String = row.try_get("id")?;
        let building: String = row.try_get("building_id")?;
        let closed_at: Option<i64> = row.try_get("closed_at")?;
        Ok(proto::RetentionCase {
            name: self.case_name(&id),
            enterprise: self.names.enterprise(&row.try_get::<String, _>("uscc")?),
            building: if building.is_empty() {
                String::new()
            } else {
                self.names.building(&building)
            },
            colour: row.try_get::<i64, _>("colour")? as i32,
            state: row.try_get::<i64, _>("state")? as i32,
            response: row.try_get("response")?,
            departments: Vec::new(),
            due_time: Some(timestamp_from_micros(row.try_get("due_at")?)),
            close_reason: row.try_get("close_reason")?,
            rules_version: row.try_get("rules_version")?,
            score: row.try_get::<i64, _>("score")? as i32,
            create_time: Some(timestamp_from_micros(row.try_get("created_at")?)),
            update_time: Some(timestamp_from_micros(row.try_get("updated_at")?)),
            close_time: closed_at.map(timestamp_from_micros),
        })
    }

    /// Gets a case within the caller's reach.
    pub async fn get_case(
        &self,
        id: &str,
        reach: &Reach,
    ) -> Result<proto::RetentionCase, ReferralError> {
        let mut query = SqlQuery::new(&format!(
            "SELECT {COLUMNS} FROM retention_cases WHERE id = "
        ));
        query.push_value(SqlValue::Text(id.to_owned()));
        reach.push_condition(&mut query, &RETENTION_CASES);
        let mut connection = self.db.pool().acquire().await?;
        let row = query
            .build()
            .fetch_optional(&mut *connection)
            .await?
            .ok_or_else(|| ReferralError::not_found(self.case_name(id)))?;
        let mut cases = vec![self.case_from_row(&row)?];
        self.fill_case_departments(&mut connection, &mut cases)
            .await?;
        Ok(cases.remove(0))
    }

    /// Lists cases within the caller's reach, by id.
    pub async fn list_cases(
        &self,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<proto::RetentionCase>, String), ReferralError> {
        let mut query = SqlQuery::new(&format!(
            "SELECT {COLUMNS} FROM retention_cases WHERE 1 = 1"
        ));
        reach.push_condition(&mut query, &RETENTION_CASES);
        filter::push_conditions(&page.comparisons, CASE_FILTERS, &mut query)?;
        let (mut cases, next) = louyu_kit::page::fetch_page(
            self.db.pool(),
            &self.page_tokens,
            query,
            "id",
            louyu_kit::page::Order::Ascending,
            page,
            |row: &AnyRow| self.case_from_row(row),
            |case| louyu_kit::names::last_id(&case.name).to_owned(),
        )
        .await?;
        let mut connection = self.db.pool().acquire().await?;
        self.fill_case_departments(&mut connection, &mut cases)
            .await?;
        Ok((cases, next))
    }
}

fn state_number(name: &str) -> Option<i32> {
    RetentionCaseState::from_str_name(name)
        .or_else(|| RetentionCaseState::from_str_name(&format!("RETENTION_CASE_STATE_{name}")))
        .map(|state| state as i32)
}

fn colour_number(name: &str) -> Option<i32> {
    RiskColour::from_str_name(name)
        .or_else(|| RiskColour::from_str_name(&format!("RISK_COLOUR_{name}")))
        .map(|colour| colour as i32)
}

fn enterprise_filter(
    comparison: &Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    filter::push_enterprise_condition(comparison, "retention_cases.uscc", query)
}

fn building_filter(
    comparison: &Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    filter::push_resource_id_condition(comparison, "retention_cases.building_id", query)
}

const CASE_FILTERS: &[FilterField] = &[
    FilterField {
        name: "state",
        column: "retention_cases.state",
        kind: FieldKind::Enum(state_number),
    },
    FilterField {
        name: "colour",
        column: "retention_cases.colour",
        kind: FieldKind::Enum(colour_number),
    },
    FilterField {
        name: "enterprise",
        column: "retention_cases.uscc",
        kind: FieldKind::Custom(enterprise_filter),
    },
    FilterField {
        name: "building",
        column: "retention_cases.building_id",
        kind: FieldKind::Custom(building_filter),
    },
];
