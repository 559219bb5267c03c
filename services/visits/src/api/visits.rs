//! Visits: a submission, checked against the registry, and reading them
//! back.

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::fields::{self, MAX_NAME_CHARS};
use louyu_kit::handler::{Reply, reply, required};
use louyu_kit::names::{DistrictNames, last_id};
use louyu_kit::scope::Reach;
use louyu_proto::visits::v1::*;
use tonic::{Request, Response};

use super::VisitsApi;
use super::demands::parse_draft;
use crate::domain::cadence::MICROS_PER_DAY;
use crate::domain::registry_answers;
use crate::error::VisitsError;
use crate::store::{Call, DemandInput, ObservationInput, VisitInput};

pub(super) async fn submit(
    api: &VisitsApi,
    request: Request<SubmitVisitRequest>,
) -> Reply<SubmitVisitResponse> {
    let body = request.get_ref();
    api.names().parse_district("parent", &body.parent)?;
    let call = Call::idempotent(&request)?;
    // A retry is answered from the first result, even while the registry
    // is down.
    if let Some(response) = api.store.replayed(&call).await? {
        return Ok(Response::new(response));
    }
    let visit = required("visit", body.visit.as_ref())?;
    let (mut input, mut drafts) = parse_visit(api.names(), visit, &body.demands)?;
    api.store.check_visit_reach(&call, &input, &drafts).await?;
    let sub_district_id = check_visit_against_registry(api, &call, &input, &drafts).await?;
    input.sub_district_id = Some(sub_district_id.clone());
    for draft in &mut drafts {
        draft.building_id = input.building_id.clone();
        draft.sub_district_id = sub_district_id.clone();
    }
    reply(api.store.submit_visit(&call, input, drafts).await)
}

pub(super) async fn get(api: &VisitsApi, request: Request<GetVisitRequest>) -> Reply<Visit> {
    let id = api
        .names()
        .parse("name", &request.get_ref().name, "visits")?;
    let reach = Reach::of_request(&request)?;
    reply(api.store.get_visit(&id, &reach).await)
}

pub(super) async fn list(
    api: &VisitsApi,
    request: Request<ListVisitsRequest>,
) -> Reply<ListVisitsResponse> {
    let body = request.get_ref();
    api.names().parse_district("parent", &body.parent)?;
    let reach = Reach::of_request(&request)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list_visits(page, &reach).await
    })
    .await
}

/// Visits are recorded after the fact: not more than a day ahead (clock
/// skew on phones), not before 2000.
fn visit_time(field: &str, value: Option<&prost_types::Timestamp>) -> Result<i64, InvalidArgument> {
    let Some(value) = value else {
        return Err(InvalidArgument::new(field, "必须填写走访时间 is required"));
    };
    let micros = louyu_kit::time::micros_from_timestamp(value);
    let earliest = 946_684_800_000_000; // 2000-01-01T00:00:00Z
    if micros < earliest || micros > louyu_kit::time::now_micros() + MICROS_PER_DAY {
        return Err(InvalidArgument::new(
            field,
            "走访时间不能晚于现在一天以上，也不能早于2000年 must not be more than a day in the future or before 2000",
        ));
    }
    Ok(micros)
}

fn parse_observation(
    names: &DistrictNames,
    prefix: &str,
    value: &Observation,
) -> Result<ObservationInput, InvalidArgument> {
    let field = |name: &str| format!("{prefix}.{name}");
    let mut violations = Violations::new();
    let uscc = violations.check(names.parse_enterprise(&field("enterprise"), &value.enterprise));
    if let Some(months) = value.lease_months_left
        && !(0..=600).contains(&months)
    {
        violations.add(
            field("lease_months_left"),
            "应在0至600之间 must be from 0 to 600",
        );
    }
    let relocation_intent = violations.check(fields::known_enum::<RelocationIntent>(
        &field("relocation_intent"),
        value.relocation_intent,
    ));
    let relocation_destination = violations.check(fields::text(
        &field("relocation_destination"),
        &value.relocation_destination,
        MAX_NAME_CHARS,
        false,
    ));
    let expansion_fit = violations.check(fields::known_enum::<ExpansionFit>(
        &field("expansion_fit"),
        value.expansion_fit,
    ));
    let headcount_trend = violations.check(fields::known_enum::<Trend>(
        &field("headcount_trend"),
        value.headcount_trend,
    ));
    let business_trend = violations.check(fields::known_enum::<Trend>(
        &field("business_trend"),
        value.business_trend,
    ));
    if !(0..=5).contains(&value.satisfaction) {
        violations.add(
            field("satisfaction"),
            "满意度应为1至5（0表示未询问） must be 1 to 5, or 0 when not asked",
        );
    }
    let notes = violations.check(fields::notes(&field("notes"), &value.notes, false));
    violations.into_result()?;
    Ok(ObservationInput {
        uscc: uscc.expect("checked above").as_str().to_owned(),
        lease_months_left: value.lease_months_left.map(i64::from),
        lease_renewed: value.lease_renewed,
        relocation_intent: relocation_intent.unwrap_or_default(),
        relocation_destination: relocation_destination.unwrap_or_default(),
        expansion_need: value.expansion_need,
        expansion_fit: expansion_fit.unwrap_or_default(),
        headcount_trend: headcount_trend.unwrap_or_default(),
        business_trend: business_trend.unwrap_or_default(),
        satisfaction: i64::from(value.satisfaction),
        notes: notes.unwrap_or_default(),
    })
}

