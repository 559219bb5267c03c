//! Referrals: opened once per demand (the unique index on `demand_id`
//! holds that however often the demand's event arrives and however many
//! calls race), moved under a row lock by [`crate::domain::referral::apply`],
//! read within the caller's reach.

use std::collections::HashMap;

use louyu_kit::audit::RequestContext;
use louyu_kit::db::RowLock;
use louyu_kit::feed::NewEvent;
use louyu_kit::filter::{self, Comparison, FieldKind, FilterField, SqlQuery, SqlValue};
use louyu_kit::page::PageQuery;
use louyu_kit::scope::{Reach, ScopeSql, WriteDenied};
use louyu_kit::time::timestamp_from_micros;
use louyu_proto::common::v1::{DemandCategory, RiskColour};
use louyu_proto::referral::v1::{self as proto, ReferralState as State};
use louyu_proto::visits::v1::Urgency;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Call, Mutations, Store, notifications};
use crate::domain::Rules;
use crate::domain::notification::{self, Kind};
use crate::domain::referral::{self, Acting, Move, Record, Refusal, Step};
use crate::domain::state;
use crate::error::ReferralError;
use crate::events;

/// The Get whose reach tells PERMISSION_DENIED from NOT_FOUND for a move.
const GET_REFERRAL: &str = "/louyu.referral.v1.ReferralService/GetReferral";

/// Which referrals a caller reads: by the enterprise's building or the
/// enterprise assigned by name, the building's sub-district, or a
/// department it is addressed to.
pub const REFERRALS: ScopeSql = ScopeSql {
    own_assignments: Some(louyu_kit::own_assignments_sql!(
        "referrals.building_id",
        "referrals.uscc"
    )),
    own_sub_district: Some(louyu_kit::own_sub_district_buildings_sql!(
        "referrals.building_id"
    )),
    own_department: Some(
        "referrals.id IN (SELECT referral_id FROM referral_departments WHERE department_id = ?)",
    ),
};

/// Which demands a caller may open a referral for by hand.
const DEMANDS: ScopeSql = ScopeSql {
    own_assignments: Some(louyu_kit::own_assignments_sql!(
        "demands_seen.building_id",
        "demands_seen.uscc"
    )),
    own_sub_district: Some(louyu_kit::own_sub_district_buildings_sql!(
        "demands_seen.building_id"
    )),
    own_department: None,
};

/// Which referrals a caller may move: as [`REFERRALS`], except that of
/// the departments only the lead moves it (it answers for the whole).
const LED_REFERRALS: ScopeSql = ScopeSql {
    own_department: Some("referrals.lead_department = ?"),
    ..REFERRALS
};

const COLUMNS: &str = "id, demand_id, part_of, split, uscc, building_id, sub_district_id, category, urgency, description, \
     state, round, lead_department, dispatched_at, accept_due, first_contact_due, complete_due, complete_days, \
     accepted_at, first_contact_at, completed_at, breached, escalation_level, outcome, failure_reason, \
     rejection, rejection_count, confirmation, warned, suspension, exclusion, rules_version, offered_units, \
     inbox_key, created_at, updated_at";

/// What the visits feed said of a demand, which a referral is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemandFacts {
    pub demand_id: String,
    pub uscc: String,
    pub building_id: String,
    pub sub_district_id: String,
    pub category: DemandCategory,
    pub urgency: Urgency,
    pub description: String,
}

/// What opening a referral for a demand did.
#[derive(Debug)]
pub enum Opened {
    /// A new referral, with its event.
    New(Box<proto::Referral>, NewEvent),
    /// The demand had one already: its id.
    Existing(String),
}

/// Which of a department's open referrals (`ListDepartmentReferrals`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbox {
    Open,
    Pending,
    Overdue,
    Warned,
}

/// The states a department works in: its inbox.
const DEPARTMENT_STATES: [State; 5] = [
    State::Requested,
    State::Accepted,
    State::InProgress,
    State::OnHold,
    State::Reopened,
];

fn overdue_sql(now: i64) -> String {
    format!(
        "((referrals.accepted_at IS NULL AND referrals.accept_due < {now}) \
         OR (referrals.first_contact_at IS NULL AND referrals.first_contact_due < {now}) \
         OR (referrals.completed_at IS NULL AND referrals.complete_due < {now}))"
    )
}

