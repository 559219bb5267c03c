//! Referrals: opened by hand, read, listed, a department's inbox, and
//! every move of the closed loop.

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::fields;
use louyu_kit::handler::{Reply, reply};
use louyu_kit::scope::Reach;
use louyu_proto::referral::v1::*;
use tonic::Request;

use super::ReferralApi;
use crate::domain::referral::Move;
use crate::error::ReferralError;
use crate::store::{Call, DemandFacts, Inbox, PartInput, ScoreBy};

/// Satisfaction: 1 (very dissatisfied) to 5 (very satisfied).
const SATISFACTION: std::ops::RangeInclusive<i32> = 1..=5;

impl ReferralApi {
    fn referral_id(&self, name: &str) -> Result<String, InvalidArgument> {
        self.store.names().parse("name", name, "referrals")
    }

    /// The department ids a request names, the lead first, each checked
    /// against the registry's directory; none: as the rules route
    /// `facts`' demand.
    async fn departments(
        &self,
        named: &[String],
        lead: &str,
        facts: &DemandFacts,
    ) -> Result<Vec<String>, ReferralError> {
        self.departments_at("", named, lead, facts).await
    }

    /// [`ReferralApi::departments`], with the request fields named under
    /// `prefix` (e.g. `parts[1].`).
    async fn departments_at(
        &self,
        prefix: &str,
        named: &[String],
        lead: &str,
        facts: &DemandFacts,
    ) -> Result<Vec<String>, ReferralError> {
        let lead_field = format!("{prefix}lead_department");
        let directory = self.registry.directory().await?;
        if named.is_empty() {
            if !lead.is_empty() {
                return Err(InvalidArgument::new(
                    &lead_field,
                    "须为所列部门之一 must be one of `departments`",
                )
                .into());
            }
            let mut connection = self.store.db().pool().acquire().await?;
            let (rules, _) = self.store.rules_in_force(&mut connection).await?;
            return Ok(rules.route(facts.category, &facts.sub_district_id, &directory));
        }
        let mut violations = Violations::new();
        let mut ids = Vec::new();
        for (index, name) in named.iter().enumerate() {
            let field = format!("{prefix}departments[{index}]");
            let Some(id) = violations.check(self.store.names().parse_department(&field, name))
            else {
                continue;
            };
            if !directory.iter().any(|entry| entry.id == id) {
                violations.add(
                    field,
                    format!("部门名录中没有 is not in the department directory: {name}"),
                );
            } else if ids.contains(&id) {
                violations.add(field, "重复 is named twice");
            } else {
                ids.push(id);
            }
        }
        if !lead.is_empty() {
            match self.store.names().parse_department(&lead_field, lead) {
                Ok(id) => match ids.iter().position(|named| *named == id) {
                    Some(position) => {
                        let lead = ids.remove(position);
                        ids.insert(0, lead);
                    }
                    None => {
                        violations.add(&lead_field, "须为所列部门之一 must be one of `departments`")
                    }
                },
                Err(invalid) => violations.extend(invalid),
            }
        }
        violations.into_result()?;
        Ok(ids)
    }
}

fn note(field: &str, value: &str, required: bool) -> Result<String, InvalidArgument> {
    fields::notes(field, value, required)
}

pub(super) async fn create(
    api: &ReferralApi,
    request: Request<CreateReferralRequest>,
) -> Reply<Referral> {
    let call = Call::idempotent(&request)?;
    let body = request.get_ref();
    api.store.names().parse_district("parent", &body.parent)?;
    let demand_id = api.store.names().parse("demand", &body.demand, "demands")?;
    let note = note("note", &body.note, false)?;
    let facts = api
        .store
        .demand_within(&demand_id, &call.reach)
        .await?
        .ok_or_else(|| ReferralError::not_found(api.store.names().name("demands", &demand_id)))?;
    let departments = api
        .departments(&body.departments, &body.lead_department, &facts)
        .await?;
    let offered = crate::feeds::offered_units(&api.registry, &facts).await?;
    reply(
        api.store
            .create(&call, facts, departments, offered, note)
            .await,
    )
}

pub(super) async fn get(
    api: &ReferralApi,
    request: Request<GetReferralRequest>,
) -> Reply<Referral> {
    let id = api.referral_id(&request.get_ref().name)?;
    let reach = Reach::of_request(&request)?;
    reply(api.store.get(&id, &reach).await)
}

pub(super) async fn list(
    api: &ReferralApi,
    request: Request<ListReferralsRequest>,
) -> Reply<ListReferralsResponse> {
    let body = request.get_ref();
    api.store.names().parse_district("parent", &body.parent)?;
    let reach = Reach::of_request(&request)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list(page, &reach).await
    })
    .await
}

