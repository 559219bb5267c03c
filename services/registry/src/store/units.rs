use louyu_kit::db::RowLock;
use louyu_kit::error::InvalidArgument;
use louyu_kit::filter::{self, FieldKind, FilterField, SqlQuery, SqlValue};
use louyu_kit::mutation::Mutations;
use louyu_kit::names::last_id;
use louyu_kit::scope::Reach;
use louyu_proto::registry::v1::Unit;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::scope::BUILDINGS;
use super::{Call, PageQuery, Store, exists, timestamp};
use crate::error::RegistryError;

/// A unit's fields, parsed.
#[derive(Debug, Clone)]
pub struct UnitInput {
    pub display_name: String,
    pub floor: i64,
    pub area: f64,
}

/// Units with their current tenant, if any.
const SELECT: &str = "SELECT u.building_id, u.id, u.display_name, u.floor, u.area, u.created_at, u.updated_at, \
     t.uscc AS tenant FROM units u \
     LEFT JOIN tenancies t ON t.building_id = u.building_id AND t.unit_id = u.id AND t.active = 1";

impl Store {
    pub async fn create_unit(
        &self,
        call: &Call,
        building_id: &str,
        id: &str,
        input: UnitInput,
    ) -> Result<Unit, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            if !exists(
                &mut transaction,
                "SELECT 1 FROM buildings WHERE id = $1",
                &[building_id],
            )
            .await?
            {
                return Err(RegistryError::not_found(self.names.building(building_id)));
            }
            let building = self.names.building(building_id);
            self.check_write(&mut transaction, call, &BUILDINGS, building_id, &building)
                .await?;
            let name = self.names.unit(building_id, id);
            if exists(
                &mut transaction,
                "SELECT 1 FROM units WHERE building_id = $1 AND id = $2",
                &[building_id, id],
            )
            .await?
            {
                return Err(RegistryError::AlreadyExists { resource: name });
            }
            let now = louyu_kit::time::now_micros();
            sqlx::query(
                "INSERT INTO units (building_id, id, display_name, floor, area, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(building_id)
            .bind(id)
            .bind(&input.display_name)
            .bind(input.floor)
            .bind(input.area)
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(|error| RegistryError::from(error).when_creating(&name))?;
            let created = self
                .unit_in(&mut transaction, building_id, id, RowLock::None)
                .await?;
            self.finish(transaction, call, &name, &created, Vec::new())
                .await?;
            Ok(created)
        })
        .await
    }

    pub async fn update_unit(
        &self,
        call: &Call,
        building_id: &str,
        id: &str,
        apply: impl FnOnce(&mut Unit) -> Result<UnitInput, RegistryError>,
    ) -> Result<Unit, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let mut unit = self
                .unit_in(&mut transaction, building_id, id, RowLock::ForUpdate)
                .await?;
            self.check_write(&mut transaction, call, &BUILDINGS, building_id, &unit.name)
                .await?;
            let input = apply(&mut unit)?;
            sqlx::query(
                "UPDATE units SET display_name = $1, floor = $2, area = $3, updated_at = $4 WHERE building_id = $5 AND id = $6",
            )
            .bind(&input.display_name)
            .bind(input.floor)
            .bind(input.area)
            .bind(louyu_kit::time::now_micros())
            .bind(building_id)
            .bind(id)
            .execute(&mut *transaction)
            .await?;
            let updated = self
                .unit_in(&mut transaction, building_id, id, RowLock::None)
                .await?;
            let name = updated.name.clone();
            self.finish(transaction, call, &name, &updated, Vec::new())
                .await?;
            Ok(updated)
        })
        .await
    }

    pub async fn get_unit(
        &self,
        building_id: &str,
        id: &str,
        reach: &Reach,
    ) -> Result<Unit, RegistryError> {
        let mut connection = self.db.pool().acquire().await?;
        let name = self.names.unit(building_id, id);
        self.check_read(&mut connection, &BUILDINGS, reach, building_id, &name)
            .await?;
        self.unit_in(&mut connection, building_id, id, RowLock::None)
            .await
    }

    pub(super) async fn unit_in(
        &self,
        transaction: &mut sqlx::AnyConnection,
        building_id: &str,
        id: &str,
        lock: RowLock,
    ) -> Result<Unit, RegistryError> {
        let lock = self.db.row_lock(lock, "u");
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE u.building_id = $1 AND u.id = $2{lock}"
        )))
        .bind(building_id)
        .bind(id)
        .fetch_optional(&mut *transaction)
        .await?
        .ok_or_else(|| RegistryError::not_found(self.names.unit(building_id, id)))?;
        self.unit_from_row(&row)
    }

    pub async fn list_units(
        &self,
        building_id: &str,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<Unit>, String), RegistryError> {
        let building = self.names.building(building_id);
        if !self.building_exists(building_id).await? {
            return Err(RegistryError::not_found(building));
        }
        let mut connection = self.db.pool().acquire().await?;
        self.check_read(&mut connection, &BUILDINGS, reach, building_id, &building)
            .await?;
        drop(connection);
        let mut query = SqlQuery::new(SELECT);
        query
            .push(" WHERE u.building_id = ")
            .push_value(SqlValue::Text(building_id.to_owned()));
        filter::push_conditions(&page.comparisons, UNIT_FILTERS, &mut query)?;
        self.list_page(
            query,
            "u.id",
            page,
            |row| self.unit_from_row(row),
            |item| last_id(&item.name).to_owned(),
        )
        .await
    }

    /// Units with no active tenancy, across the district, ordered by building
    /// and unit.
    pub async fn list_vacant_units(
        &self,
        page: &PageQuery,
    ) -> Result<(Vec<Unit>, String), RegistryError> {
        let mut query = SqlQuery::new(
            "SELECT u.building_id, u.id, u.display_name, u.floor, u.area, u.created_at, u.updated_at, \
             NULL AS tenant, u.building_id || '/' || u.id AS unit_key FROM units u \
             JOIN buildings b ON b.id = u.building_id \
             WHERE NOT EXISTS (SELECT 1 FROM tenancies t WHERE t.building_id = u.building_id AND t.unit_id = u.id AND t.active = 1)",
        );
        filter::push_conditions(&page.comparisons, VACANT_UNIT_FILTERS, &mut query)?;
        self.list_page(
            query,
            "u.building_id || '/' || u.id",
            page,
            |row| self.unit_from_row(row),
            |item| {
                let mut segments = item.name.rsplit('/');
                let unit = segments.next().unwrap_or_default();
                let _collection = segments.next();
                let building = segments.next().unwrap_or_default();
                format!("{building}/{unit}")
            },
        )
        .await
    }

    async fn building_exists(&self, id: &str) -> Result<bool, RegistryError> {
        Ok(sqlx::query("SELECT 1 FROM buildings WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .is_some())
    }

    fn unit_from_row(&self, row: &AnyRow) -> Result<Unit, RegistryError> {
        let building_id: String = row.try_get("building_id")?;
        let id: String = row.try_get("id")?;
        let tenant: Option<String> = row.try_get("tenant")?;
        Ok(Unit {
            name: self.names.unit(&building_id, &id),
            display_name: row.try_get("display_name")?,
            floor: super::int32(row, "floor")?,
            area_square_meters: row.try_get("area")?,
            current_tenant: tenant
                .map(|uscc| self.names.enterprise(&uscc))
                .unwrap_or_default(),
            create_time: timestamp(row, "created_at")?,
            update_time: timestamp(row, "updated_at")?,
        })
    }
}

const UNIT_FILTERS: &[FilterField] = &[
    FilterField {
        name: "floor",
        column: "u.floor",
        kind: FieldKind::Integer,
    },
    FilterField {
        name: "area_square_meters",
        column: "u.area",
        kind: FieldKind::Real,
    },
];

fn building_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    filter::push_resource_id_condition(comparison, "u.building_id", query)
}

fn managing_sub_district_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    filter::push_resource_id_condition(comparison, "b.managing_sub_district", query)
}

const VACANT_UNIT_FILTERS: &[FilterField] = &[
    FilterField {
        name: "floor",
        column: "u.floor",
        kind: FieldKind::Integer,
    },
    FilterField {
        name: "area_square_meters",
        column: "u.area",
        kind: FieldKind::Real,
    },
    FilterField {
        name: "building",
        column: "u.building_id",
        kind: FieldKind::Custom(building_filter),
    },
    FilterField {
        name: "managing_sub_district",
        column: "b.managing_sub_district",
        kind: FieldKind::Custom(managing_sub_district_filter),
    },
];
