//! gRPC handlers: parse the request, ask the registry where it names
//! registry resources, call the store, reply. What the registry's answers
//! mean is decided in `domain/`.

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::fields::{self, MAX_NAME_CHARS};
use louyu_kit::handler::{Reply, reply, required};
use louyu_kit::names::{DistrictNames, last_id};
use louyu_kit::page::PageTokens;
use louyu_kit::uscc::Uscc;
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::visits::v1::visits_service_server::VisitsService;
use louyu_proto::visits::v1::*;
use tonic::{Request, Response};

use crate::domain::cadence::{Cadence, MICROS_PER_DAY};
use crate::domain::{due, registry_answers};
use crate::error::VisitsError;
use crate::registry::Registry;
use crate::store::{Call, DemandInput, ObservationInput, PlanScope, Store, VisitInput};

#[derive(Debug, Clone)]
pub struct VisitsApi {
    store: Store,
    registry: Registry,
    page_tokens: PageTokens,
}

impl VisitsApi {
    pub fn new(store: Store, registry: Registry, page_tokens: PageTokens) -> Self {
        Self {
            store,
            registry,
            page_tokens,
        }
    }

    fn names(&self) -> &DistrictNames {
        self.store.names()
    }
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

/// A demand draft, parsed; the building and sub-district come from the
/// registry afterwards.
fn parse_draft(
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
    };
    Ok((input, drafts))
}

impl VisitsApi {
    /// Asks the registry about a visit: the building, the staff and the
    /// building's tenants; `registry_answers` decides on them. Returns the
    /// building's sub-district.
    async fn check_visit_against_registry(
        &self,
        visit: &VisitInput,
        drafts: &[DemandInput],
    ) -> Result<String, VisitsError> {
        let building_name = self.names().building(&visit.building_id);
        let Some(building) = self.registry.building(&building_name).await? else {
            return Err(InvalidArgument::new(
                "visit.building",
                format!("楼宇不存在 unknown building {building_name}"),
            )
            .into());
        };
        let staff_names: Vec<String> = visit
            .staff_ids
            .iter()
            .map(|id| self.names().staff(id))
            .collect();
        let mut staff = Vec::new();
        for name in &staff_names {
            staff.push((name.as_str(), self.registry.staff(name).await?));
        }
        let tenancies = self
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

    /// Places a demand in the building of the enterprise's tenancy it
    /// belongs to.
    async fn place_demand(&self, input: &mut DemandInput) -> Result<(), VisitsError> {
        let enterprise = self.names().enterprise(&input.uscc);
        let tenancies = self
            .registry
            .active_tenancies(&format!("enterprise = \"{enterprise}\""))
            .await?;
        let tenancy = registry_answers::tenancy_of_demand(&tenancies)?;
        let (building_id, _) = self
            .names()
            .parse_unit("unit", &tenancy.unit)
            .map_err(|_| VisitsError::Corrupt(format!("registry unit name {}", tenancy.unit)))?;
        let building_name = self.names().building(&building_id);
        let Some(building) = self.registry.building(&building_name).await? else {
            return Err(VisitsError::not_found(building_name));
        };
        input.building_id = last_id(&building.name).to_owned();
        input.sub_district_id = last_id(&building.managing_sub_district).to_owned();
        Ok(())
    }
}

#[tonic::async_trait]
impl VisitsService for VisitsApi {
    async fn submit_visit(
        &self,
        request: Request<SubmitVisitRequest>,
    ) -> Reply<SubmitVisitResponse> {
        let body = request.get_ref();
        self.names().parse_district("parent", &body.parent)?;
        let call = Call::idempotent(&request)?;
        // A retry is answered from the first result, even while the registry
        // is down.
        if let Some(response) = self.store.replayed(&call).await? {
            return Ok(Response::new(response));
        }
        let visit = required("visit", body.visit.as_ref())?;
        let (input, mut drafts) = parse_visit(self.names(), visit, &body.demands)?;
        let sub_district_id = self.check_visit_against_registry(&input, &drafts).await?;
        for draft in &mut drafts {
            draft.building_id = input.building_id.clone();
            draft.sub_district_id = sub_district_id.clone();
        }
        reply(self.store.submit_visit(&call, input, drafts).await)
    }

    async fn get_visit(&self, request: Request<GetVisitRequest>) -> Reply<Visit> {
        let id = self
            .names()
            .parse("name", &request.get_ref().name, "visits")?;
        reply(self.store.get_visit(&id).await)
    }

    async fn list_visits(&self, request: Request<ListVisitsRequest>) -> Reply<ListVisitsResponse> {
        let body = request.get_ref();
        self.names().parse_district("parent", &body.parent)?;
        louyu_kit::handler::list(&self.page_tokens, body, async |page| {
            self.store.list_visits(page).await
        })
        .await
    }

    async fn create_demand(
        &self,
        request: Request<CreateDemandRequest>,
    ) -> Reply<CreateDemandResponse> {
        let body = request.get_ref();
        self.names().parse_district("parent", &body.parent)?;
        let call = Call::idempotent(&request)?;
        if let Some(response) = self.store.replayed(&call).await? {
            return Ok(Response::new(response));
        }
        let draft = required("demand", body.demand.as_ref())?;
        let mut input = parse_draft(self.names(), "demand", draft)?;
        self.place_demand(&mut input).await?;
        reply(self.store.create_demand(&call, input).await)
    }

