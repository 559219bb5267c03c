use std::collections::HashMap;

use louyu_kit::error::InvalidArgument;
use louyu_kit::filter::{self, FieldKind, FilterField, SqlQuery, SqlValue};
use louyu_kit::mutation::Mutations;
use louyu_kit::names::last_id;
use louyu_proto::registry::v1::{
    BuildingResource, NearbyResource, OfferingOccurrences, ResourceKind,
};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::scope::BUILDINGS;
use super::{Call, PageQuery, Store, exists, timestamp};
use crate::domain::fields;
use crate::domain::offerings::Span;
use crate::error::RegistryError;

/// A building resource's fields, parsed.
#[derive(Debug, Clone)]
pub struct ResourceInput {
    pub display_name: String,
    pub kind: ResourceKind,
    pub building_id: Option<String>,
    pub location: (f64, f64),
    pub address: String,
    pub opening_hours: String,
}

const COLUMNS: &str =
    "id, display_name, kind, building_id, latitude, longitude, address, opening_hours, created_at";

/// Metres per degree of latitude, rounded up so the bounding box never cuts
/// off a resource inside the radius.
const METERS_PER_DEGREE: f64 = 111_000.0;

impl Store {
    pub async fn create_resource(
        &self,
        call: &Call,
        id: &str,
        input: ResourceInput,
    ) -> Result<BuildingResource, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let name = self.names.resource(id);
            if exists(
                &mut transaction,
                "SELECT 1 FROM building_resources WHERE id = $1",
                &[id],
            )
            .await?
            {
                return Err(RegistryError::AlreadyExists { resource: name });
            }
            if let Some(building_id) = &input.building_id
                && !exists(
                    &mut transaction,
                    "SELECT 1 FROM buildings WHERE id = $1",
                    &[building_id],
                )
                .await?
            {
                return Err(unknown_building(&self.names.building(building_id)).into());
            }
            match &input.building_id {
                // A building out of the caller's sight is as unknown as a
                // missing one.
                Some(building_id) => {
                    let building = self.names.building(building_id);
                    match self
                        .check_write(&mut transaction, call, &BUILDINGS, building_id, &building)
                        .await
                    {
                        Err(RegistryError::NotFound { .. }) => {
                            return Err(unknown_building(&building).into());
                        }
                        other => other?,
                    }
                }
                None if !call.reach.is_district() => {
                    return Err(RegistryError::PermissionDenied(
                        "building_resource.building: 不属于任何楼宇的资源由区登记 a resource outside any building is the district's to register"
                            .to_owned(),
                    ));
                }
                None => {}
            }
            sqlx::query(
                "INSERT INTO building_resources (id, display_name, kind, building_id, latitude, longitude, address, \
                 opening_hours, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(id)
            .bind(&input.display_name)
            .bind(i64::from(input.kind as i32))
            .bind(input.building_id.clone())
            .bind(input.location.0)
            .bind(input.location.1)
            .bind(&input.address)
            .bind(&input.opening_hours)
            .bind(louyu_kit::time::now_micros())
            .execute(&mut *transaction)
            .await
            .map_err(|error| RegistryError::from(error).when_creating(&name))?;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM building_resources WHERE id = $1"
            )))
            .bind(id)
            .fetch_one(&mut *transaction)
            .await?;
            let created = self.resource_from_row(&row)?;
            self.finish(transaction, call, &name, &created, Vec::new())
                .await?;
            Ok(created)
        })
        .await
    }

    pub async fn list_resources(
        &self,
        page: &PageQuery,
    ) -> Result<(Vec<BuildingResource>, String), RegistryError> {
        let mut query = SqlQuery::new(&format!(
            "SELECT {COLUMNS} FROM building_resources WHERE 1 = 1"
        ));
        filter::push_conditions(&page.comparisons, RESOURCE_FILTERS, &mut query)?;
        self.list_page(
            query,
            "id",
            page,
            |row| self.resource_from_row(row),
            |item| last_id(&item.name).to_owned(),
        )
        .await
    }

    /// Resources within `radius_meters` of a building, nearest first. A
    /// bounding box narrows the rows in SQL; the exact great-circle distance
    /// decides. With a `window`, only those with an offering on in it, each
    /// with those offerings and their times.
    pub async fn search_nearby_resources(
        &self,
        building_id: &str,
        radius_meters: f64,
        kind: Option<ResourceKind>,
        window: Option<Span>,
    ) -> Result<Vec<NearbyResource>, RegistryError> {
        // The service map is the district's: every member of staff reads it
        // around any building.
        let building = self
            .get_building(building_id, &louyu_kit::scope::Reach::District)
            .await?;
        let Some(centre) = building
            .location
            .map(|location| (location.latitude, location.longitude))
        else {
            return Err(RegistryError::FailedPrecondition(format!(
                "楼宇未登记坐标 building {} has no location",
                building.name
            )));
        };
        let latitude_span = radius_meters / METERS_PER_DEGREE;
        let longitude_span =
            radius_meters / (METERS_PER_DEGREE * centre.0.to_radians().cos().max(0.01));
        let mut query = SqlQuery::new(&format!(
            "SELECT {COLUMNS} FROM building_resources WHERE latitude BETWEEN "
        ));
        query
            .push_value(SqlValue::Real(centre.0 - latitude_span))
            .push(" AND ")
            .push_value(SqlValue::Real(centre.0 + latitude_span))
            .push(" AND longitude BETWEEN ")
            .push_value(SqlValue::Real(centre.1 - longitude_span))
            .push(" AND ")
            .push_value(SqlValue::Real(centre.1 + longitude_span));
        if let Some(kind) = kind {
            query
                .push(" AND kind = ")
                .push_value(SqlValue::Integer(i64::from(kind as i32)));
        }
        let rows = query.build().fetch_all(self.db.pool()).await?;
        let mut results = Vec::new();
        for row in &rows {
            let resource = self.resource_from_row(row)?;
            let location = resource
                .location
                .as_ref()
                .map(|location| (location.latitude, location.longitude));
            let distance = location.map_or(f64::INFINITY, |location| {
                fields::distance_meters(centre, location)
            });
            if distance <= radius_meters {
                results.push(NearbyResource {
                    building_resource: Some(resource),
                    distance_meters: distance,
                    offerings: Vec::new(),
                });
            }
        }
        results.sort_by(|left, right| left.distance_meters.total_cmp(&right.distance_meters));
        match window {
            None => Ok(results),
            Some(window) => self.what_is_on(results, window).await,
        }
    }

    /// Of `nearby`, the resources with an offering on in `window`, each with
    /// those offerings, the earliest on first, and their times; the order of
    /// `nearby` is kept.
    async fn what_is_on(
        &self,
        mut nearby: Vec<NearbyResource>,
        window: Span,
    ) -> Result<Vec<NearbyResource>, RegistryError> {
        let resource_id = |result: &NearbyResource| {
            result
                .building_resource
                .as_ref()
                .map(|resource| last_id(&resource.name).to_owned())
                .unwrap_or_default()
        };
        let resource_ids: Vec<String> = nearby.iter().map(resource_id).collect();
        let mut on: HashMap<String, Vec<(Span, OfferingOccurrences)>> = HashMap::new();
        for stored in self.offerings_of_resources(&resource_ids).await? {
            let occurrences = stored.availability.occurrences(window);
            let Some(first) = occurrences.first().copied() else {
                continue;
            };
            on.entry(stored.resource_id).or_default().push((
                first,
                OfferingOccurrences {
                    offering: Some(stored.offering),
                    occurrences: occurrences.iter().map(|span| span.to_interval()).collect(),
                },
            ));
        }
        nearby.retain_mut(|result| {
            let Some(mut offerings) = on.remove(&resource_id(result)) else {
                return false;
            };
            offerings.sort_by(|(left_first, left), (right_first, right)| {
                let name = |on: &OfferingOccurrences| {
                    on.offering
                        .as_ref()
                        .map(|offering| offering.name.clone())
                        .unwrap_or_default()
                };
                left_first
                    .cmp(right_first)
                    .then_with(|| name(left).cmp(&name(right)))
            });
            result.offerings = offerings.into_iter().map(|(_, on)| on).collect();
            true
        });
        Ok(nearby)
    }

    fn resource_from_row(&self, row: &AnyRow) -> Result<BuildingResource, RegistryError> {
        let id: String = row.try_get("id")?;
        let building_id: Option<String> = row.try_get("building_id")?;
        Ok(BuildingResource {
            name: self.names.resource(&id),
            display_name: row.try_get("display_name")?,
            kind: super::int32(row, "kind")?,
            building: building_id
                .map(|id| self.names.building(&id))
                .unwrap_or_default(),
            location: fields::lat_lng(row.try_get("latitude")?, row.try_get("longitude")?),
            address: row.try_get("address")?,
            opening_hours: row.try_get("opening_hours")?,
            create_time: timestamp(row, "created_at")?,
        })
    }
}

fn unknown_building(building: &str) -> InvalidArgument {
    InvalidArgument::new(
        "building_resource.building",
        format!("楼宇不存在 unknown building {building}"),
    )
}

fn kind_number(value: &str) -> Option<i32> {
    fields::enum_number("RESOURCE_KIND_", value, |name| {
        ResourceKind::from_str_name(name).map(|kind| kind as i32)
    })
}

fn building_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    filter::push_resource_id_condition(comparison, "building_id", query)
}

const RESOURCE_FILTERS: &[FilterField] = &[
    FilterField {
        name: "kind",
        column: "kind",
        kind: FieldKind::Enum(kind_number),
    },
    FilterField {
        name: "building",
        column: "building_id",
        kind: FieldKind::Custom(building_filter),
    },
];
