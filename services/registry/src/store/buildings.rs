use louyu_kit::db::{NullableDouble, RowLock};
use louyu_kit::filter::{self, FieldKind, FilterField, SqlQuery};
use louyu_kit::mutation::Mutations;
use louyu_kit::names::last_id;
use louyu_kit::scope::Reach;
use louyu_proto::registry::v1::{Building, Contact};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::scope::BUILDINGS;
use super::{Call, PageQuery, Store, exists, timestamp};
use crate::domain::fields::{self, StoredContact};
use crate::error::RegistryError;
use crate::events;

/// A council member as the building's copy keeps it (JSON): the council's
/// members, written by `store::councils` whenever one changes, so a
/// building reads in one query. Only members whose term covers today show.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CouncilMemberRecord {
    pub contact: StoredContact,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role: String,
    /// The represented enterprise's USCC, if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub enterprise: String,
    /// The member's id, council role and organisation; empty in copies
    /// written before councils were kept.
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub council_role: i32,
    #[serde(default)]
    pub organisation_kind: i32,
    #[serde(default)]
    pub organisation_name: String,
    /// `YYYY-MM-DD`; the term's last day, if it has ended or will.
    #[serde(default)]
    pub term_start: String,
    #[serde(default)]
    pub term_end: String,
}

/// A building's fields, parsed.
#[derive(Debug, Clone)]
pub struct BuildingInput {
    pub display_name: String,
    pub address: String,
    pub location: Option<(f64, f64)>,
    pub floors_above_ground: i64,
    pub floors_below_ground: i64,
    pub managing_sub_district: String,
    pub property_manager: String,
}

const COLUMNS: &str = "id, display_name, address, latitude, longitude, floors_above_ground, floors_below_ground, \
     managing_sub_district, property_manager, council_members, building_chief, created_at, updated_at";

impl Store {
    pub async fn create_building(
        &self,
        call: &Call,
        id: &str,
        input: BuildingInput,
    ) -> Result<Building, RegistryError> {
        self.settle(call, async {
            self.check_sub_district(
                call,
                "building.managing_sub_district",
                Some(&input.managing_sub_district),
            )?;
            let mut transaction = self.begin().await?;
            let name = self.names.building(id);
            if exists(
                &mut transaction,
                "SELECT 1 FROM buildings WHERE id = $1",
                &[id],
            )
            .await?
            {
                return Err(RegistryError::AlreadyExists { resource: name });
            }
            self.check_building_references(&mut transaction, &input)
                .await?;
            let now = louyu_kit::time::now_micros();
            sqlx::query(
                "INSERT INTO buildings (id, display_name, address, latitude, longitude, floors_above_ground, \
                 floors_below_ground, managing_sub_district, property_manager, council_members, building_chief, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '[]', '', $10, $10)",
            )
            .bind(id)
            .bind(&input.display_name)
            .bind(&input.address)
            .bind(NullableDouble(input.location.map(|location| location.0)))
            .bind(NullableDouble(input.location.map(|location| location.1)))
            .bind(input.floors_above_ground)
            .bind(input.floors_below_ground)
            .bind(&input.managing_sub_district)
            .bind(&input.property_manager)
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(|error| RegistryError::from(error).when_creating(&name))?;
            let created = self
                .building_in(&mut transaction, id, RowLock::None)
                .await?;
            let event = events::building_changed(&created, Vec::new());
            self.finish(transaction, call, &name, &created, vec![event])
                .await?;
            Ok(created)
        })
        .await
    }

