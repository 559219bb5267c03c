//! Units of a building, and the district's vacant units.

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::handler::{Reply, reply, required};
use louyu_kit::names::parse_resource_id;
use louyu_kit::scope::Reach;
use louyu_proto::registry::v1::*;
use tonic::Request;

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

pub(super) async fn list_vacant(
    api: &RegistryApi,
    request: Request<ListVacantUnitsRequest>,
) -> Reply<ListVacantUnitsResponse> {
    let body = request.get_ref();
    api.names().parse_district("parent", &body.parent)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list_vacant_units(page).await
    })
    .await
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
