use louyu_kit::config::ServiceName;
use louyu_kit::identity::{Principal, SystemIdentity};
use louyu_proto::google::r#type::LatLng;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::registry::v1::*;
use louyu_testkit::TestBackend;
use louyu_testkit::backend_tests;
use louyu_testkit::identity::TOKEN_DISTRICT;
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

/// Near 静安寺 (Jing'an Temple).
const JINGAN_TEMPLE: LatLng = LatLng {
    latitude: 31.2235,
    longitude: 121.4455,
};

/// Metres between two nearby points on a flat map (equirectangular), to
/// check the registry's great-circle distances against a formula of its own.
fn flat_distance_meters(from: LatLng, to: LatLng) -> f64 {
    const METERS_PER_DEGREE: f64 = 6_371_000.0 * std::f64::consts::PI / 180.0;
    let north = (to.latitude - from.latitude) * METERS_PER_DEGREE;
    let mean_latitude = ((from.latitude + to.latitude) / 2.0).to_radians();
    let east = (to.longitude - from.longitude) * METERS_PER_DEGREE * mean_latitude.cos();
    north.hypot(east)
}

fn unit_names(response: &ListVacantUnitsResponse) -> Vec<String> {
    response
        .units
        .iter()
        .map(|unit| unit.name.clone())
        .collect()
}

