use louyu_kit::db::RowLock;
use louyu_kit::error::InvalidArgument;
use louyu_kit::feed::NewEvent;
use louyu_kit::filter::{self, FieldKind, FilterField, SqlQuery, SqlValue};
use louyu_kit::mutation::Mutations;
use louyu_kit::names::last_id;
use louyu_kit::scope::Reach;
use louyu_proto::registry::v1::{Assignment, AssignmentRole, Staff};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::scope::{ASSIGNMENTS, BUILDINGS, STAFF};
use super::{Call, PageQuery, Store, exists, timestamp};
use crate::domain::Uscc;
use crate::domain::fields;
use crate::error::RegistryError;
use crate::events;

/// A member of staff's fields, parsed.
#[derive(Debug, Clone)]
pub struct StaffInput {
    pub display_name: String,
    pub phone: String,
    pub sub_district: Option<String>,
    pub active: bool,
}

/// An assignment, parsed.
#[derive(Debug, Clone)]
pub struct AssignmentInput {
    pub building_id: String,
    pub uscc: Option<Uscc>,
    pub role: AssignmentRole,
}

const STAFF_COLUMNS: &str = "id, display_name, phone, sub_district, active, created_at, updated_at";
const ASSIGNMENT_COLUMNS: &str = "id, staff_id, building_id, uscc, role, created_at";

