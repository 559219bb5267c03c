use louyu_kit::audit::RequestContext;
use louyu_kit::db::{Backend, RowLock};
use louyu_kit::error::InvalidArgument;
use louyu_kit::feed::NewEvent;
use louyu_kit::filter::{self, FieldKind, FilterField, SqlQuery, SqlValue};
use louyu_kit::mutation::Mutations;
use louyu_kit::names::last_id;
use louyu_kit::page::{self, ChildRows, Order, PageQuery};
use louyu_kit::scope::Reach;
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::visits::v1::*;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::scope::{self, Place};
use super::{Call, Store, int32, timestamp};
use crate::domain::lifecycle;
use crate::error::VisitsError;

/// A demand to raise, parsed and checked against the registry.
#[derive(Debug, Clone)]
pub struct DemandInput {
    pub uscc: String,
    pub building_id: String,
    pub sub_district_id: String,
    pub category: DemandCategory,
    pub description: String,
    pub urgency: Urgency,
}

impl DemandInput {
    /// Where the demand is raised: its enterprise, in the building and
    /// sub-district the registry placed it in.
    pub fn place(&self) -> Place {
        Place {
            building_id: Some(self.building_id.clone()),
            uscc: Some(self.uscc.clone()),
            sub_district_id: Some(self.sub_district_id.clone()),
        }
    }
}

/// A move of a demand's referral, as the referral service's feed says it.
#[derive(Debug, Clone, Copy)]
pub struct ReferralChange<'a> {
    pub demand_id: &'a str,
    pub referral_id: &'a str,
    /// Department ids it is addressed to.
    pub departments: &'a [String],
    /// The status it gives the demand, if any.
    pub status: Option<DemandStatus>,
    pub actor: &'a str,
    pub reason: &'a str,
}

/// A raised demand: new (with its event) or an open one it was linked to.
#[derive(Debug, Clone)]
pub struct LinkedDemand {
    pub demand: Demand,
    pub linked: bool,
    pub event: Option<NewEvent>,
}

const COLUMNS: &str = "id, uscc, building_id, sub_district_id, category, description, urgency, status, visit_id, \
     merged_into, flag, created_at, updated_at, referral_id";

/// One demand by id, for [`Store::row_within`].
const DEMAND_BY_ID: &str = "SELECT 1 FROM demands WHERE demands.id = ";

