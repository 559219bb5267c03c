use louyu_proto::common::v1::DemandCategory;
use louyu_proto::common::v1::WatchEventsRequest;
use louyu_proto::common::v1::event_feed_service_client::EventFeedServiceClient;
use louyu_proto::visits::v1::*;
use louyu_testkit::TestBackend;
use louyu_testkit::backend_tests;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::helpers::*;

pub fn visit_request(world_enterprises: &[&str], building: &str, days_ago: i64) -> Visit {
    let now = louyu_kit::time::now_micros();
    Visit {
        building: format!("{DISTRICT}/buildings/{building}"),
        staff: vec![format!("{DISTRICT}/staff/s-1")],
        visit_time: Some(louyu_kit::time::timestamp_from_micros(
            now - days_ago * 86_400_000_000,
        )),
        kind: VisitKind::Routine as i32,
        notes: "例行走访".to_owned(),
        observations: world_enterprises
            .iter()
            .map(|code| Observation {
                enterprise: enterprise(code),
                lease_months_left: Some(14),
                relocation_intent: RelocationIntent::Considering as i32,
                relocation_destination: "浦东新区".to_owned(),
                expansion_need: true,
                expansion_fit: ExpansionFit::BuildingCannotMeet as i32,
                headcount_trend: Trend::Growing as i32,
                business_trend: Trend::Stable as i32,
                satisfaction: 4,
                ..Observation::default()
            })
            .collect(),
        ..Visit::default()
    }
}

pub fn draft(code: &str, category: DemandCategory) -> DemandDraft {
    DemandDraft {
        enterprise: enterprise(code),
        category: category as i32,
        description: "需要更大的办公空间".to_owned(),
        urgency: Urgency::High as i32,
    }
}

