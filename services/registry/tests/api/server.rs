use louyu_proto::common::v1::{ListAuditRecordsRequest, WatchEventsRequest};
use louyu_proto::registry::v1::*;
use louyu_testkit::TestBackend;
use louyu_testkit::backend_tests;
use tokio_stream::StreamExt;
use tonic::Request;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::*;

async fn health_and_both_reflection_versions_are_served(backend: TestBackend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut health = HealthClient::new(app.channel.clone());
    for service in [
        "",
        "louyu.registry.v1.RegistryService",
        "louyu.common.v1.EventFeedService",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient as ClientV1;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest as RequestV1;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse as ResponseV1;
    let mut v1 = ClientV1::new(app.channel.clone());
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(RequestV1::ListServices(String::new())),
    };
    let mut responses = v1
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(Ok(response)) = responses.next().await else {
        panic!("a v1 reflection response")
    };
    let Some(ResponseV1::ListServicesResponse(listed)) = response.message_response else {
        panic!("a service list")
    };
    let names: Vec<String> = listed
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    assert!(
        names.contains(&"louyu.registry.v1.RegistryService".to_owned()),
        "{names:?}"
    );

    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as ClientV1Alpha;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as RequestV1Alpha;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse as ResponseV1Alpha;
    let mut v1alpha = ClientV1Alpha::new(app.channel.clone());
    let request = tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(RequestV1Alpha::FileContainingSymbol(
            "louyu.registry.v1.RegistryService".to_owned(),
        )),
    };
    let mut responses = v1alpha
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(Ok(response)) = responses.next().await else {
        panic!("a v1alpha reflection response")
    };
    let Some(ResponseV1Alpha::FileDescriptorResponse(files)) = response.message_response else {
        panic!("file descriptors for the registry service")
    };
    assert!(!files.file_descriptor_proto.is_empty());
}

/// The actor is the verified caller of the token: a forged `x-louyu-actor`
/// beside it changes nothing.
async fn every_change_is_audited_with_who_what_and_the_request_id(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let mut request = Request::new(CreateSubDistrictRequest {
        request_id: "req-42".to_owned(),
        ..louyu_testkit::fixtures::create_street_request()
    });
    request
        .metadata_mut()
        .insert("x-louyu-actor", "gateway:user-42".parse().unwrap());
    app.registry.create_sub_district(request).await.unwrap();
    app.create_building("b-1", "nanjingxilu", None).await;

    let records = app
        .audit
        .list_audit_records(ListAuditRecordsRequest {
            filter: "method = \"CreateSubDistrict\"".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .audit_records;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].actor, "staff:admin-1");
    assert_eq!(
        records[0].resource,
        format!("{DISTRICT}/subDistricts/nanjingxilu")
    );
    assert_eq!(records[0].request_id, "req-42");
    let all = app
        .audit
        .list_audit_records(ListAuditRecordsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.audit_records.len(), 2);
    assert_eq!(
        all.audit_records[0].method, "CreateBuilding",
        "newest first"
    );
    assert_eq!(all.audit_records[0].actor, "staff:admin-1");
}

