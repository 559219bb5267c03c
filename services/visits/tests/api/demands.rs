use louyu_proto::common::v1::DemandCategory;
use louyu_proto::registry::v1::{Enterprise, EnterpriseStatus, UpdateEnterpriseRequest};
use louyu_proto::visits::v1::*;
use louyu_testkit::TestBackend;
use louyu_testkit::backend_tests;
use tonic::{Code, Request};

use crate::helpers::*;
use crate::visits::{draft, visit_request};

async fn raise(suite: &mut Suite, code: &str, category: DemandCategory) -> CreateDemandResponse {
    suite
        .visits
        .create_demand(CreateDemandRequest {
            parent: DISTRICT.to_owned(),
            demand: Some(draft(code, category)),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn transition(
    suite: &mut Suite,
    name: &str,
    to: DemandStatus,
) -> Result<Demand, tonic::Status> {
    let mut request = Request::new(TransitionDemandRequest {
        name: name.to_owned(),
        to_status: to as i32,
        reason: format!("推进到 {}", to.as_str_name()),
        request_id: String::new(),
    });
    request
        .metadata_mut()
        .insert("x-louyu-actor", "officer:tax-7".parse().unwrap());
    suite
        .visits
        .transition_demand(request)
        .await
        .map(tonic::Response::into_inner)
}

const ALL: [DemandStatus; 7] = [
    DemandStatus::Open,
    DemandStatus::Referred,
    DemandStatus::InProgress,
    DemandStatus::Resolved,
    DemandStatus::Confirmed,
    DemandStatus::Withdrawn,
    DemandStatus::Reopened,
];

fn allowed(from: DemandStatus, to: DemandStatus) -> bool {
    use DemandStatus::*;
    matches!(
        (from, to),
        (Open | Reopened, Referred | InProgress | Withdrawn)
            | (Referred, InProgress | Resolved | Withdrawn)
            | (InProgress, Resolved | Withdrawn)
            | (Resolved, Confirmed | Reopened)
    )
}

/// The allowed path from OPEN to each status.
fn path_to(status: DemandStatus) -> Vec<DemandStatus> {
    use DemandStatus::*;
    match status {
        Open => vec![],
        Referred => vec![Referred],
        InProgress => vec![InProgress],
        Resolved => vec![Referred, Resolved],
        Confirmed => vec![Referred, Resolved, Confirmed],
        Withdrawn => vec![Withdrawn],
        Reopened => vec![Referred, Resolved, Reopened],
        Unspecified => unreachable!(),
    }
}

async fn every_transition_the_lifecycle_forbids_fails_as_failed_precondition(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    let categories = [
        DemandCategory::OfficeSpace,
        DemandCategory::RegistrationLicensing,
        DemandCategory::Tax,
        DemandCategory::Financing,
        DemandCategory::TalentHousehold,
        DemandCategory::PolicyConsultation,
        DemandCategory::PropertyFacilities,
    ];
    for (from, category) in ALL.into_iter().zip(categories) {
        let demand = raise(&mut suite, &world.a, category).await.demand.unwrap();
        for step in path_to(from) {
            transition(&mut suite, &demand.name, step)
                .await
                .expect("an allowed step");
        }
        for to in ALL {
            if allowed(from, to) {
                continue;
            }
            let result = transition(&mut suite, &demand.name, to).await;
            let status = result.expect_err(&format!("{from:?} -> {to:?} must be refused"));
            assert_eq!(
                status.code(),
                Code::FailedPrecondition,
                "{from:?} -> {to:?}: {status:?}"
            );
        }
        let after = suite
            .visits
            .get_demand(GetDemandRequest {
                name: demand.name.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(after.status, from as i32, "refused moves changed nothing");
        assert_eq!(
            after.history.len(),
            path_to(from).len() + 1,
            "one history entry per allowed move, plus raising"
        );
    }

    // The main path keeps who, when and why.
    let demand = raise(&mut suite, &world.b, DemandCategory::Legal)
        .await
        .demand
        .unwrap();
    for step in [
        DemandStatus::Referred,
        DemandStatus::InProgress,
        DemandStatus::Resolved,
        DemandStatus::Confirmed,
    ] {
        transition(&mut suite, &demand.name, step).await.unwrap();
    }
    let done = suite
        .visits
        .get_demand(GetDemandRequest { name: demand.name })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.status, DemandStatus::Confirmed as i32);
    let last = done.history.last().unwrap();
    // The verified caller, not the `x-louyu-actor` sent beside the token.
    assert_eq!(last.actor, "staff:admin-1");
    assert_eq!(last.from_status, DemandStatus::Resolved as i32);
    assert!(last.reason.contains("CONFIRMED"));
    assert!(last.time.is_some());
    let missing_reason = suite
        .visits
        .transition_demand(TransitionDemandRequest {
            name: done.name,
            to_status: DemandStatus::Reopened as i32,
            reason: String::new(),
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(missing_reason, "reason");
}

async fn a_duplicate_demand_is_linked_and_two_can_be_merged_by_hand(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    let submitted = suite
        .visits
        .submit_visit(SubmitVisitRequest {
            parent: DISTRICT.to_owned(),
            visit: Some(visit_request(&[&world.a], "b-1", 0)),
            demands: vec![draft(&world.a, DemandCategory::Tax)],
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let original = submitted.demands[0].clone();
    let again = raise(&mut suite, &world.a, DemandCategory::Tax).await;
    assert!(again.linked, "a matching open demand is linked");
    let linked = again.demand.unwrap();
    assert_eq!(linked.name, original.name);
    assert_eq!(linked.report_count, 2);
    assert_eq!(linked.reports.len(), 2, "both reports are kept");
    assert_eq!(
        linked.reports[0].visit,
        submitted.visit.as_ref().unwrap().name
    );
    assert!(
        linked.reports[1].visit.is_empty(),
        "the second was raised outside a visit"
    );
    let other_enterprise = raise(&mut suite, &world.b, DemandCategory::Tax).await;
    assert!(!other_enterprise.linked);

    let counts = suite
        .visits
        .count_demands(CountDemandsRequest {
            parent: DISTRICT.to_owned(),
            filter: "category = TAX".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(counts.total, 2, "the linked report is not counted twice");
    let of_a = suite
        .visits
        .list_demands(ListDemandsRequest {
            parent: DISTRICT.to_owned(),
            filter: format!("enterprise = \"{}\"", enterprise(&world.a.to_lowercase())),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(of_a.demands.len(), 1, "a code in lower case filters alike");

    // Two demands a worker recognises as one: merged by hand.
    let space = raise(&mut suite, &world.a, DemandCategory::OfficeSpace)
        .await
        .demand
        .unwrap();
    let property = raise(&mut suite, &world.a, DemandCategory::PropertyFacilities)
        .await
        .demand
        .unwrap();
    let merged = suite
        .visits
        .merge_demands(MergeDemandsRequest {
            name: space.name.clone(),
            duplicate: property.name.clone(),
            reason: "同一扩租需求".to_owned(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(merged.report_count, 2);
    let withdrawn = suite
        .visits
        .get_demand(GetDemandRequest {
            name: property.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(withdrawn.status, DemandStatus::Withdrawn as i32);
    assert_eq!(withdrawn.merged_into, space.name);
    let all = suite
        .visits
        .count_demands(CountDemandsRequest {
            parent: DISTRICT.to_owned(),
            filter: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.total, 3, "merged duplicates are not counted");
    let across = suite
        .visits
        .merge_demands(MergeDemandsRequest {
            name: space.name,
            duplicate: other_enterprise.demand.unwrap().name,
            reason: String::new(),
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(across, "duplicate");
}

async fn merge(
    suite: &mut Suite,
    keep: &str,
    duplicate: &str,
    reason: &str,
) -> Result<Demand, tonic::Status> {
    suite
        .visits
        .merge_demands(MergeDemandsRequest {
            name: keep.to_owned(),
            duplicate: duplicate.to_owned(),
            reason: reason.to_owned(),
            request_id: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn get(suite: &mut Suite, name: &str) -> Demand {
    suite
        .visits
        .get_demand(GetDemandRequest {
            name: name.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// Raises a demand and moves it to `RESOLVED`.
async fn resolved(suite: &mut Suite, code: &str, category: DemandCategory) -> Demand {
    let demand = raise(suite, code, category).await.demand.unwrap();
    for step in [DemandStatus::Referred, DemandStatus::Resolved] {
        transition(suite, &demand.name, step).await.unwrap();
    }
    get(suite, &demand.name).await
}

async fn a_resolved_demand_the_enterprise_says_is_not_solved_is_merged_with_the_newer_open_one(
    backend: TestBackend,
) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;

    // The tax question was resolved; meanwhile the enterprise raised a new
    // one, and now says the first is not solved either.
    let old = resolved(&mut suite, &world.a, DemandCategory::Tax).await;
    let newer = raise(&mut suite, &world.a, DemandCategory::Tax).await;
    assert!(!newer.linked, "a resolved demand takes no new reports");
    let newer = newer.demand.unwrap();
    let reopen = transition(&mut suite, &old.name, DemandStatus::Reopened).await;
    let refused = assert_code(reopen, Code::FailedPrecondition);
    assert!(
        refused.message().contains(&newer.name) && refused.message().contains("MergeDemands"),
        "the refusal names the demand to merge with: {}",
        refused.message()
    );

    let without_reason = merge(&mut suite, &newer.name, &old.name, "").await;
    assert_invalid_field(without_reason, "reason");
    let kept = merge(&mut suite, &newer.name, &old.name, "企业反映退税仍未到账")
        .await
        .expect("a resolved demand merges into the open one");
    assert_eq!(kept.status, DemandStatus::Open as i32);
    assert_eq!(kept.report_count, 2, "the old report moves over");
    let merged = get(&mut suite, &old.name).await;
    assert_eq!(merged.status, DemandStatus::Withdrawn as i32);
    assert_eq!(merged.merged_into, newer.name);
    let last = merged.history.last().unwrap();
    assert_eq!(
        (last.from_status, last.to_status),
        (
            DemandStatus::Resolved as i32,
            DemandStatus::Withdrawn as i32
        )
    );
    assert!(last.reason.contains("not solved") && last.reason.contains("退税仍未到账"));

    // The other way round: the older demand stays and is reopened, the newer
    // one goes into it.
    let older = resolved(&mut suite, &world.a, DemandCategory::Legal).await;
    let newest = raise(&mut suite, &world.a, DemandCategory::Legal)
        .await
        .demand
        .unwrap();
    let reopened = merge(&mut suite, &older.name, &newest.name, "合同纠纷仍未解决")
        .await
        .expect("a resolved demand that stays is reopened");
    assert_eq!(reopened.status, DemandStatus::Reopened as i32);
    assert_eq!(reopened.report_count, 2);
    let last = reopened.history.last().unwrap();
    assert_eq!(
        (last.from_status, last.to_status),
        (DemandStatus::Resolved as i32, DemandStatus::Reopened as i32)
    );
    assert_eq!(get(&mut suite, &newest.name).await.merged_into, older.name);

    // Two resolved demands, or a confirmed one, are not merged.
    let first = resolved(&mut suite, &world.b, DemandCategory::Tax).await;
    let second = resolved(&mut suite, &world.b, DemandCategory::Financing).await;
    let both_resolved = merge(&mut suite, &first.name, &second.name, "同一问题").await;
    assert_code(both_resolved, Code::FailedPrecondition);
    transition(&mut suite, &second.name, DemandStatus::Confirmed)
        .await
        .unwrap();
    let open = raise(&mut suite, &world.b, DemandCategory::Other)
        .await
        .demand
        .unwrap();
    let confirmed = merge(&mut suite, &open.name, &second.name, "同一问题").await;
    assert_code(confirmed, Code::FailedPrecondition);

    let open_tax = suite
        .visits
        .count_demands(CountDemandsRequest {
            parent: DISTRICT.to_owned(),
            filter: format!(
                "enterprise = \"{}\" AND status != WITHDRAWN",
                enterprise(&world.a)
            ),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(open_tax.total, 2, "one tax and one legal demand remain");
}

async fn notes_and_descriptions_may_span_lines_but_no_other_control_character_is_accepted(
    backend: TestBackend,
) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    let mut visit = visit_request(&[&world.a], "b-1", 0);
    visit.notes = "一、租约明年到期\r\n二、希望扩租".to_owned();
    let mut multi_line = draft(&world.a, DemandCategory::OfficeSpace);
    multi_line.description = "需要增加办公面积：\n约300平方米".to_owned();
    let submitted = suite
        .visits
        .submit_visit(SubmitVisitRequest {
            parent: DISTRICT.to_owned(),
            visit: Some(visit.clone()),
            demands: vec![multi_line],
            request_id: String::new(),
        })
        .await
        .expect("notes and a description over several lines are accepted")
        .into_inner();
    assert_eq!(
        submitted.visit.unwrap().notes,
        "一、租约明年到期\n二、希望扩租"
    );
    assert_eq!(
        submitted.demands[0].description,
        "需要增加办公面积：\n约300平方米"
    );

    visit.observations[0].relocation_destination = "浦东\n新区".to_owned();
    let two_line_place = suite
        .visits
        .submit_visit(SubmitVisitRequest {
            parent: DISTRICT.to_owned(),
            visit: Some(visit),
            demands: Vec::new(),
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(
        two_line_place,
        "visit.observations[0].relocation_destination",
    );
    let mut with_nul = draft(&world.a, DemandCategory::Tax);
    with_nul.description = "税务\u{0}问题".to_owned();
    let nul = suite
        .visits
        .create_demand(CreateDemandRequest {
            parent: DISTRICT.to_owned(),
            demand: Some(with_nul),
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(nul, "demand.description");
}

async fn an_enterprise_moving_out_flags_its_open_demands_and_ends_its_plan(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    let open = raise(&mut suite, &world.a, DemandCategory::OfficeSpace)
        .await
        .demand
        .unwrap();
    let closed = raise(&mut suite, &world.a, DemandCategory::Tax)
        .await
        .demand
        .unwrap();
    transition(&mut suite, &closed.name, DemandStatus::Withdrawn)
        .await
        .unwrap();

    suite
        .registry
        .update_enterprise(UpdateEnterpriseRequest {
            enterprise: Some(Enterprise {
                name: enterprise(&world.a),
                status: EnterpriseStatus::MovedOut as i32,
                ..Enterprise::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["status".to_owned()],
            }),
        })
        .await
        .unwrap();

    let visits = suite.visits.clone();
    let name = open.name.clone();
    eventually("the open demand is flagged", || {
        let mut visits = visits.clone();
        let name = name.clone();
        async move {
            !visits
                .get_demand(GetDemandRequest { name })
                .await
                .unwrap()
                .into_inner()
                .flag
                .is_empty()
        }
    })
    .await;
    let untouched = suite
        .visits
        .get_demand(GetDemandRequest { name: closed.name })
        .await
        .unwrap()
        .into_inner();
    assert!(untouched.flag.is_empty(), "only open demands are flagged");
    let flagged = suite
        .visits
        .list_demands(ListDemandsRequest {
            parent: DISTRICT.to_owned(),
            filter: "flagged = true".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(flagged.demands.len(), 1);
    let plan = suite
        .visits
        .get_visit_plan(GetVisitPlanRequest {
            name: format!("{DISTRICT}/visitPlans/{}", world.a),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!plan.active, "the plan ends");
    // A new demand cannot be raised for an enterprise with no unit.
    let result = suite
        .visits
        .create_demand(CreateDemandRequest {
            parent: DISTRICT.to_owned(),
            demand: Some(draft(&world.a, DemandCategory::Legal)),
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(result, "demand.enterprise");
}

backend_tests!(
    every_transition_the_lifecycle_forbids_fails_as_failed_precondition,
    a_duplicate_demand_is_linked_and_two_can_be_merged_by_hand,
    a_resolved_demand_the_enterprise_says_is_not_solved_is_merged_with_the_newer_open_one,
    notes_and_descriptions_may_span_lines_but_no_other_control_character_is_accepted,
    an_enterprise_moving_out_flags_its_open_demands_and_ends_its_plan,
);
