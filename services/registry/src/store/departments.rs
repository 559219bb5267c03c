use louyu_kit::db::RowLock;
use louyu_kit::error::InvalidArgument;
use louyu_kit::filter::{self, FieldKind, FilterField, SqlQuery, SqlValue};
use louyu_kit::mutation::Mutations;
use louyu_kit::names::last_id;
use louyu_kit::page::ChildRows;
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::registry::v1::{Department, DepartmentKind};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::scope::DEPARTMENTS;
use super::{Call, PageQuery, Store, timestamp};
use crate::domain::fields;
use crate::error::RegistryError;

/// A department's fields, parsed.
#[derive(Debug, Clone)]
pub struct DepartmentInput {
    pub display_name: String,
    pub kind: DepartmentKind,
    pub demand_categories: Vec<DemandCategory>,
    /// Sub-district ids; empty for the whole district.
    pub jurisdiction: Vec<String>,
    pub office_phone: String,
}

const COLUMNS: &str = "id, display_name, kind, office_phone, created_at, updated_at";

impl Store {
    pub async fn create_department(
        &self,
        call: &Call,
        id: &str,
        input: DepartmentInput,
    ) -> Result<Department, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let name = self.names.department(id);
            // The primary key says whether it exists (ALREADY_EXISTS).
            let now = louyu_kit::time::now_micros();
            sqlx::query(
                "INSERT INTO departments (id, display_name, kind, office_phone, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(id)
            .bind(&input.display_name)
            .bind(i64::from(input.kind as i32))
            .bind(&input.office_phone)
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(|error| RegistryError::from(error).when_creating(&name))?;
            self.write_department_sets(&mut transaction, id, &input)
                .await?;
            let created = self
                .department_in(&mut transaction, id, RowLock::None)
                .await?;
            self.finish(transaction, call, &name, &created, Vec::new())
                .await?;
            Ok(created)
        })
        .await
    }

    pub async fn update_department(
        &self,
        call: &Call,
        id: &str,
        apply: impl FnOnce(&mut Department) -> Result<DepartmentInput, RegistryError>,
    ) -> Result<Department, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let mut department = self
                .department_in(&mut transaction, id, RowLock::ForUpdate)
                .await?;
            self.check_write(&mut transaction, call, &DEPARTMENTS, id, &department.name.clone())
                .await?;
            let input = apply(&mut department)?;
            sqlx::query("UPDATE departments SET display_name = $1, kind = $2, office_phone = $3, updated_at = $4 WHERE id = $5")
                .bind(&input.display_name)
                .bind(i64::from(input.kind as i32))
                .bind(&input.office_phone)
                .bind(louyu_kit::time::now_micros())
                .bind(id)
                .execute(&mut *transaction)
                .await?;
            sqlx::query("DELETE FROM department_categories WHERE department_id = $1")
                .bind(id)
                .execute(&mut *transaction)
                .await?;
            sqlx::query("DELETE FROM department_jurisdictions WHERE department_id = $1")
                .bind(id)
                .execute(&mut *transaction)
                .await?;
            self.write_department_sets(&mut transaction, id, &input)
                .await?;
            let updated = self
                .department_in(&mut transaction, id, RowLock::None)
                .await?;
            let name = updated.name.clone();
            self.finish(transaction, call, &name, &updated, Vec::new())
                .await?;
            Ok(updated)
        })
        .await
    }

    async fn write_department_sets(
        &self,
        transaction: &mut sqlx::AnyConnection,
        id: &str,
        input: &DepartmentInput,
    ) -> Result<(), RegistryError> {
        for category in &input.demand_categories {
            sqlx::query(
                "INSERT INTO department_categories (department_id, category) VALUES ($1, $2)",
            )
            .bind(id)
            .bind(i64::from(*category as i32))
            .execute(&mut *transaction)
            .await?;
        }
        for (index, sub_district) in input.jurisdiction.iter().enumerate() {
            if !self.sub_district_exists(transaction, sub_district).await? {
                return Err(InvalidArgument::new(
                    format!("department.jurisdiction[{index}]"),
                    format!(
                        "街道不存在 unknown sub-district {}",
                        self.names.sub_district(sub_district)
                    ),
                )
                .into());
            }
            sqlx::query("INSERT INTO department_jurisdictions (department_id, sub_district_id) VALUES ($1, $2)")
                .bind(id)
                .bind(sub_district)
                .execute(&mut *transaction)
                .await?;
        }
        Ok(())
    }

    pub async fn get_department(&self, id: &str) -> Result<Department, RegistryError> {
        let mut connection = self.db.pool().acquire().await?;
        self.department_in(&mut connection, id, RowLock::None).await
    }

    pub(super) async fn department_in(
        &self,
        transaction: &mut sqlx::AnyConnection,
        id: &str,
        lock: RowLock,
    ) -> Result<Department, RegistryError> {
        let lock = self.db.row_lock(lock, "departments");
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM departments WHERE id = $1{lock}"
        )))
        .bind(id)
        .fetch_optional(&mut *transaction)
        .await?
        .ok_or_else(|| RegistryError::not_found(self.names.department(id)))?;
        let mut department = self.department_from_row(&row)?;
        self.fill_department_sets(&mut *transaction, std::slice::from_mut(&mut department))
            .await?;
        Ok(department)
    }

    pub async fn list_departments(
        &self,
        page: &PageQuery,
    ) -> Result<(Vec<Department>, String), RegistryError> {
        let mut query = SqlQuery::new(&format!("SELECT {COLUMNS} FROM departments WHERE 1 = 1"));
        filter::push_conditions(&page.comparisons, DEPARTMENT_FILTERS, &mut query)?;
        let (mut departments, next) = self
            .list_page(
                query,
                "id",
                page,
                |row| self.department_from_row(row),
                |item| last_id(&item.name).to_owned(),
            )
            .await?;
        let mut connection = self.db.pool().acquire().await?;
        self.fill_department_sets(&mut connection, &mut departments)
            .await?;
        Ok((departments, next))
    }

    async fn fill_department_sets(
        &self,
        connection: &mut sqlx::AnyConnection,
        departments: &mut [Department],
    ) -> Result<(), RegistryError> {
        let ids: Vec<String> = departments
            .iter()
            .map(|department| last_id(&department.name).to_owned())
            .collect();
        let mut categories = ChildRows::fetch(
            &mut *connection,
            "SELECT department_id, category FROM department_categories WHERE 1 = 1",
            "department_id",
            &ids,
            "category",
        )
        .await?;
        let mut jurisdictions = ChildRows::fetch(
            &mut *connection,
            "SELECT department_id, sub_district_id FROM department_jurisdictions WHERE 1 = 1",
            "department_id",
            &ids,
            "sub_district_id",
        )
        .await?;
        for (department, id) in departments.iter_mut().zip(&ids) {
            department.demand_categories =
                categories.take_as(id, |row| super::int32(row, "category"))?;
            department.jurisdiction =
                jurisdictions.take_as(id, |row| -> Result<_, RegistryError> {
                    Ok(self
                        .names
                        .sub_district(&row.try_get::<String, _>("sub_district_id")?))
                })?;
        }
        Ok(())
    }

    fn department_from_row(&self, row: &AnyRow) -> Result<Department, RegistryError> {
        let id: String = row.try_get("id")?;
        Ok(Department {
            name: self.names.department(&id),
            display_name: row.try_get("display_name")?,
            kind: super::int32(row, "kind")?,
            demand_categories: Vec::new(),
            jurisdiction: Vec::new(),
            office_phone: row.try_get("office_phone")?,
            create_time: timestamp(row, "created_at")?,
            update_time: timestamp(row, "updated_at")?,
        })
    }
}