fn states_sql(states: &[State]) -> String {
    states
        .iter()
        .map(|state| (*state as i32).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    fn referral_name(&self, id: &str) -> String {
        self.names.name("referrals", id)
    }

    /// Remembers what the visits feed said of a demand.
    pub async fn remember_demand(
        &self,
        connection: &mut AnyConnection,
        facts: &DemandFacts,
        status: i32,
    ) -> Result<(), ReferralError> {
        sqlx::query(
            "INSERT INTO demands_seen (demand_id, uscc, building_id, sub_district_id, category, urgency, description, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (demand_id) DO UPDATE SET status = excluded.status",
        )
        .bind(&facts.demand_id)
        .bind(&facts.uscc)
        .bind(&facts.building_id)
        .bind(&facts.sub_district_id)
        .bind(i64::from(facts.category as i32))
        .bind(i64::from(facts.urgency as i32))
        .bind(&facts.description)
        .bind(i64::from(status))
        .execute(&mut *connection)
        .await?;
        Ok(())
    }

    /// What the visits feed said of a demand, if it said anything.
    pub async fn demand_facts(
        &self,
        demand_id: &str,
    ) -> Result<Option<DemandFacts>, ReferralError> {
        let row = sqlx::query(
            "SELECT demand_id, uscc, building_id, sub_district_id, category, urgency, description \
             FROM demands_seen WHERE demand_id = $1",
        )
        .bind(demand_id)
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(facts_from_row).transpose()
    }

    /// What the visits feed said of a demand, when it lies within `reach`
    /// (by its building or enterprise, or its building's sub-district).
    pub async fn demand_within(
        &self,
        demand_id: &str,
        reach: &Reach,
    ) -> Result<Option<DemandFacts>, ReferralError> {
        let mut query = SqlQuery::new("SELECT 1 FROM demands_seen WHERE demand_id = ");
        query.push_value(SqlValue::Text(demand_id.to_owned()));
        reach.push_condition(&mut query, &DEMANDS);
        if query
            .build()
            .fetch_optional(self.db.pool())
            .await?
            .is_none()
        {
            return Ok(None);
        }
        self.demand_facts(demand_id).await
    }

    /// The demand facts a referral was made from.
    pub async fn facts_of_referral(&self, id: &str) -> Result<DemandFacts, ReferralError> {
        let row = sqlx::query(
            "SELECT demand_id, uscc, building_id, sub_district_id, category, urgency, description \
             FROM referrals WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(|| ReferralError::not_found(self.referral_name(id)))?;
        facts_from_row(&row)
    }

    /// The colour the district acts on for an enterprise, as the risk feed
    /// last said; unspecified before its first assessment.
    pub async fn colour_of(
        &self,
        connection: &mut AnyConnection,
        uscc: &str,
    ) -> Result<RiskColour, ReferralError> {
        let colour: Option<i64> =
            sqlx::query_scalar("SELECT colour FROM enterprise_colours WHERE uscc = $1")
                .bind(uscc)
                .fetch_optional(&mut *connection)
                .await?;
        Ok(colour
            .and_then(|colour| RiskColour::try_from(colour as i32).ok())
            .unwrap_or(RiskColour::Unspecified))
    }

    /// Remembers the colour the district acts on for an enterprise.
    pub async fn remember_colour(
        &self,
        connection: &mut AnyConnection,
        uscc: &str,
        colour: RiskColour,
    ) -> Result<(), ReferralError> {
        sqlx::query(
            "INSERT INTO enterprise_colours (uscc, colour) VALUES ($1, $2) \
             ON CONFLICT (uscc) DO UPDATE SET colour = excluded.colour",
        )
        .bind(uscc)
        .bind(i64::from(colour as i32))
        .execute(&mut *connection)
        .await?;
        Ok(())
    }

    /// The id of a demand's referral, if it has one.
    pub async fn referral_of_demand(
        &self,
        connection: &mut AnyConnection,
        demand_id: &str,
    ) -> Result<Option<String>, ReferralError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM referrals WHERE demand_id = $1 AND part_of = ''")
                .bind(demand_id)
                .fetch_optional(&mut *connection)
                .await?,
        )
    }

    /// Opens the referral of a demand, dispatched to `departments` (ids,
    /// the lead first; none leaves it to be routed by hand), unless the
    /// demand has one.
    pub async fn open(
        &self,
        connection: &mut AnyConnection,
        facts: &DemandFacts,
        departments: Vec<String>,
        offered: &[OfferedUnitRecord],
        acting: &Acting,
        note: String,
    ) -> Result<Opened, ReferralError> {
        let id = louyu_kit::names::generate_id("rf");
        self.open_part(
            connection,
            &id,
            facts,
            departments,
            offered,
            acting,
            note,
            None,
        )
        .await
    }

    /// [`Store::open`] as `id`, or with `part_of` a part of that (split)
    /// whole.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn open_part(
        &self,
        connection: &mut AnyConnection,
        id: &str,
        facts: &DemandFacts,
        departments: Vec<String>,
        offered: &[OfferedUnitRecord],
        acting: &Acting,
        note: String,
        part_of: Option<&str>,
    ) -> Result<Opened, ReferralError> {
        let (rules, _) = self.rules_in_force(connection).await?;
        let now = louyu_kit::time::now_micros();
        let colour = self.colour_of(connection, &facts.uscc).await?;
        let (mut record, step) = Record::open(
            facts.category,
            facts.urgency,
            colour,
            departments,
            &rules,
            now,
            acting,
            note,
        );
        record.part = part_of.is_some();
        let inserted = sqlx::query(
            "INSERT INTO referrals (id, demand_id, part_of, split, uscc, building_id, sub_district_id, category, urgency, description, \
             state, round, lead_department, complete_days, breached, escalation_level, outcome, failure_reason, \
             rejection_count, warned, rules_version, offered_units, inbox_key, created_at, updated_at) \
             VALUES ($1, $2, $11, 0, $3, $4, $5, $6, $7, $8, 0, 1, '', 0, '', 0, '', '', 0, 0, '', $10, $1, $9, $9) \
             ON CONFLICT (demand_id) WHERE part_of = '' DO NOTHING",
        )
        .bind(id)
        .bind(&facts.demand_id)
        .bind(&facts.uscc)
        .bind(&facts.building_id)
        .bind(&facts.sub_district_id)
        .bind(i64::from(facts.category as i32))
        .bind(i64::from(facts.urgency as i32))
        .bind(&facts.description)
        .bind(now)
        .bind(to_json(&offered)?)
        .bind(part_of.unwrap_or_default())
        .execute(&mut *connection)
        .await?;
        if inserted.rows_affected() == 0 {
            let existing = self
                .referral_of_demand(connection, &facts.demand_id)
                .await?
                .ok_or_else(|| ReferralError::Corrupt("a referral vanished".to_owned()))?;
            return Ok(Opened::Existing(existing));
        }
        self.save(
            connection,
            id,
            &record,
            &rules,
            std::slice::from_ref(&step),
            true,
        )
        .await?;
        let referral = self.load(connection, id).await?;
        if record.state == State::Requested {
            notifications::enqueue(
                connection,
                Kind::Dispatch,
                &referral.name,
                &notification::dispatch(&referral),
            )
            .await?;
        }
        let event = events::referral_changed(&referral);
        Ok(Opened::New(Box::new(referral), event))
    }

    /// Opens a referral by hand (`CreateReferral`).
    pub async fn create(
        &self,
        call: &Call,
        facts: DemandFacts,
        departments: Vec<String>,
        offered: Vec<OfferedUnitRecord>,
        note: String,
    ) -> Result<proto::Referral, ReferralError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let acting = acting_of(call);
            match self
                .open(
                    &mut transaction,
                    &facts,
                    departments,
                    &offered,
                    &acting,
                    note,
                )
                .await?
            {
                Opened::Existing(id) => Err(ReferralError::AlreadyExists(format!(
                    "该诉求已有转办 the demand has a referral already: {}",
                    self.referral_name(&id)
                ))),
                Opened::New(referral, event) => {
                    let name = referral.name.clone();
                    self.finish(transaction, call, &name, referral.as_ref(), vec![event])
                        .await?;
                    Ok(*referral)
                }
            }
        })
        .await
    }

    /// Makes a move a caller asked for: under the referral's row lock,
    /// within the caller's reach (of the departments, only the lead's),
    /// committed with its history, audit record and event.
    pub async fn make_move(
        &self,
        call: &Call,
        id: &str,
        movement: Move,
    ) -> Result<proto::Referral, ReferralError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.judge_move(&mut transaction, call, id).await?;
            let acting = acting_of(call);
            let (referral, changed) = self
                .move_in(&mut transaction, id, movement, &acting)
                .await?;
            let name = referral.name.clone();
            self.finish(transaction, call, &name, &referral, changed)
                .await?;
            Ok(referral)
        })
        .await
    }

    /// Locks the referral and judges the caller's move on it: within the
    /// call's reach (of the departments, only the lead's), else
    /// PERMISSION_DENIED where the caller may read it, else NOT_FOUND.
    pub(super) async fn judge_move(
        &self,
        connection: &mut AnyConnection,
        call: &Call,
        id: &str,
    ) -> Result<(), ReferralError> {
        self.lock(connection, id).await?;
        let within = |scope: &'static ScopeSql| {
            move |reach: &Reach| {
                let mut query = SqlQuery::new("SELECT 1 FROM referrals WHERE id = ");
                query.push_value(SqlValue::Text(id.to_owned()));
                reach.push_condition(&mut query, scope);
                query
            }
        };
        let judged = louyu_kit::scope::judge_write_as(
            connection,
            call,
            GET_REFERRAL,
            within(&LED_REFERRALS),
            within(&REFERRALS),
        )
        .await?;
        judged.map_err(|denied| match denied {
            WriteDenied::PermissionDenied => ReferralError::PermissionDenied(format!(
                "{} 只能由牵头部门或街道、区办理 is moved by its lead department, the sub-district or the district",
                self.referral_name(id)
            )),
            WriteDenied::NotFound => ReferralError::not_found(self.referral_name(id)),
        })?;
        Ok(())
    }

    /// Makes a move in the caller's transaction, the row locked already
    /// or the move made by the service itself (a feed, a job).
    pub async fn move_in(
        &self,
        connection: &mut AnyConnection,
        id: &str,
        movement: Move,
        acting: &Acting,
    ) -> Result<(proto::Referral, Vec<NewEvent>), ReferralError> {
        let row = self.lock(connection, id).await?;
        let mut record = record_from_row(&row)?;
        record.departments = self.departments_of(connection, id).await?;
        record.colour = self
            .colour_of(connection, &row.try_get::<String, _>("uscc")?)
            .await?;
        let (rules, _) = self.rules_in_force(connection).await?;
        let now = louyu_kit::time::now_micros();
        let step =
            referral::apply(&mut record, movement, &rules, now, acting).map_err(|refusal| {
                match refusal {
                    Refusal::State { action, state } => ReferralError::FailedPrecondition(format!(
                        "{} 当前状态为 {}，不能{} is {}: it cannot be moved by {}",
                        self.referral_name(id),
                        state::describe(state),
                        action.as_str(),
                        state::describe(state),
                        action.as_str()
                    )),
                    Refusal::Field { field, message } => {
                        louyu_kit::error::InvalidArgument::new(field, message).into()
                    }
                    Refusal::DistrictOnly(message) => ReferralError::PermissionDenied(message),
                    Refusal::Parts(message) => ReferralError::FailedPrecondition(format!(
                        "{}: {message}",
                        self.referral_name(id)
                    )),
                }
            })?;
        let dispatched = step.action == state::Action::Dispatch;
        self.save(
            connection,
            id,
            &record,
            &rules,
            std::slice::from_ref(&step),
            dispatched,
        )
        .await?;
        let referral = self.load(connection, id).await?;
        // A dispatch (re-routing) tells the departments; a reopening is the
        // warning (预警) a not-solved or dissatisfied answer raises.
        let notice = match step.action {
            state::Action::Dispatch => Some((Kind::Dispatch, notification::dispatch(&referral))),
            state::Action::Reopen => Some((Kind::Warning, notification::warning(&referral))),
            _ => None,
        };
        if let Some((kind, payload)) = notice {
            notifications::enqueue(connection, kind, &referral.name, &payload).await?;
        }
        let mut changed = vec![events::referral_changed(&referral)];
        if record.part {
            changed.extend(self.after_part(connection, id, &rules, now).await?);
        }
        if record.split {
            changed.extend(
                self.after_whole(connection, id, step.action, &rules, now, acting)
                    .await?,
            );
        }
        Ok((referral, changed))
    }

    /// Referrals the deadline scanner should look at by `now`, soonest
    /// first, at most `limit`.
    pub async fn due_for_watch(&self, now: i64, limit: i64) -> Result<Vec<String>, ReferralError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM referrals WHERE watch_at <= $1 ORDER BY watch_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?)
    }

    /// The referrals past a deadline at `now`, by lead department (the one
    /// that answers for the deadlines): those whose clocks run (not on
    /// hold, not split into parts, whose parts count instead) with an
    /// unmet due time passed, whether or not the scanner has marked the
    /// breach yet. A department with open referrals and none overdue is
    /// counted 0. One query over the open referrals (`referrals_by_state`).
    pub async fn count_overdue(&self, now: i64) -> Result<Vec<(String, u64)>, ReferralError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT lead_department, SUM(CASE WHEN {overdue} THEN 1 ELSE 0 END) AS overdue \
             FROM referrals WHERE state IN ({clocked}) AND split = 0 GROUP BY lead_department",
            overdue = overdue_sql(now),
            clocked = states_sql(&state::CLOCKED),
        )))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| -> Result<(String, u64), ReferralError> {
                let department: String = row.try_get("lead_department")?;
                let overdue: i64 = row.try_get("overdue")?;
                Ok((department, u64::try_from(overdue).unwrap_or_default()))
            })
            .collect()
    }

    /// Marks what ran out on one referral by `now` and sends it up, under
    /// its row lock, so that two replicas scanning at once breach and
    /// escalate it once: the second finds it done. Commits the history,
    /// the audit record and a `ReferralBreached` event per step. Returns
    /// how many steps were taken.
    pub async fn watch(&self, id: &str, now: i64) -> Result<usize, ReferralError> {
        let mut transaction = self.begin().await?;
        let row = self.lock(&mut transaction, id).await?;
        let mut record = record_from_row(&row)?;
        record.departments = self.departments_of(&mut transaction, id).await?;
        let (rules, _) = self.rules_in_force(&mut transaction).await?;
        let watched = referral::watch(&mut record, &rules, now);
        if watched.is_empty() {
            // Nothing ran out (another replica came first, or the clock
            // moved): look again when something can.
            sqlx::query("UPDATE referrals SET watch_at = $1 WHERE id = $2")
                .bind(referral::next_watch(&record, &rules))
                .bind(id)
                .execute(&mut *transaction)
                .await?;
            transaction.commit().await?;
            return Ok(0);
        }
        let steps: Vec<Step> = watched.iter().map(|(step, _)| step.clone()).collect();
        self.save(&mut transaction, id, &record, &rules, &steps, false)
            .await?;
        let referral = self.load(&mut transaction, id).await?;
        let context = RequestContext::system("deadlines");
        for step in &steps {
            louyu_kit::audit::record(
                &mut transaction,
                &context,
                if step.action == state::Action::Escalate {
                    "EscalateReferral"
                } else {
                    "BreachReferral"
                },
                &referral.name,
                "",
            )
            .await?;
        }
        for (step, clock) in &watched {
            let kind = if step.action == state::Action::Escalate {
                Kind::Escalation
            } else {
                Kind::Breach
            };
            notifications::enqueue(
                &mut transaction,
                kind,
                &referral.name,
                &notification::breach(&referral, clock),
            )
            .await?;
        }
        for (_, clock) in &watched {
            louyu_kit::feed::append(
                &mut transaction,
                &context,
                events::referral_breached(&referral, clock),
            )
            .await?;
        }
        self.db.commit_with_events(transaction).await?;
        Ok(steps.len())
    }

    /// The referral's row, locked for the transaction.
    pub(super) async fn lock(
        &self,
        connection: &mut AnyConnection,
        id: &str,
    ) -> Result<AnyRow, ReferralError> {
        let lock = self.db.row_lock(RowLock::ForUpdate, "referrals");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM referrals WHERE id = $1{lock}"
        )))
        .bind(id)
        .fetch_optional(&mut *connection)
        .await?
        .ok_or_else(|| ReferralError::not_found(self.referral_name(id)))
    }

    pub(super) async fn departments_of(
        &self,
        connection: &mut AnyConnection,
        id: &str,
    ) -> Result<Vec<String>, ReferralError> {
        Ok(sqlx::query_scalar(
            "SELECT department_id FROM referral_departments WHERE referral_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(&mut *connection)
        .await?)
    }

    /// Writes a record back with the step it took; `departments`: they
    /// changed (a dispatch).
    pub(super) async fn save(
        &self,
        connection: &mut AnyConnection,
        id: &str,
        record: &Record,
        rules: &Rules,
        steps: &[Step],
        departments: bool,
    ) -> Result<(), ReferralError> {
        let at = steps
            .last()
            .map_or_else(louyu_kit::time::now_micros, |step| step.at);
        let clocks = &record.clocks;
        let json = |value: Option<String>| value;
        sqlx::query(
            "UPDATE referrals SET state = $1, round = $2, lead_department = $3, dispatched_at = $4, accept_due = $5, \
             first_contact_due = $6, complete_due = $7, complete_days = $8, accepted_at = $9, first_contact_at = $10, \
             completed_at = $11, breached = $12, escalation_level = $13, outcome = $14, failure_reason = $15, \
             rejection = $16, rejection_count = $17, confirmation = $18, warned = $19, suspension = $20, \
             rules_version = $21, updated_at = $22, inbox_key = $24, watch_at = $25, exclusion = $26, split = $27 \
             WHERE id = $23",
        )
        .bind(i64::from(record.state as i32))
        .bind(i64::from(record.round))
        .bind(record.lead().unwrap_or(""))
        .bind(clocks.dispatched_at)
        .bind(clocks.accept_due)
        .bind(clocks.first_contact_due)
        .bind(clocks.complete_due)
        .bind(i64::from(clocks.complete_days))
        .bind(clocks.accepted_at)
        .bind(clocks.first_contact_at)
        .bind(clocks.completed_at)
        .bind(clocks.breached.join(" "))
        .bind(i64::from(clocks.escalation_level))
        .bind(&record.outcome)
        .bind(&record.failure_reason)
        .bind(json(record.rejection.as_ref().map(to_json).transpose()?))
        .bind(i64::from(record.rejection_count))
        .bind(json(record.confirmation.as_ref().map(to_json).transpose()?))
        .bind(i64::from(record.warned))
        .bind(json(record.suspension.as_ref().map(to_json).transpose()?))
        .bind(&record.rules_version)
        .bind(at)
        .bind(id)
        .bind(inbox_key(record, id))
        .bind(referral::next_watch(record, rules))
        .bind(record.exclusion.as_ref().map(to_json).transpose()?)
        .bind(i64::from(record.split))
        .execute(&mut *connection)
        .await?;
        if departments {
            sqlx::query("DELETE FROM referral_departments WHERE referral_id = $1")
                .bind(id)
                .execute(&mut *connection)
                .await?;
            for (position, department) in record.departments.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO referral_departments (referral_id, department_id, position) VALUES ($1, $2, $3)",
                )
                .bind(id)
                .bind(department)
                .bind(position as i64)
                .execute(&mut *connection)
                .await?;
            }
        }
        for step in steps {
            sqlx::query(
                "INSERT INTO referral_transitions (referral_id, position, from_state, to_state, action, actor, \
                 department_id, note, at) \
                 VALUES ($1, (SELECT COUNT(*) FROM referral_transitions WHERE referral_id = $1), $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id)
            .bind(i64::from(step.from as i32))
            .bind(i64::from(step.to as i32))
            .bind(step.action.as_str())
            .bind(&step.actor)
            .bind(&step.department)
            .bind(&step.note)
            .bind(step.at)
            .execute(&mut *connection)
            .await?;
        }
        Ok(())
    }

    /// A referral as the API shows it, read in `connection`.
    pub(super) async fn load(
        &self,
        connection: &mut AnyConnection,
        id: &str,
    ) -> Result<proto::Referral, ReferralError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM referrals WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *connection)
        .await?
        .ok_or_else(|| ReferralError::not_found(self.referral_name(id)))?;
        Ok(self
            .hydrate(connection, vec![row])
            .await?
            .pop()
            .expect("one row"))
    }

    /// Referrals from rows, with their departments and history read in
    /// one query each.
    async fn hydrate(
        &self,
        connection: &mut AnyConnection,
        rows: Vec<AnyRow>,
    ) -> Result<Vec<proto::Referral>, ReferralError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = rows
            .iter()
            .map(|row| row.try_get("id"))
            .collect::<Result<_, _>>()?;
        let mut departments: HashMap<String, Vec<proto::ReferredDepartment>> = HashMap::new();
        let mut query = SqlQuery::new(
            "SELECT referral_id, department_id, position FROM referral_departments WHERE referral_id IN (",
        );
        push_list(&mut query, &ids);
        query.push(") ORDER BY referral_id, position");
        for row in query.build().fetch_all(&mut *connection).await? {
            let referral_id: String = row.try_get("referral_id")?;
            let department: String = row.try_get("department_id")?;
            let position: i64 = row.try_get("position")?;
            departments
                .entry(referral_id)
                .or_default()
                .push(proto::ReferredDepartment {
                    department: self.names.department(&department),
                    lead: position == 0,
                });
        }
        let mut history: HashMap<String, Vec<proto::Transition>> = HashMap::new();
        let mut query = SqlQuery::new(
            "SELECT referral_id, from_state, to_state, action, actor, department_id, note, at \
             FROM referral_transitions WHERE referral_id IN (",
        );
        push_list(&mut query, &ids);
        query.push(") ORDER BY referral_id, position");
        for row in query.build().fetch_all(&mut *connection).await? {
            let referral_id: String = row.try_get("referral_id")?;
            let department: String = row.try_get("department_id")?;
            history
                .entry(referral_id)
                .or_default()
                .push(proto::Transition {
                    from_state: row.try_get::<i64, _>("from_state")? as i32,
                    to_state: row.try_get::<i64, _>("to_state")? as i32,
                    action: row.try_get("action")?,
                    actor: row.try_get("actor")?,
                    department: if department.is_empty() {
                        String::new()
                    } else {
                        self.names.department(&department)
                    },
                    note: row.try_get("note")?,
                    time: Some(timestamp_from_micros(row.try_get("at")?)),
                });
        }
        let mut parts: HashMap<String, Vec<String>> = HashMap::new();
        let mut query = SqlQuery::new("SELECT id, part_of FROM referrals WHERE part_of IN (");
        push_list(&mut query, &ids);
        query.push(") ORDER BY id");
        for row in query.build().fetch_all(&mut *connection).await? {
            let whole: String = row.try_get("part_of")?;
            parts.entry(whole).or_default().push(row.try_get("id")?);
        }
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let departments = departments.remove(&id).unwrap_or_default();
                let history = history.remove(&id).unwrap_or_default();
                let parts = parts.remove(&id).unwrap_or_default();
                self.referral_from_row(row, departments, history, parts)
            })
            .collect()
    }

    fn referral_from_row(
        &self,
        row: &AnyRow,
        departments: Vec<proto::ReferredDepartment>,
        history: Vec<proto::Transition>,
        parts: Vec<String>,
    ) -> Result<proto::Referral, ReferralError> {
        let record = record_from_row(row)?;
        let id: String = row.try_get("id")?;
        let building: String = row.try_get("building_id")?;
        let sub_district: String = row.try_get("sub_district_id")?;
        let (fhir_status, mut business_status) = state::fhir(record.state);
        if record.split && matches!(record.state, State::InProgress | State::Reopened) {
            business_status = "split";
        }
        let part_of: String = row.try_get("part_of")?;
        let time = |micros: Option<i64>| micros.map(timestamp_from_micros);
        let clocks = &record.clocks;
        let lead: String = row.try_get("lead_department")?;
        let offered: Vec<OfferedUnitRecord> =
            serde_json::from_str(&row.try_get::<String, _>("offered_units")?)?;
        Ok(proto::Referral {
            name: self.referral_name(&id),
            demand: self
                .names
                .name("demands", &row.try_get::<String, _>("demand_id")?),
            enterprise: self.names.enterprise(&row.try_get::<String, _>("uscc")?),
            building: if building.is_empty() {
                String::new()
            } else {
                self.names.building(&building)
            },
            sub_district: if sub_district.is_empty() {
                String::new()
            } else {
                self.names.sub_district(&sub_district)
            },
            category: record.category as i32,
            urgency: record.urgency as i32,
            description: row.try_get("description")?,
            state: record.state as i32,
            fhir_status: fhir_status.to_owned(),
            business_status: business_status.to_owned(),
            departments,
            lead_department: if lead.is_empty() {
                String::new()
            } else {
                self.names.department(&lead)
            },
            round: record.round as i32,
            clocks: Some(proto::Clocks {
                dispatch_time: time(clocks.dispatched_at),
                accept_due_time: time(clocks.accept_due),
                first_contact_due_time: time(clocks.first_contact_due),
                complete_due_time: time(clocks.complete_due),
                accept_time: time(clocks.accepted_at),
                first_contact_time: time(clocks.first_contact_at),
                complete_time: time(clocks.completed_at),
                breached: clocks.breached.clone(),
                escalation_level: clocks.escalation_level as i32,
            }),
            outcome: record.outcome.clone(),
            failure_reason: record.failure_reason.clone(),
            rejection: record.rejection.as_ref().map(|rejection| proto::Rejection {
                department: if rejection.department.is_empty() {
                    String::new()
                } else {
                    self.names.department(&rejection.department)
                },
                reason: rejection.reason,
                note: rejection.note.clone(),
                actor: rejection.actor.clone(),
                time: Some(timestamp_from_micros(rejection.at)),
            }),
            rejection_count: record.rejection_count as i32,
            confirmation: record
                .confirmation
                .as_ref()
                .map(|confirmation| proto::Confirmation {
                    resolution: confirmation.resolution,
                    satisfaction: i32::from(confirmation.satisfaction),
                    note: confirmation.note.clone(),
                    actor: confirmation.actor.clone(),
                    time: Some(timestamp_from_micros(confirmation.at)),
                }),
            warned: record.warned,
            suspension: record
                .suspension
                .as_ref()
                .map(|suspension| proto::Suspension {
                    reason: suspension.reason.clone(),
                    approver: suspension.approver.clone(),
                    start_time: Some(timestamp_from_micros(suspension.at)),
                }),
            rules_version: record.rules_version.clone(),
            offered_units: offered
                .into_iter()
                .map(|unit| proto::OfferedUnit {
                    unit: unit.unit,
                    area_square_meters: unit.area_square_meters,
                    distance_meters: unit.distance_meters,
                })
                .collect(),
            history,
            part_of: if part_of.is_empty() {
                String::new()
            } else {
                self.referral_name(&part_of)
            },
            parts: parts.iter().map(|part| self.referral_name(part)).collect(),
            exclusion: record.exclusion.as_ref().map(|exclusion| proto::Exclusion {
                reason: exclusion.reason.clone(),
                actor: exclusion.actor.clone(),
                time: Some(timestamp_from_micros(exclusion.at)),
            }),
            create_time: Some(timestamp_from_micros(row.try_get("created_at")?)),
            update_time: Some(timestamp_from_micros(row.try_get("updated_at")?)),
        })
    }

    /// Gets a referral within the caller's reach.
    pub async fn get(&self, id: &str, reach: &Reach) -> Result<proto::Referral, ReferralError> {
        let mut query = SqlQuery::new(&format!("SELECT {COLUMNS} FROM referrals WHERE id = "));
        query.push_value(SqlValue::Text(id.to_owned()));
        reach.push_condition(&mut query, &REFERRALS);
        let mut connection = self.db.pool().acquire().await?;
        let row = query
            .build()
            .fetch_optional(&mut *connection)
            .await?
            .ok_or_else(|| ReferralError::not_found(self.referral_name(id)))?;
        Ok(self
            .hydrate(&mut connection, vec![row])
            .await?
            .pop()
            .expect("one row"))
    }

    /// Lists referrals within the caller's reach, by id.
    pub async fn list(
        &self,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<proto::Referral>, String), ReferralError> {
        let mut query = SqlQuery::new(&format!("SELECT {COLUMNS} FROM referrals WHERE 1 = 1"));
        reach.push_condition(&mut query, &REFERRALS);
        filter::push_conditions(&page.comparisons, REFERRAL_FILTERS, &mut query)?;
        self.page_of(query, "id", page).await
    }

    /// A department's open referrals, the soonest due first.
    pub async fn inbox(
        &self,
        department_id: &str,
        view: Inbox,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<proto::Referral>, String), ReferralError> {
        let mut query = SqlQuery::new(&format!(
            "SELECT {COLUMNS} FROM referrals WHERE referrals.id IN \
             (SELECT referral_id FROM referral_departments WHERE department_id = "
        ));
        query.push_value(SqlValue::Text(department_id.to_owned()));
        let states = match view {
            Inbox::Pending => states_sql(&[State::Requested]),
            _ => states_sql(&DEPARTMENT_STATES),
        };
        query.push(&format!(
            ") AND referrals.split = 0 AND referrals.state IN ({states})"
        ));
        match view {
            Inbox::Overdue => {
                query.push(&format!(
                    " AND {}",
                    overdue_sql(louyu_kit::time::now_micros())
                ));
            }
            Inbox::Warned => {
                query.push(" AND referrals.warned = 1");
            }
            Inbox::Open | Inbox::Pending => {}
        }
        reach.push_condition(&mut query, &REFERRALS);
        self.page_of(query, "inbox_key", page).await
    }

    async fn page_of(
        &self,
        query: SqlQuery,
        key_column: &str,
        page: &PageQuery,
    ) -> Result<(Vec<proto::Referral>, String), ReferralError> {
        // Rows first (paged on the key), then their departments and
        // history in one query each.
        let (rows, next) = louyu_kit::page::fetch_page(
            self.db.pool(),
            &self.page_tokens,
            query,
            key_column,
            louyu_kit::page::Order::Ascending,
            page,
            |row: &AnyRow| -> Result<(String, AnyRow), ReferralError> {
                Ok((row.try_get::<String, _>(key_column)?, row.clone()))
            },
            |(key, _)| key.clone(),
        )
        .await?;
        let mut connection = self.db.pool().acquire().await?;
        let referrals = self
            .hydrate(
                &mut connection,
                rows.into_iter().map(|(_, row)| row).collect(),
            )
            .await?;
        Ok((referrals, next))
    }
}

