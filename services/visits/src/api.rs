//! gRPC handlers: parse the request, check it against the registry where it
//! names registry resources, call the store, map errors.

use std::collections::{BTreeMap, HashSet};

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::handler::{Reply, reply};
use louyu_kit::names::{DistrictNames, last_id};
use louyu_kit::page::PageTokens;
use louyu_kit::text::Lines;
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::registry::v1::AssignmentRole;
use louyu_proto::visits::v1::visits_service_server::VisitsService;
use louyu_proto::visits::v1::*;
use tonic::{Request, Response};

use crate::domain::cadence::{Cadence, MICROS_PER_DAY, urgency_key};
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

/// The longest free text accepted, in characters.
const MAX_TEXT: usize = 2000;

/// Free text a person writes over several lines: notes, a description, a
/// reason. Line breaks are kept; other control characters are rejected.
fn text(field: &str, value: &str, required: bool) -> Result<String, InvalidArgument> {
    louyu_kit::text::parse(field, value, MAX_TEXT, required, Lines::Many)
}

/// One line of text, such as a place name.
fn one_line(field: &str, value: &str) -> Result<String, InvalidArgument> {
    louyu_kit::text::parse(field, value, MAX_TEXT, false, Lines::One)
}

fn known_enum<E: TryFrom<i32>>(
    field: &str,
    value: i32,
    required: bool,
) -> Result<E, InvalidArgument> {
    if value == 0 && required {
        return Err(InvalidArgument::new(field, "必须填写 is required"));
    }
    E::try_from(value)
        .map_err(|_| InvalidArgument::new(field, format!("未知的取值 unknown value {value}")))
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
    field: &str,
    value: &Observation,
) -> Result<ObservationInput, InvalidArgument> {
    let mut violations = Violations::new();
    let uscc = violations.check(names.parse(
        &format!("{field}.enterprise"),
        &value.enterprise,
        "enterprises",
    ));
    if let Some(months) = value.lease_months_left
        && !(0..=600).contains(&months)
    {
        violations.add(
            format!("{field}.lease_months_left"),
            "应在0至600之间 must be from 0 to 600",
        );
    }
    let relocation_intent = violations.check(known_enum::<RelocationIntent>(
        &format!("{field}.relocation_intent"),
        value.relocation_intent,
        false,
    ));
    let relocation_destination = violations.check(one_line(
        &format!("{field}.relocation_destination"),
        &value.relocation_destination,
    ));
    let expansion_fit = violations.check(known_enum::<ExpansionFit>(
        &format!("{field}.expansion_fit"),
        value.expansion_fit,
        false,
    ));
    let headcount_trend = violations.check(known_enum::<Trend>(
        &format!("{field}.headcount_trend"),
        value.headcount_trend,
        false,
    ));
    let business_trend = violations.check(known_enum::<Trend>(
        &format!("{field}.business_trend"),
        value.business_trend,
        false,
    ));
    if !(0..=5).contains(&value.satisfaction) {
        violations.add(
            format!("{field}.satisfaction"),
            "满意度应为1至5（0表示未询问） must be 1 to 5, or 0 when not asked",
        );
    }
    let notes = violations.check(text(&format!("{field}.notes"), &value.notes, false));
    violations.into_result()?;
    Ok(ObservationInput {
        uscc: uscc.unwrap_or_default().to_ascii_uppercase(),
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
    field: &str,
    value: &DemandDraft,
) -> Result<DemandInput, InvalidArgument> {
    let mut violations = Violations::new();
    let uscc = violations.check(names.parse(
        &format!("{field}.enterprise"),
        &value.enterprise,
        "enterprises",
    ));
    let category = violations.check(known_enum::<DemandCategory>(
        &format!("{field}.category"),
        value.category,
        true,
    ));
    let description = violations.check(text(
        &format!("{field}.description"),
        &value.description,
        true,
    ));
    let urgency = violations.check(known_enum::<Urgency>(
        &format!("{field}.urgency"),
        value.urgency,
        false,
    ));
    violations.into_result()?;
    Ok(DemandInput {
        uscc: uscc.unwrap_or_default().to_ascii_uppercase(),
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

impl VisitsApi {
    /// Checks a visit against the registry: the building exists, the staff
    /// exist and are active, every enterprise met or raising a demand is a
    /// current tenant of the building. Returns the building's sub-district.
    async fn check_visit_against_registry(
        &self,
        building_name: &str,
        staff: &[String],
        observations: &[ObservationInput],
        drafts: &[DemandInput],
    ) -> Result<String, VisitsError> {
        let Some(building) = self.registry.building(building_name).await? else {
            return Err(InvalidArgument::new(
                "visit.building",
                format!("楼宇不存在 unknown building {building_name}"),
            )
            .into());
        };
        let mut violations = Violations::new();
        for (index, staff_name) in staff.iter().enumerate() {
            match self.registry.staff(staff_name).await? {
                Some(member) if member.active => {}
                Some(_) => violations.add(
                    format!("visit.staff[{index}]"),
                    "该工作人员已离岗 is no longer active",
                ),
                None => violations.add(
                    format!("visit.staff[{index}]"),
                    format!("工作人员不存在 unknown staff {staff_name}"),
                ),
            }
        }
        let tenants: HashSet<String> = self
            .registry
            .active_tenancies(&format!("building = \"{building_name}\""))
            .await?
            .into_iter()
            .map(|tenancy| last_id(&tenancy.enterprise).to_owned())
            .collect();
        let not_tenant = "不是该楼宇的在租企业 is not a current tenant of the visited building";
        for (index, observation) in observations.iter().enumerate() {
            if !tenants.contains(&observation.uscc) {
                violations.add(
                    format!("visit.observations[{index}].enterprise"),
                    not_tenant,
                );
            }
        }
        for (index, draft) in drafts.iter().enumerate() {
            if !tenants.contains(&draft.uscc) {
                violations.add(format!("demands[{index}].enterprise"), not_tenant);
            }
        }
        violations.into_result()?;
        Ok(last_id(&building.managing_sub_district).to_owned())
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
        if let Some(response) = self.store.replayed::<SubmitVisitResponse>(&call).await? {
            return Ok(Response::new(response));
        }
        let Some(visit) = &body.visit else {
            return Err(InvalidArgument::new("visit", "必须填写 is required").into());
        };
        let mut violations = Violations::new();
        let building_id = violations.check(self.names().parse(
            "visit.building",
            &visit.building,
            "buildings",
        ));
        if visit.staff.is_empty() {
            violations.add(
                "visit.staff",
                "至少一名走访人员 at least one member of staff is required",
            );
        }
        let mut staff_ids = Vec::new();
        for (index, staff) in visit.staff.iter().enumerate() {
            if let Some(id) = violations.check(self.names().parse(
                &format!("visit.staff[{index}]"),
                staff,
                "staff",
            )) && !staff_ids.contains(&id)
            {
                staff_ids.push(id);
            }
        }
        let time = violations.check(visit_time("visit.visit_time", visit.visit_time.as_ref()));
        let kind = violations.check(known_enum::<VisitKind>("visit.kind", visit.kind, true));
        let notes = violations.check(text("visit.notes", &visit.notes, false));
        let mut observations: Vec<ObservationInput> = Vec::new();
        for (index, observation) in visit.observations.iter().enumerate() {
            let field = format!("visit.observations[{index}]");
            if let Some(parsed) =
                violations.check(parse_observation(self.names(), &field, observation))
            {
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
        }
        let mut drafts = Vec::new();
        for (index, draft) in body.demands.iter().enumerate() {
            if let Some(parsed) = violations.check(parse_draft(
                self.names(),
                &format!("demands[{index}]"),
                draft,
            )) {
                drafts.push(parsed);
            }
        }
        violations.into_result()?;
        let building_id = building_id.expect("checked above");
        let building_name = self.names().name("buildings", &building_id);
        let staff_names: Vec<String> = staff_ids
            .iter()
            .map(|id| self.names().name("staff", id))
            .collect();
        let sub_district_id = self
            .check_visit_against_registry(&building_name, &staff_names, &observations, &drafts)
            .await?;
        for draft in &mut drafts {
            draft.building_id = building_id.clone();
            draft.sub_district_id = sub_district_id.clone();
        }
        let input = VisitInput {
            building_id,
            staff_ids,
            visit_time: time.expect("checked above"),
            kind: kind.expect("checked above"),
            notes: notes.unwrap_or_default(),
            observations,
        };
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
        if let Some(response) = self.store.replayed::<CreateDemandResponse>(&call).await? {
            return Ok(Response::new(response));
        }
        let Some(draft) = &body.demand else {
            return Err(InvalidArgument::new("demand", "必须填写 is required").into());
        };
        let mut input = parse_draft(self.names(), "demand", draft)?;
        // The demand belongs to the building the enterprise occupies.
        let enterprise = self.names().name("enterprises", &input.uscc);
        let tenancies = self
            .registry
            .active_tenancies(&format!("enterprise = \"{enterprise}\""))
            .await?;
        // An enterprise in several buildings: the demand goes with the tenancy
        // that started last, where the enterprise is most likely to be met.
        let latest = tenancies.iter().max_by_key(|tenancy| {
            tenancy
                .lease_start
                .as_ref()
                .map(|date| (date.year, date.month, date.day))
        });
        let Some(tenancy) = latest else {
            return Err(InvalidArgument::new(
                "demand.enterprise",
                "该企业在本区没有在租单元 the enterprise occupies no unit in the district",
            )
            .into());
        };
        let building_name = tenancy
            .unit
            .split("/units/")
            .next()
            .unwrap_or_default()
            .to_owned();
        let Some(building) = self.registry.building(&building_name).await? else {
            return Err(VisitsError::not_found(building_name).into());
        };
        input.building_id = last_id(&building.name).to_owned();
        input.sub_district_id = last_id(&building.managing_sub_district).to_owned();
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
        let to = violations.check(known_enum::<DemandStatus>(
            "to_status",
            body.to_status,
            true,
        ));
        let reason = violations.check(text("reason", &body.reason, true));
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
        let reason = violations.check(text("reason", &body.reason, false));
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
        let body = request.into_inner();
        let mut violations = Violations::new();
        violations.check(self.names().parse("staff", &body.staff, "staff"));
        if !(0..=365).contains(&body.horizon_days) {
            violations.add("horizon_days", "应在0至365之间 must be from 0 to 365");
        }
        violations.into_result()?;
        let as_of = body
            .as_of
            .as_ref()
            .map(louyu_kit::time::micros_from_timestamp)
            .unwrap_or_else(louyu_kit::time::now_micros);
        match self.registry.staff(&body.staff).await? {
            Some(member) if member.active => {}
            Some(_) => {
                return Err(VisitsError::FailedPrecondition(
                    "该工作人员已离岗 this member of staff is no longer active".to_owned(),
                )
                .into());
            }
            None => return Err(VisitsError::not_found(body.staff).into()),
        }
        let mut scope = PlanScope::default();
        // Visit plans are the field workers' rounds: officers' assignments
        // (safety, market supervision, ...) do not put buildings on the list.
        let rounds = self
            .registry
            .assignments(&body.staff)
            .await?
            .into_iter()
            .filter(|assignment| assignment.role == AssignmentRole::FieldWorker as i32);
        for assignment in rounds {
            if assignment.enterprise.is_empty() {
                scope
                    .building_ids
                    .push(last_id(&assignment.building).to_owned());
            } else {
                scope.usccs.push(last_id(&assignment.enterprise).to_owned());
            }
        }
        let until = as_of + i64::from(body.horizon_days) * MICROS_PER_DAY;
        let mut due: Vec<_> = self
            .store
            .plans_in(&scope, as_of)
            .await?
            .into_iter()
            .filter(|plan| plan.due <= until)
            .collect();
        due.sort_by_key(|plan| urgency_key(plan.colour, plan.due, &plan.plan.enterprise));
        // Group by building, keeping the buildings in the order of their most
        // urgent visit.
        let mut order: Vec<String> = Vec::new();
        let mut groups: BTreeMap<String, Vec<VisitPlan>> = BTreeMap::new();
        for plan in due {
            if !groups.contains_key(&plan.building_id) {
                order.push(plan.building_id.clone());
            }
            groups.entry(plan.building_id).or_default().push(plan.plan);
        }
        let buildings = order
            .into_iter()
            .map(|building_id| BuildingDueVisits {
                building: self.names().name("buildings", &building_id),
                plans: groups.remove(&building_id).unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(ListDueVisitsResponse { buildings }))
    }

    async fn get_visit_plan(&self, request: Request<GetVisitPlanRequest>) -> Reply<VisitPlan> {
        let uscc = self
            .names()
            .parse("name", &request.get_ref().name, "visitPlans")?;
        reply(
            self.store
                .get_plan(&uscc.to_ascii_uppercase(), louyu_kit::time::now_micros())
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
        let Some(policy) = &body.cadence_policy else {
            return Err(InvalidArgument::new("cadence_policy", "必须填写 is required").into());
        };
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