impl Store {
    pub async fn create_staff(
        &self,
        call: &Call,
        id: &str,
        input: StaffInput,
    ) -> Result<Staff, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.check_sub_district(call, "staff.sub_district", input.sub_district.as_deref())?;
            let name = self.names.staff(id);
            if exists(&mut transaction, "SELECT 1 FROM staff WHERE id = $1", &[id]).await? {
                return Err(RegistryError::AlreadyExists { resource: name });
            }
            self.check_staff_sub_district(&mut transaction, &input)
                .await?;
            let now = louyu_kit::time::now_micros();
            sqlx::query(
                "INSERT INTO staff (id, display_name, phone, sub_district, active, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(id)
            .bind(&input.display_name)
            .bind(&input.phone)
            .bind(input.sub_district.clone())
            .bind(i64::from(input.active))
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(|error| RegistryError::from(error).when_creating(&name))?;
            let created = self.staff_in(&mut transaction, id, RowLock::None).await?;
            self.finish(transaction, call, &name, &created, Vec::new())
                .await?;
            Ok(created)
        })
        .await
    }

    pub async fn update_staff(
        &self,
        call: &Call,
        id: &str,
        apply: impl FnOnce(&mut Staff) -> Result<StaffInput, RegistryError>,
    ) -> Result<Staff, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let mut staff = self
                .staff_in(&mut transaction, id, RowLock::ForUpdate)
                .await?;
            self.check_write(&mut transaction, call, &STAFF, id, &staff.name.clone())
                .await?;
            let was_active = staff.active;
            let input = apply(&mut staff)?;
            self.check_sub_district(call, "staff.sub_district", input.sub_district.as_deref())?;
            self.check_staff_sub_district(&mut transaction, &input)
                .await?;
            sqlx::query(
                "UPDATE staff SET display_name = $1, phone = $2, sub_district = $3, active = $4, updated_at = $5 WHERE id = $6",
            )
            .bind(&input.display_name)
            .bind(&input.phone)
            .bind(input.sub_district.clone())
            .bind(i64::from(input.active))
            .bind(louyu_kit::time::now_micros())
            .bind(id)
            .execute(&mut *transaction)
            .await?;
            let updated = self.staff_in(&mut transaction, id, RowLock::None).await?;
            let name = updated.name.clone();
            // Who leaves covers nothing any more: their assignments end.
            let events = if was_active && !updated.active {
                self.end_assignments_of(&mut transaction, id).await?
            } else {
                Vec::new()
            };
            self.finish(transaction, call, &name, &updated, events)
                .await?;
            Ok(updated)
        })
        .await
    }

    async fn check_staff_sub_district(
        &self,
        transaction: &mut sqlx::AnyConnection,
        input: &StaffInput,
    ) -> Result<(), RegistryError> {
        if let Some(sub_district) = &input.sub_district
            && !self.sub_district_exists(transaction, sub_district).await?
        {
            return Err(InvalidArgument::new(
                "staff.sub_district",
                format!(
                    "街道不存在 unknown sub-district {}",
                    self.names.sub_district(sub_district)
                ),
            )
            .into());
        }
        Ok(())
    }

    pub async fn get_staff(&self, id: &str, reach: &Reach) -> Result<Staff, RegistryError> {
        let mut connection = self.db.pool().acquire().await?;
        self.check_read(&mut connection, &STAFF, reach, id, &self.names.staff(id))
            .await?;
        self.staff_in(&mut connection, id, RowLock::None).await
    }

    pub(super) async fn staff_in(
        &self,
        transaction: &mut sqlx::AnyConnection,
        id: &str,
        lock: RowLock,
    ) -> Result<Staff, RegistryError> {
        let lock = self.db.row_lock(lock, "staff");
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STAFF_COLUMNS} FROM staff WHERE id = $1{lock}"
        )))
        .bind(id)
        .fetch_optional(&mut *transaction)
        .await?
        .ok_or_else(|| RegistryError::not_found(self.names.staff(id)))?;
        self.staff_from_row(&row)
    }

    pub async fn list_staff(
        &self,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<Staff>, String), RegistryError> {
        let mut query = SqlQuery::new(&format!("SELECT {STAFF_COLUMNS} FROM staff WHERE 1 = 1"));
        reach.push_condition(&mut query, &STAFF.sql);
        filter::push_conditions(&page.comparisons, STAFF_FILTERS, &mut query)?;
        self.list_page(
            query,
            "id",
            page,
            |row| self.staff_from_row(row),
            |item| last_id(&item.name).to_owned(),
        )
        .await
    }

    fn staff_from_row(&self, row: &AnyRow) -> Result<Staff, RegistryError> {
        let id: String = row.try_get("id")?;
        let sub_district: Option<String> = row.try_get("sub_district")?;
        let active: i64 = row.try_get("active")?;
        Ok(Staff {
            name: self.names.staff(&id),
            display_name: row.try_get("display_name")?,
            phone: row.try_get("phone")?,
            sub_district: sub_district
                .map(|id| self.names.sub_district(&id))
                .unwrap_or_default(),
            active: active == 1,
            create_time: timestamp(row, "created_at")?,
            update_time: timestamp(row, "updated_at")?,
        })
    }

    pub async fn create_assignment(
        &self,
        call: &Call,
        staff_id: &str,
        input: AssignmentInput,
    ) -> Result<Assignment, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let staff = self
                .staff_in(&mut transaction, staff_id, RowLock::ForUpdate)
                .await?;
            self.check_write(&mut transaction, call, &STAFF, staff_id, &staff.name)
                .await?;
            if !staff.active {
                return Err(RegistryError::FailedPrecondition(format!(
                    "该工作人员已离岗 staff {} is no longer active",
                    staff.name
                )));
            }
            if !exists(
                &mut transaction,
                "SELECT 1 FROM buildings WHERE id = $1",
                &[&input.building_id],
            )
            .await?
            {
                return Err(unknown_building(&self.names.building(&input.building_id)).into());
            }
            // A building out of the caller's sight is as unknown as a missing one.
            let building = self.names.building(&input.building_id);
            match self
                .check_write(&mut transaction, call, &BUILDINGS, &input.building_id, &building)
                .await
            {
                Err(RegistryError::NotFound { .. }) => {
                    return Err(unknown_building(&building).into());
                }
                other => other?,
            }
            if let Some(uscc) = &input.uscc
                && !exists(
                    &mut transaction,
                    "SELECT 1 FROM tenancies WHERE uscc = $1 AND building_id = $2 AND active = 1",
                    &[uscc.as_str(), &input.building_id],
                )
                .await?
            {
                return Err(InvalidArgument::new(
                    "assignment.enterprise",
                    "该企业不在此楼宇内 the enterprise is not a current tenant of the building",
                )
                .into());
            }
            let id = louyu_kit::names::generate_id("a");
            let inserted = sqlx::query(
                "INSERT INTO assignments (id, staff_id, building_id, uscc, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&id)
            .bind(staff_id)
            .bind(&input.building_id)
            .bind(input.uscc.as_ref().map(|uscc| uscc.as_str().to_owned()))
            .bind(i64::from(input.role as i32))
            .bind(louyu_kit::time::now_micros())
            .execute(&mut *transaction)
            .await;
            match inserted {
                Ok(_) => {}
                Err(error) if louyu_kit::db::is_unique_violation(&error) => {
                    let message = if input.role == AssignmentRole::FieldWorker {
                        "该工作人员已有相同的分工 this staff member already has this assignment"
                            .to_owned()
                    } else {
                        format!(
                            "楼宇已有该岗位的专员 building {} already has an officer in role {}",
                            self.names.building(&input.building_id),
                            input.role.as_str_name()
                        )
                    };
                    return Err(RegistryError::FailedPrecondition(message));
                }
                Err(error) => return Err(error.into()),
            }
            let created = self.assignment_in(&mut transaction, staff_id, &id).await?;
            let name = created.name.clone();
            let event = events::assignment_started(&created);
            self.finish(transaction, call, &name, &created, vec![event])
                .await?;
            Ok(created)
        })
        .await
    }

    pub async fn delete_assignment(
        &self,
        call: &Call,
        staff_id: &str,
        id: &str,
    ) -> Result<(), RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let assignment = self.assignment_in(&mut transaction, staff_id, id).await?;
            self.check_write(&mut transaction, call, &ASSIGNMENTS, id, &assignment.name)
                .await?;
            let deleted = sqlx::query("DELETE FROM assignments WHERE id = $1 AND staff_id = $2")
                .bind(id)
                .bind(staff_id)
                .execute(&mut *transaction)
                .await?;
            let name = assignment.name.clone();
            // A concurrent delete removed it first: that call announced it.
            if deleted.rows_affected() == 0 {
                return Err(RegistryError::not_found(name));
            }
            let event = events::assignment_ended(&assignment, ASSIGNMENT_DELETED);
            self.finish(transaction, call, &name, &(), vec![event])
                .await
        })
        .await
    }

    /// Ends every assignment of a member of staff who left, returning the
    /// events that announce it.
    async fn end_assignments_of(
        &self,
        transaction: &mut sqlx::AnyConnection,
        staff_id: &str,
    ) -> Result<Vec<NewEvent>, RegistryError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ASSIGNMENT_COLUMNS} FROM assignments WHERE staff_id = $1 ORDER BY id"
        )))
        .bind(staff_id)
        .fetch_all(&mut *transaction)
        .await?;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            let assignment = self.assignment_from_row(row)?;
            events.push(events::assignment_ended(&assignment, ASSIGNMENT_STAFF_LEFT));
        }
        sqlx::query("DELETE FROM assignments WHERE staff_id = $1")
            .bind(staff_id)
            .execute(&mut *transaction)
            .await?;
        Ok(events)
    }

    async fn assignment_in(
        &self,
        transaction: &mut sqlx::AnyConnection,
        staff_id: &str,
        id: &str,
    ) -> Result<Assignment, RegistryError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ASSIGNMENT_COLUMNS} FROM assignments WHERE id = $1 AND staff_id = $2"
        )))
        .bind(id)
        .bind(staff_id)
        .fetch_optional(&mut *transaction)
        .await?
        .ok_or_else(|| RegistryError::not_found(self.names.assignment(staff_id, id)))?;
        self.assignment_from_row(&row)
    }

    /// Assignments of one member of staff, or of everyone for `None`.
    pub async fn list_assignments(
        &self,
        staff_id: Option<&str>,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<Assignment>, String), RegistryError> {
        let mut query = SqlQuery::new(&format!(
            "SELECT {ASSIGNMENT_COLUMNS} FROM assignments WHERE 1 = 1"
        ));
        reach.push_condition(&mut query, &ASSIGNMENTS.sql);
        if let Some(staff_id) = staff_id {
            query
                .push(" AND staff_id = ")
                .push_value(SqlValue::Text(staff_id.to_owned()));
        }
        filter::push_conditions(&page.comparisons, ASSIGNMENT_FILTERS, &mut query)?;
        self.list_page(
            query,
            "id",
            page,
            |row| self.assignment_from_row(row),
            |item| last_id(&item.name).to_owned(),
        )
        .await
    }

    fn assignment_from_row(&self, row: &AnyRow) -> Result<Assignment, RegistryError> {
        let id: String = row.try_get("id")?;
        let staff_id: String = row.try_get("staff_id")?;
        let building_id: String = row.try_get("building_id")?;
        let uscc: Option<String> = row.try_get("uscc")?;
        Ok(Assignment {
            name: self.names.assignment(&staff_id, &id),
            building: self.names.building(&building_id),
            enterprise: uscc
                .map(|uscc| self.names.enterprise(&uscc))
                .unwrap_or_default(),
            role: super::int32(row, "role")?,
            create_time: timestamp(row, "created_at")?,
        })
    }
}

