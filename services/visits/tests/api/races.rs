//! Concurrent calls released together from a barrier: on PostgreSQL their
//! transactions overlap, and the visits service's rules still hold.

use louyu_proto::common::v1::DemandCategory;
use louyu_proto::visits::v1::*;
use louyu_testkit::backend_tests;
use louyu_testkit::{TestBackend, race, tally, the_one_response};

use crate::helpers::*;
use crate::visits::{draft, visit_request};

const RACERS: usize = 20;

async fn twenty_identical_submissions_all_get_the_first_response(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    let request = SubmitVisitRequest {
        parent: DISTRICT.to_owned(),
        visit: Some(visit_request(&[&world.a, &world.b], "b-1", 1)),
        demands: vec![draft(&world.a, DemandCategory::OfficeSpace)],
        request_id: "phone-race-0001".to_owned(),
    };
    let results = race(RACERS, |_| {
        let mut visits = suite.visits.clone();
        let request = request.clone();
        async move {
            visits
                .submit_visit(request)
                .await
                .map(tonic::Response::into_inner)
        }
    })
    .await;
    let first = the_one_response(&results);
    let listed = suite
        .visits
        .list_visits(ListVisitsRequest {
            parent: DISTRICT.to_owned(),
            ..ListVisitsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.visits.len(), 1, "one visit recorded");
    let demand = suite
        .visits
        .get_demand(GetDemandRequest {
            name: first.demands[0].name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(demand.reports.len(), 1, "one report of the demand");
}

async fn one_demand_raised_by_twenty_callers_at_once_is_one_demand_with_twenty_reports(
    backend: TestBackend,
) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    let results = race(RACERS, |index| {
        let mut visits = suite.visits.clone();
        let mut demand = draft(&world.a, DemandCategory::Financing);
        demand.description = format!("第{index}次反映 report {index}");
        async move {
            visits
                .create_demand(CreateDemandRequest {
                    parent: DISTRICT.to_owned(),
                    demand: Some(demand),
                    request_id: String::new(),
                })
                .await
                .map(tonic::Response::into_inner)
        }
    })
    .await;
    assert_eq!(tally(&results, &[]), RACERS);
    let responses: Vec<&CreateDemandResponse> = results
        .iter()
        .map(|result| result.as_ref().unwrap())
        .collect();
    assert_eq!(
        responses.iter().filter(|response| !response.linked).count(),
        1,
        "one caller raised it, the others were linked"
    );
    let name = &responses[0].demand.as_ref().unwrap().name;
    assert!(
        responses
            .iter()
            .all(|response| &response.demand.as_ref().unwrap().name == name),
        "every report went to one demand"
    );
    let demand = suite
        .visits
        .get_demand(GetDemandRequest { name: name.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(demand.reports.len(), RACERS);
    let open = suite
        .visits
        .list_demands(ListDemandsRequest {
            parent: DISTRICT.to_owned(),
            filter: format!("enterprise = \"{}\"", enterprise(&world.a)),
            ..ListDemandsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(open.demands.len(), 1);
}

async fn raise(suite: &mut Suite, code: &str, category: DemandCategory) -> Demand {
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
        .demand
        .unwrap()
}

async fn one_transition_of_twenty_at_once_wins_and_the_others_are_judged_on_its_result(
    backend: TestBackend,
) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    let demand = raise(&mut suite, &world.a, DemandCategory::Tax).await;
    let results = race(RACERS, |_| {
        let mut visits = suite.visits.clone();
        let name = demand.name.clone();
        async move {
            visits
                .transition_demand(TransitionDemandRequest {
                    name,
                    to_status: DemandStatus::InProgress as i32,
                    reason: "开始办理 started".to_owned(),
                    request_id: String::new(),
                })
                .await
        }
    })
    .await;
    // The losers see IN_PROGRESS, from which IN_PROGRESS is not a move.
    assert_eq!(tally(&results, &[tonic::Code::FailedPrecondition]), 1);
    let fetched = suite
        .visits
        .get_demand(GetDemandRequest {
            name: demand.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched.status, DemandStatus::InProgress as i32);
    assert_eq!(fetched.history.len(), 2, "raised, then one change");
}

async fn two_demands_merged_into_each_other_at_once_end_as_one(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    for round in 0..5 {
        let first = raise(&mut suite, &world.b, DemandCategory::Safety).await;
        // A second open demand of the same enterprise, in another category.
        let second = raise(&mut suite, &world.b, DemandCategory::Legal).await;
        let pairs = [
            (first.name.clone(), second.name.clone()),
            (second.name.clone(), first.name.clone()),
        ];
        let results = race(2, |index| {
            let mut visits = suite.visits.clone();
            let (name, duplicate) = pairs[index].clone();
            async move {
                visits
                    .merge_demands(MergeDemandsRequest {
                        name,
                        duplicate,
                        reason: "同一件事 the same matter".to_owned(),
                        request_id: String::new(),
                    })
                    .await
            }
        })
        .await;
        assert_eq!(
            tally(&results, &[tonic::Code::FailedPrecondition]),
            1,
            "round {round}: one merge wins"
        );
        for name in [&first.name, &second.name] {
            let demand = suite
                .visits
                .get_demand(GetDemandRequest { name: name.clone() })
                .await
                .unwrap()
                .into_inner();
            if demand.status != DemandStatus::Withdrawn as i32 {
                assert_eq!(demand.reports.len(), 2, "round {round}: both reports kept");
                // Close it, so the next round raises new demands.
                suite
                    .visits
                    .transition_demand(TransitionDemandRequest {
                        name: name.clone(),
                        to_status: DemandStatus::Withdrawn as i32,
                        reason: "本轮结束 round over".to_owned(),
                        request_id: String::new(),
                    })
                    .await
                    .unwrap();
            }
        }
    }
}

backend_tests!(
    twenty_identical_submissions_all_get_the_first_response,
    one_demand_raised_by_twenty_callers_at_once_is_one_demand_with_twenty_reports,
    one_transition_of_twenty_at_once_wins_and_the_others_are_judged_on_its_result,
    two_demands_merged_into_each_other_at_once_end_as_one,
);
