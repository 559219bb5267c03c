use louyu_kit::backend_tests;
use louyu_kit::testing::TestBackend;
use louyu_proto::common::v1::{ListAuditRecordsRequest, WatchEventsRequest};
use louyu_proto::registry::v1::*;
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

async fn every_change_is_audited_with_who_what_and_the_request_id(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let mut request = Request::new(CreateSubDistrictRequest {
        parent: DISTRICT.to_owned(),
        sub_district: Some(SubDistrict {
            display_name: "南京西路街道".to_owned(),
            kind: SubDistrictKind::Street as i32,
            ..SubDistrict::default()
        }),
        sub_district_id: "nanjingxilu".to_owned(),
        request_id: "req-42".to_owned(),
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
    assert_eq!(records[0].actor, "gateway:user-42");
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
    assert_eq!(all.audit_records[0].actor, "anonymous");
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

backend_tests!(
    health_and_both_reflection_versions_are_served,
    every_change_is_audited_with_who_what_and_the_request_id,
    stopping_ends_open_event_streams_and_drains,
);