fn unknown_building(building: &str) -> InvalidArgument {
    InvalidArgument::new(
        "assignment.building",
        format!("楼宇不存在 unknown building {building}"),
    )
}

/// Why an assignment ended, as `AssignmentEnded.reason` says it.
const ASSIGNMENT_DELETED: &str = "删除 deleted";
const ASSIGNMENT_STAFF_LEFT: &str = "离岗 staff left";

fn sub_district_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    filter::push_resource_id_condition(comparison, "sub_district", query)
}

fn building_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    filter::push_resource_id_condition(comparison, "building_id", query)
}

fn enterprise_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    filter::push_enterprise_condition(comparison, "uscc", query)
}

fn role_number(value: &str) -> Option<i32> {
    fields::enum_number("ASSIGNMENT_ROLE_", value, |name| {
        AssignmentRole::from_str_name(name).map(|role| role as i32)
    })
}

const STAFF_FILTERS: &[FilterField] = &[
    FilterField {
        name: "sub_district",
        column: "sub_district",
        kind: FieldKind::Custom(sub_district_filter),
    },
    FilterField {
        name: "active",
        column: "active",
        kind: FieldKind::Bool,
    },
];

const ASSIGNMENT_FILTERS: &[FilterField] = &[
    FilterField {
        name: "building",
        column: "building_id",
        kind: FieldKind::Custom(building_filter),
    },
    FilterField {
        name: "enterprise",
        column: "uscc",
        kind: FieldKind::Custom(enterprise_filter),
    },
    FilterField {
        name: "role",
        column: "role",
        kind: FieldKind::Enum(role_number),
    },
];
