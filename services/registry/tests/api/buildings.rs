use louyu_proto::google::r#type::LatLng;
use louyu_proto::registry::v1::*;
use louyu_testkit::TestBackend;
use louyu_testkit::backend_tests;
use tonic::Code;

use crate::helpers::*;

async fn a_building_has_exactly_one_managing_sub_district_that_must_exist(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("nanjingxilu").await;
    app.create_sub_district("jingansi").await;

    let unknown = app
        .registry
        .create_building(CreateBuildingRequest {
            parent: DISTRICT.to_owned(),
            building: Some(building("nowhere", None)),
            building_id: "b-1".to_owned(),
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(unknown, "building.managing_sub_district");
    let missing = app
        .registry
        .create_building(CreateBuildingRequest {
            parent: DISTRICT.to_owned(),
            building: Some(Building {
                managing_sub_district: String::new(),
                ..building("x", None)
            }),
            building_id: "b-1".to_owned(),
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(missing, "building.managing_sub_district");
    assert_code(
        app.registry
            .get_building(GetBuildingRequest {
                name: format!("{DISTRICT}/buildings/b-1"),
            })
            .await,
        Code::NotFound,
    );

    let created = app
        .create_building(
            "b-1",
            "nanjingxilu",
            Some(LatLng {
                latitude: 31.2292,
                longitude: 121.4504,
            }),
        )
        .await;
    assert_eq!(
        created.managing_sub_district,
        format!("{DISTRICT}/subDistricts/nanjingxilu")
    );
    // Moving the building to the other street replaces the manager: there is
    // one field, never two.
    let moved = app
        .registry
        .update_building(UpdateBuildingRequest {
            building: Some(Building {
                name: created.name.clone(),
                managing_sub_district: format!("{DISTRICT}/subDistricts/jingansi"),
                ..Building::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["managing_sub_district".to_owned()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        moved.managing_sub_district,
        format!("{DISTRICT}/subDistricts/jingansi")
    );
    assert_eq!(moved.display_name, created.display_name);

    let filtered = app
        .registry
        .list_buildings(ListBuildingsRequest {
            parent: DISTRICT.to_owned(),
            filter: format!("managing_sub_district = \"{DISTRICT}/subDistricts/nanjingxilu\""),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(filtered.buildings.is_empty());
}

async fn building_and_unit_input_is_validated_field_by_field(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("nanjingxilu").await;
    let bad_location = app
        .registry
        .create_building(CreateBuildingRequest {
            parent: DISTRICT.to_owned(),
            building: Some(building(
                "nanjingxilu",
                Some(LatLng {
                    latitude: 91.0,
                    longitude: 121.0,
                }),
            )),
            building_id: String::new(),
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(bad_location, "building.location.latitude");
    let bad_id = app
        .registry
        .create_building(CreateBuildingRequest {
            parent: DISTRICT.to_owned(),
            building: Some(building("nanjingxilu", None)),
            building_id: "Tower A".to_owned(),
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(bad_id, "building_id");
    let generated = app
        .registry
        .create_building(CreateBuildingRequest {
            parent: DISTRICT.to_owned(),
            building: Some(building("nanjingxilu", None)),
            building_id: String::new(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        generated
            .name
            .starts_with(&format!("{DISTRICT}/buildings/b-")),
        "{}",
        generated.name
    );

    let negative_area = app
        .registry
        .create_unit(CreateUnitRequest {
            parent: generated.name.clone(),
            unit: Some(Unit {
                display_name: "10F".to_owned(),
                floor: 10,
                area_square_meters: -5.0,
                ..Unit::default()
            }),
            unit_id: "1001".to_owned(),
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(negative_area, "unit.area_square_meters");
    let unit = app
        .registry
        .create_unit(CreateUnitRequest {
            parent: generated.name.clone(),
            unit: Some(Unit {
                display_name: "10F".to_owned(),
                floor: 10,
                area_square_meters: 300.0,
                ..Unit::default()
            }),
            unit_id: "1001".to_owned(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let bad_mask = app
        .registry
        .update_unit(UpdateUnitRequest {
            unit: Some(Unit {
                name: unit.name.clone(),
                floor: 11,
                ..Unit::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["storey".to_owned()],
            }),
        })
        .await;
    assert_invalid_field(bad_mask, "update_mask");
    let updated = app
        .registry
        .update_unit(UpdateUnitRequest {
            unit: Some(Unit {
                name: unit.name.clone(),
                floor: 11,
                ..Unit::default()
            }),
            update_mask: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (updated.floor, updated.area_square_meters),
        (11, 300.0),
        "no mask: only populated fields change"
    );
    let unknown_building = app
        .registry
        .create_unit(CreateUnitRequest {
            parent: format!("{DISTRICT}/buildings/b-missing"),
            unit: Some(Unit {
                display_name: "1F".to_owned(),
                floor: 1,
                area_square_meters: 10.0,
                ..Unit::default()
            }),
            unit_id: "101".to_owned(),
            request_id: String::new(),
        })
        .await;
    assert_code(unknown_building, Code::NotFound);
}

async fn nearby_resources_are_those_within_the_radius_nearest_first(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("nanjingxilu").await;
    let centre = LatLng {
        latitude: 31.2292,
        longitude: 121.4504,
    };
    let tower = app
        .create_building("b-1", "nanjingxilu", Some(centre))
        .await;
    // About 110 m, 330 m and 1.1 km north of the tower.
    for (id, offset, kind) in [
        ("far", 0.0100, ResourceKind::MeetingRoom),
        ("near", 0.0010, ResourceKind::ServiceStation),
        ("middle", 0.0030, ResourceKind::ReadingCorner),
    ] {
        app.registry
            .create_building_resource(CreateBuildingResourceRequest {
                parent: DISTRICT.to_owned(),
                building_resource: Some(BuildingResource {
                    display_name: id.to_owned(),
                    kind: kind as i32,
                    location: Some(LatLng {
                        latitude: centre.latitude + offset,
                        longitude: centre.longitude,
                    }),
                    ..BuildingResource::default()
                }),
                building_resource_id: id.to_owned(),
                request_id: String::new(),
            })
            .await
            .unwrap();
    }
    let found = app
        .registry
        .search_nearby_resources(SearchNearbyResourcesRequest {
            building: tower.name.clone(),
            radius_meters: 0.0,
            kind: 0,
            time_window: None,
        })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<String> = found
        .results
        .iter()
        .map(|result| {
            result
                .building_resource
                .as_ref()
                .unwrap()
                .display_name
                .clone()
        })
        .collect();
    assert_eq!(
        names,
        vec!["near", "middle"],
        "500 m by default, nearest first"
    );
    assert!(
        (found.results[0].distance_meters - 111.0).abs() < 5.0,
        "{}",
        found.results[0].distance_meters
    );
    let wide = app
        .registry
        .search_nearby_resources(SearchNearbyResourcesRequest {
            building: tower.name.clone(),
            radius_meters: 2000.0,
            kind: ResourceKind::MeetingRoom as i32,
            time_window: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(wide.results.len(), 1);
    let too_wide = app
        .registry
        .search_nearby_resources(SearchNearbyResourcesRequest {
            building: tower.name,
            radius_meters: 50_000.0,
            kind: 0,
            time_window: None,
        })
        .await;
    assert_invalid_field(too_wide, "radius_meters");
}

async fn an_address_may_span_lines_but_a_name_may_not_and_no_other_control_character_is_accepted(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("nanjingxilu").await;
    let create = |building_id: &str, building: Building| CreateBuildingRequest {
        parent: DISTRICT.to_owned(),
        building: Some(building),
        building_id: building_id.to_owned(),
        request_id: String::new(),
    };
    let created = app
        .registry
        .create_building(create(
            "b-1",
            Building {
                address: "上海市静安区南京西路1266号\r\n恒隆广场".to_owned(),
                ..building("nanjingxilu", None)
            },
        ))
        .await
        .expect("a two-line address is accepted")
        .into_inner();
    assert_eq!(created.address, "上海市静安区南京西路1266号\n恒隆广场");

    let two_line_name = app
        .registry
        .create_building(create(
            "b-2",
            Building {
                display_name: "恒隆\n广场".to_owned(),
                ..building("nanjingxilu", None)
            },
        ))
        .await;
    assert_invalid_field(two_line_name, "building.display_name");
    let tab_in_address = app
        .registry
        .create_building(create(
            "b-3",
            Building {
                address: "南京西路\t1266号".to_owned(),
                ..building("nanjingxilu", None)
            },
        ))
        .await;
    assert_invalid_field(tab_in_address, "building.address");

    let enterprise_name = format!("{DISTRICT}/enterprises/{}", uscc(90));
    let registered = app
        .registry
        .create_enterprise(CreateEnterpriseRequest {
            parent: DISTRICT.to_owned(),
            enterprise: Some(Enterprise {
                registered_address: "南京西路1266号\n12楼".to_owned(),
                ..enterprise(&uscc(90))
            }),
            request_id: String::new(),
        })
        .await
        .expect("a two-line registered address is accepted")
        .into_inner();
    assert_eq!(registered.name, enterprise_name);
    assert_eq!(registered.registered_address, "南京西路1266号\n12楼");
}

/// A location in the district, different for each `index`.
fn location_in_the_district(index: usize) -> LatLng {
    LatLng {
        latitude: 31.2 + index as f64 / 1000.0,
        longitude: 121.4 + index as f64 / 1000.0,
    }
}

/// At least as many calls as the PostgreSQL pool has connections (16, in
/// kit's `Db::connect`). The pool hands out its idle connections oldest
/// first, so a run of this many calls reaches every connection, and each
/// connection prepares a statement on its first run, with the types of that
/// run's values.
const CALLS_REACHING_EVERY_CONNECTION: usize = 20;

async fn buildings_without_a_location_and_with_one_are_kept_in_any_order(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("nanjingxilu").await;
    // The first run of buildings has no location, the second has one: every
    // connection inserts a building without a location before one with.
    let all = 0..2 * CALLS_REACHING_EVERY_CONNECTION;
    let created_location = |index: usize| {
        (index >= CALLS_REACHING_EVERY_CONNECTION).then(|| location_in_the_district(index))
    };
    for index in all.clone() {
        let created = app
            .create_building(
                &format!("b-{index}"),
                "nanjingxilu",
                created_location(index),
            )
            .await;
        assert_eq!(created.location, created_location(index), "b-{index}");
    }

    // Then the same for updates: first every building that has a location
    // loses it, then every building without one gets one.
    let updated_location = |index: usize| {
        (index < CALLS_REACHING_EVERY_CONNECTION).then(|| location_in_the_district(index + 100))
    };
    let clearing_first = all.clone().rev();
    for index in clearing_first {
        let updated = app
            .registry
            .update_building(UpdateBuildingRequest {
                building: Some(Building {
                    name: format!("{DISTRICT}/buildings/b-{index}"),
                    location: updated_location(index),
                    ..Building::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["location".to_owned()],
                }),
            })
            .await
            .unwrap_or_else(|status| panic!("update b-{index}: {status:?}"))
            .into_inner();
        assert_eq!(updated.location, updated_location(index), "b-{index}");
    }

    for index in all {
        let read = app
            .registry
            .get_building(GetBuildingRequest {
                name: format!("{DISTRICT}/buildings/b-{index}"),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(read.location, updated_location(index), "b-{index}");
    }
}

backend_tests!(
    an_address_may_span_lines_but_a_name_may_not_and_no_other_control_character_is_accepted,
    a_building_has_exactly_one_managing_sub_district_that_must_exist,
    building_and_unit_input_is_validated_field_by_field,
    nearby_resources_are_those_within_the_radius_nearest_first,
    buildings_without_a_location_and_with_one_are_kept_in_any_order,
);
