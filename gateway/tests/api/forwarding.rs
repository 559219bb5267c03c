//! gRPC calls through the gateway reach their owner with the caller's
//! token and come back as the owner answered; what cannot be forwarded is
//! refused at once with the code that says why.

use std::time::{Duration, Instant};

use louyu_kit::config::ServiceName;
use louyu_kit::identity::Role;
use louyu_proto::common::v1::ListAuditRecordsRequest;
use louyu_proto::common::v1::audit_service_client::AuditServiceClient;
use louyu_proto::google::longrunning::GetOperationRequest;
use louyu_proto::google::longrunning::operations_client::OperationsClient;
use louyu_proto::registry::v1::{Building, GetBuildingRequest, GetDistrictRequest};
use louyu_proto::visits::v1::ListDemandsRequest;
use louyu_proto::visits::v1::visits_service_client::VisitsServiceClient;
use louyu_testkit::identity::{auditor, person, person_in};
use louyu_testkit::{TestBackend, backend_tests};
use tokio_stream::StreamExt;
use tonic::Code;

use crate::helpers::*;

const BUILDING: &str = "districts/jingan/buildings/b-1";

async fn a_building_made_through_the_gateway_is_read_back_and_audited_under_the_caller(
    backend: TestBackend,
) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let caller = person("admin-7", &[Role::DistrictAdmin]);
    let mut registry = suite.registry_as(ServiceName::Gateway, &caller).await;
    louyu_testkit::fixtures::one_building(&mut registry).await;
    let building: Building = registry
        .get_building(GetBuildingRequest {
            name: BUILDING.to_owned(),
            ..Default::default()
        })
        .await
        .expect("the building, through the gateway")
        .into_inner();
    assert_eq!(building.display_name, "静安大厦");

    // The registry's own audit trail, read at the registry: the person who
    // called the gateway made it.
    let mut audit = AuditServiceClient::new(
        suite
            .sandbox
            .client_as(ServiceName::Registry, &auditor())
            .await,
    );
    let records = audit
        .list_audit_records(ListAuditRecordsRequest {
            filter: format!("resource = \"{BUILDING}\""),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .audit_records;
    let created: Vec<_> = records
        .iter()
        .filter(|record| record.method.ends_with("CreateBuilding"))
        .collect();
    assert_eq!(created.len(), 1, "{records:?}");
    assert_eq!(created[0].actor, caller.audit_name());
}

async fn a_refusal_through_the_gateway_is_the_refusal_the_owner_gives_directly(
    backend: TestBackend,
) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let field_worker = person_in("s-1", &[Role::FieldWorker], Some("nanjingxilu"), None);
    let mut answers = Vec::new();
    for service in [ServiceName::Registry, ServiceName::Gateway] {
        let mut registry = suite.registry_as(service, &field_worker).await;
        let status = assert_code(
            registry
                .create_sub_district(louyu_testkit::fixtures::create_street_request())
                .await,
            Code::PermissionDenied,
        );
        answers.push(status.message().to_owned());
    }
    assert_eq!(answers[0], answers[1]);
}

async fn a_call_to_the_visits_service_goes_to_the_visits_service(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let mut visits = VisitsServiceClient::new(suite.sandbox.client(ServiceName::Gateway).await);
    let demands = visits
        .list_demands(ListDemandsRequest {
            parent: DISTRICT.to_owned(),
            ..Default::default()
        })
        .await
        .expect("the district's demands, through the gateway")
        .into_inner();
    assert!(demands.demands.is_empty());
}

