use louyu_proto::registry::v1::*;
use louyu_testkit::TestBackend;
use louyu_testkit::backend_tests;
use prost::Message;
use tonic::Request;

use crate::helpers::*;

async fn changes_are_published_in_order_with_the_callers_trace_and_no_personal_data(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("nanjingxilu").await;
    app.create_building("b-1", "nanjingxilu", None).await;
    app.create_unit("b-1", "1001", 10, 300.0).await;

    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let code = uscc(50);
    let mut request = Request::new(CreateEnterpriseRequest {
        parent: DISTRICT.to_owned(),
        enterprise: Some(enterprise(&code)),
        request_id: String::new(),
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-b7ad6b7169203331-01")
            .parse()
            .unwrap(),
    );
    app.registry.create_enterprise(request).await.unwrap();
    let started = app.start_tenancy(&code, "b-1", "1001").await;
    app.registry
        .end_tenancy(EndTenancyRequest {
            name: started.name.clone(),
            end_date: Some(date(2025, 3, 31)),
            reason: "租约到期".to_owned(),
            request_id: String::new(),
        })
        .await
        .unwrap();

    let events = app.events(4).await;
    let types: Vec<&str> = events
        .iter()
        .map(|event| event.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        vec![
            "louyu.registry.v1.BuildingChanged",
            "louyu.registry.v1.EnterpriseCreated",
            "louyu.registry.v1.TenancyStarted",
            "louyu.registry.v1.TenancyEnded",
        ]
    );
    assert_eq!(
        events
            .iter()
            .map(|event| event.sequence)
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );

    assert!(
        events[1]
            .traceparent
            .starts_with(&format!("00-{trace_id}-")),
        "the caller's trace crosses into the event: {:?}",
        events[1].traceparent
    );
    let created =
        EnterpriseCreated::decode(events[1].payload.as_ref().unwrap().value.as_slice()).unwrap();
    let created = created.enterprise.unwrap();
    assert_eq!(created.uscc, code);
    assert!(created.contacts.is_empty(), "events carry no contacts");
    let raw = &events[1].payload.as_ref().unwrap().value;
    assert!(!String::from_utf8_lossy(raw).contains("13800138000"));

    let ended = TenancyEnded::decode(events[3].payload.as_ref().unwrap().value.as_slice()).unwrap();
    assert_eq!(ended.building, format!("{DISTRICT}/buildings/b-1"));
    let tenancy = ended.tenancy.unwrap();
    assert_eq!(tenancy.lease_end, Some(date(2026, 12, 31)));
    assert_eq!(tenancy.end_date, Some(date(2025, 3, 31)));
    assert_eq!(events[3].resource, started.name);
}

backend_tests!(changes_are_published_in_order_with_the_callers_trace_and_no_personal_data);