async fn vacant_units_near_a_building_come_nearest_first_with_their_distances(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("jingansi").await;
    // Named so that name order (a, b, c, d) is not distance order from
    // c-home (c, d, b, a).
    let near = LatLng {
        latitude: JINGAN_TEMPLE.latitude + 0.009,
        ..JINGAN_TEMPLE
    };
    let far = LatLng {
        longitude: JINGAN_TEMPLE.longitude + 0.0525,
        ..JINGAN_TEMPLE
    };
    app.create_building("b-far", "jingansi", Some(far)).await;
    let home = app
        .create_building("c-home", "jingansi", Some(JINGAN_TEMPLE))
        .await;
    app.create_building("d-near", "jingansi", Some(near)).await;
    // Last: on PostgreSQL, once a connection has inserted a building with no
    // location, inserting one with a location on it fails (sqlx 0.9's `Any`
    // binds a NULL f64 as float4 and the cached statement keeps that type;
    // sqlx issue #4284).
    app.create_building("a-unmapped", "jingansi", None).await;
    for (building_id, unit_id, area) in [
        ("a-unmapped", "0101", 500.0),
        ("a-unmapped", "0102", 50.0),
        ("b-far", "1501", 1000.0),
        ("b-far", "1601", 1000.0),
        ("c-home", "1001", 200.0),
        ("c-home", "2001", 400.0),
        ("c-home", "2002", 350.0),
        ("d-near", "0801", 300.0),
        ("d-near", "0901", 100.0),
    ] {
        app.create_unit(building_id, unit_id, 10, area).await;
    }
    let tenant = uscc(60);
    app.create_enterprise(&tenant).await;
    app.start_tenancy(&tenant, "b-far", "1601").await;
    let unit_name = |building_id: &str, unit_id: &str| {
        format!("{DISTRICT}/buildings/{building_id}/units/{unit_id}")
    };
    let nearest_first = vec![
        unit_name("c-home", "2001"),
        unit_name("c-home", "2002"),
        unit_name("d-near", "0801"),
        unit_name("b-far", "1501"),
        unit_name("a-unmapped", "0101"),
    ];
    let big_enough_near_home = |page_size: i32, page_token: String| ListVacantUnitsRequest {
        parent: DISTRICT.to_owned(),
        page_size,
        page_token,
        filter: "area_square_meters >= 300".to_owned(),
        near_building: home.name.clone(),
    };

    let listed = app
        .registry
        .list_vacant_units(big_enough_near_home(0, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unit_names(&listed), nearest_first);
    assert!(listed.next_page_token.is_empty());
    let vacant_unit_names: Vec<String> = listed
        .vacant_units
        .iter()
        .map(|vacant| vacant.unit.as_ref().unwrap().name.clone())
        .collect();
    assert_eq!(vacant_unit_names, nearest_first, "the same units, in order");
    for vacant in &listed.vacant_units {
        let unit_name = &vacant.unit.as_ref().unwrap().name;
        assert!(unit_name.starts_with(&format!("{}/", vacant.building)));
        assert_eq!(
            vacant.managing_sub_district,
            format!("{DISTRICT}/subDistricts/jingansi")
        );
    }
    let distances: Vec<f64> = listed
        .vacant_units
        .iter()
        .map(|vacant| vacant.distance_meters)
        .collect();
    assert_eq!(distances[..2], [0.0, 0.0], "the building's own units");
    for (index, location) in [(2, near), (3, far)] {
        let expected = flat_distance_meters(JINGAN_TEMPLE, location);
        assert!(
            (distances[index] - expected).abs() < expected * 0.05,
            "unit {index}: {} m, expected about {expected} m",
            distances[index]
        );
    }
    assert!(
        (900.0..1100.0).contains(&distances[2]) && (4500.0..5500.0).contains(&distances[3]),
        "about 1 km and 5 km: {distances:?}"
    );
    assert_eq!(distances[4], 0.0, "a building with no location has none");

    let mut paged = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .registry
            .list_vacant_units(big_enough_near_home(1, page_token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.units.len(), 1);
        assert_eq!(page.vacant_units.len(), 1);
        paged.extend(unit_names(&page));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(paged, nearest_first, "one at a time, the same order");

    let first_page = app
        .registry
        .list_vacant_units(big_enough_near_home(2, String::new()))
        .await
        .unwrap()
        .into_inner();
    let another_building = app
        .registry
        .list_vacant_units(ListVacantUnitsRequest {
            near_building: format!("{DISTRICT}/buildings/d-near"),
            ..big_enough_near_home(2, first_page.next_page_token.clone())
        })
        .await;
    assert_invalid_field(another_building, "page_token");
    let by_name = app
        .registry
        .list_vacant_units(ListVacantUnitsRequest {
            near_building: String::new(),
            ..big_enough_near_home(2, first_page.next_page_token)
        })
        .await;
    assert_invalid_field(by_name, "page_token");

    let without_near_building = app
        .registry
        .list_vacant_units(ListVacantUnitsRequest {
            near_building: String::new(),
            ..big_enough_near_home(0, String::new())
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        unit_names(&without_near_building),
        vec![
            unit_name("a-unmapped", "0101"),
            unit_name("b-far", "1501"),
            unit_name("c-home", "2001"),
            unit_name("c-home", "2002"),
            unit_name("d-near", "0801"),
        ],
        "by name"
    );
    assert_eq!(without_near_building.vacant_units.len(), 5);
    assert!(
        without_near_building
            .vacant_units
            .iter()
            .all(|vacant| vacant.distance_meters == 0.0 && !vacant.building.is_empty())
    );

    // The referral service reads them as a system.
    let referral = Principal::System(SystemIdentity {
        name: "referral".to_owned(),
        district: TOKEN_DISTRICT.to_owned(),
    });
    let mut as_referral = RegistryServiceClient::new(
        app.sandbox()
            .client_as(ServiceName::Registry, &referral)
            .await,
    );
    let for_referral = as_referral
        .list_vacant_units(big_enough_near_home(0, String::new()))
        .await
        .expect("a system lists vacant units")
        .into_inner();
    assert_eq!(unit_names(&for_referral), nearest_first);

    let unusable = [
        // No location to measure from.
        format!("{DISTRICT}/buildings/a-unmapped"),
        format!("{DISTRICT}/buildings/b-missing"),
        "buildings/c-home".to_owned(),
    ];
    for near_building in unusable {
        let result = app
            .registry
            .list_vacant_units(ListVacantUnitsRequest {
                near_building,
                ..big_enough_near_home(0, String::new())
            })
            .await;
        assert_invalid_field(result, "near_building");
    }
}

backend_tests!(
    a_tenancy_occupies_a_vacant_unit_and_a_move_keeps_the_history,
    an_enterprise_that_moves_out_of_the_district_leaves_its_units,
    vacant_units_near_a_building_come_nearest_first_with_their_distances,
);
