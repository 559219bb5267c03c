use louyu_proto::registry::v1::*;
use louyu_testkit::TestBackend;
use louyu_testkit::backend_tests;
use tonic::Code;

use crate::helpers::*;

async fn setup(app: &mut TestApp) -> String {
    app.create_sub_district("nanjingxilu").await;
    app.create_building("b-1", "nanjingxilu", None).await;
    app.create_unit("b-1", "1001", 10, 300.0).await;
    app.create_unit("b-1", "2001", 20, 800.0).await;
    app.create_unit("b-1", "3001", 30, 1200.0).await;
    let code = uscc(40);
    app.create_enterprise(&code).await;
    code
}

async fn a_tenancy_occupies_a_vacant_unit_and_a_move_keeps_the_history(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let code = setup(&mut app).await;

    let mut backwards = tenancy(&code, "b-1", "1001");
    backwards.lease_end = Some(date(2023, 12, 31));
    let result = app
        .registry
        .create_tenancy(CreateTenancyRequest {
            parent: DISTRICT.to_owned(),
            tenancy: Some(backwards),
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(result, "tenancy.lease_end");
    let mut negative = tenancy(&code, "b-1", "1001");
    negative.area_square_meters = -10.0;
    let result = app
        .registry
        .create_tenancy(CreateTenancyRequest {
            parent: DISTRICT.to_owned(),
            tenancy: Some(negative),
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(result, "tenancy.area_square_meters");

    let first = app.start_tenancy(&code, "b-1", "1001").await;
    assert_eq!(first.state, TenancyState::Active as i32);
    assert_eq!(
        first.area_square_meters, 300.0,
        "defaults to the unit's area"
    );
    let unit = app
        .registry
        .get_unit(GetUnitRequest {
            name: format!("{DISTRICT}/buildings/b-1/units/1001"),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        unit.current_tenant,
        format!("{DISTRICT}/enterprises/{code}")
    );

    let other = uscc(41);
    app.create_enterprise(&other).await;
    let taken = app
        .registry
        .create_tenancy(CreateTenancyRequest {
            parent: DISTRICT.to_owned(),
            tenancy: Some(tenancy(&other, "b-1", "1001")),
            request_id: String::new(),
        })
        .await;
    assert_code(taken, Code::FailedPrecondition);

    let vacant = app
        .registry
        .list_vacant_units(ListVacantUnitsRequest {
            parent: DISTRICT.to_owned(),
            filter: "area_square_meters >= 500".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let vacant_names: Vec<String> = vacant.units.iter().map(|unit| unit.name.clone()).collect();
    assert_eq!(
        vacant_names,
        vec![
            format!("{DISTRICT}/buildings/b-1/units/2001"),
            format!("{DISTRICT}/buildings/b-1/units/3001")
        ]
    );

    // The enterprise grows into the 20th floor.
    let moved = app
        .registry
        .move_enterprise(MoveEnterpriseRequest {
            from_tenancy: first.name.clone(),
            to_tenancy: Some(Tenancy {
                lease_start: Some(date(2025, 7, 1)),
                lease_end: Some(date(2030, 6, 30)),
                ..tenancy(&code, "b-1", "2001")
            }),
            move_date: Some(date(2025, 6, 30)),
            request_id: "move-1".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.unit, format!("{DISTRICT}/buildings/b-1/units/2001"));
    let ended = app
        .registry
        .get_tenancy(GetTenancyRequest {
            name: first.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ended.state, TenancyState::Ended as i32);
    assert_eq!(ended.end_date, Some(date(2025, 6, 30)));

    let history = app
        .registry
        .list_tenancies(ListTenanciesRequest {
            parent: DISTRICT.to_owned(),
            filter: format!("enterprise = \"{DISTRICT}/enterprises/{code}\""),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        history.tenancies.len(),
        2,
        "the old tenancy is kept, not overwritten"
    );
    let lower_case = app
        .registry
        .list_tenancies(ListTenanciesRequest {
            parent: DISTRICT.to_owned(),
            filter: format!(
                "enterprise = \"{DISTRICT}/enterprises/{}\"",
                code.to_lowercase()
            ),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        lower_case.tenancies.len(),
        2,
        "a code in lower case filters alike"
    );
    let active = app
        .registry
        .list_tenancies(ListTenanciesRequest {
            parent: DISTRICT.to_owned(),
            filter: "state = ACTIVE".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(active.tenancies, vec![moved.clone()]);

    let enterprise = app
        .registry
        .get_enterprise(GetEnterpriseRequest {
            name: format!("{DISTRICT}/enterprises/{code}"),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        enterprise.occupied_units,
        vec![format!("{DISTRICT}/buildings/b-1/units/2001")]
    );

    let again = app
        .registry
        .end_tenancy(EndTenancyRequest {
            name: first.name,
            end_date: Some(date(2025, 7, 1)),
            reason: String::new(),
            request_id: String::new(),
        })
        .await;
    assert_code(again, Code::FailedPrecondition);
    let too_early = app
        .registry
        .end_tenancy(EndTenancyRequest {
            name: moved.name,
            end_date: Some(date(2020, 1, 1)),
            reason: String::new(),
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(too_early, "end_date");
}

async fn an_enterprise_that_moves_out_of_the_district_leaves_its_units(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let code = setup(&mut app).await;
    app.start_tenancy(&code, "b-1", "1001").await;
    app.start_tenancy(&code, "b-1", "3001").await;
    let moved_out = app
        .registry
        .update_enterprise(UpdateEnterpriseRequest {
            enterprise: Some(Enterprise {
                name: format!("{DISTRICT}/enterprises/{code}"),
                status: EnterpriseStatus::MovedOut as i32,
                ..Enterprise::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["status".to_owned()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved_out.status, EnterpriseStatus::MovedOut as i32);
    assert!(moved_out.occupied_units.is_empty());
    let vacant = app
        .registry
        .list_vacant_units(ListVacantUnitsRequest {
            parent: DISTRICT.to_owned(),
            filter: "building = \"districts/jingan/buildings/b-1\"".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(vacant.units.len(), 3);
    let restart = app
        .registry
        .create_tenancy(CreateTenancyRequest {
            parent: DISTRICT.to_owned(),
            tenancy: Some(tenancy(&code, "b-1", "1001")),
            request_id: String::new(),
        })
        .await;
    assert_code(restart, Code::FailedPrecondition);
}

backend_tests!(
    a_tenancy_occupies_a_vacant_unit_and_a_move_keeps_the_history,
    an_enterprise_that_moves_out_of_the_district_leaves_its_units,
);