fn open_statuses_sql() -> String {
    lifecycle::OPEN_STATUSES
        .iter()
        .map(|status| (*status as i32).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    pub async fn create_demand(
        &self,
        call: &Call,
        input: DemandInput,
    ) -> Result<CreateDemandResponse, VisitsError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.check_places_in(
                &mut transaction,
                call,
                scope::GET_DEMAND,
                &[input.place()],
                &self.names.enterprise(&input.uscc),
            )
            .await?;
            let raised = self
                .raise_demand(&mut transaction, &call.context, &input, None)
                .await?;
            let response = CreateDemandResponse {
                demand: Some(raised.demand.clone()),
                linked: raised.linked,
            };
            let name = raised.demand.name.clone();
            self.finish(
                transaction,
                call,
                &name,
                &response,
                raised.event.into_iter().collect(),
            )
            .await?;
            Ok(response)
        })
        .await
    }

    /// Whether the call may raise a demand for the enterprise `uscc`, judged
    /// on where the registry's feed last placed it, before the registry is
    /// asked: a caller out of reach learns nothing from the registry's
    /// answers. [`Store::create_demand`] judges again on the registry's
    /// answer.
    pub async fn check_demand_reach(&self, call: &Call, uscc: &str) -> Result<(), VisitsError> {
        if call.reach.is_district() {
            return Ok(());
        }
        let place = self.demand_place_seen(uscc).await?;
        // Where the registry's feed has not placed the enterprise yet (a
        // tenancy or a building of a moment ago), it is judged on the
        // registry's own answer, given within the caller's scope, in the
        // transaction of the demand.
        let Some(building_id) = &place.building_id else {
            return Ok(());
        };
        let seen = sqlx::query("SELECT 1 FROM scope_buildings WHERE building_id = $1")
            .bind(building_id)
            .fetch_optional(self.db.pool())
            .await?;
        if seen.is_none() {
            return Ok(());
        }
        self.check_places(
            call,
            scope::GET_DEMAND,
            &[place],
            &self.names.enterprise(uscc),
        )
        .await
    }

    /// Whether the call may change the demand `id`: NOT_FOUND when the
    /// caller may not see it (as when it does not exist), PERMISSION_DENIED
    /// when they may see but not change it.
    async fn check_demand_writable(
        &self,
        connection: &mut AnyConnection,
        call: &Call,
        id: &str,
    ) -> Result<(), VisitsError> {
        let name = self.names.name("demands", id);
        scope::judge_write(connection, call, scope::GET_DEMAND, &name, |reach| {
            scope::row_within(DEMAND_BY_ID, id, reach, &scope::DEMANDS)
        })
        .await
    }

    /// Raises a demand, or links the report to the open demand of the same
    /// enterprise and category.
    pub(super) async fn raise_demand(
        &self,
        connection: &mut AnyConnection,
        context: &RequestContext,
        input: &DemandInput,
        visit_id: Option<&str>,
    ) -> Result<LinkedDemand, VisitsError> {
        let now = louyu_kit::time::now_micros();
        let (id, linked) = match self.open_demand(connection, input).await? {
            Some(id) => (id, true),
            None => match self.insert_demand(connection, input, visit_id, now).await? {
                Some(id) => {
                    insert_status_change(
                        connection,
                        &id,
                        DemandStatus::Unspecified,
                        DemandStatus::Open,
                        &context.actor,
                        "提出 raised",
                    )
                    .await?;
                    (id, false)
                }
                // Another call raised the same demand and committed while
                // this one inserted (PostgreSQL): this report joins it.
                None => match self.open_demand(connection, input).await? {
                    Some(id) => (id, true),
                    // ...and it was closed at once: the caller retries.
                    None => return Err(VisitsError::Conflict),
                },
            },
        };
        if linked {
            sqlx::query("UPDATE demands SET updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(&id)
                .execute(&mut *connection)
                .await?;
        }
        sqlx::query(
            "INSERT INTO demand_reports (id, demand_id, visit_id, description, actor, reported_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(louyu_kit::names::generate_time_ordered_id("r"))
        .bind(&id)
        .bind(visit_id.map(str::to_owned))
        .bind(&input.description)
        .bind(&context.actor)
        .bind(now)
        .execute(&mut *connection)
        .await?;
        let demand = self.demand_in(connection, &id).await?;
        let event = (!linked).then(|| {
            NewEvent::new(
                &demand.name,
                &DemandRaised {
                    demand: Some(demand.clone()),
                },
            )
        });
        Ok(LinkedDemand {
            demand,
            linked,
            event,
        })
    }

    /// The enterprise's open demand of the input's category, locked so that
    /// it stays open until this transaction ends.
    async fn open_demand(
        &self,
        connection: &mut AnyConnection,
        input: &DemandInput,
    ) -> Result<Option<String>, VisitsError> {
        let lock = self.db.row_lock(RowLock::ForUpdate, "demands");
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM demands WHERE uscc = $1 AND category = $2 AND status IN ({}){lock}",
            open_statuses_sql()
        )))
        .bind(&input.uscc)
        .bind(i64::from(input.category as i32))
        .fetch_optional(&mut *connection)
        .await?)
    }

    /// Inserts a new open demand; `None` when the enterprise already has an
    /// open demand of the category (one index holds that rule: a concurrent
    /// insert of the same demand waits here until the other commits).
    async fn insert_demand(
        &self,
        connection: &mut AnyConnection,
        input: &DemandInput,
        visit_id: Option<&str>,
        now: i64,
    ) -> Result<Option<String>, VisitsError> {
        let id = louyu_kit::names::generate_time_ordered_id("dm");
        let inserted = sqlx::query(
            "INSERT INTO demands (id, uscc, building_id, sub_district_id, category, description, urgency, status, \
             visit_id, merged_into, flag, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, '', $10, $10) ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(&input.uscc)
        .bind(&input.building_id)
        .bind(&input.sub_district_id)
        .bind(i64::from(input.category as i32))
        .bind(&input.description)
        .bind(i64::from(input.urgency as i32))
        .bind(i64::from(DemandStatus::Open as i32))
        .bind(visit_id.map(str::to_owned))
        .bind(now)
        .execute(&mut *connection)
        .await?;
        Ok((inserted.rows_affected() == 1).then_some(id))
    }

    /// Locks demands until the transaction ends, in id order, so that a
    /// change of status is decided on the status as it is at commit and two
    /// calls locking the same pair never wait for each other in a cycle.
    /// SQLite needs no row locks: its writers run one at a time.
    async fn lock_demands(
        &self,
        connection: &mut AnyConnection,
        ids: &[&str],
    ) -> Result<(), VisitsError> {
        if self.db.backend() == Backend::Sqlite {
            return Ok(());
        }
        let lock = self.db.row_lock(RowLock::ForUpdate, "demands");
        let mut query = SqlQuery::new("SELECT id FROM demands WHERE id IN (");
        for (index, id) in ids.iter().enumerate() {
            if index > 0 {
                query.push(", ");
            }
            query.push_value(SqlValue::Text((*id).to_owned()));
        }
        query.push(") ORDER BY id").push(&lock);
        query.build().fetch_all(&mut *connection).await?;
        Ok(())
    }

    pub async fn transition_demand(
        &self,
        call: &Call,
        id: &str,
        to: DemandStatus,
        reason: &str,
    ) -> Result<Demand, VisitsError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.lock_demands(&mut transaction, &[id]).await?;
            self.check_demand_writable(&mut transaction, call, id)
                .await?;
            let current = self.demand_in(&mut transaction, id).await?;
            let from = DemandStatus::try_from(current.status).unwrap_or(DemandStatus::Unspecified);
            if !current.referral.is_empty() && lifecycle::REFERRAL_STATUSES.contains(&to) {
                return Err(VisitsError::FailedPrecondition(format!(
                    "需求已转办，状态随转办 {} 变化 the demand is referred: its status follows its referral {} \
                     (ReferralService moves it)",
                    current.referral, current.referral
                )));
            }
            if !lifecycle::allowed(from, to) {
                return Err(VisitsError::FailedPrecondition(format!(
                    "需求状态不能从{} 变为 {} a demand cannot move from {} to {}",
                    from.as_str_name(),
                    to.as_str_name(),
                    from.as_str_name(),
                    to.as_str_name()
                )));
            }
            if to == DemandStatus::Reopened
                && let Some(open) = self.open_demand_like(&mut transaction, &current).await?
            {
                // The index on open demands would refuse the reopen anyway; this
                // read only lets the refusal name the demand to merge with.
                let open = self.names.name("demands", &open);
                return Err(VisitsError::FailedPrecondition(format!(
                    "该企业已有同类未办结需求 {open}，请用 MergeDemands 将本需求并入该需求 \
                     the enterprise has another open demand of this category, {open}: \
                     merge this one into it with MergeDemands instead (name {open}, duplicate {})",
                    current.name
                )));
            }
            let (updated, event) = self
                .change_status(
                    &mut transaction,
                    &current,
                    from,
                    to,
                    &call.context.actor,
                    reason,
                    None,
                )
                .await?;
            self.finish(
                transaction,
                call,
                &updated.name.clone(),
                &updated,
                vec![event],
            )
            .await?;
            Ok(updated)
        })
        .await
    }

    /// Follows a move of a demand's referral (the referral service's feed):
    /// remembers the referral and the departments it is addressed to (a
    /// department officer's reach), and sets the status the referral's
    /// state gives, recording who moved it. Applying the same move again
    /// changes nothing. A withdrawn or merged demand keeps its status.
    pub async fn follow_referral(
        &self,
        connection: &mut AnyConnection,
        change: &ReferralChange<'_>,
    ) -> Result<Option<NewEvent>, VisitsError> {
        let exists = sqlx::query("UPDATE demands SET referral_id = $1 WHERE id = $2")
            .bind(change.referral_id)
            .bind(change.demand_id)
            .execute(&mut *connection)
            .await?;
        if exists.rows_affected() == 0 {
            // A demand this service never had: nothing to follow.
            return Ok(None);
        }
        sqlx::query("DELETE FROM demand_departments WHERE demand_id = $1")
            .bind(change.demand_id)
            .execute(&mut *connection)
            .await?;
        for department in change.departments {
            sqlx::query(
                "INSERT INTO demand_departments (demand_id, department_id) VALUES ($1, $2)",
            )
            .bind(change.demand_id)
            .bind(department)
            .execute(&mut *connection)
            .await?;
        }
        let Some(to) = change.status else {
            return Ok(None);
        };
        let current = self.demand_in(connection, change.demand_id).await?;
        let from = DemandStatus::try_from(current.status).unwrap_or(DemandStatus::Unspecified);
        if from == to || from == DemandStatus::Withdrawn {
            return Ok(None);
        }
        match self
            .change_status(
                connection,
                &current,
                from,
                to,
                change.actor,
                change.reason,
                None,
            )
            .await
        {
            Ok((_, event)) => Ok(Some(event)),
            // Reopening collides with a newer open demand of the same
            // enterprise and category: the two are for an admin to merge,
            // and the demand keeps its status meanwhile.
            Err(VisitsError::FailedPrecondition(message)) => {
                tracing::warn!(demand = %current.name, %message, "a referral's move cannot set the demand's status");
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Merges `duplicate` into `keep`: the duplicate's reports move over and
    /// it is withdrawn, marked merged. One of the two may be `RESOLVED`
    /// (see [`lifecycle::may_merge`]): a resolved duplicate is withdrawn
    /// into the open demand, a resolved `keep` is reopened, and either way
    /// `reason` records why the enterprise says it is not solved.
    pub async fn merge_demands(
        &self,
        call: &Call,
        keep: &str,
        duplicate: &str,
        reason: &str,
    ) -> Result<Demand, VisitsError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.lock_demands(&mut transaction, &[keep, duplicate])
                .await?;
            self.check_demand_writable(&mut transaction, call, keep)
                .await?;
            self.check_demand_writable(&mut transaction, call, duplicate)
                .await?;
            let kept = self.demand_in(&mut transaction, keep).await?;
            let merged = self.demand_in(&mut transaction, duplicate).await?;
            if kept.enterprise != merged.enterprise {
                return Err(InvalidArgument::new(
                    "duplicate",
                    "只能合并同一企业的需求 must be a demand of the same enterprise",
                )
                .into());
            }
            let merged_status =
                DemandStatus::try_from(merged.status).unwrap_or(DemandStatus::Unspecified);
            let kept_status = DemandStatus::try_from(kept.status).unwrap_or(DemandStatus::Unspecified);
            if !lifecycle::may_merge(kept_status, merged_status) {
                return Err(VisitsError::FailedPrecondition(
                    "只能合并未办结的需求，或一个已办结（企业反映未解决）与一个未办结的需求 \
                     only open demands can be merged, or one resolved demand the enterprise says is not solved with an open one"
                        .to_owned(),
                ));
            }
            let reopens = kept_status == DemandStatus::Resolved;
            let merges_resolved = merged_status == DemandStatus::Resolved;
            if (reopens || merges_resolved) && reason.is_empty() {
                return Err(InvalidArgument::new(
                    "reason",
                    "合并已办结的需求时必须填写企业反映未解决的情况 is required when a resolved demand is merged: why the enterprise says it is not solved",
                )
                .into());
            }
            if !reopens {
                // Holds the kept demand open until commit: a concurrent change
                // of its status makes this merge lose instead of filing reports
                // under a demand that just closed.
                let held =
                    sqlx::query("UPDATE demands SET updated_at = $1 WHERE id = $2 AND status = $3")
                        .bind(louyu_kit::time::now_micros())
                        .bind(keep)
                        .bind(i64::from(kept_status as i32))
                        .execute(&mut *transaction)
                        .await?;
                if held.rows_affected() != 1 {
                    return Err(VisitsError::Conflict);
                }
            }
            sqlx::query("UPDATE demand_reports SET demand_id = $1 WHERE demand_id = $2")
                .bind(keep)
                .bind(duplicate)
                .execute(&mut *transaction)
                .await?;
            let why = if merges_resolved {
                format!(
                    "企业反映未解决，合并至 the enterprise says it is not solved; merged into {}: {reason}",
                    kept.name
                )
            } else {
                format!("合并至 merged into {}: {reason}", kept.name)
            };
            let (_, withdrawn) = self
                .change_status(
                    &mut transaction,
                    &merged,
                    merged_status,
                    DemandStatus::Withdrawn,
                    &call.context.actor,
                    &why,
                    Some(keep),
                )
                .await?;
            let mut events = vec![withdrawn];
            if reopens {
                // After the duplicate is withdrawn, so that the two never stand
                // open together against the one-open-demand-per-category index.
                let why = format!(
                    "企业反映未解决，并入 the enterprise says it is not solved; merged in {}: {reason}",
                    merged.name
                );
                let (_, reopened) = self
                    .change_status(
                        &mut transaction,
                        &kept,
                        kept_status,
                        DemandStatus::Reopened,
                        &call.context.actor,
                        &why,
                        None,
                    )
                    .await?;
                events.push(reopened);
            }
            let kept = self.demand_in(&mut transaction, keep).await?;
            self.finish(transaction, call, &kept.name.clone(), &kept, events)
                .await?;
            Ok(kept)
        })
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn change_status(
        &self,
        connection: &mut AnyConnection,
        current: &Demand,
        from: DemandStatus,
        to: DemandStatus,
        actor: &str,
        reason: &str,
        merged_into: Option<&str>,
    ) -> Result<(Demand, NewEvent), VisitsError> {
        let id = last_id(&current.name).to_owned();
        // The status guard makes a concurrent change of the same demand lose
        // cleanly instead of overwriting.
        let updated = sqlx::query(
            "UPDATE demands SET status = $1, merged_into = COALESCE($2, merged_into), updated_at = $3 \
             WHERE id = $4 AND status = $5",
        )
        .bind(i64::from(to as i32))
        .bind(merged_into.map(str::to_owned))
        .bind(louyu_kit::time::now_micros())
        .bind(&id)
        .bind(i64::from(from as i32))
        .execute(&mut *connection)
        .await;
        match updated {
            Ok(result) if result.rows_affected() == 1 => {}
            Ok(_) => return Err(VisitsError::Conflict),
            Err(error) if louyu_kit::db::is_unique_violation(&error) => {
                return Err(VisitsError::FailedPrecondition(
                    "该企业已有同类未办结需求，请合并 the enterprise has another open demand of this category; merge them instead"
                        .to_owned(),
                ));
            }
            Err(error) => return Err(error.into()),
        }
        insert_status_change(connection, &id, from, to, actor, reason).await?;
        let demand = self.demand_in(connection, &id).await?;
        let change = demand.history.last().cloned();
        let event = NewEvent::new(
            &demand.name,
            &DemandStatusChanged {
                demand: Some(demand.clone()),
                change,
            },
        );
        Ok((demand, event))
    }

    /// The id of the open demand of the same enterprise and category as
    /// `demand`, other than `demand` itself.
    async fn open_demand_like(
        &self,
        connection: &mut AnyConnection,
        demand: &Demand,
    ) -> Result<Option<String>, VisitsError> {
        let open = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM demands WHERE uscc = $1 AND category = $2 AND id <> $3 AND status IN ({})",
            open_statuses_sql()
        )))
        .bind(last_id(&demand.enterprise))
        .bind(i64::from(demand.category))
        .bind(last_id(&demand.name))
        .fetch_optional(&mut *connection)
        .await?;
        Ok(open)
    }

    /// Flags the open demands of an enterprise that left the district (a
    /// registry event). Applying it twice changes nothing more.
    pub async fn flag_demands_of_departed(
        &self,
        connection: &mut AnyConnection,
        uscc: &str,
        flag: &str,
    ) -> Result<u64, VisitsError> {
        let flagged = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE demands SET flag = $1, updated_at = $2 WHERE uscc = $3 AND flag = '' AND status IN ({})",
            open_statuses_sql()
        )))
        .bind(flag)
        .bind(louyu_kit::time::now_micros())
        .bind(uscc)
        .execute(&mut *connection)
        .await?;
        Ok(flagged.rows_affected())
    }

    /// A demand within `reach`; out of it, NOT_FOUND as if it did not
    /// exist.
    pub async fn get_demand(&self, id: &str, reach: &Reach) -> Result<Demand, VisitsError> {
        let mut connection = self.db.pool().acquire().await?;
        let within = scope::row_within(DEMAND_BY_ID, id, reach, &scope::DEMANDS);
        if !scope::returns_a_row(&mut connection, within).await? {
            return Err(VisitsError::not_found(self.names.name("demands", id)));
        }
        self.demand_in(&mut connection, id).await
    }

    pub(super) async fn demand_in(
        &self,
        connection: &mut AnyConnection,
        id: &str,
    ) -> Result<Demand, VisitsError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM demands WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *connection)
        .await?
        .ok_or_else(|| VisitsError::not_found(self.names.name("demands", id)))?;
        let mut demand = self.demand_from_row(&row)?;
        self.fill_demands(connection, std::slice::from_mut(&mut demand))
            .await?;
        Ok(demand)
    }

    /// Fills the reports and history of a page of demands: one query per
    /// child table for the whole page.
    async fn fill_demands(
        &self,
        connection: &mut AnyConnection,
        demands: &mut [Demand],
    ) -> Result<(), VisitsError> {
        let ids: Vec<String> = demands
            .iter()
            .map(|demand| last_id(&demand.name).to_owned())
            .collect();
        let mut reports = ChildRows::fetch(
            &mut *connection,
            "SELECT demand_id, visit_id, description, actor, reported_at FROM demand_reports WHERE 1 = 1",
            "demand_id",
            &ids,
            "id",
        )
        .await?;
        let mut history = ChildRows::fetch(
            &mut *connection,
            "SELECT demand_id, from_status, to_status, actor, reason, changed_at FROM demand_status_changes \
             WHERE 1 = 1",
            "demand_id",
            &ids,
            "id",
        )
        .await?;
        for (demand, id) in demands.iter_mut().zip(&ids) {
            demand.reports = reports.take_as(id, |row| -> Result<DemandReport, VisitsError> {
                let visit: Option<String> = row.try_get("visit_id")?;
                Ok(DemandReport {
                    visit: visit
                        .map(|visit| self.names.name("visits", &visit))
                        .unwrap_or_default(),
                    description: row.try_get("description")?,
                    actor: row.try_get("actor")?,
                    report_time: timestamp(row.try_get("reported_at")?),
                })
            })?;
            demand.report_count = i32::try_from(demand.reports.len()).unwrap_or(i32::MAX);
            demand.history = history.take_as(id, |row| -> Result<StatusChange, VisitsError> {
                Ok(StatusChange {
                    from_status: int32(row, "from_status")?,
                    to_status: int32(row, "to_status")?,
                    actor: row.try_get("actor")?,
                    reason: row.try_get("reason")?,
                    time: timestamp(row.try_get("changed_at")?),
                })
            })?;
        }
        Ok(())
    }

    /// A page of the demands within `reach`.
    pub async fn list_demands(
        &self,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<Demand>, String), VisitsError> {
        let mut query = SqlQuery::new(&format!("SELECT {COLUMNS} FROM demands WHERE 1 = 1"));
        reach.push_condition(&mut query, &scope::DEMANDS);
        filter::push_conditions(&page.comparisons, DEMAND_FILTERS, &mut query)?;
        let (mut demands, next) = page::fetch_page(
            self.db.pool(),
            &self.page_tokens,
            query,
            "id",
            Order::Ascending,
            page,
            |row| self.demand_from_row(row),
            |demand: &Demand| last_id(&demand.name).to_owned(),
        )
        .await?;
        let mut connection = self.db.pool().acquire().await?;
        self.fill_demands(&mut connection, &mut demands).await?;
        Ok((demands, next))
    }

    /// Counts by category and status of the demands within `reach`,
    /// merged duplicates left out.
    pub async fn count_demands(
        &self,
        comparisons: &[filter::Comparison],
        reach: &Reach,
    ) -> Result<Vec<DemandCount>, VisitsError> {
        let mut query = SqlQuery::new(
            "SELECT category, status, COUNT(*) AS total FROM demands WHERE merged_into IS NULL",
        );
        reach.push_condition(&mut query, &scope::DEMANDS);
        filter::push_conditions(comparisons, DEMAND_FILTERS, &mut query)?;
        query.push(" GROUP BY category, status ORDER BY category, status");
        let rows = query.build().fetch_all(self.db.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(DemandCount {
                    category: int32(row, "category")?,
                    status: int32(row, "status")?,
                    count: row.try_get("total")?,
                })
            })
            .collect()
    }

    fn demand_from_row(&self, row: &AnyRow) -> Result<Demand, VisitsError> {
        let id: String = row.try_get("id")?;
        let uscc: String = row.try_get("uscc")?;
        let building_id: String = row.try_get("building_id")?;
        let sub_district_id: String = row.try_get("sub_district_id")?;
        let visit_id: Option<String> = row.try_get("visit_id")?;
        let merged_into: Option<String> = row.try_get("merged_into")?;
        Ok(Demand {
            name: self.names.name("demands", &id),
            enterprise: self.names.name("enterprises", &uscc),
            building: self.names.name("buildings", &building_id),
            sub_district: self.names.name("subDistricts", &sub_district_id),
            category: int32(row, "category")?,
            description: row.try_get("description")?,
            urgency: int32(row, "urgency")?,
            status: int32(row, "status")?,
            visit: visit_id
                .map(|visit| self.names.name("visits", &visit))
                .unwrap_or_default(),
            report_count: 0,
            merged_into: merged_into
                .map(|demand| self.names.name("demands", &demand))
                .unwrap_or_default(),
            flag: row.try_get("flag")?,
            referral: row
                .try_get::<Option<String>, _>("referral_id")?
                .map(|referral| self.names.name("referrals", &referral))
                .unwrap_or_default(),
            history: Vec::new(),
            reports: Vec::new(),
            create_time: timestamp(row.try_get("created_at")?),
            update_time: timestamp(row.try_get("updated_at")?),
        })
    }
}