pub(super) async fn inbox(
    api: &ReferralApi,
    request: Request<ListDepartmentReferralsRequest>,
) -> Reply<ListDepartmentReferralsResponse> {
    let body = request.get_ref();
    let department = api.store.names().parse_department("parent", &body.parent)?;
    let view = match fields::known_enum::<InboxView>("view", body.view)? {
        InboxView::Unspecified => Inbox::Open,
        InboxView::Pending => Inbox::Pending,
        InboxView::Overdue => Inbox::Overdue,
        InboxView::Warned => Inbox::Warned,
    };
    let reach = Reach::of_request(&request)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.inbox(&department, view, page, &reach).await
    })
    .await
}

/// Parses the referral a move names and makes the move.
async fn make_move<M: louyu_proto::IdempotentRequest>(
    api: &ReferralApi,
    request: &Request<M>,
    name: &str,
    movement: Result<Move, InvalidArgument>,
) -> Reply<Referral> {
    let call = Call::idempotent(request)?;
    let id = api.referral_id(name)?;
    let movement = movement?;
    reply(api.store.make_move(&call, &id, movement).await)
}

pub(super) async fn accept(
    api: &ReferralApi,
    request: Request<AcceptReferralRequest>,
) -> Reply<Referral> {
    let body = request.get_ref();
    let movement = note("note", &body.note, false).map(|note| Move::Accept { note });
    make_move(api, &request, &body.name, movement).await
}

pub(super) async fn reject(
    api: &ReferralApi,
    request: Request<RejectReferralRequest>,
) -> Reply<Referral> {
    let body = request.get_ref();
    let mut violations = Violations::new();
    let reason = violations.check(fields::required_enum::<RejectionReason>(
        "reason",
        body.reason,
    ));
    let note = violations.check(note("note", &body.note, true));
    let movement = violations.into_result().map(|()| Move::Reject {
        reason: reason.expect("checked"),
        note: note.expect("checked"),
    });
    make_move(api, &request, &body.name, movement).await
}

pub(super) async fn first_contact(
    api: &ReferralApi,
    request: Request<RecordFirstContactRequest>,
) -> Reply<Referral> {
    let body = request.get_ref();
    let movement = note("note", &body.note, false).map(|note| Move::FirstContact { note });
    make_move(api, &request, &body.name, movement).await
}

pub(super) async fn start(
    api: &ReferralApi,
    request: Request<StartReferralRequest>,
) -> Reply<Referral> {
    let body = request.get_ref();
    let movement = note("note", &body.note, false).map(|note| Move::Start { note });
    make_move(api, &request, &body.name, movement).await
}

pub(super) async fn complete(
    api: &ReferralApi,
    request: Request<CompleteReferralRequest>,
) -> Reply<Referral> {
    let body = request.get_ref();
    let movement = note("outcome", &body.outcome, true).map(|outcome| Move::Complete { outcome });
    make_move(api, &request, &body.name, movement).await
}

pub(super) async fn fail(
    api: &ReferralApi,
    request: Request<FailReferralRequest>,
) -> Reply<Referral> {
    let body = request.get_ref();
    let movement = note("reason", &body.reason, true).map(|reason| Move::Fail { reason });
    make_move(api, &request, &body.name, movement).await
}

pub(super) async fn confirm(
    api: &ReferralApi,
    request: Request<ConfirmReferralRequest>,
) -> Reply<Referral> {
    let body = request.get_ref();
    let mut violations = Violations::new();
    let resolution = violations.check(fields::required_enum::<Resolution>(
        "resolution",
        body.resolution,
    ));
    if !SATISFACTION.contains(&body.satisfaction) {
        violations.add(
            "satisfaction",
            "须为1到5 must be 1 (very dissatisfied) to 5 (very satisfied)",
        );
    }
    let note = violations.check(note("note", &body.note, false));
    let movement = violations.into_result().map(|()| Move::Answer {
        resolution: resolution.expect("checked"),
        satisfaction: body.satisfaction as u8,
        note: note.expect("checked"),
    });
    make_move(api, &request, &body.name, movement).await
}

pub(super) async fn cancel(
    api: &ReferralApi,
    request: Request<CancelReferralRequest>,
) -> Reply<Referral> {
    let body = request.get_ref();
    let movement = note("reason", &body.reason, true).map(|reason| Move::Cancel { reason });
    make_move(api, &request, &body.name, movement).await
}

pub(super) async fn reroute(
    api: &ReferralApi,
    request: Request<RerouteReferralRequest>,
) -> Reply<Referral> {
    let call = Call::idempotent(&request)?;
    let body = request.get_ref();
    let id = api.referral_id(&body.name)?;
    let note = note("note", &body.note, true)?;
    let facts = api.store.facts_of_referral(&id).await?;
    let departments = api
        .departments(&body.departments, &body.lead_department, &facts)
        .await?;
    reply(
        api.store
            .make_move(&call, &id, Move::Dispatch { departments, note })
            .await,
    )
}

