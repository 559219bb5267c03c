use louyu_kit::db::RowLock;
use louyu_kit::error::InvalidArgument;
use louyu_kit::filter::{self, FieldKind, FilterField, SqlQuery, SqlValue};
use louyu_kit::mutation::Mutations;
use louyu_kit::names::last_id;
use louyu_kit::page;
use louyu_kit::scope::Reach;
use louyu_proto::registry::v1::{Unit, VacantUnit};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::scope::BUILDINGS;
use super::{Call, PageQuery, Store, exists, timestamp};
use crate::domain::fields;
use crate::error::RegistryError;

/// A unit's fields, parsed.
#[derive(Debug, Clone)]
pub struct UnitInput {
    pub display_name: String,
    pub floor: i64,
    pub area: f64,
}

/// Units with no active tenancy, with where their building is; conditions
/// follow with ` AND …`.
const VACANT_SELECT: &str = "SELECT u.building_id, u.id, u.display_name, u.floor, u.area, u.created_at, u.updated_at, \
     NULL AS tenant, b.managing_sub_district, b.latitude, b.longitude FROM units u \
     JOIN buildings b ON b.id = u.building_id \
     WHERE NOT EXISTS (SELECT 1 FROM tenancies t WHERE t.building_id = u.building_id AND t.unit_id = u.id AND t.active = 1)";

/// A unit's place in nearest-first order, as a string whose byte order is
/// that order: the distance as 16 hex digits of its bits (for finite
/// numbers not below zero, bit patterns order as the numbers do), or 16
/// `f`s, after every distance, for a building with no location; then
/// `building/unit`, so equal distances go by name.
fn nearness_key(distance_meters: Option<f64>, building_id: &str, unit_id: &str) -> String {
    // `abs` turns a -0.0 into 0.0, whose bits sort first, not last.
    let distance = distance_meters.map_or_else(
        || "f".repeat(16),
        |distance| format!("{:016x}", distance.abs().to_bits()),
    );
    format!("{distance}/{building_id}/{unit_id}")
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
    /// and unit. The distance of each is 0.
    pub async fn list_vacant_units(
        &self,
        page: &PageQuery,
    ) -> Result<(Vec<VacantUnit>, String), RegistryError> {
        let mut query = SqlQuery::new(VACANT_SELECT);
        filter::push_conditions(&page.comparisons, VACANT_UNIT_FILTERS, &mut query)?;
        self.list_page(
            query,
            "u.building_id || '/' || u.id",
            page,
            |row| self.vacant_unit_from_row(row, 0.0),
            |item| {
                let unit_name = item.unit.as_ref().map_or("", |unit| unit.name.as_str());
                format!("{}/{}", last_id(&item.building), last_id(unit_name))
            },
        )
        .await
    }

    /// Units with no active tenancy, nearest first by great-circle distance
    /// from the building `centre_id`, equal distances (one building's units)
    /// by name, then the units of buildings with no location, by name.
    ///
    /// The distances are computed here, not in SQL (the two databases share
    /// no trigonometry), over every vacant unit the filter lets through: a
    /// district has thousands at most. Paging is still by keyset, the key
    /// being (distance, building/unit) as one string ([`nearness_key`]),
    /// and not by an offset into the sorted list: units stop and start being
    /// vacant between two pages, and an offset would then skip or repeat
    /// units, where a keyset goes on after the last unit served. The order
    /// holds from page to page as long as no building's location changes;
    /// the page token is scoped to `near_building`, so it cannot continue
    /// another building's order.
    ///
    /// The centre is looked up without a reach: every role that may list
    /// vacant units reads the district's service map at district scope, as
    /// for `SearchNearbyResources`. Unknown or without a location, it is a
    /// bad `near_building`.
    pub async fn list_vacant_units_near(
        &self,
        centre_id: &str,
        page: &PageQuery,
    ) -> Result<(Vec<VacantUnit>, String), RegistryError> {
        let centre = self.location_to_measure_from(centre_id).await?;
        let mut query = SqlQuery::new(VACANT_SELECT);
        filter::push_conditions(&page.comparisons, VACANT_UNIT_FILTERS, &mut query)?;
        let rows = query.build().fetch_all(self.db.pool()).await?;
        let mut ranked = Vec::with_capacity(rows.len());
        for row in &rows {
            let location = fields::lat_lng(row.try_get("latitude")?, row.try_get("longitude")?);
            let distance = location
                .map(|location| {
                    fields::distance_meters(centre, (location.latitude, location.longitude))
                })
                .filter(|distance| distance.is_finite());
            let building_id: String = row.try_get("building_id")?;
            let unit_id: String = row.try_get("id")?;
            let key = nearness_key(distance, &building_id, &unit_id);
            ranked.push((
                key,
                self.vacant_unit_from_row(row, distance.unwrap_or(0.0))?,
            ));
        }
        ranked.sort_by(|left, right| left.0.cmp(&right.0));
        let size = usize::try_from(page.size).expect("page sizes are positive");
        let after_last_served: Vec<(String, VacantUnit)> = ranked
            .into_iter()
            .filter(|(key, _)| page.after.as_ref().is_none_or(|after| key > after))
            .take(size + 1)
            .collect();
        let (ranked_page, next_page_token) = page::finish_page(
            &self.page_tokens,
            &page.scope,
            page.size,
            after_last_served,
            |(key, _)| key.clone(),
        );
        let vacant_units = ranked_page.into_iter().map(|(_, vacant)| vacant).collect();
        Ok((vacant_units, next_page_token))
    }

    /// Where `near_building` stands, as (latitude, longitude).
    async fn location_to_measure_from(
        &self,
        building_id: &str,
    ) -> Result<(f64, f64), RegistryError> {
        let building = self.names.building(building_id);
        let row = sqlx::query("SELECT latitude, longitude FROM buildings WHERE id = $1")
            .bind(building_id)
            .fetch_optional(self.db.pool())
            .await?;
        let Some(row) = row else {
            return Err(InvalidArgument::new(
                "near_building",
                format!("楼宇不存在 unknown building {building}"),
            )
            .into());
        };
        match fields::lat_lng(row.try_get("latitude")?, row.try_get("longitude")?) {
            Some(location) => Ok((location.latitude, location.longitude)),
            None => Err(InvalidArgument::new(
                "near_building",
                format!(
                    "楼宇未登记坐标，无法计算距离 building {building} has no location to measure distances from"
                ),
            )
            .into()),
        }
    }

    async fn building_exists(&self, id: &str) -> Result<bool, RegistryError> {
        Ok(sqlx::query("SELECT 1 FROM buildings WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .is_some())
    }

    fn vacant_unit_from_row(
        &self,
        row: &AnyRow,
        distance_meters: f64,
    ) -> Result<VacantUnit, RegistryError> {
        let building_id: String = row.try_get("building_id")?;
        let managing_sub_district: String = row.try_get("managing_sub_district")?;
        Ok(VacantUnit {
            unit: Some(self.unit_from_row(row)?),
            building: self.names.building(&building_id),
            managing_sub_district: self.names.sub_district(&managing_sub_district),
            distance_meters,
        })
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