/// The caller's deadline bounds the whole call: a generous one lets it
/// through, a tiny one ends it at once rather than leaving it to the
/// gateway's own request timeout. (That `grpc-timeout` itself goes on to the
/// owner is held by the forwarder's unit tests.)
async fn the_callers_deadline_bounds_a_call_through_the_gateway(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let mut registry = suite.registry_through_gateway().await;
    let get_district = |timeout| {
        let mut request = tonic::Request::new(GetDistrictRequest {
            name: DISTRICT.to_owned(),
        });
        request.set_timeout(timeout);
        request
    };
    registry
        .get_district(get_district(Duration::from_secs(10)))
        .await
        .expect("within a generous deadline");
    let started = Instant::now();
    let status = registry
        .get_district(get_district(Duration::from_micros(1)))
        .await
        .expect_err("past a tiny deadline");
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

async fn a_stopped_owner_is_unavailable_at_once_naming_it(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let mut registry = suite.registry_through_gateway().await;
    registry
        .get_district(GetDistrictRequest {
            name: DISTRICT.to_owned(),
        })
        .await
        .expect("the registry answers while it runs");
    suite.sandbox.stop(ServiceName::Registry).await;
    let started = Instant::now();
    let status = assert_code(
        registry
            .get_district(GetDistrictRequest {
                name: DISTRICT.to_owned(),
            })
            .await,
        Code::Unavailable,
    );
    assert!(status.message().contains("registry"), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

async fn an_unknown_method_or_a_service_not_fronted_is_unimplemented(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    for service in [ServiceName::Registry, ServiceName::Gateway] {
        let mut client = tonic::client::Grpc::new(suite.sandbox.client(service).await);
        client.ready().await.unwrap();
        let answer = client
            .unary(
                tonic::Request::new(()),
                tonic::codegen::http::uri::PathAndQuery::from_static(
                    "/louyu.registry.v1.RegistryService/NoSuchMethod",
                ),
                tonic_prost::ProstCodec::<(), ()>::default(),
            )
            .await;
        assert_code(answer, Code::Unimplemented);
    }
    // Each service's audit trail is its own: the gateway cannot say whose.
    let mut audit = AuditServiceClient::new(
        suite
            .sandbox
            .client_as(ServiceName::Gateway, &auditor())
            .await,
    );
    let status = assert_code(
        audit
            .list_audit_records(ListAuditRecordsRequest::default())
            .await,
        Code::Unimplemented,
    );
    assert!(
        status.message().contains("louyu.common.v1.AuditService"),
        "{status:?}"
    );
}

async fn reflection_on_the_gateway_lists_what_it_fronts(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection =
        ServerReflectionClient::new(suite.sandbox.channel(ServiceName::Gateway).await);
    let requests = [
        MessageRequest::ListServices(String::new()),
        MessageRequest::FileContainingSymbol("louyu.registry.v1.RegistryService".to_owned()),
    ]
    .map(
        |message_request| tonic_reflection::pb::v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(message_request),
        },
    );
    let responses: Vec<_> = reflection
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    let Some(Ok(listed)) = responses.first() else {
        panic!("a reflection response: {responses:?}")
    };
    let Some(MessageResponse::ListServicesResponse(listed)) = &listed.message_response else {
        panic!("a service list")
    };
    let mut names: Vec<&str> = listed
        .service
        .iter()
        .map(|service| service.name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "google.longrunning.Operations",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "louyu.referral.v1.ReferralService",
            "louyu.registry.v1.BuildingCouncilService",
            "louyu.registry.v1.RegistryService",
            "louyu.risk.v1.RiskService",
            "louyu.visits.v1.VisitsService",
        ]
    );
    let Some(Ok(described)) = responses.get(1) else {
        panic!("a second reflection response: {responses:?}")
    };
    assert!(
        matches!(
            described.message_response,
            Some(MessageResponse::FileDescriptorResponse(_))
        ),
        "{described:?}"
    );
}

async fn an_operation_is_asked_of_the_risk_service(backend: TestBackend) {
    let Some(suite) = spawn_suite_with_risk(backend).await else {
        return;
    };
    let mut answers = Vec::new();
    for service in [ServiceName::Risk, ServiceName::Gateway] {
        let mut operations = OperationsClient::new(suite.sandbox.client(service).await);
        let status = assert_code(
            operations
                .get_operation(GetOperationRequest {
                    name: "operations/00000000000000000001-none".to_owned(),
                })
                .await,
            Code::NotFound,
        );
        answers.push(status.message().to_owned());
    }
    assert_eq!(answers[0], answers[1], "the risk service's own answer");
}

backend_tests!(
    an_operation_is_asked_of_the_risk_service,
    a_building_made_through_the_gateway_is_read_back_and_audited_under_the_caller,
    a_refusal_through_the_gateway_is_the_refusal_the_owner_gives_directly,
    a_call_to_the_visits_service_goes_to_the_visits_service,
    the_callers_deadline_bounds_a_call_through_the_gateway,
    a_stopped_owner_is_unavailable_at_once_naming_it,
    an_unknown_method_or_a_service_not_fronted_is_unimplemented,
    reflection_on_the_gateway_lists_what_it_fronts,
);
