use louyu_kit::db::RowLock;
use louyu_kit::error::InvalidArgument;
use louyu_kit::feed::NewEvent;
use louyu_kit::filter::{self, FieldKind, FilterField, SqlQuery};
use louyu_kit::mutation::Mutations;
use louyu_kit::names::last_id;
use louyu_kit::scope::Reach;
use louyu_proto::registry::v1::{EnterpriseStatus, Tenancy, TenancyState};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::scope::{BUILDINGS, ENTERPRISES, TENANCIES};
use super::{Call, PageQuery, Store, timestamp};
use crate::domain::Uscc;
use crate::domain::fields;
use crate::error::RegistryError;
use crate::events;

/// A tenancy to start, parsed. `lease_end` is not before `lease_start`.
#[derive(Debug, Clone)]
pub struct TenancyInput {
    pub uscc: Uscc,
    pub building_id: String,
    pub unit_id: String,
    /// The unit's area when not given.
    pub area: Option<f64>,
    pub lease_start: time::Date,
    pub lease_end: time::Date,
}

const COLUMNS: &str = "id, uscc, building_id, unit_id, area, lease_start, lease_end, active, end_date, end_reason, \
     created_at, updated_at";

impl Store {
    pub async fn create_tenancy(
        &self,
        call: &Call,
        input: TenancyInput,
    ) -> Result<Tenancy, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let enterprise = self.names.enterprise(input.uscc.as_str());
            self.check_write(
                &mut transaction,
                call,
                &ENTERPRISES,
                input.uscc.as_str(),
                &enterprise,
            )
            .await?;
            let building = self.names.building(&input.building_id);
            self.check_write(
                &mut transaction,
                call,
                &BUILDINGS,
                &input.building_id,
                &building,
            )
            .await?;
            let (created, event) = self
                .start_tenancy(&mut transaction, &input, "tenancy")
                .await?;
            let name = created.name.clone();
            self.finish(transaction, call, &name, &created, vec![event])
                .await?;
            Ok(created)
        })
        .await
    }

    /// Starts a tenancy inside a transaction: the enterprise must be active
    /// and the unit vacant. `field` prefixes the request fields in errors.
    pub(super) async fn start_tenancy(
        &self,
        transaction: &mut sqlx::AnyConnection,
        input: &TenancyInput,
        field: &str,
    ) -> Result<(Tenancy, NewEvent), RegistryError> {
        // Locks are taken enterprise first, then units, then tenancies, in
        // every mutation, so two of them never wait for each other in a
        // cycle. The enterprise's row stays locked so that it cannot move
        // out between this check and the commit.
        let enterprise = self
            .enterprise_in(transaction, input.uscc.as_str(), RowLock::ForUpdate)
            .await?;
        if enterprise.status != EnterpriseStatus::Active as i32 {
            return Err(RegistryError::FailedPrecondition(format!(
                "企业已迁出或注销，不能起租 enterprise {} has moved out or been deregistered",
                enterprise.name
            )));
        }
        let unit = self
            .unit_in(
                transaction,
                &input.building_id,
                &input.unit_id,
                RowLock::ForUpdate,
            )
            .await?;
        if !unit.current_tenant.is_empty() {
            return Err(RegistryError::FailedPrecondition(format!(
                "单元已有在租企业 unit {} already has an active tenancy",
                unit.name
            )));
        }
        let area = input.area.unwrap_or(unit.area_square_meters);
        if area > unit.area_square_meters + f64::EPSILON {
            return Err(InvalidArgument::new(
                format!("{field}.area_square_meters"),
                format!(
                    "租赁面积不能大于单元面积{0} must not exceed the unit's {0} square metres",
                    unit.area_square_meters
                ),
            )
            .into());
        }
        let id = louyu_kit::names::generate_id("t");
        let now = louyu_kit::time::now_micros();
        let inserted = sqlx::query(
            "INSERT INTO tenancies (id, uscc, building_id, unit_id, area, lease_start, lease_end, active, end_date, \
             end_reason, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, NULL, '', $8, $8)",
        )
        .bind(&id)
        .bind(input.uscc.as_str())
        .bind(&input.building_id)
        .bind(&input.unit_id)
        .bind(area)
        .bind(fields::date_to_text(input.lease_start))
        .bind(fields::date_to_text(input.lease_end))
        .bind(now)
        .execute(&mut *transaction)
        .await;
        match inserted {
            Ok(_) => {}
            // Another transaction let the unit first (PostgreSQL only; SQLite
            // serialises writers).
            Err(error) if louyu_kit::db::is_unique_violation(&error) => {
                return Err(RegistryError::FailedPrecondition(format!(
                    "单元已有在租企业 unit {} already has an active tenancy",
                    unit.name
                )));
            }
            Err(error) => return Err(error.into()),
        }
        let tenancy = self.tenancy_in(transaction, &id).await?;
        let event = events::tenancy_started(&tenancy, self.names.building(&input.building_id));
        Ok((tenancy, event))
    }

    pub async fn end_tenancy(
        &self,
        call: &Call,
        id: &str,
        end_date: time::Date,
        reason: &str,
    ) -> Result<Tenancy, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.check_write(
                &mut transaction,
                call,
                &TENANCIES,
                id,
                &self.names.tenancy(id),
            )
            .await?;
            let (ended, event) = self
                .finish_tenancy(&mut transaction, id, end_date, reason, "end_date")
                .await?;
            let name = ended.name.clone();
            self.finish(transaction, call, &name, &ended, vec![event])
                .await?;
            Ok(ended)
        })
        .await
    }

    /// Ends the `from` tenancy on `move_date` and starts `to`, for the same
    /// enterprise, in one transaction.
    pub async fn move_enterprise(
        &self,
        call: &Call,
        from_id: &str,
        to: TenancyInput,
        move_date: time::Date,
    ) -> Result<Tenancy, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            // Both places must be the caller's: a move across sub-districts
            // is the district's.
            self.check_write(
                &mut transaction,
                call,
                &TENANCIES,
                from_id,
                &self.names.tenancy(from_id),
            )
            .await?;
            let to_building = self.names.building(&to.building_id);
            self.check_write(
                &mut transaction,
                call,
                &BUILDINGS,
                &to.building_id,
                &to_building,
            )
            .await?;
            let from = self.tenancy_in(&mut transaction, from_id).await?;
            if from.enterprise != self.names.enterprise(to.uscc.as_str()) {
                return Err(InvalidArgument::new(
                    "to_tenancy.enterprise",
                    "须与原租约为同一企业 must be the enterprise of from_tenancy",
                )
                .into());
            }
            // The lock order of start_tenancy (enterprise, then units by id),
            // taken before the old tenancy ends: two moves that swap units wait
            // for each other here instead of deadlocking on the units' indexes.
            self.enterprise_in(&mut transaction, to.uscc.as_str(), RowLock::ForUpdate)
                .await?;
            let (from_building, from_unit) = self.names.parse_unit("from_tenancy", &from.unit)?;
            let mut units = [
                (from_building.as_str(), from_unit.as_str()),
                (to.building_id.as_str(), to.unit_id.as_str()),
            ];
            units.sort_unstable();
            for (building_id, unit_id) in units {
                self.unit_in(&mut transaction, building_id, unit_id, RowLock::ForUpdate)
                    .await?;
            }
            let new_unit = self.names.unit(&to.building_id, &to.unit_id);
            let reason = format!("迁至 moved to {new_unit}");
            let (_, ended_event) = self
                .finish_tenancy(&mut transaction, from_id, move_date, &reason, "move_date")
                .await?;
            let (started, started_event) = self
                .start_tenancy(&mut transaction, &to, "to_tenancy")
                .await?;
            let name = started.name.clone();
            self.finish(
                transaction,
                call,
                &name,
                &started,
                vec![ended_event, started_event],
            )
            .await?;
            Ok(started)
        })
        .await
    }

    async fn finish_tenancy(
        &self,
        transaction: &mut sqlx::AnyConnection,
        id: &str,
        end_date: time::Date,
        reason: &str,
        date_field: &str,
    ) -> Result<(Tenancy, NewEvent), RegistryError> {
        let tenancy = self.tenancy_in(transaction, id).await?;
        if tenancy.state != TenancyState::Active as i32 {
            return Err(RegistryError::FailedPrecondition(format!(
                "租约已结束 tenancy {} has already ended",
                tenancy.name
            )));
        }
        let lease_start = tenancy
            .lease_start
            .as_ref()
            .map(|date| (date.year, date.month, date.day));
        let end = (
            end_date.year(),
            i32::from(u8::from(end_date.month())),
            i32::from(end_date.day()),
        );
        if lease_start.is_some_and(|start| end < start) {
            return Err(InvalidArgument::new(
                date_field,
                "不能早于租约开始日期 must not be before the lease start",
            )
            .into());
        }
        // Only an active tenancy ends: of two calls ending the same one at
        // once, the second finds it ended when the first commits.
        let ended = sqlx::query(
            "UPDATE tenancies SET active = 0, end_date = $1, end_reason = $2, updated_at = $3 \
             WHERE id = $4 AND active = 1",
        )
        .bind(fields::date_to_text(end_date))
        .bind(reason)
        .bind(louyu_kit::time::now_micros())
        .bind(id)
        .execute(&mut *transaction)
        .await?;
        if ended.rows_affected() == 0 {
            return Err(RegistryError::FailedPrecondition(format!(
                "租约已结束 tenancy {} has already ended",
                tenancy.name
            )));
        }
        let ended = self.tenancy_in(transaction, id).await?;
        let (building_id, _) = self.names.parse_unit("unit", &ended.unit)?;
        let event = events::tenancy_ended(&ended, self.names.building(&building_id));
        Ok((ended, event))
    }

    /// Ends every active tenancy of an enterprise; returns the events.
    pub(super) async fn end_active_tenancies_of(
        &self,
        transaction: &mut sqlx::AnyConnection,
        uscc: &Uscc,
        end_date: time::Date,
        reason: &str,
    ) -> Result<Vec<NewEvent>, RegistryError> {
        let lock = self.db.row_lock(RowLock::ForUpdate, "tenancies");
        let ids: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM tenancies WHERE uscc = $1 AND active = 1 ORDER BY id{lock}"
        )))
        .bind(uscc.as_str())
        .fetch_all(&mut *transaction)
        .await?;
        let mut events = Vec::with_capacity(ids.len());
        for id in ids {
            // A lease that starts in the future ends on its first day.
            let tenancy = self.tenancy_in(transaction, &id).await?;
            let start = tenancy
                .lease_start
                .as_ref()
                .and_then(|date| fields::date("lease_start", Some(date)).ok())
                .unwrap_or(end_date);
            let (_, event) = self
                .finish_tenancy(transaction, &id, end_date.max(start), reason, "end_date")
                .await?;
            events.push(event);
        }
        Ok(events)
    }

    pub async fn get_tenancy(&self, id: &str, reach: &Reach) -> Result<Tenancy, RegistryError> {
        let mut connection = self.db.pool().acquire().await?;
        self.check_read(
            &mut connection,
            &TENANCIES,
            reach,
            id,
            &self.names.tenancy(id),
        )
        .await?;
        self.tenancy_in(&mut connection, id).await
    }

    pub(super) async fn tenancy_in(
        &self,
        transaction: &mut sqlx::AnyConnection,
        id: &str,
    ) -> Result<Tenancy, RegistryError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM tenancies WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *transaction)
        .await?
        .ok_or_else(|| RegistryError::not_found(self.names.tenancy(id)))?;
        self.tenancy_from_row(&row)
    }

    pub async fn list_tenancies(
        &self,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<Tenancy>, String), RegistryError> {
        let mut query = SqlQuery::new(&format!("SELECT {COLUMNS} FROM tenancies WHERE 1 = 1"));
        reach.push_condition(&mut query, &TENANCIES.sql);
        filter::push_conditions(&page.comparisons, TENANCY_FILTERS, &mut query)?;
        self.list_page(
            query,
            "id",
            page,
            |row| self.tenancy_from_row(row),
            |item| last_id(&item.name).to_owned(),
        )
        .await
    }

    fn tenancy_from_row(&self, row: &AnyRow) -> Result<Tenancy, RegistryError> {
        let id: String = row.try_get("id")?;
        let uscc: String = row.try_get("uscc")?;
        let building_id: String = row.try_get("building_id")?;
        let unit_id: String = row.try_get("unit_id")?;
        let active: i64 = row.try_get("active")?;
        let end_date: Option<String> = row.try_get("end_date")?;
        let date = |column: &str| -> Result<_, RegistryError> {
            let text: String = row.try_get(column)?;
            fields::date_from_text(&text)
                .map(Some)
                .ok_or_else(|| RegistryError::Corrupt(format!("{column} is not a date")))
        };
        Ok(Tenancy {
            name: self.names.tenancy(&id),
            enterprise: self.names.enterprise(&uscc),
            unit: self.names.unit(&building_id, &unit_id),
            area_square_meters: row.try_get("area")?,
            lease_start: date("lease_start")?,
            lease_end: date("lease_end")?,
            state: if active == 1 {
                TenancyState::Active
            } else {
                TenancyState::Ended
            } as i32,
            end_date: end_date.as_deref().and_then(fields::date_from_text),
            end_reason: row.try_get("end_reason")?,
            create_time: timestamp(row, "created_at")?,
            update_time: timestamp(row, "updated_at")?,
        })
    }
}