async fn insert_status_change(
    connection: &mut AnyConnection,
    demand_id: &str,
    from: DemandStatus,
    to: DemandStatus,
    actor: &str,
    reason: &str,
) -> Result<(), VisitsError> {
    sqlx::query(
        "INSERT INTO demand_status_changes (id, demand_id, from_status, to_status, actor, reason, changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(louyu_kit::names::generate_time_ordered_id("c"))
    .bind(demand_id)
    .bind(i64::from(from as i32))
    .bind(i64::from(to as i32))
    .bind(actor)
    .bind(reason)
    .bind(louyu_kit::time::now_micros())
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// A comparison of an instant column with an RFC 3339 value.
pub(super) fn instant_condition(
    comparison: &filter::Comparison,
    column: &str,
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    let filter::Literal::Text(text) = &comparison.value else {
        return Err(InvalidArgument::new(
            "filter",
            format!(
                "{0} 的值应为带引号的RFC 3339时间 {0} must be a quoted RFC 3339 time",
                comparison.field
            ),
        ));
    };
    let Some(micros) = crate::domain::parse_instant(text) else {
        return Err(InvalidArgument::new(
            "filter",
            format!(
                "{0} 的值应为RFC 3339时间，如 2026-11-01T00:00:00+08:00 {0} must be an RFC 3339 time such as 2026-11-01T00:00:00+08:00",
                comparison.field
            ),
        ));
    };
    let op = match comparison.op {
        filter::Op::Eq => " = ",
        filter::Op::Ne => " <> ",
        filter::Op::Lt => " < ",
        filter::Op::Le => " <= ",
        filter::Op::Gt => " > ",
        filter::Op::Ge => " >= ",
    };
    query
        .push(" AND ")
        .push(column)
        .push(op)
        .push_value(SqlValue::Integer(micros));
    Ok(())
}

fn enum_filter<E>(
    prefix: &'static str,
    from_str_name: fn(&str) -> Option<E>,
    value: &str,
) -> Option<i32>
where
    E: Into<i32>,
{
    from_str_name(value)
        .or_else(|| from_str_name(&format!("{prefix}{value}")))
        .map(Into::into)
}

fn category_number(value: &str) -> Option<i32> {
    enum_filter("DEMAND_CATEGORY_", DemandCategory::from_str_name, value)
}

fn status_number(value: &str) -> Option<i32> {
    enum_filter("DEMAND_STATUS_", DemandStatus::from_str_name, value)
}

fn urgency_number(value: &str) -> Option<i32> {
    enum_filter("URGENCY_", Urgency::from_str_name, value)
}

fn create_time_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    instant_condition(comparison, "created_at", query)
}

fn flagged_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    filter::equality_only(comparison)?;
    let wanted = match &comparison.value {
        filter::Literal::Word(word) if word == "true" => true,
        filter::Literal::Word(word) if word == "false" => false,
        _ => {
            return Err(InvalidArgument::new(
                "filter",
                "flagged 的值应为 true 或 false flagged must be true or false",
            ));
        }
    };
    let flagged = wanted == (comparison.op == filter::Op::Eq);
    query.push(if flagged {
        " AND flag <> ''"
    } else {
        " AND flag = ''"
    });
    Ok(())
}

