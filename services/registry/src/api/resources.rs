//! Building resources (meeting rooms, service stations, reading corners)
//! and the search for those near a building, with what is on at them.

use louyu_kit::error::{InvalidArgument, Violations};
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
    let input = violations.check(
        required("building_resource", body.building_resource.as_ref())
            .and_then(|resource| parse_resource(api.names(), resource)),
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
    api.names().parse_district("parent", &body.parent)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list_resources(page).await
    })
    .await
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
    // Unset, the search is what it always was; set, it asks what is on.
    let window = match &body.time_window {
        None => Some(None),
        Some(window) => violations
            .check(Span::parse("time_window", Some(window)))
            .map(Some),
    };
    violations.into_result()?;
    let results = api
        .store
        .search_nearby_resources(
            &building_id.expect("checked"),
            radius,
            kind,
            window.expect("checked"),
        )
        .await?;
    Ok(Response::new(SearchNearbyResourcesResponse { results }))
}

fn parse_resource(
    names: &Names,
    value: &BuildingResource,
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
    let location = match violations.check(fields::location(
        "building_resource.location",
        value.location.as_ref(),
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