/// An offered unit as stored.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OfferedUnitRecord {
    pub unit: String,
    pub area_square_meters: f64,
    pub distance_meters: f64,
}

/// The soonest unmet due time, zero-padded, then the id: the inbox order.
fn inbox_key(record: &Record, id: &str) -> String {
    let clocks = &record.clocks;
    let next_due = [
        (clocks.accept_due, clocks.accepted_at),
        (clocks.first_contact_due, clocks.first_contact_at),
        (clocks.complete_due, clocks.completed_at),
    ]
    .into_iter()
    .filter_map(|(due, met)| if met.is_none() { due } else { None })
    .min()
    .unwrap_or(i64::MAX);
    format!("{next_due:020}:{id}")
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, ReferralError> {
    Ok(serde_json::to_string(value)?)
}

fn from_json<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    column: &str,
) -> Result<Option<T>, ReferralError> {
    let text: Option<String> = row.try_get(column)?;
    Ok(match text {
        Some(text) => Some(serde_json::from_str(&text)?),
        None => None,
    })
}

pub(super) fn record_from_row(row: &AnyRow) -> Result<Record, ReferralError> {
    let breached: String = row.try_get("breached")?;
    Ok(Record {
        state: State::try_from(row.try_get::<i64, _>("state")? as i32)
            .map_err(|_| ReferralError::Corrupt("unknown referral state".to_owned()))?,
        round: row.try_get::<i64, _>("round")? as u32,
        category: DemandCategory::try_from(row.try_get::<i64, _>("category")? as i32)
            .unwrap_or(DemandCategory::Other),
        urgency: Urgency::try_from(row.try_get::<i64, _>("urgency")? as i32)
            .unwrap_or(Urgency::Normal),
        colour: RiskColour::Unspecified,
        departments: Vec::new(),
        clocks: referral::Clocks {
            dispatched_at: row.try_get("dispatched_at")?,
            accept_due: row.try_get("accept_due")?,
            first_contact_due: row.try_get("first_contact_due")?,
            complete_due: row.try_get("complete_due")?,
            complete_days: row.try_get::<i64, _>("complete_days")? as u32,
            accepted_at: row.try_get("accepted_at")?,
            first_contact_at: row.try_get("first_contact_at")?,
            completed_at: row.try_get("completed_at")?,
            breached: breached.split_whitespace().map(str::to_owned).collect(),
            escalation_level: row.try_get::<i64, _>("escalation_level")? as u32,
        },
        outcome: row.try_get("outcome")?,
        failure_reason: row.try_get("failure_reason")?,
        rejection: from_json(row, "rejection")?,
        rejection_count: row.try_get::<i64, _>("rejection_count")? as u32,
        confirmation: from_json(row, "confirmation")?,
        warned: row.try_get::<i64, _>("warned")? != 0,
        suspension: from_json(row, "suspension")?,
        rules_version: row.try_get("rules_version")?,
        exclusion: from_json(row, "exclusion")?,
        split: row.try_get::<i64, _>("split")? != 0,
        part: !row.try_get::<String, _>("part_of")?.is_empty(),
    })
}

