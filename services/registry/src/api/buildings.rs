//! Buildings.

use louyu_kit::error::into_status;
use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::geo::Datum;
use louyu_kit::handler::{Reply, reply, required};
use louyu_kit::names::chosen_or_generated_id;
use louyu_kit::scope::Reach;
use louyu_proto::registry::v1::*;
use tonic::{Request, Response};

use super::RegistryApi;
use super::contacts::Disclosure;
use super::update::{IMMUTABLE, Update, mutable_fields};
use crate::domain::{Names, fields};
use crate::store::{BuildingInput, Call};

pub(super) async fn create(
    api: &RegistryApi,
    request: Request<CreateBuildingRequest>,
) -> Reply<Building> {
    let body = request.get_ref();
    api.names().parse_district("parent", &body.parent)?;
    let call = Call::idempotent(&request)?;
    let mut violations = Violations::new();
    let id = violations.check(chosen_or_generated_id(
        "building_id",
        &body.building_id,
        "b",
    ));
    let datum = violations.check(Datum::parse("location_datum", body.location_datum));
    let input = violations.check(required("building", body.building.as_ref()).and_then(
        |building| {
            let in_wgs84 = located_in_wgs84(building, datum.unwrap_or_default());
            parse_building(api.names(), &in_wgs84)
        },
    ));
    violations.into_result()?;
    let (id, input) = (id.expect("checked above"), input.expect("checked above"));
    reply(api.store.create_building(&call, &id, input).await)
}

pub(super) async fn get(
    api: &RegistryApi,
    request: Request<GetBuildingRequest>,
) -> Reply<Building> {
    let body = request.get_ref();
    let mut violations = Violations::new();
    let id = violations.check(api.names().parse_building("name", &body.name));
    let datum = violations.check(Datum::parse("response_datum", body.response_datum));
    violations.into_result()?;
    let (id, datum) = (id.expect("checked above"), datum.expect("checked above"));
    let reach = Reach::of_request(&request)?;
    let disclosure = Disclosure::of(&request, "GetBuilding")?;
    let mut building = api
        .store
        .get_building(&id, &reach)
        .await
        .map_err(into_status)?;
    disclosure
        .buildings(api, std::slice::from_mut(&mut building))
        .await?;
    locate_in(datum, std::slice::from_mut(&mut building));
    Ok(Response::new(building))
}

pub(super) async fn list(
    api: &RegistryApi,
    request: Request<ListBuildingsRequest>,
) -> Reply<ListBuildingsResponse> {
    let body = request.get_ref();
    let mut violations = Violations::new();
    violations.check(api.names().parse_district("parent", &body.parent));
    let datum = violations.check(Datum::parse("response_datum", body.response_datum));
    violations.into_result()?;
    let datum = datum.expect("checked above");
    let reach = Reach::of_request(&request)?;
    let disclosure = Disclosure::of(&request, "ListBuildings")?;
    let mut response: Response<ListBuildingsResponse> =
        louyu_kit::handler::list(&api.page_tokens, body, async |page| {
            api.store.list_buildings(page, &reach).await
        })
        .await?;
    disclosure
        .buildings(api, &mut response.get_mut().buildings)
        .await?;
    locate_in(datum, &mut response.get_mut().buildings);
    Ok(response)
}

pub(super) async fn update(
    api: &RegistryApi,
    request: Request<UpdateBuildingRequest>,
) -> Reply<Building> {
    let body = request.get_ref();
    let patch = required("building", body.building.as_ref())?;
    let id = api.names().parse_building("building.name", &patch.name)?;
    let datum = Datum::parse("location_datum", body.location_datum)?;
    // The patch's location, not the stored one it may replace, is in the
    // request's datum.
    let patch_in_wgs84 = located_in_wgs84(patch, datum);
    let mutable = mutable_fields!(
        Building;
        display_name, address, location, floors_above_ground, floors_below_ground, managing_sub_district,
        property_manager
    );
    let update = Update::parse(
        body.update_mask.as_ref(),
        mutable,
        IMMUTABLE,
        &patch_in_wgs84,
    )?;
    let call = Call::new(&request)?;
    let names = api.names().clone();
    reply(
        api.store
            .update_building(&call, &id, move |current: &mut Building| {
                update.apply(current);
                Ok((parse_building(&names, current)?, update.paths))
            })
            .await,
    )
}

/// The building with its location converted from `datum` to WGS-84, as it
/// is checked and stored.
fn located_in_wgs84(building: &Building, datum: Datum) -> Building {
    Building {
        location: building
            .location
            .as_ref()
            .map(|location| datum.lat_lng_to_wgs84(location)),
        ..building.clone()
    }
}

/// Converts the stored WGS-84 locations of buildings to the datum the
/// request asked for.
fn locate_in(datum: Datum, buildings: &mut [Building]) {
    for building in buildings {
        if let Some(location) = &mut building.location {
            *location = datum.lat_lng_from_wgs84(location);
        }
    }
}

fn parse_building(names: &Names, value: &Building) -> Result<BuildingInput, InvalidArgument> {
    let mut violations = Violations::new();
    let display_name = violations.check(fields::name("building.display_name", &value.display_name));
    let address = violations.check(fields::multiline_text(
        "building.address",
        &value.address,
        fields::MAX_TEXT_CHARS,
        true,
    ));
    let location = violations.check(fields::location(
        "building.location",
        value.location.as_ref(),
    ));
    let above = violations.check(fields::floors(
        "building.floors_above_ground",
        value.floors_above_ground,
    ));
    let below = violations.check(fields::floors(
        "building.floors_below_ground",
        value.floors_below_ground,
    ));
    let sub_district = if value.managing_sub_district.is_empty() {
        violations.add(
            "building.managing_sub_district",
            "必须填写所属街道 is required: every building has exactly one managing sub-district",
        );
        None
    } else {
        violations.check(names.parse_sub_district(
            "building.managing_sub_district",
            &value.managing_sub_district,
        ))
    };
    let property_manager = violations.check(fields::text(
        "building.property_manager",
        &value.property_manager,
        fields::MAX_NAME_CHARS,
        false,
    ));
    violations.into_result()?;
    Ok(BuildingInput {
        display_name: display_name.unwrap_or_default(),
        address: address.unwrap_or_default(),
        location: location.flatten(),
        floors_above_ground: above.unwrap_or_default(),
        floors_below_ground: below.unwrap_or_default(),
        managing_sub_district: sub_district.unwrap_or_default(),
        property_manager: property_manager.unwrap_or_default(),
    })
}
