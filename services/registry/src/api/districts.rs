//! The district and its sub-districts.

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::handler::{Reply, reply, required};
use louyu_kit::names::parse_resource_id;
use louyu_proto::registry::v1::*;
use tonic::{Request, Response};

use super::RegistryApi;
use crate::domain::fields;
use crate::store::{Call, SubDistrictInput};

pub(super) fn get_district(
    api: &RegistryApi,
    request: Request<GetDistrictRequest>,
) -> Reply<District> {
    api.names()
        .parse_district("name", &request.get_ref().name)?;
    Ok(Response::new(District {
        name: api.names().district(),
        display_name: api.district_name.clone(),
    }))
}

pub(super) async fn create_sub_district(
    api: &RegistryApi,
    request: Request<CreateSubDistrictRequest>,
) -> Reply<SubDistrict> {
    let body = request.get_ref();
    api.names().parse_district("parent", &body.parent)?;
    let call = Call::idempotent(&request)?;
    let mut violations = Violations::new();
    let id = violations.check(parse_resource_id("sub_district_id", &body.sub_district_id));
    let sub_district = violations.check(required("sub_district", body.sub_district.as_ref()));
    let input = match (sub_district, id) {
        (Some(sub_district), Some(id)) => violations.check(parse_sub_district(sub_district, id)),
        _ => None,
    };
    violations.into_result()?;
    reply(
        api.store
            .create_sub_district(&call, input.expect("checked above"))
            .await,
    )
}

pub(super) async fn get_sub_district(
    api: &RegistryApi,
    request: Request<GetSubDistrictRequest>,
) -> Reply<SubDistrict> {
    let id = api
        .names()
        .parse_sub_district("name", &request.get_ref().name)?;
    reply(api.store.get_sub_district(&id).await)
}

pub(super) async fn list_sub_districts(
    api: &RegistryApi,
    request: Request<ListSubDistrictsRequest>,
) -> Reply<ListSubDistrictsResponse> {
    let body = request.get_ref();
    api.names().parse_district("parent", &body.parent)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list_sub_districts(page).await
    })
    .await
}

fn parse_sub_district(
    value: &SubDistrict,
    id: String,
) -> Result<SubDistrictInput, InvalidArgument> {
    let mut violations = Violations::new();
    let display_name = violations.check(fields::name(
        "sub_district.display_name",
        &value.display_name,
    ));
    let kind = violations.check(fields::required_enum::<SubDistrictKind>(
        "sub_district.kind",
        value.kind,
    ));
    violations.into_result()?;
    Ok(SubDistrictInput {
        id,
        display_name: display_name.unwrap_or_default(),
        kind: kind.unwrap_or_default(),
    })
}
