//! Units of a building, and the district's vacant units.

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::handler::{Reply, reply, required};
use louyu_kit::names::parse_resource_id;
use louyu_kit::page::PageQuery;
use louyu_kit::scope::Reach;
use louyu_proto::registry::v1::*;
use tonic::{Request, Response};

use super::RegistryApi;
use super::update::{Update, mutable_fields};
use crate::domain::fields;
use crate::store::{Call, UnitInput};

pub(super) async fn create(api: &RegistryApi, request: Request<CreateUnitRequest>) -> Reply<Unit> {
    let body = request.get_ref();
    let building_id = api.names().parse_building("parent", &body.parent)?;
    let call = Call::idempotent(&request)?;
    let mut violations = Violations::new();
    let id = violations.check(parse_resource_id("unit_id", &body.unit_id));
    let input = violations.check(required("unit", body.unit.as_ref()).and_then(parse_unit));
    violations.into_result()?;
    reply(
        api.store
            .create_unit(
                &call,
                &building_id,
                &id.expect("checked"),
                input.expect("checked"),
            )
            .await,
    )
}

pub(super) async fn get(api: &RegistryApi, request: Request<GetUnitRequest>) -> Reply<Unit> {
    let (building_id, id) = api.names().parse_unit("name", &request.get_ref().name)?;
    let reach = Reach::of_request(&request)?;
    reply(api.store.get_unit(&building_id, &id, &reach).await)
}

pub(super) async fn list(
    api: &RegistryApi,
    request: Request<ListUnitsRequest>,
) -> Reply<ListUnitsResponse> {
    let body = request.get_ref();
    let building_id = api.names().parse_building("parent", &body.parent)?;
    let reach = Reach::of_request(&request)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list_units(&building_id, page, &reach).await
    })
    .await
}

/// Vacant units by name or, with `near_building`, nearest first (see
/// [`crate::store::Store::list_vacant_units_near`]). The response carries
/// each unit twice, bare in `units` as it always did and with its place and
/// distance in `vacant_units`, so it is built here rather than by kit's
/// generic List, which fills one repeated field.
pub(super) async fn list_vacant(
    api: &RegistryApi,
    request: Request<ListVacantUnitsRequest>,
) -> Reply<ListVacantUnitsResponse> {
    let body = request.get_ref();
    let mut violations = Violations::new();
    violations.check(api.names().parse_district("parent", &body.parent));
    let near_building = if body.near_building.is_empty() {
        Some(None)
    } else {
        violations
            .check(
                api.names()
                    .parse_building("near_building", &body.near_building),
            )
            .map(Some)
    };
    violations.into_result()?;
    let (vacant_units, next_page_token) = match near_building.flatten() {
        None => {
            let page = PageQuery::of_request(&api.page_tokens, body)?;
            api.store.list_vacant_units(&page).await?
        }
        Some(centre_id) => {
            // The order depends on the building, so its token must not
            // continue another building's list. Without one, the scope is
            // the plain List's, and tokens made before `near_building`
            // existed still continue.
            let scope = format!(
                "{}|{}|near_building={}",
                louyu_proto::method_of::<ListVacantUnitsRequest>(),
                body.parent,
                body.near_building
            );
            let page = PageQuery::parse(
                &api.page_tokens,
                &scope,
                &body.filter,
                body.page_size,
                &body.page_token,
            )?;
            api.store.list_vacant_units_near(&centre_id, &page).await?
        }
    };
    let units = vacant_units
        .iter()
        .filter_map(|vacant| vacant.unit.clone())
        .collect();
    Ok(Response::new(ListVacantUnitsResponse {
        units,
        next_page_token,
        vacant_units,
    }))
}

pub(super) async fn update(api: &RegistryApi, request: Request<UpdateUnitRequest>) -> Reply<Unit> {
    let body = request.get_ref();
    let patch = required("unit", body.unit.as_ref())?;
    let (building_id, id) = api.names().parse_unit("unit.name", &patch.name)?;
    let mutable = mutable_fields!(Unit; display_name, floor, area_square_meters);
    let immutable = &["name", "current_tenant", "create_time", "update_time"];
    let update = Update::parse(body.update_mask.as_ref(), mutable, immutable, patch)?;
    let call = Call::new(&request)?;
    reply(
        api.store
            .update_unit(&call, &building_id, &id, move |current: &mut Unit| {
                update.apply(current);
                Ok(parse_unit(current)?)
            })
            .await,
    )
}

fn parse_unit(value: &Unit) -> Result<UnitInput, InvalidArgument> {
    let mut violations = Violations::new();
    let display_name = violations.check(fields::name("unit.display_name", &value.display_name));
    let floor = violations.check(fields::floor("unit.floor", value.floor));
    let area = violations.check(fields::area(
        "unit.area_square_meters",
        value.area_square_meters,
    ));
    violations.into_result()?;
    Ok(UnitInput {
        display_name: display_name.unwrap_or_default(),
        floor: floor.unwrap_or_default(),
        area: area.unwrap_or_default(),
    })
}