async fn a_retried_submission_yields_one_visit(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    let request = SubmitVisitRequest {
        parent: DISTRICT.to_owned(),
        visit: Some(visit_request(&[&world.a, &world.b], "b-1", 1)),
        demands: vec![draft(&world.a, DemandCategory::OfficeSpace)],
        request_id: "phone-7d3a-0001".to_owned(),
    };
    let first = suite
        .visits
        .submit_visit(request.clone())
        .await
        .unwrap()
        .into_inner();
    let retried = suite
        .visits
        .submit_visit(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, retried, "a retry returns the first result");
    let visit = first.visit.unwrap();
    assert_eq!(visit.observations.len(), 2);
    assert_eq!(visit.demands.len(), 1);
    assert!(
        visit.local_visit_time.ends_with("+08:00"),
        "{}",
        visit.local_visit_time
    );
    assert_eq!(first.demands[0].status, DemandStatus::Open as i32);
    assert_eq!(
        first.demands[0].sub_district,
        format!("{DISTRICT}/subDistricts/nanjingxilu")
    );

    let visits = suite
        .visits
        .list_visits(ListVisitsRequest {
            parent: DISTRICT.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(visits.visits.len(), 1, "one visit, not two");
    let by_enterprise = suite
        .visits
        .list_visits(ListVisitsRequest {
            parent: DISTRICT.to_owned(),
            filter: format!(
                "enterprise = \"{}\" AND staff = \"{DISTRICT}/staff/s-1\"",
                enterprise(&world.b)
            ),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_enterprise.visits.len(), 1);

    let mut feed = EventFeedServiceClient::new(suite.visits_channel.clone());
    let mut stream = feed
        .watch_events(WatchEventsRequest {
            after_sequence: 0,
            max_batch_size: 0,
            ..WatchEventsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let batch = tokio::time::timeout(DEADLINE, stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let types: Vec<&str> = batch
        .events
        .iter()
        .map(|event| event.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        vec![
            "louyu.visits.v1.VisitRecorded",
            "louyu.visits.v1.DemandRaised"
        ]
    );
}

async fn a_submission_naming_an_enterprise_outside_the_building_is_rejected(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    // C rents in b-2, not b-1.
    let result = suite
        .visits
        .submit_visit(SubmitVisitRequest {
            parent: DISTRICT.to_owned(),
            visit: Some(visit_request(&[&world.a, &world.c], "b-1", 0)),
            demands: vec![],
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(result, "visit.observations[1].enterprise");
    let demand_outside = suite
        .visits
        .submit_visit(SubmitVisitRequest {
            parent: DISTRICT.to_owned(),
            visit: Some(visit_request(&[&world.a], "b-1", 0)),
            demands: vec![draft(&world.d, DemandCategory::Tax)],
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(demand_outside, "demands[0].enterprise");
    let mut unknown_staff = visit_request(&[&world.a], "b-1", 0);
    unknown_staff.staff = vec![format!("{DISTRICT}/staff/nobody")];
    let result = suite
        .visits
        .submit_visit(SubmitVisitRequest {
            parent: DISTRICT.to_owned(),
            visit: Some(unknown_staff),
            demands: vec![],
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(result, "visit.staff[0]");
    let mut unknown_building = visit_request(&[], "b-9", 0);
    unknown_building.observations.clear();
    let result = suite
        .visits
        .submit_visit(SubmitVisitRequest {
            parent: DISTRICT.to_owned(),
            visit: Some(unknown_building),
            demands: vec![],
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(result, "visit.building");
    let mut bad_values = visit_request(&[&world.a], "b-1", 0);
    bad_values.observations[0].satisfaction = 9;
    bad_values.visit_time = Some(louyu_kit::time::timestamp_from_micros(
        louyu_kit::time::now_micros() + 7 * 86_400_000_000,
    ));
    let result = suite
        .visits
        .submit_visit(SubmitVisitRequest {
            parent: DISTRICT.to_owned(),
            visit: Some(bad_values.clone()),
            demands: vec![],
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(result, "visit.observations[0].satisfaction");
    let result = suite
        .visits
        .submit_visit(SubmitVisitRequest {
            parent: DISTRICT.to_owned(),
            visit: Some(bad_values),
            demands: vec![],
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(result, "visit.visit_time");

    let visits = suite
        .visits
        .list_visits(ListVisitsRequest {
            parent: DISTRICT.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(visits.visits.is_empty(), "nothing was written");
    let demands = suite
        .visits
        .list_demands(ListDemandsRequest {
            parent: DISTRICT.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(demands.demands.is_empty());
}

async fn a_registry_outage_gives_unavailable_and_writes_nothing(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    let earlier = SubmitVisitRequest {
        parent: DISTRICT.to_owned(),
        visit: Some(visit_request(&[&world.a], "b-1", 2)),
        demands: vec![],
        request_id: "before-outage".to_owned(),
    };
    let first = suite
        .visits
        .submit_visit(earlier.clone())
        .await
        .unwrap()
        .into_inner();

    suite.stop_registry().await;
    let result = suite
        .visits
        .submit_visit(SubmitVisitRequest {
            parent: DISTRICT.to_owned(),
            visit: Some(visit_request(&[&world.b], "b-1", 0)),
            demands: vec![draft(&world.b, DemandCategory::Financing)],
            request_id: "during-outage".to_owned(),
        })
        .await;
    assert_code(result, Code::Unavailable);
    let retried = suite
        .visits
        .submit_visit(earlier)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        retried, first,
        "a retry of a recorded visit is answered without the registry"
    );

    let visits = suite
        .visits
        .list_visits(ListVisitsRequest {
            parent: DISTRICT.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        visits.visits.len(),
        1,
        "the failed submission wrote nothing"
    );
    let demands = suite
        .visits
        .list_demands(ListDemandsRequest {
            parent: DISTRICT.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(demands.demands.is_empty());
}

/// Visits asks the registry as itself, acting for the person it serves: a
/// street admin's visit is checked against the registry (which refuses
/// staff records to a system on its own), and both trails name the person.
async fn visits_asks_the_registry_as_itself_acting_for_the_person_who_submits(
    backend: TestBackend,
) {
    use louyu_kit::config::ServiceName;
    use louyu_kit::identity::{Person, Principal, Role, SystemIdentity};
    use louyu_proto::common::v1::ListAuditRecordsRequest;
    use louyu_proto::common::v1::audit_service_client::AuditServiceClient;
    use louyu_proto::registry::v1::GetStaffRequest;
    use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;

    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    let street_admin = Principal::Person(Person {
        staff_id: "street-admin-1".to_owned(),
        roles: vec![Role::SubDistrictAdmin],
        district: "jingan".to_owned(),
        sub_district: Some("nanjingxilu".to_owned()),
        department: None,
    });
    let channel = suite
        .sandbox()
        .client_as(ServiceName::Visits, &street_admin)
        .await;
    louyu_proto::visits::v1::visits_service_client::VisitsServiceClient::new(channel)
        .submit_visit(SubmitVisitRequest {
            parent: DISTRICT.to_owned(),
            visit: Some(visit_request(&[&world.a], "b-1", 1)),
            demands: vec![],
            request_id: "street-admin-visit-1".to_owned(),
        })
        .await
        .expect("the registry answers visits acting for the street admin");

    let visits_system = Principal::System(SystemIdentity {
        name: "visits".to_owned(),
        district: "jingan".to_owned(),
    });
    let channel = suite
        .sandbox()
        .client_as(ServiceName::Registry, &visits_system)
        .await;
    let alone = RegistryServiceClient::new(channel)
        .get_staff(GetStaffRequest {
            name: format!("{DISTRICT}/staff/s-1"),
        })
        .await;
    assert_code(alone, Code::PermissionDenied);

    let channel = suite
        .sandbox()
        .client_as(ServiceName::Visits, &louyu_testkit::identity::auditor())
        .await;
    let records = AuditServiceClient::new(channel)
        .list_audit_records(ListAuditRecordsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .audit_records;
    assert!(!records.is_empty());
    assert!(
        records
            .iter()
            .all(|record| record.actor == "staff:street-admin-1"),
        "{records:?}"
    );
}

backend_tests!(
    visits_asks_the_registry_as_itself_acting_for_the_person_who_submits,
    a_retried_submission_yields_one_visit,
    a_submission_naming_an_enterprise_outside_the_building_is_rejected,
    a_registry_outage_gives_unavailable_and_writes_nothing,
);