fn facts_from_row(row: &AnyRow) -> Result<DemandFacts, ReferralError> {
    Ok(DemandFacts {
        demand_id: row.try_get("demand_id")?,
        uscc: row.try_get("uscc")?,
        building_id: row.try_get("building_id")?,
        sub_district_id: row.try_get("sub_district_id")?,
        category: DemandCategory::try_from(row.try_get::<i64, _>("category")? as i32)
            .unwrap_or(DemandCategory::Other),
        urgency: Urgency::try_from(row.try_get::<i64, _>("urgency")? as i32)
            .unwrap_or(Urgency::Normal),
        description: row.try_get("description")?,
    })
}

fn push_list(query: &mut SqlQuery, ids: &[String]) {
    for (index, id) in ids.iter().enumerate() {
        if index > 0 {
            query.push(", ");
        }
        query.push_value(SqlValue::Text(id.clone()));
    }
}

/// Who makes a call's move: the verified caller, the department they work
/// for, and whether they speak for the district.
pub fn acting_of(call: &Call) -> Acting {
    Acting {
        actor: call.context.actor.clone(),
        department: call
            .caller
            .person()
            .and_then(|person| person.department.clone()),
        district: call.reach.is_district(),
    }
}

/// The service acting on its own, e.g. `system:visits-feed`.
pub fn acting_as_system(context: &RequestContext) -> Acting {
    Acting {
        actor: context.actor.clone(),
        department: None,
        district: true,
    }
}

