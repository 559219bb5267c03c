//! Demands: raised on their own or on a visit, moved through their
//! lifecycle, merged and counted.

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::fields;
use louyu_kit::handler::{Reply, reply, required};
use louyu_kit::names::{DistrictNames, last_id};
use louyu_kit::scope::Reach;
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::visits::v1::*;
use tonic::{Request, Response};

use super::VisitsApi;
use crate::domain::registry_answers;
use crate::error::VisitsError;
use crate::store::{Call, DemandInput};

pub(super) async fn create(
    api: &VisitsApi,
    request: Request<CreateDemandRequest>,
) -> Reply<CreateDemandResponse> {
    let body = request.get_ref();
    api.names().parse_district("parent", &body.parent)?;
    let call = Call::idempotent(&request)?;
    if let Some(response) = api.store.replayed(&call).await? {
        return Ok(Response::new(response));
    }
    let draft = required("demand", body.demand.as_ref())?;
    let mut input = parse_draft(api.names(), "demand", draft)?;
    api.store.check_demand_reach(&call, &input.uscc).await?;
    place_demand(api, &mut input).await?;
    reply(api.store.create_demand(&call, input).await)
}

pub(super) async fn get(api: &VisitsApi, request: Request<GetDemandRequest>) -> Reply<Demand> {
    let id = api
        .names()
        .parse("name", &request.get_ref().name, "demands")?;
    let reach = Reach::of_request(&request)?;
    reply(api.store.get_demand(&id, &reach).await)
}

pub(super) async fn list(
    api: &VisitsApi,
    request: Request<ListDemandsRequest>,
) -> Reply<ListDemandsResponse> {
    let body = request.get_ref();
    api.names().parse_district("parent", &body.parent)?;
    let reach = Reach::of_request(&request)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list_demands(page, &reach).await
    })
    .await
}

pub(super) async fn transition(
    api: &VisitsApi,
    request: Request<TransitionDemandRequest>,
) -> Reply<Demand> {
    let body = request.get_ref();
    let call = Call::idempotent(&request)?;
    let mut violations = Violations::new();
    let id = violations.check(api.names().parse("name", &body.name, "demands"));
    let to = violations.check(fields::required_enum::<DemandStatus>(
        "to_status",
        body.to_status,
    ));
    let reason = violations.check(fields::notes("reason", &body.reason, true));
    violations.into_result()?;
    reply(
        api.store
            .transition_demand(
                &call,
                &id.expect("checked"),
                to.expect("checked"),
                &reason.expect("checked"),
            )
            .await,
    )
}

pub(super) async fn merge(api: &VisitsApi, request: Request<MergeDemandsRequest>) -> Reply<Demand> {
    let body = request.get_ref();
    let call = Call::idempotent(&request)?;
    let mut violations = Violations::new();
    let keep = violations.check(api.names().parse("name", &body.name, "demands"));
    let duplicate = violations.check(api.names().parse("duplicate", &body.duplicate, "demands"));
    if keep.is_some() && keep == duplicate {
        violations.add("duplicate", "不能与自身合并 must be another demand");
    }
    let reason = violations.check(fields::notes("reason", &body.reason, false));
    violations.into_result()?;
    reply(
        api.store
            .merge_demands(
                &call,
                &keep.expect("checked"),
                &duplicate.expect("checked"),
                &reason.unwrap_or_default(),
            )
            .await,
    )
}

pub(super) async fn count(
    api: &VisitsApi,
    request: Request<CountDemandsRequest>,
) -> Reply<CountDemandsResponse> {
    let reach = Reach::of_request(&request)?;
    let body = request.into_inner();
    api.names().parse_district("parent", &body.parent)?;
    let comparisons = louyu_kit::filter::parse(&body.filter)?;
    let counts = api.store.count_demands(&comparisons, &reach).await?;
    let total = counts.iter().map(|count| count.count).sum();
    Ok(Response::new(CountDemandsResponse { counts, total }))
}

/// A demand draft, parsed; the building and sub-district come from the
/// registry afterwards.
pub(super) fn parse_draft(
    names: &DistrictNames,
    prefix: &str,
    value: &DemandDraft,
) -> Result<DemandInput, InvalidArgument> {
    let field = |name: &str| format!("{prefix}.{name}");
    let mut violations = Violations::new();
    let uscc = violations.check(names.parse_enterprise(&field("enterprise"), &value.enterprise));
    let category = violations.check(fields::required_enum::<DemandCategory>(
        &field("category"),
        value.category,
    ));
    let description = violations.check(fields::notes(
        &field("description"),
        &value.description,
        true,
    ));
    let urgency = violations.check(fields::known_enum::<Urgency>(
        &field("urgency"),
        value.urgency,
    ));
    violations.into_result()?;
    Ok(DemandInput {
        uscc: uscc.expect("checked above").as_str().to_owned(),
        building_id: String::new(),
        sub_district_id: String::new(),
        category: category.unwrap_or_default(),
        description: description.unwrap_or_default(),
        urgency: match urgency.unwrap_or_default() {
            Urgency::Unspecified => Urgency::Normal,
            other => other,
        },
    })
}

/// Places a demand in the building of the enterprise's tenancy it
/// belongs to.
pub(super) async fn place_demand(
    api: &VisitsApi,
    input: &mut DemandInput,
) -> Result<(), VisitsError> {
    let enterprise = api.names().enterprise(&input.uscc);
    let tenancies = api
        .registry
        .active_tenancies(&format!("enterprise = \"{enterprise}\""))
        .await?;
    let tenancy = registry_answers::tenancy_of_demand(&tenancies)?;
    let (building_id, _) = api
        .names()
        .parse_unit("unit", &tenancy.unit)
        .map_err(|_| VisitsError::Corrupt(format!("registry unit name {}", tenancy.unit)))?;
    let building_name = api.names().building(&building_id);
    let Some(building) = api.registry.building(&building_name).await? else {
        return Err(VisitsError::not_found(building_name));
    };
    input.building_id = last_id(&building.name).to_owned();
    input.sub_district_id = last_id(&building.managing_sub_district).to_owned();
    Ok(())
}
