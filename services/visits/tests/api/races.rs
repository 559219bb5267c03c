//! Concurrent calls released together from a barrier: on PostgreSQL their
//! transactions overlap, and the visits service's rules still hold.

use louyu_kit::backend_tests;
use louyu_kit::testing::{TestBackend, race, tally};
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::visits::v1::*;

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
    assert_eq!(
        tally(&results, &[]),
        RACERS,
        "every caller gets the response"
    );
    let first = results[0].as_ref().unwrap();
    for result in &results {
        assert_eq!(result.as_ref().unwrap(), first);
    }
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

backend_tests!(
    twenty_identical_submissions_all_get_the_first_response,
    one_demand_raised_by_twenty_callers_at_once_is_one_demand_with_twenty_reports,
);