fn state_number(name: &str) -> Option<i32> {
    State::from_str_name(name)
        .or_else(|| State::from_str_name(&format!("REFERRAL_STATE_{name}")))
        .map(|state| state as i32)
}

fn category_number(name: &str) -> Option<i32> {
    DemandCategory::from_str_name(name)
        .or_else(|| DemandCategory::from_str_name(&format!("DEMAND_CATEGORY_{name}")))
        .map(|category| category as i32)
}

fn demand_filter(
    comparison: &Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    filter::push_resource_id_condition(comparison, "referrals.demand_id", query)
}

fn enterprise_filter(
    comparison: &Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    filter::push_enterprise_condition(comparison, "referrals.uscc", query)
}

fn building_filter(
    comparison: &Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    filter::push_resource_id_condition(comparison, "referrals.building_id", query)
}

fn sub_district_filter(
    comparison: &Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    filter::push_resource_id_condition(comparison, "referrals.sub_district_id", query)
}

fn department_filter(
    comparison: &Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    let name = filter::quoted_name(comparison)?;
    let id = louyu_kit::names::last_id(name).to_owned();
    let negated = matches!(comparison.op, filter::Op::Ne);
    query.push(if negated {
        " AND referrals.id NOT IN (SELECT referral_id FROM referral_departments WHERE department_id = "
    } else {
        " AND referrals.id IN (SELECT referral_id FROM referral_departments WHERE department_id = "
    });
    query.push_value(SqlValue::Text(id));
    query.push(")");
    Ok(())
}

