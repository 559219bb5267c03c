//! Visit plans: each enterprise's, the due-visit list of a field worker, and
//! the district's cadence policy.

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::handler::{Reply, reply, required};
use louyu_kit::scope::Reach;
use louyu_kit::uscc::Uscc;
use louyu_proto::visits::v1::*;
use tonic::{Request, Response};

use super::VisitsApi;
use crate::domain::cadence::{Cadence, MICROS_PER_DAY};
use crate::domain::{due, registry_answers};
use crate::store::{Call, PlanScope};

pub(super) async fn list_due_visits(
    api: &VisitsApi,
    request: Request<ListDueVisitsRequest>,
) -> Reply<ListDueVisitsResponse> {
    let body = request.get_ref();
    let mut violations = Violations::new();
    violations.check(api.names().parse_staff("staff", &body.staff));
    if !(0..=365).contains(&body.horizon_days) {
        violations.add("horizon_days", "应在0至365之间 must be from 0 to 365");
    }
    violations.into_result()?;
    let as_of = body
        .as_of
        .as_ref()
        .map(louyu_kit::time::micros_from_timestamp)
        .unwrap_or_else(louyu_kit::time::now_micros);
    let member = api.registry.staff(&body.staff).await?;
    registry_answers::check_worker(&body.staff, member)?;
    let rounds = due::rounds(&api.registry.assignments(&body.staff).await?);
    let scope = PlanScope {
        building_ids: rounds.building_ids,
        usccs: rounds.usccs,
    };
    let until = as_of + i64::from(body.horizon_days) * MICROS_PER_DAY;
    let reach = Reach::of_request(&request)?;
    let plans = api.store.plans_in(&scope, as_of, &reach).await?;
    let buildings = due::by_building(plans, until)
        .into_iter()
        .map(|(building_id, plans)| BuildingDueVisits {
            building: api.names().building(&building_id),
            plans,
        })
        .collect();
    Ok(Response::new(ListDueVisitsResponse { buildings }))
}

pub(super) async fn get(
    api: &VisitsApi,
    request: Request<GetVisitPlanRequest>,
) -> Reply<VisitPlan> {
    let id = api
        .names()
        .parse("name", &request.get_ref().name, "visitPlans")?;
    let uscc = Uscc::parse("name", &id)?;
    let reach = Reach::of_request(&request)?;
    reply(
        api.store
            .get_plan(uscc.as_str(), louyu_kit::time::now_micros(), &reach)
            .await,
    )
}

pub(super) async fn get_cadence_policy(
    api: &VisitsApi,
    request: Request<GetCadencePolicyRequest>,
) -> Reply<CadencePolicy> {
    let name = api.store.cadence_policy_name();
    if request.get_ref().name != name {
        return Err(InvalidArgument::new("name", format!("应为 must be {name}")).into());
    }
    reply(
        api.store
            .cadence()
            .await
            .map(|cadence| cadence.to_policy(name)),
    )
}

pub(super) async fn update_cadence_policy(
    api: &VisitsApi,
    request: Request<UpdateCadencePolicyRequest>,
) -> Reply<CadencePolicy> {
    let body = request.get_ref();
    let policy = required("cadence_policy", body.cadence_policy.as_ref())?;
    let name = api.store.cadence_policy_name();
    if policy.name != name {
        return Err(
            InvalidArgument::new("cadence_policy.name", format!("应为 must be {name}")).into(),
        );
    }
    let cadence = Cadence::parse(policy)?;
    let call = Call::new(&request)?;
    reply(api.store.update_cadence(&call, cadence).await)
}