fn enterprise_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    filter::push_enterprise_condition(comparison, "uscc", query)
}

fn building_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    filter::push_resource_id_condition(comparison, "building_id", query)
}

/// `unit = "districts/d/buildings/b/units/u"` compares both ids.
fn unit_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    let mut segments = filter::quoted_name(comparison)?.rsplit('/');
    let unit_id = segments.next().unwrap_or_default().to_owned();
    let _collection = segments.next();
    let building_id = segments.next().unwrap_or_default().to_owned();
    let negate = if comparison.op == filter::Op::Ne {
        "NOT "
    } else {
        ""
    };
    query
        .push(" AND ")
        .push(negate)
        .push("(building_id = ")
        .push_value(filter::SqlValue::Text(building_id))
        .push(" AND unit_id = ")
        .push_value(filter::SqlValue::Text(unit_id))
        .push(")");
    Ok(())
}

fn state_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    filter::equality_only(comparison)?;
    let state = match comparison.value {
        filter::Literal::Text(ref text) | filter::Literal::Word(ref text) => {
            fields::enum_number("TENANCY_STATE_", text, |name| {
                TenancyState::from_str_name(name).map(|state| state as i32)
            })
        }
        filter::Literal::Number(_) => None,
    };
    let active = match state {
        Some(number) if number == TenancyState::Active as i32 => 1,
        Some(number) if number == TenancyState::Ended as i32 => 0,
        _ => {
            return Err(InvalidArgument::new(
                "filter",
                "state 的值应为 ACTIVE 或 ENDED state must be ACTIVE or ENDED",
            ));
        }
    };
    let op = if comparison.op == filter::Op::Eq {
        " = "
    } else {
        " <> "
    };
    query
        .push(" AND active")
        .push(op)
        .push_value(filter::SqlValue::Integer(active));
    Ok(())
}

const TENANCY_FILTERS: &[FilterField] = &[
    FilterField {
        name: "enterprise",
        column: "uscc",
        kind: FieldKind::Custom(enterprise_filter),
    },
    FilterField {
        name: "building",
        column: "building_id",
        kind: FieldKind::Custom(building_filter),
    },
    FilterField {
        name: "unit",
        column: "unit_id",
        kind: FieldKind::Custom(unit_filter),
    },
    FilterField {
        name: "state",
        column: "active",
        kind: FieldKind::Custom(state_filter),
    },
    FilterField {
        name: "lease_end",
        column: "lease_end",
        kind: FieldKind::Text,
    },
];