fn overdue_filter(
    comparison: &Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    filter::equality_only(comparison)?;
    let wanted = match comparison.value.as_text() {
        Some("true") => true,
        Some("false") => false,
        _ => {
            return Err(louyu_kit::error::InvalidArgument::new(
                "filter",
                "overdue 须为 true 或 false must be true or false",
            ));
        }
    };
    let wanted = wanted != matches!(comparison.op, filter::Op::Ne);
    let open = states_sql(&DEPARTMENT_STATES);
    let overdue = overdue_sql(louyu_kit::time::now_micros());
    query.push(&if wanted {
        format!(" AND referrals.state IN ({open}) AND {overdue}")
    } else {
        format!(" AND NOT (referrals.state IN ({open}) AND {overdue})")
    });
    Ok(())
}

const REFERRAL_FILTERS: &[FilterField] = &[
    FilterField {
        name: "state",
        column: "referrals.state",
        kind: FieldKind::Enum(state_number),
    },
    FilterField {
        name: "category",
        column: "referrals.category",
        kind: FieldKind::Enum(category_number),
    },
    FilterField {
        name: "demand",
        column: "referrals.demand_id",
        kind: FieldKind::Custom(demand_filter),
    },
    FilterField {
        name: "enterprise",
        column: "referrals.uscc",
        kind: FieldKind::Custom(enterprise_filter),
    },
    FilterField {
        name: "building",
        column: "referrals.building_id",
        kind: FieldKind::Custom(building_filter),
    },
    FilterField {
        name: "sub_district",
        column: "referrals.sub_district_id",
        kind: FieldKind::Custom(sub_district_filter),
    },
    FilterField {
        name: "department",
        column: "referrals.id",
        kind: FieldKind::Custom(department_filter),
    },
    FilterField {
        name: "warned",
        column: "referrals.warned",
        kind: FieldKind::Bool,
    },
    FilterField {
        name: "overdue",
        column: "referrals.id",
        kind: FieldKind::Custom(overdue_filter),
    },
];