    /// Replaces a building's fields; `changed` are the field paths the caller
    /// asked to change, announced in the event.
    pub async fn update_building(
        &self,
        call: &Call,
        id: &str,
        apply: impl FnOnce(&mut Building) -> Result<(BuildingInput, Vec<String>), RegistryError>,
    ) -> Result<Building, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let mut building = self
                .building_in(&mut transaction, id, RowLock::ForUpdate)
                .await?;
            let name = building.name.clone();
            self.check_write(&mut transaction, call, &BUILDINGS, id, &name)
                .await?;
            let (input, changed) = apply(&mut building)?;
            // Handing a building to another sub-district is the district's.
            self.check_sub_district(
                call,
                "building.managing_sub_district",
                Some(&input.managing_sub_district),
            )?;
            self.check_building_references(&mut transaction, &input)
                .await?;
            sqlx::query(
                "UPDATE buildings SET display_name = $1, address = $2, latitude = $3, longitude = $4, \
                 floors_above_ground = $5, floors_below_ground = $6, managing_sub_district = $7, property_manager = $8, \
                 updated_at = $9 WHERE id = $10",
            )
            .bind(&input.display_name)
            .bind(&input.address)
            .bind(NullableDouble(input.location.map(|location| location.0)))
            .bind(NullableDouble(input.location.map(|location| location.1)))
            .bind(input.floors_above_ground)
            .bind(input.floors_below_ground)
            .bind(&input.managing_sub_district)
            .bind(&input.property_manager)
            .bind(louyu_kit::time::now_micros())
            .bind(id)
            .execute(&mut *transaction)
            .await?;
            let updated = self
                .building_in(&mut transaction, id, RowLock::None)
                .await?;
            let event = events::building_changed(&updated, changed);
            self.finish(transaction, call, &name, &updated, vec![event])
                .await?;
            Ok(updated)
        })
        .await
    }

    async fn check_building_references(
        &self,
        transaction: &mut sqlx::AnyConnection,
        input: &BuildingInput,
    ) -> Result<(), RegistryError> {
        if !self
            .sub_district_exists(transaction, &input.managing_sub_district)
            .await?
        {
            return Err(louyu_kit::error::InvalidArgument::new(
                "building.managing_sub_district",
                format!(
                    "街道不存在 unknown sub-district {}",
                    self.names.sub_district(&input.managing_sub_district)
                ),
            )
            .into());
        }
        Ok(())
    }

    pub async fn get_building(&self, id: &str, reach: &Reach) -> Result<Building, RegistryError> {
        let mut connection = self.db.pool().acquire().await?;
        self.check_read(
            &mut connection,
            &BUILDINGS,
            reach,
            id,
            &self.names.building(id),
        )
        .await?;
        self.building_in(&mut connection, id, RowLock::None).await
    }

    pub(super) async fn building_in(
        &self,
        transaction: &mut sqlx::AnyConnection,
        id: &str,
        lock: RowLock,
    ) -> Result<Building, RegistryError> {
        let lock = self.db.row_lock(lock, "buildings");
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM buildings WHERE id = $1{lock}"
        )))
        .bind(id)
        .fetch_optional(&mut *transaction)
        .await?
        .ok_or_else(|| RegistryError::not_found(self.names.building(id)))?;
        self.building_from_row(&row)
    }

    pub async fn list_buildings(
        &self,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<Building>, String), RegistryError> {
        let mut query = SqlQuery::new(&format!("SELECT {COLUMNS} FROM buildings WHERE 1 = 1"));
        reach.push_condition(&mut query, &BUILDINGS.sql);
        filter::push_conditions(&page.comparisons, BUILDING_FILTERS, &mut query)?;
        self.list_page(
            query,
            "id",
            page,
            |row| self.building_from_row(row),
            |item| last_id(&item.name).to_owned(),
        )
        .await
    }

    // The deprecated copies of the council and chief are still filled
    // (and masked) until their removal.
    #[allow(deprecated)]
    fn building_from_row(&self, row: &AnyRow) -> Result<Building, RegistryError> {
        let id: String = row.try_get("id")?;
        let council: Vec<CouncilMemberRecord> =
            serde_json::from_str(&row.try_get::<String, _>("council_members")?)?;
        let chief: String = row.try_get("building_chief")?;
        let building_chief = if chief.is_empty() {
            None
        } else {
            Some(Contact::from(serde_json::from_str::<StoredContact>(
                &chief,
            )?))
        };
        let sub_district: String = row.try_get("managing_sub_district")?;
        Ok(Building {
            name: self.names.building(&id),
            display_name: row.try_get("display_name")?,
            address: row.try_get("address")?,
            location: fields::lat_lng(row.try_get("latitude")?, row.try_get("longitude")?),
            floors_above_ground: super::int32(row, "floors_above_ground")?,
            floors_below_ground: super::int32(row, "floors_below_ground")?,
            managing_sub_district: self.names.sub_district(&sub_district),
            property_manager: row.try_get("property_manager")?,
            council_members: council
                .into_iter()
                .filter(|member| {
                    crate::domain::councils::term_covers(
                        &member.term_start,
                        &member.term_end,
                        louyu_kit::time::today_in_shanghai(),
                    )
                })
                .map(|member| self.council_member_of(&id, member))
                .collect(),
            building_chief,
            create_time: timestamp(row, "created_at")?,
            update_time: timestamp(row, "updated_at")?,
        })
    }
}

fn sub_district_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    filter::push_resource_id_condition(comparison, "managing_sub_district", query)
}

pub(super) const BUILDING_FILTERS: &[FilterField] = &[
    FilterField {
        name: "managing_sub_district",
        column: "managing_sub_district",
        kind: FieldKind::Custom(sub_district_filter),
    },
    FilterField {
        name: "display_name",
        column: "display_name",
        kind: FieldKind::Text,
    },
    FilterField {
        name: "floors_above_ground",
        column: "floors_above_ground",
        kind: FieldKind::Integer,
    },
];