/// A visit as submitted, parsed; checked against the registry afterwards.
fn parse_visit(
    names: &DistrictNames,
    visit: &Visit,
    demands: &[DemandDraft],
) -> Result<(VisitInput, Vec<DemandInput>), InvalidArgument> {
    let mut violations = Violations::new();
    let building_id = violations.check(names.parse_building("visit.building", &visit.building));
    if visit.staff.is_empty() {
        violations.add(
            "visit.staff",
            "至少一名走访人员 at least one member of staff is required",
        );
    }
    let mut staff_ids = Vec::new();
    for (index, staff) in visit.staff.iter().enumerate() {
        if let Some(id) =
            violations.check(names.parse_staff(&format!("visit.staff[{index}]"), staff))
            && !staff_ids.contains(&id)
        {
            staff_ids.push(id);
        }
    }
    let time = violations.check(visit_time("visit.visit_time", visit.visit_time.as_ref()));
    let kind = violations.check(fields::required_enum::<VisitKind>("visit.kind", visit.kind));
    let notes = violations.check(fields::notes("visit.notes", &visit.notes, false));
    let mut observations: Vec<ObservationInput> = Vec::new();
    for (index, observation) in visit.observations.iter().enumerate() {
        let field = format!("visit.observations[{index}]");
        let Some(parsed) = violations.check(parse_observation(names, &field, observation)) else {
            continue;
        };
        if observations
            .iter()
            .any(|earlier| earlier.uscc == parsed.uscc)
        {
            violations.add(
                format!("{field}.enterprise"),
                "同一企业只能有一条观察记录 one observation per enterprise",
            );
        } else {
            observations.push(parsed);
        }
    }
    let mut drafts = Vec::new();
    for (index, draft) in demands.iter().enumerate() {
        if let Some(parsed) =
            violations.check(parse_draft(names, &format!("demands[{index}]"), draft))
        {
            drafts.push(parsed);
        }
    }
    violations.into_result()?;
    let input = VisitInput {
        building_id: building_id.expect("checked above"),
        staff_ids,
        visit_time: time.expect("checked above"),
        kind: kind.expect("checked above"),
        notes: notes.unwrap_or_default(),
        observations,
        sub_district_id: None,
    };
    Ok((input, drafts))
}

/// Asks the registry about a visit: the building, the staff and the
/// building's tenants; `registry_answers` decides on them. Returns the
/// building's sub-district.
async fn check_visit_against_registry(
    api: &VisitsApi,
    call: &Call,
    visit: &VisitInput,
    drafts: &[DemandInput],
) -> Result<String, VisitsError> {
    let building_name = api.names().building(&visit.building_id);
    let Some(building) = api.registry.building(&building_name).await? else {
        // The registry answers within the caller's scope: to a scoped
        // caller a building out of reach and one that does not exist are
        // alike, NOT_FOUND as everywhere else.
        if !call.reach.is_district() {
            return Err(VisitsError::not_found(building_name));
        }
        return Err(InvalidArgument::new(
            "visit.building",
            format!("楼宇不存在 unknown building {building_name}"),
        )
        .into());
    };
    let staff_names: Vec<String> = visit
        .staff_ids
        .iter()
        .map(|id| api.names().staff(id))
        .collect();
    let mut staff = Vec::new();
    for name in &staff_names {
        staff.push((name.as_str(), api.registry.staff(name).await?));
    }
    let tenancies = api
        .registry
        .active_tenancies(&format!("building = \"{building_name}\""))
        .await?;
    let mut violations = Violations::new();
    registry_answers::check_visit_staff(&mut violations, &staff);
    let met = visit
        .observations
        .iter()
        .enumerate()
        .map(|(index, observation)| {
            (
                format!("visit.observations[{index}].enterprise"),
                observation.uscc.as_str(),
            )
        });
    let raising = drafts
        .iter()
        .enumerate()
        .map(|(index, draft)| (format!("demands[{index}].enterprise"), draft.uscc.as_str()));
    let tenants = registry_answers::tenants(&tenancies);
    registry_answers::check_tenants(&mut violations, &tenants, met.chain(raising));
    violations.into_result()?;
    Ok(last_id(&building.managing_sub_district).to_owned())
}