pub(super) async fn suspend(
    api: &ReferralApi,
    request: Request<SuspendReferralRequest>,
) -> Reply<Referral> {
    let body = request.get_ref();
    let movement = note("reason", &body.reason, true).map(|reason| Move::Suspend { reason });
    make_move(api, &request, &body.name, movement).await
}

pub(super) async fn resume(
    api: &ReferralApi,
    request: Request<ResumeReferralRequest>,
) -> Reply<Referral> {
    let body = request.get_ref();
    let movement = note("note", &body.note, false).map(|note| Move::Resume { note });
    make_move(api, &request, &body.name, movement).await
}

pub(super) async fn extend(
    api: &ReferralApi,
    request: Request<ExtendReferralRequest>,
) -> Reply<Referral> {
    let body = request.get_ref();
    let mut violations = Violations::new();
    if !(1..=15).contains(&body.working_days) {
        violations.add(
            "working_days",
            "须为1到15个工作日 must be 1 to 15 working days",
        );
    }
    let reason = violations.check(note("reason", &body.reason, true));
    let movement = violations.into_result().map(|()| Move::Extend {
        working_days: body.working_days as u32,
        reason: reason.expect("checked"),
    });
    make_move(api, &request, &body.name, movement).await
}

pub(super) async fn exclude(
    api: &ReferralApi,
    request: Request<ExcludeReferralRequest>,
) -> Reply<Referral> {
    let body = request.get_ref();
    let movement = note("reason", &body.reason, true).map(|reason| Move::Exclude { reason });
    make_move(api, &request, &body.name, movement).await
}

/// The longest period a scorecard covers.
const MAX_PERIOD_MICROS: i64 = 366 * 86_400_000_000;

pub(super) async fn scorecard(
    api: &ReferralApi,
    request: Request<ComputeScorecardRequest>,
) -> Reply<Scorecard> {
    let body = request.get_ref();
    api.store.names().parse_district("parent", &body.parent)?;
    let mut violations = Violations::new();
    let by = match body.group_by.as_str() {
        "" | "department" => Some(ScoreBy::Department),
        "sub_district" => Some(ScoreBy::SubDistrict),
        _ => {
            violations.add(
                "group_by",
                "须为 department 或 sub_district must be department or sub_district",
            );
            None
        }
    };
    let time =
        |field: &str, value: Option<&prost_types::Timestamp>, violations: &mut Violations| {
            match value {
                Some(value) => Some(louyu_kit::time::micros_from_timestamp(value)),
                None => {
                    violations.add(field, "必须填写 is required");
                    None
                }
            }
        };
    let start = time("start_time", body.start_time.as_ref(), &mut violations);
    let end = time("end_time", body.end_time.as_ref(), &mut violations);
    if let (Some(start), Some(end)) = (start, end) {
        if end <= start {
            violations.add("end_time", "须晚于 start_time must be after start_time");
        } else if end - start > MAX_PERIOD_MICROS {
            violations.add("end_time", "最长366天 at most 366 days after start_time");
        }
    }
    violations.into_result()?;
    reply(
        api.store
            .scorecard(
                by.expect("checked"),
                start.expect("checked"),
                end.expect("checked"),
            )
            .await,
    )
}

/// The most parts a referral splits into.
const MAX_PARTS: usize = 10;

pub(super) async fn split(
    api: &ReferralApi,
    request: Request<SplitReferralRequest>,
) -> Reply<Referral> {
    let call = Call::idempotent(&request)?;
    let body = request.get_ref();
    let id = api.referral_id(&body.name)?;
    let note = note("note", &body.note, true)?;
    if !(2..=MAX_PARTS).contains(&body.parts.len()) {
        return Err(InvalidArgument::new(
            "parts",
            format!("须拆为2到{MAX_PARTS}个子单 must be 2 to {MAX_PARTS} parts"),
        )
        .into());
    }
    let facts = api.store.facts_of_referral(&id).await?;
    let mut parts = Vec::with_capacity(body.parts.len());
    for (index, part) in body.parts.iter().enumerate() {
        let prefix = format!("parts[{index}].");
        let description = fields::notes(&format!("{prefix}description"), &part.description, true)?;
        if part.departments.is_empty() {
            return Err(InvalidArgument::new(
                format!("{prefix}departments"),
                "至少一个部门 needs at least one department",
            )
            .into());
        }
        let departments = api
            .departments_at(&prefix, &part.departments, &part.lead_department, &facts)
            .await?;
        parts.push(PartInput {
            departments,
            description,
        });
    }
    reply(api.store.split(&call, &id, parts, note).await)
}