async fn stopping_ends_open_event_streams_and_drains(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let mut stream = app
        .feed
        .watch_events(WatchEventsRequest {
            after_sequence: 0,
            max_batch_size: 0,
            ..WatchEventsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    app.stop().await;
    let ended = tokio::time::timeout(DEADLINE, async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
    assert!(
        ended.is_ok(),
        "the open stream ended when the server stopped"
    );
    let refused = app
        .registry
        .get_district(GetDistrictRequest {
            name: DISTRICT.to_owned(),
        })
        .await;
    assert!(refused.is_err(), "a stopped server answers nothing");
    let _ = app.address;
}

async fn reflection_lists_exactly_the_services_this_server_serves(backend: TestBackend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut expected = vec![
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "louyu.common.v1.AuditService",
        "louyu.common.v1.EventFeedService",
        "louyu.registry.v1.BuildingCouncilService",
        "louyu.registry.v1.RegistryService",
    ];
    expected.sort_unstable();

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient as ClientV1;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest as RequestV1;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse as ResponseV1;
    let mut v1 = ClientV1::new(app.channel.clone());
    let requests = [
        RequestV1::ListServices(String::new()),
        RequestV1::FileContainingSymbol("louyu.visits.v1.VisitsService".to_owned()),
    ]
    .map(
        |message_request| tonic_reflection::pb::v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(message_request),
        },
    );
    let responses: Vec<_> = v1
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    let Some(Ok(listed)) = responses.first() else {
        panic!("a v1 reflection response: {responses:?}")
    };
    let Some(ResponseV1::ListServicesResponse(listed)) = &listed.message_response else {
        panic!("a service list")
    };
    let mut names: Vec<&str> = listed
        .service
        .iter()
        .map(|service| service.name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, expected, "v1 lists what this server serves");
    // tonic's reflection ends the stream with NOT_FOUND for an unknown
    // symbol.
    assert!(
        matches!(responses.get(1), Some(Err(status)) if status.code() == tonic::Code::NotFound),
        "the visits service is not described here: {responses:?}"
    );

    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as ClientV1Alpha;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as RequestV1Alpha;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse as ResponseV1Alpha;
    let mut v1alpha = ClientV1Alpha::new(app.channel.clone());
    let request = tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(RequestV1Alpha::ListServices(String::new())),
    };
    let mut responses = v1alpha
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(Ok(response)) = responses.next().await else {
        panic!("a v1alpha reflection response")
    };
    let Some(ResponseV1Alpha::ListServicesResponse(listed)) = response.message_response else {
        panic!("a service list")
    };
    let mut names: Vec<&str> = listed
        .service
        .iter()
        .map(|service| service.name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, expected, "v1alpha lists the same");
}

async fn a_request_over_the_size_limit_gets_resource_exhausted(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    // The audit service takes tonic's default limit of 4 MiB.
    let oversized = app
        .audit
        .list_audit_records(ListAuditRecordsRequest {
            filter: "x".repeat(5 * 1024 * 1024),
            ..Default::default()
        })
        .await;
    let status = assert_code(oversized, tonic::Code::ResourceExhausted);
    assert!(
        status.message().contains("4194304"),
        "the message names the limit: {status:?}"
    );
}

/// A message shaped unlike `GetDistrictRequest`: field 1 is a number, not
/// the name, so the server cannot decode it.
#[derive(Clone, PartialEq, prost::Message)]
struct NotAGetDistrictRequest {
    #[prost(uint64, tag = "1")]
    name: u64,
}

async fn a_request_that_is_not_valid_protobuf_gets_invalid_argument(backend: TestBackend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut client = tonic::client::Grpc::new(app.authorized.clone());
    client.ready().await.unwrap();
    let answer = client
        .unary(
            Request::new(NotAGetDistrictRequest { name: 7 }),
            tonic::codegen::http::uri::PathAndQuery::from_static(
                "/louyu.registry.v1.RegistryService/GetDistrict",
            ),
            tonic_prost::ProstCodec::<NotAGetDistrictRequest, District>::default(),
        )
        .await;
    let status = assert_code(answer, tonic::Code::InvalidArgument);
    assert!(
        !status.message().contains("wire type"),
        "the decoder's own text stays inside: {status:?}"
    );
}

async fn stopping_closes_open_health_watch_streams(backend: TestBackend) {
    let Some(mut app) = spawn_app_with(backend, |config| {
        config.shutdown_grace_seconds = 600;
    })
    .await
    else {
        return;
    };
    let mut health = HealthClient::new(app.channel.clone());
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.expect("a status").expect("a status");
    assert_eq!(first.status, ServingStatus::Serving as i32);

    let stopping = std::time::Instant::now();
    app.stop().await;
    assert!(
        stopping.elapsed() < DEADLINE,
        "an open health watch does not hold the server for its grace period"
    );
    let seen: Vec<_> = tokio::time::timeout(DEADLINE, watch.collect::<Vec<_>>())
        .await
        .expect("the watch stream ended");
    assert!(
        seen.iter()
            .any(|status| matches!(status, Ok(status) if status.status == ServingStatus::NotServing as i32)),
        "the watcher saw NOT_SERVING before its stream ended: {seen:?}"
    );
}

async fn a_stopping_server_answers_not_serving_for_the_drain_delay(backend: TestBackend) {
    const DRAIN_DELAY: std::time::Duration = std::time::Duration::from_secs(1);
    let Some(mut app) = spawn_app_with(backend, |config| {
        config.drain_delay = DRAIN_DELAY;
    })
    .await
    else {
        return;
    };
    let stopping = std::time::Instant::now();
    app.shutdown.trigger();

    // A readiness probe opens a connection of its own each time.
    let address = format!("http://{}", app.address);
    let check = || async {
        let channel = tonic::transport::Channel::from_shared(address.clone())
            .unwrap()
            .connect()
            .await?;
        let status = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: "louyu.registry.v1.RegistryService".to_owned(),
            })
            .await?
            .into_inner()
            .status;
        Ok::<_, Box<dyn std::error::Error>>(status)
    };
    louyu_testkit::eventually("health turns NOT_SERVING", || async {
        check().await.ok() == Some(ServingStatus::NotServing as i32)
    })
    .await;
    assert!(
        stopping.elapsed() < DRAIN_DELAY,
        "the test saw NOT_SERVING within the drain delay"
    );
    app.registry
        .get_district(GetDistrictRequest {
            name: DISTRICT.to_owned(),
        })
        .await
        .expect("calls are still answered while draining");

    app.wait_until_stopped().await;
    assert!(
        stopping.elapsed() >= DRAIN_DELAY,
        "the listener stayed open for the drain delay"
    );
    assert!(check().await.is_err(), "then the listener is closed");
}

backend_tests!(
    reflection_lists_exactly_the_services_this_server_serves,
    a_request_over_the_size_limit_gets_resource_exhausted,
    a_request_that_is_not_valid_protobuf_gets_invalid_argument,
    stopping_closes_open_health_watch_streams,
    a_stopping_server_answers_not_serving_for_the_drain_delay,
    health_and_both_reflection_versions_are_served,
    every_change_is_audited_with_who_what_and_the_request_id,
    stopping_ends_open_event_streams_and_drains,
);
