//! Building resources (meeting rooms, service stations, reading corners)
//! and the search for those near a building, with what is on at them.

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::geo::Datum;
use louyu_kit::handler::{Reply, reply, required};
use louyu_kit::names::chosen_or_generated_id;
use louyu_proto::registry::v1::*;
use tonic::{Request, Response};

use super::RegistryApi;
use crate::domain::offerings::Span;
use crate::domain::{Names, fields};
use crate::store::{Call, ResourceInput};

/// The search radius when the request leaves it 0, and the largest allowed.
const DEFAULT_RADIUS_METERS: f64 = 500.0;
const MAX_RADIUS_METERS: f64 = 5000.0;

pub(super) async fn create(
    api: &RegistryApi,
    request: Request<CreateBuildingResourceRequest>,
) -> Reply<BuildingResource> {
    let body = request.get_ref();
    api.names().parse_district("parent", &body.parent)?;
    let call = Call::idempotent(&request)?;
    let mut violations = Violations::new();
    let id = violations.check(chosen_or_generated_id(
        "building_resource_id",
        &body.building_resource_id,
        "r",
    ));
    let datum = violations.check(Datum::parse("location_datum", body.location_datum));
    let input = violations.check(
        required("building_resource", body.building_resource.as_ref())
            .and_then(|resource| parse_resource(api.names(), resource, datum.unwrap_or_default())),
    );
    violations.into_result()?;
    reply(
        api.store
            .create_resource(&call, &id.expect("checked"), input.expect("checked"))
            .await,
    )
}

pub(super) async fn list(
    api: &RegistryApi,
    request: Request<ListBuildingResourcesRequest>,
) -> Reply<ListBuildingResourcesResponse> {
    let body = request.get_ref();
    let mut violations = Violations::new();
    violations.check(api.names().parse_district("parent", &body.parent));
    let datum = violations.check(Datum::parse("response_datum", body.response_datum));
    violations.into_result()?;
    let mut response: Response<ListBuildingResourcesResponse> =
        louyu_kit::handler::list(&api.page_tokens, body, async |page| {
            api.store.list_resources(page).await
        })
        .await?;
    locate_in(
        datum.expect("checked above"),
        response.get_mut().building_resources.iter_mut(),
    );
    Ok(response)
}

pub(super) async fn search_nearby(
    api: &RegistryApi,
    request: Request<SearchNearbyResourcesRequest>,
) -> Reply<SearchNearbyResourcesResponse> {
    let body = request.get_ref();
    let mut violations = Violations::new();
    let building_id = violations.check(api.names().parse_building("building", &body.building));
    let radius = if body.radius_meters == 0.0 {
        DEFAULT_RADIUS_METERS
    } else {
        body.radius_meters
    };
    if !radius.is_finite() || radius <= 0.0 || radius > MAX_RADIUS_METERS {
        violations.add(
            "radius_meters",
            "半径应在0至5000米之间 must be more than 0 and at most 5000 metres",
        );
    }
    let kind = if body.kind == 0 {
        None
    } else {
        violations.check(fields::required_enum::<ResourceKind>("kind", body.kind))
    };
    let datum = violations.check(Datum::parse("response_datum", body.response_datum));
    // Unset, the search is what it always was; set, it asks what is on.
    let window = match &body.time_window {
        None => Some(None),
        Some(window) => violations
            .check(Span::parse("time_window", Some(window)))
            .map(Some),
    };
    violations.into_result()?;
    // The store measures between the stored WGS-84 points; only the answer
    // is converted.
    let mut results = api
        .store
        .search_nearby_resources(
            &building_id.expect("checked"),
            radius,
            kind,
            window.expect("checked"),
        )
        .await?;
    locate_in(
        datum.expect("checked"),
        results
            .iter_mut()
            .filter_map(|result| result.building_resource.as_mut()),
    );
    Ok(Response::new(SearchNearbyResourcesResponse { results }))
}

/// Converts the stored WGS-84 locations of resources to the datum the
/// request asked for.
fn locate_in<'a>(datum: Datum, resources: impl Iterator<Item = &'a mut BuildingResource>) {
    for resource in resources {
        if let Some(location) = &mut resource.location {
            *location = datum.lat_lng_from_wgs84(location);
        }
    }
}

/// A resource as stored, its location converted from `datum` to WGS-84.
fn parse_resource(
    names: &Names,
    value: &BuildingResource,
    datum: Datum,
) -> Result<ResourceInput, InvalidArgument> {
    let mut violations = Violations::new();
    let display_name = violations.check(fields::name(
        "building_resource.display_name",
        &value.display_name,
    ));
    let kind = violations.check(fields::required_enum::<ResourceKind>(
        "building_resource.kind",
        value.kind,
    ));
    let building_id = if value.building.is_empty() {
        Some(None)
    } else {
        violations
            .check(names.parse_building("building_resource.building", &value.building))
            .map(Some)
    };
    let location_in_wgs84 = value
        .location
        .as_ref()
        .map(|location| datum.lat_lng_to_wgs84(location));
    let location = match violations.check(fields::location(
        "building_resource.location",
        location_in_wgs84.as_ref(),
    )) {
        Some(Some(location)) => Some(location),
        Some(None) => {
            violations.add("building_resource.location", "必须填写坐标 is required");
            None
        }
        None => None,
    };
    let address = violations.check(fields::multiline_text(
        "building_resource.address",
        &value.address,
        fields::MAX_TEXT_CHARS,
        false,
    ));
    let opening_hours = violations.check(fields::multiline_text(
        "building_resource.opening_hours",
        &value.opening_hours,
        200,
        false,
    ));
    violations.into_result()?;
    Ok(ResourceInput {
        display_name: display_name.unwrap_or_default(),
        kind: kind.unwrap_or_default(),
        building_id: building_id.flatten(),
        location: location.unwrap_or_default(),
        address: address.unwrap_or_default(),
        opening_hours: opening_hours.unwrap_or_default(),
    })
}