fn kind_number(value: &str) -> Option<i32> {
    fields::enum_number("DEPARTMENT_KIND_", value, |name| {
        DepartmentKind::from_str_name(name).map(|kind| kind as i32)
    })
}

/// `demand_category = TAX`: departments that handle the category.
fn demand_category_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    filter::equality_only(comparison)?;
    let number = match &comparison.value {
        filter::Literal::Text(text) | filter::Literal::Word(text) => {
            fields::enum_number("DEMAND_CATEGORY_", text, |name| {
                DemandCategory::from_str_name(name).map(|category| category as i32)
            })
        }
        filter::Literal::Number(_) => None,
    };
    let Some(number) = number.filter(|number| *number != 0) else {
        return Err(InvalidArgument::new(
            "filter",
            "demand_category 的值应为需求类别 demand_category must be a demand category such as TAX",
        ));
    };
    let negate = if comparison.op == filter::Op::Ne {
        "NOT "
    } else {
        ""
    };
    query
        .push(" AND ")
        .push(negate)
        .push("EXISTS (SELECT 1 FROM department_categories c WHERE c.department_id = departments.id AND c.category = ")
        .push_value(SqlValue::Integer(i64::from(number)))
        .push(")");
    Ok(())
}

/// `sub_district = "districts/d/subDistricts/s"`: departments whose
/// jurisdiction covers it, district-wide ones included.
fn sub_district_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    if comparison.op != filter::Op::Eq {
        return Err(InvalidArgument::new(
            "filter",
            "sub_district 只支持 = sub_district supports only =",
        ));
    }
    let id = last_id(filter::quoted_name(comparison)?).to_owned();
    query
        .push(" AND (NOT EXISTS (SELECT 1 FROM department_jurisdictions j WHERE j.department_id = departments.id)")
        .push(" OR EXISTS (SELECT 1 FROM department_jurisdictions j WHERE j.department_id = departments.id AND j.sub_district_id = ")
        .push_value(SqlValue::Text(id))
        .push("))");
    Ok(())
}

const DEPARTMENT_FILTERS: &[FilterField] = &[
    FilterField {
        name: "kind",
        column: "kind",
        kind: FieldKind::Enum(kind_number),
    },
    FilterField {
        name: "demand_category",
        column: "",
        kind: FieldKind::Custom(demand_category_filter),
    },
    FilterField {
        name: "sub_district",
        column: "",
        kind: FieldKind::Custom(sub_district_filter),
    },
];