    async fn get_demand(&self, request: Request<GetDemandRequest>) -> Reply<Demand> {
        let id = self
            .names()
            .parse("name", &request.get_ref().name, "demands")?;
        reply(self.store.get_demand(&id).await)
    }

    async fn list_demands(
        &self,
        request: Request<ListDemandsRequest>,
    ) -> Reply<ListDemandsResponse> {
        let body = request.get_ref();
        self.names().parse_district("parent", &body.parent)?;
        louyu_kit::handler::list(&self.page_tokens, body, async |page| {
            self.store.list_demands(page).await
        })
        .await
    }

    async fn transition_demand(&self, request: Request<TransitionDemandRequest>) -> Reply<Demand> {
        let body = request.get_ref();
        let call = Call::idempotent(&request)?;
        let mut violations = Violations::new();
        let id = violations.check(self.names().parse("name", &body.name, "demands"));
        let to = violations.check(fields::required_enum::<DemandStatus>(
            "to_status",
            body.to_status,
        ));
        let reason = violations.check(fields::notes("reason", &body.reason, true));
        violations.into_result()?;
        reply(
            self.store
                .transition_demand(
                    &call,
                    &id.expect("checked"),
                    to.expect("checked"),
                    &reason.expect("checked"),
                )
                .await,
        )
    }

    async fn merge_demands(&self, request: Request<MergeDemandsRequest>) -> Reply<Demand> {
        let body = request.get_ref();
        let call = Call::idempotent(&request)?;
        let mut violations = Violations::new();
        let keep = violations.check(self.names().parse("name", &body.name, "demands"));
        let duplicate =
            violations.check(self.names().parse("duplicate", &body.duplicate, "demands"));
        if keep.is_some() && keep == duplicate {
            violations.add("duplicate", "不能与自身合并 must be another demand");
        }
        let reason = violations.check(fields::notes("reason", &body.reason, false));
        violations.into_result()?;
        reply(
            self.store
                .merge_demands(
                    &call,
                    &keep.expect("checked"),
                    &duplicate.expect("checked"),
                    &reason.unwrap_or_default(),
                )
                .await,
        )
    }

    async fn count_demands(
        &self,
        request: Request<CountDemandsRequest>,
    ) -> Reply<CountDemandsResponse> {
        let body = request.into_inner();
        self.names().parse_district("parent", &body.parent)?;
        let comparisons = louyu_kit::filter::parse(&body.filter)?;
        let counts = self.store.count_demands(&comparisons).await?;
        let total = counts.iter().map(|count| count.count).sum();
        Ok(Response::new(CountDemandsResponse { counts, total }))
    }

    async fn list_due_visits(
        &self,
        request: Request<ListDueVisitsRequest>,
    ) -> Reply<ListDueVisitsResponse> {
        let body = request.get_ref();
        let mut violations = Violations::new();
        violations.check(self.names().parse_staff("staff", &body.staff));
        if !(0..=365).contains(&body.horizon_days) {
            violations.add("horizon_days", "应在0至365之间 must be from 0 to 365");
        }
        violations.into_result()?;
        let as_of = body
            .as_of
            .as_ref()
            .map(louyu_kit::time::micros_from_timestamp)
            .unwrap_or_else(louyu_kit::time::now_micros);
        let member = self.registry.staff(&body.staff).await?;
        registry_answers::check_worker(&body.staff, member)?;
        let rounds = due::rounds(&self.registry.assignments(&body.staff).await?);
        let scope = PlanScope {
            building_ids: rounds.building_ids,
            usccs: rounds.usccs,
        };
        let until = as_of + i64::from(body.horizon_days) * MICROS_PER_DAY;
        let plans = self.store.plans_in(&scope, as_of).await?;
        let buildings = due::by_building(plans, until)
            .into_iter()
            .map(|(building_id, plans)| BuildingDueVisits {
                building: self.names().building(&building_id),
                plans,
            })
            .collect();
        Ok(Response::new(ListDueVisitsResponse { buildings }))
    }

    async fn get_visit_plan(&self, request: Request<GetVisitPlanRequest>) -> Reply<VisitPlan> {
        let id = self
            .names()
            .parse("name", &request.get_ref().name, "visitPlans")?;
        let uscc = Uscc::parse("name", &id)?;
        reply(
            self.store
                .get_plan(uscc.as_str(), louyu_kit::time::now_micros())
                .await,
        )
    }

    async fn get_cadence_policy(
        &self,
        request: Request<GetCadencePolicyRequest>,
    ) -> Reply<CadencePolicy> {
        let name = self.store.cadence_policy_name();
        if request.get_ref().name != name {
            return Err(InvalidArgument::new("name", format!("应为 must be {name}")).into());
        }
        reply(
            self.store
                .cadence()
                .await
                .map(|cadence| cadence.to_policy(name)),
        )
    }

    async fn update_cadence_policy(
        &self,
        request: Request<UpdateCadencePolicyRequest>,
    ) -> Reply<CadencePolicy> {
        let body = request.get_ref();
        let policy = required("cadence_policy", body.cadence_policy.as_ref())?;
        let name = self.store.cadence_policy_name();
        if policy.name != name {
            return Err(InvalidArgument::new(
                "cadence_policy.name",
                format!("应为 must be {name}"),
            )
            .into());
        }
        let cadence = Cadence::parse(policy)?;
        let call = Call::new(&request);
        reply(self.store.update_cadence(&call, cadence).await)
    }
}
