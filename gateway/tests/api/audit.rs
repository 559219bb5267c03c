//! Every mutation through the gateway, over gRPC and over REST, leaves
//! exactly one record in the owning service's audit trail, under the person
//! who called the gateway, naming the method and the resource; a create
//! retried with the same `request_id` still leaves one.
//!
//! Each mutation is made by a person of its own, so the trail filtered by
//! that person is exactly what the mutation recorded.

use louyu_kit::config::ServiceName;
use louyu_kit::identity::{Principal, Role};
use louyu_proto::common::v1::audit_service_client::AuditServiceClient;
use louyu_proto::common::v1::{DemandCategory, ListAuditRecordsRequest, RiskColour};
use louyu_proto::referral::v1::referral_service_client::ReferralServiceClient;
use louyu_proto::referral::v1::{AcceptReferralRequest, ListReferralsRequest};
use louyu_proto::registry::v1::{Building, CreateBuildingRequest, UpdateBuildingRequest};
use louyu_proto::risk::v1::risk_service_client::RiskServiceClient;
use louyu_proto::risk::v1::{ColourOverride, GetAssessmentRequest, SetColourOverrideRequest};
use louyu_proto::visits::v1::visits_service_client::VisitsServiceClient;
use louyu_proto::visits::v1::{
    CreateDemandRequest, DemandDraft, Observation, SubmitVisitRequest, Urgency, Visit, VisitKind,
};
use louyu_testkit::fixtures::{enterprise_name, uscc};
use louyu_testkit::identity::{auditor, person};
use louyu_testkit::{TestBackend, backend_tests, eventually};
use prost::Message;
use prost_reflect::DynamicMessage;
use serde_json::Value as Json;

use crate::helpers::*;

/// `message` (of the proto type `full_name`) as the proto3 JSON a REST
/// caller sends: the same request over both doors.
fn json_of(full_name: &str, message: &impl Message) -> Json {
    let pool = louyu_gateway::rest::louyu_pool().unwrap();
    let descriptor = pool
        .get_message_by_name(full_name)
        .unwrap_or_else(|| panic!("{full_name} in the pool"));
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .expect("the message decodes");
    serde_json::to_value(&dynamic).expect("proto3 JSON")
}