pub(super) const DEMAND_FILTERS: &[FilterField] = &[
    FilterField {
        name: "category",
        column: "category",
        kind: FieldKind::Enum(category_number),
    },
    FilterField {
        name: "status",
        column: "status",
        kind: FieldKind::Enum(status_number),
    },
    FilterField {
        name: "urgency",
        column: "urgency",
        kind: FieldKind::Enum(urgency_number),
    },
    FilterField {
        name: "enterprise",
        column: "uscc",
        kind: FieldKind::Custom(|comparison, query| {
            filter::push_enterprise_condition(comparison, "uscc", query)
        }),
    },
    FilterField {
        name: "building",
        column: "building_id",
        kind: FieldKind::Custom(|comparison, query| {
            filter::push_resource_id_condition(comparison, "building_id", query)
        }),
    },
    FilterField {
        name: "sub_district",
        column: "sub_district_id",
        kind: FieldKind::Custom(|comparison, query| {
            filter::push_resource_id_condition(comparison, "sub_district_id", query)
        }),
    },
    FilterField {
        name: "create_time",
        column: "created_at",
        kind: FieldKind::Custom(create_time_filter),
    },
    FilterField {
        name: "flagged",
        column: "flag",
        kind: FieldKind::Custom(flagged_filter),
    },
];