/// The (method, resource, request id) of every record `actor` left in
/// `service`'s audit trail, read straight from the service as an auditor.
async fn trail_of(
    suite: &Suite,
    service: ServiceName,
    actor: &Principal,
) -> Vec<(String, String, String)> {
    let mut audit = AuditServiceClient::new(suite.sandbox.client_as(service, &auditor()).await);
    let mut records: Vec<_> = audit
        .list_audit_records(ListAuditRecordsRequest {
            filter: format!("actor = \"{}\"", actor.audit_name()),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("the audit trail")
        .into_inner()
        .audit_records
        .into_iter()
        .map(|record| {
            assert_eq!(record.actor, actor.audit_name());
            (record.method, record.resource, record.request_id)
        })
        .collect();
    records.sort();
    records
}

/// `method` as the trail names it: the RPC's name, or its gRPC path.
fn is_method(recorded: &str, method: &str) -> bool {
    recorded == method || recorded.ends_with(&format!("/{method}"))
}

/// Asserts that `trail` is exactly one record of each of `expected`
/// (method, resource, request id).
fn assert_trail(trail: &[(String, String, String)], expected: &[(&str, &str, &str)]) {
    assert_eq!(trail.len(), expected.len(), "{trail:?}");
    for (method, resource, request_id) in expected {
        let matching = trail
            .iter()
            .filter(
                |(recorded_method, recorded_resource, recorded_request_id)| {
                    is_method(recorded_method, method)
                        && recorded_resource == resource
                        && recorded_request_id == request_id
                },
            )
            .count();
        assert_eq!(
            matching, 1,
            "one {method} of {resource} ({request_id:?}) in {trail:?}"
        );
    }
}

fn admin(staff_id: &str) -> Principal {
    person(staff_id, &[Role::DistrictAdmin])
}

fn building_request(building_id: &str, request_id: &str) -> CreateBuildingRequest {
    CreateBuildingRequest {
        parent: DISTRICT.to_owned(),
        building: Some(Building {
            display_name: format!("大厦{building_id}"),
            address: "南京西路2号".to_owned(),
            managing_sub_district: format!("{DISTRICT}/subDistricts/nanjingxilu"),
            ..Building::default()
        }),
        building_id: building_id.to_owned(),
        request_id: request_id.to_owned(),
        ..Default::default()
    }
}

async fn a_building_made_and_changed_through_the_gateway_is_audited_once_under_the_caller(
    backend: TestBackend,
) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let mut registry = suite.sandbox_registry().await;
    louyu_testkit::fixtures::one_building(&mut registry).await;

    // gRPC: a create sent twice with one request id, then a change.
    let grpc_caller = admin("registry-grpc");
    let mut through_gateway = suite.registry_as(ServiceName::Gateway, &grpc_caller).await;
    let mut answers = Vec::new();
    for _ in 0..2 {
        answers.push(
            through_gateway
                .create_building(building_request("b-grpc", "create-b-grpc"))
                .await
                .expect("created, then answered again")
                .into_inner(),
        );
    }
    assert_eq!(answers[0], answers[1], "the retry gets the first answer");
    let building = answers[0].name.clone();
    through_gateway
        .update_building(UpdateBuildingRequest {
            building: Some(Building {
                name: building.clone(),
                floors_above_ground: 12,
                ..Building::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["floors_above_ground".to_owned()],
            }),
            ..Default::default()
        })
        .await
        .expect("changed");
    assert_trail(
        &trail_of(&suite, ServiceName::Registry, &grpc_caller).await,
        &[
            ("CreateBuilding", &building, "create-b-grpc"),
            ("UpdateBuilding", &building, ""),
        ],
    );

    // REST: the same, as someone else.
    let rest_caller = admin("registry-rest");
    let rest = suite.rest_as(Some(&rest_caller));
    let body = json_of(
        "louyu.registry.v1.Building",
        &building_request("b-rest", "").building.unwrap(),
    );
    let mut answers = Vec::new();
    for _ in 0..2 {
        let (status, answer) = rest
            .call(
                "POST",
                "/v1/districts/jingan/buildings?buildingId=b-rest&requestId=create-b-rest",
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        answers.push(answer);
    }
    assert_eq!(answers[0], answers[1], "the retry gets the first answer");
    let building = answers[0]["name"].as_str().unwrap().to_owned();
    let (status, answer) = rest
        .call(
            "PATCH",
            &format!("/v1/{building}?updateMask=floorsAboveGround"),
            Some(serde_json::json!({"floorsAboveGround": 12})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_trail(
        &trail_of(&suite, ServiceName::Registry, &rest_caller).await,
        &[
            ("CreateBuilding", &building, "create-b-rest"),
            ("UpdateBuilding", &building, ""),
        ],
    );
}

/// A visit an hour ago by `s-1` to `b-1`, meeting the enterprise `code`.
fn visit_request(code: &str, request_id: &str) -> SubmitVisitRequest {
    SubmitVisitRequest {
        parent: DISTRICT.to_owned(),
        visit: Some(Visit {
            building: format!("{DISTRICT}/buildings/b-1"),
            staff: vec![format!("{DISTRICT}/staff/s-1")],
            visit_time: Some(louyu_kit::time::timestamp_from_micros(
                louyu_kit::time::now_micros() - 3_600_000_000,
            )),
            kind: VisitKind::Routine as i32,
            observations: vec![Observation {
                enterprise: enterprise_name(code),
                ..Observation::default()
            }],
            ..Visit::default()
        }),
        demands: Vec::new(),
        request_id: request_id.to_owned(),
    }
}

async fn a_visit_an_override_and_a_referral_move_through_the_gateway_are_audited_once_under_the_caller(
    backend: TestBackend,
) {
    let Some(suite) = spawn_suite_with_every_service(backend).await else {
        return;
    };
    let mut registry = suite.sandbox_registry().await;
    louyu_testkit::fixtures::one_building(&mut registry).await;
    louyu_testkit::fixtures::referral_departments(&mut registry).await;
    let codes = [uscc(1), uscc(2)];
    for (code, unit) in codes.iter().zip(["101", "201"]) {
        louyu_testkit::fixtures::tenant(&mut registry, code, unit, 400).await;
    }
    let (grpc_code, rest_code) = (&codes[0], &codes[1]);

    // Visits: a visit submitted twice with one request id, each way.
    let grpc_caller = admin("visits-grpc");
    let mut visits = VisitsServiceClient::new(
        suite
            .sandbox
            .client_as(ServiceName::Gateway, &grpc_caller)
            .await,
    );
    // One request, sent twice: the visit time is part of it.
    let request = visit_request(grpc_code, "visit-grpc");
    let mut answers = Vec::new();
    for _ in 0..2 {
        answers.push(
            visits
                .submit_visit(request.clone())
                .await
                .expect("submitted, then answered again")
                .into_inner(),
        );
    }
    assert_eq!(answers[0], answers[1], "the retry gets the first answer");
    let visit = answers[0].visit.as_ref().unwrap().name.clone();
    assert_trail(
        &trail_of(&suite, ServiceName::Visits, &grpc_caller).await,
        &[("SubmitVisit", &visit, "visit-grpc")],
    );
    let rest_caller = admin("visits-rest");
    let rest = suite.rest_as(Some(&rest_caller));
    let body = json_of(
        "louyu.visits.v1.SubmitVisitRequest",
        &visit_request(rest_code, "visit-rest"),
    );
    let mut answers = Vec::new();
    for _ in 0..2 {
        let (status, answer) = rest
            .call("POST", "/v1/districts/jingan/visits", Some(body.clone()))
            .await;
        assert_eq!(status, 200, "{answer}");
        answers.push(answer);
    }
    assert_eq!(answers[0], answers[1], "the retry gets the first answer");
    let visit = answers[0]["visit"]["name"].as_str().unwrap().to_owned();
    assert_trail(
        &trail_of(&suite, ServiceName::Visits, &rest_caller).await,
        &[("SubmitVisit", &visit, "visit-rest")],
    );

    // Risk: a colour set by hand on each tenant, once risk has assessed it.
    let risk_direct = RiskServiceClient::new(suite.sandbox.client(ServiceName::Risk).await);
    for code in &codes {
        let name = format!("{}/assessment", enterprise_name(code));
        let risk_ref = &risk_direct;
        let name_ref = &name;
        eventually("the tenant is assessed", || async move {
            risk_ref
                .clone()
                .get_assessment(GetAssessmentRequest {
                    name: name_ref.clone(),
                })
                .await
                .is_ok()
        })
        .await;
    }
    let override_request = |code: &str, request_id: &str| SetColourOverrideRequest {
        name: format!("{}/assessment", enterprise_name(code)),
        colour_override: Some(ColourOverride {
            colour: RiskColour::Red as i32,
            reason: "联合走访发现经营困难 a joint visit found the business in trouble".to_owned(),
            expire_time: Some(louyu_kit::time::timestamp_from_micros(
                louyu_kit::time::now_micros() + 3_600_000_000,
            )),
            ..ColourOverride::default()
        }),
        request_id: request_id.to_owned(),
    };
    let grpc_caller = admin("risk-grpc");
    let mut risk = RiskServiceClient::new(
        suite
            .sandbox
            .client_as(ServiceName::Gateway, &grpc_caller)
            .await,
    );
    risk.set_colour_override(override_request(grpc_code, "override-grpc"))
        .await
        .expect("set by hand");
    let grpc_override = trail_of(&suite, ServiceName::Risk, &grpc_caller).await;
    let rest_caller = admin("risk-rest");
    let request = override_request(rest_code, "override-rest");
    let (status, answer) = suite
        .rest_as(Some(&rest_caller))
        .call(
            "POST",
            &format!("/v1/{}:setColourOverride", request.name),
            Some(json_of("louyu.risk.v1.SetColourOverrideRequest", &request)),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let rest_override = trail_of(&suite, ServiceName::Risk, &rest_caller).await;
    for (trail, code, request_id) in [
        (&grpc_override, grpc_code, "override-grpc"),
        (&rest_override, rest_code, "override-rest"),
    ] {
        let assessment = format!("{}/assessment", enterprise_name(code));
        let enterprise = enterprise_name(code);
        assert_eq!(trail.len(), 1, "{trail:?}");
        let (method, resource, recorded_request_id) = &trail[0];
        assert!(is_method(method, "SetColourOverride"), "{trail:?}");
        assert!(
            *resource == assessment || *resource == enterprise,
            "{trail:?}"
        );
        assert_eq!(recorded_request_id, request_id);
    }

    // Referral: each tenant's office-space demand, referred; each referral
    // accepted, one through each door.
    let mut visits_direct =
        VisitsServiceClient::new(suite.sandbox.client(ServiceName::Visits).await);
    for code in &codes {
        visits_direct
            .create_demand(CreateDemandRequest {
                parent: DISTRICT.to_owned(),
                demand: Some(DemandDraft {
                    enterprise: enterprise_name(code),
                    category: DemandCategory::OfficeSpace as i32,
                    description: "需要更大的办公空间 needs more room".to_owned(),
                    urgency: Urgency::High as i32,
                }),
                request_id: String::new(),
            })
            .await
            .expect("a demand");
    }
    let referrals_direct =
        ReferralServiceClient::new(suite.sandbox.client(ServiceName::Referral).await);
    let mut referral_of = std::collections::BTreeMap::new();
    for code in &codes {
        let enterprise = enterprise_name(code);
        let filter = format!("enterprise = \"{enterprise}\"");
        let found = std::sync::Mutex::new(None);
        let (client_ref, filter_ref, found_ref) = (&referrals_direct, &filter, &found);
        eventually("the demand is referred", || async move {
            let listed = client_ref
                .clone()
                .list_referrals(ListReferralsRequest {
                    parent: DISTRICT.to_owned(),
                    filter: filter_ref.clone(),
                    ..Default::default()
                })
                .await
                .expect("the referrals")
                .into_inner()
                .referrals;
            let first = listed.into_iter().next();
            let referred = first.is_some();
            *found_ref.lock().unwrap() = first.map(|referral| referral.name);
            referred
        })
        .await;
        referral_of.insert(code.clone(), found.into_inner().unwrap().unwrap());
    }
    let accept = |code: &str, request_id: &str| AcceptReferralRequest {
        name: referral_of[code].clone(),
        note: "已受理 accepted".to_owned(),
        request_id: request_id.to_owned(),
    };
    let grpc_caller = admin("referral-grpc");
    let mut referrals = ReferralServiceClient::new(
        suite
            .sandbox
            .client_as(ServiceName::Gateway, &grpc_caller)
            .await,
    );
    referrals
        .accept_referral(accept(grpc_code, "accept-grpc"))
        .await
        .expect("accepted");
    assert_trail(
        &trail_of(&suite, ServiceName::Referral, &grpc_caller).await,
        &[("AcceptReferral", &referral_of[grpc_code], "accept-grpc")],
    );
    let rest_caller = admin("referral-rest");
    let request = accept(rest_code, "accept-rest");
    let (status, answer) = suite
        .rest_as(Some(&rest_caller))
        .call(
            "POST",
            &format!("/v1/{}:accept", request.name),
            Some(json_of("louyu.referral.v1.AcceptReferralRequest", &request)),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_trail(
        &trail_of(&suite, ServiceName::Referral, &rest_caller).await,
        &[("AcceptReferral", &referral_of[rest_code], "accept-rest")],
    );
}

backend_tests!(
    a_building_made_and_changed_through_the_gateway_is_audited_once_under_the_caller,
    a_visit_an_override_and_a_referral_move_through_the_gateway_are_audited_once_under_the_caller,
);
