//! Coordinates in the datums of Chinese map apps: stored in WGS-84, converted
//! on the way in and, when asked, on the way out; distances in WGS-84.

use louyu_kit::fields::distance_meters;
use louyu_kit::geo::Datum;
use louyu_proto::common::v1::CoordinateDatum;
use louyu_proto::google::r#type::LatLng;
use louyu_proto::registry::v1::*;
use louyu_testkit::TestBackend;
use louyu_testkit::backend_tests;

use crate::helpers::*;

/// Near People's Square (人民广场), WGS-84.
const PEOPLES_SQUARE: (f64, f64) = (31.2304, 121.4737);

/// How close a point read back must be to the one meant, in degrees (about
/// 0.1 m).
const SAME_POINT_DEGREES: f64 = 1e-6;

fn lat_lng((latitude, longitude): (f64, f64)) -> LatLng {
    LatLng {
        latitude,
        longitude,
    }
}

fn point(location: Option<&LatLng>) -> (f64, f64) {
    let location = location.expect("a location");
    (location.latitude, location.longitude)
}

#[track_caller]
fn assert_same_point(actual: Option<&LatLng>, expected: (f64, f64), what: &str) {
    let actual = point(actual);
    assert!(
        (actual.0 - expected.0).abs() < SAME_POINT_DEGREES
            && (actual.1 - expected.1).abs() < SAME_POINT_DEGREES,
        "{what}: got {actual:?}, expected {expected:?}"
    );
}

/// A point `north` and `east` metres from `from`.
fn moved(from: (f64, f64), north: f64, east: f64) -> (f64, f64) {
    const METERS_PER_DEGREE_OF_LATITUDE: f64 = 111_195.08;
    (
        from.0 + north / METERS_PER_DEGREE_OF_LATITUDE,
        from.1 + east / (METERS_PER_DEGREE_OF_LATITUDE * from.0.to_radians().cos()),
    )
}

async fn create_building_in(
    app: &mut TestApp,
    id: &str,
    location: (f64, f64),
    datum: CoordinateDatum,
) -> Building {
    app.registry
        .create_building(CreateBuildingRequest {
            parent: DISTRICT.to_owned(),
            building: Some(building("nanjingxilu", Some(lat_lng(location)))),
            building_id: id.to_owned(),
            request_id: String::new(),
            location_datum: datum as i32,
        })
        .await
        .expect("create building")
        .into_inner()
}

async fn get_building_in(app: &mut TestApp, name: &str, datum: CoordinateDatum) -> Building {
    app.registry
        .get_building(GetBuildingRequest {
            name: name.to_owned(),
            response_datum: datum as i32,
        })
        .await
        .expect("get building")
        .into_inner()
}

async fn create_resource_in(
    app: &mut TestApp,
    id: &str,
    location: (f64, f64),
    datum: CoordinateDatum,
) -> BuildingResource {
    app.registry
        .create_building_resource(CreateBuildingResourceRequest {
            parent: DISTRICT.to_owned(),
            building_resource: Some(BuildingResource {
                display_name: id.to_owned(),
                kind: ResourceKind::ServiceStation as i32,
                location: Some(lat_lng(location)),
                ..BuildingResource::default()
            }),
            building_resource_id: id.to_owned(),
            request_id: String::new(),
            location_datum: datum as i32,
        })
        .await
        .expect("create resource")
        .into_inner()
}

async fn a_building_given_in_gcj02_or_bd09_is_stored_in_wgs84_and_read_back_in_the_datum_asked(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("nanjingxilu").await;
    // As AMap and Baidu Maps show People's Square.
    let in_gcj02 = Datum::Gcj02.from_wgs84(PEOPLES_SQUARE);
    let in_bd09 = Datum::Bd09.from_wgs84(PEOPLES_SQUARE);
    assert!(distance_meters(in_gcj02, PEOPLES_SQUARE) > 400.0);
    assert!(distance_meters(in_bd09, PEOPLES_SQUARE) > 1000.0);

    let from_amap = create_building_in(&mut app, "amap", in_gcj02, CoordinateDatum::Gcj02).await;
    assert_same_point(
        from_amap.location.as_ref(),
        PEOPLES_SQUARE,
        "created from GCJ-02, answered in WGS-84",
    );
    let from_baidu = create_building_in(&mut app, "baidu", in_bd09, CoordinateDatum::Bd09).await;
    assert_same_point(
        from_baidu.location.as_ref(),
        PEOPLES_SQUARE,
        "created from BD-09, answered in WGS-84",
    );

    for name in [&from_amap.name, &from_baidu.name] {
        for (datum, expected) in [
            (CoordinateDatum::Unspecified, PEOPLES_SQUARE),
            (CoordinateDatum::Wgs84, PEOPLES_SQUARE),
            (CoordinateDatum::Gcj02, in_gcj02),
            (CoordinateDatum::Bd09, in_bd09),
        ] {
            let read = get_building_in(&mut app, name, datum).await;
            assert_same_point(
                read.location.as_ref(),
                expected,
                &format!("{name} read in {datum:?}"),
            );
        }
    }

    let listed = app
        .registry
        .list_buildings(ListBuildingsRequest {
            parent: DISTRICT.to_owned(),
            response_datum: CoordinateDatum::Gcj02 as i32,
            ..Default::default()
        })
        .await
        .expect("list buildings")
        .into_inner();
    assert_eq!(listed.buildings.len(), 2);
    for listed_building in &listed.buildings {
        assert_same_point(
            listed_building.location.as_ref(),
            in_gcj02,
            "listed in GCJ-02",
        );
    }
}

async fn an_update_converts_the_location_it_sets_and_leaves_the_stored_one_alone_otherwise(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("nanjingxilu").await;
    let created = create_building_in(
        &mut app,
        "b-1",
        PEOPLES_SQUARE,
        CoordinateDatum::Unspecified,
    )
    .await;
    let update = |patch: Building, paths: &[&str], datum: CoordinateDatum| UpdateBuildingRequest {
        building: Some(patch),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|path| (*path).to_owned()).collect(),
        }),
        location_datum: datum as i32,
    };

    // A datum without a location to convert changes nothing of the location.
    let renamed = app
        .registry
        .update_building(update(
            Building {
                name: created.name.clone(),
                display_name: "人民广场大厦".to_owned(),
                ..Building::default()
            },
            &["display_name"],
            CoordinateDatum::Gcj02,
        ))
        .await
        .expect("rename")
        .into_inner();
    assert_same_point(
        renamed.location.as_ref(),
        PEOPLES_SQUARE,
        "unchanged by a rename",
    );

    // 200 m north, as Baidu Maps shows it.
    let moved_north = moved(PEOPLES_SQUARE, 200.0, 0.0);
    let relocated = app
        .registry
        .update_building(update(
            Building {
                name: created.name.clone(),
                location: Some(lat_lng(Datum::Bd09.from_wgs84(moved_north))),
                ..Building::default()
            },
            &["location"],
            CoordinateDatum::Bd09,
        ))
        .await
        .expect("relocate")
        .into_inner();
    assert_same_point(
        relocated.location.as_ref(),
        moved_north,
        "moved, stored in WGS-84",
    );
    let read = get_building_in(&mut app, &created.name, CoordinateDatum::Unspecified).await;
    assert_same_point(read.location.as_ref(), moved_north, "read back");
}

async fn the_service_circle_is_measured_in_wgs84_whatever_datum_the_resources_came_in(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("nanjingxilu").await;
    // The building from a survey, in WGS-84; the resources pinned on AMap.
    let tower = create_building_in(&mut app, "tower", PEOPLES_SQUARE, CoordinateDatum::Wgs84).await;
    let gcj02_offset = {
        let shifted = Datum::Gcj02.from_wgs84(PEOPLES_SQUARE);
        (shifted.0 - PEOPLES_SQUARE.0, shifted.1 - PEOPLES_SQUARE.1)
    };
    // 300 m east: inside the circle, though its GCJ-02 coordinates, taken as
    // WGS-84, would be some 760 m away.
    let across_the_square = moved(PEOPLES_SQUARE, 0.0, 300.0);
    let across_in_gcj02 = Datum::Gcj02.from_wgs84(across_the_square);
    assert!(distance_meters(PEOPLES_SQUARE, across_in_gcj02) > 600.0);
    // 1.3 offsets against the offset's direction, some 620 m away: outside
    // the circle, though its GCJ-02 coordinates would be some 150 m away.
    let beyond = (
        PEOPLES_SQUARE.0 - 1.3 * gcj02_offset.0,
        PEOPLES_SQUARE.1 - 1.3 * gcj02_offset.1,
    );
    let beyond_in_gcj02 = Datum::Gcj02.from_wgs84(beyond);
    assert!(distance_meters(PEOPLES_SQUARE, beyond) > 600.0);
    assert!(distance_meters(PEOPLES_SQUARE, beyond_in_gcj02) < 200.0);

    let created =
        create_resource_in(&mut app, "across", across_in_gcj02, CoordinateDatum::Gcj02).await;
    assert_same_point(
        created.location.as_ref(),
        across_the_square,
        "stored in WGS-84",
    );
    create_resource_in(&mut app, "beyond", beyond_in_gcj02, CoordinateDatum::Gcj02).await;

    let search = |datum: CoordinateDatum| SearchNearbyResourcesRequest {
        building: tower.name.clone(),
        radius_meters: 0.0,
        kind: 0,
        response_datum: datum as i32,
        ..SearchNearbyResourcesRequest::default()
    };
    let found = app
        .registry
        .search_nearby_resources(search(CoordinateDatum::Unspecified))
        .await
        .expect("search")
        .into_inner();
    let names: Vec<&str> = found
        .results
        .iter()
        .map(|result| {
            result
                .building_resource
                .as_ref()
                .unwrap()
                .display_name
                .as_str()
        })
        .collect();
    assert_eq!(names, vec!["across"], "within 500 m in WGS-84 terms");
    assert!(
        (found.results[0].distance_meters - 300.0).abs() < 1.0,
        "{}",
        found.results[0].distance_meters
    );
    assert_same_point(
        found.results[0]
            .building_resource
            .as_ref()
            .unwrap()
            .location
            .as_ref(),
        across_the_square,
        "found in WGS-84",
    );

    // Asked in GCJ-02: the same resource at the same distance, where AMap
    // shows it.
    let found_for_amap = app
        .registry
        .search_nearby_resources(search(CoordinateDatum::Gcj02))
        .await
        .expect("search in GCJ-02")
        .into_inner();
    assert_eq!(found_for_amap.results.len(), 1);
    assert_eq!(
        found_for_amap.results[0].distance_meters,
        found.results[0].distance_meters
    );
    assert_same_point(
        found_for_amap.results[0]
            .building_resource
            .as_ref()
            .unwrap()
            .location
            .as_ref(),
        across_in_gcj02,
        "found in GCJ-02",
    );

    let listed = app
        .registry
        .list_building_resources(ListBuildingResourcesRequest {
            parent: DISTRICT.to_owned(),
            response_datum: CoordinateDatum::Bd09 as i32,
            ..Default::default()
        })
        .await
        .expect("list resources")
        .into_inner();
    let across_listed = listed
        .building_resources
        .iter()
        .find(|resource| resource.display_name == "across")
        .expect("listed");
    assert_same_point(
        across_listed.location.as_ref(),
        Datum::Bd09.from_wgs84(across_the_square),
        "listed in BD-09",
    );
}

async fn an_unknown_datum_is_an_invalid_argument_naming_its_field(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("nanjingxilu").await;
    let tower = create_building_in(&mut app, "tower", PEOPLES_SQUARE, CoordinateDatum::Wgs84).await;
    const UNKNOWN: i32 = 9;

    assert_invalid_field(
        app.registry
            .create_building(CreateBuildingRequest {
                parent: DISTRICT.to_owned(),
                building: Some(building("nanjingxilu", Some(lat_lng(PEOPLES_SQUARE)))),
                building_id: "b-2".to_owned(),
                request_id: String::new(),
                location_datum: UNKNOWN,
            })
            .await,
        "location_datum",
    );
    assert_invalid_field(
        app.registry
            .update_building(UpdateBuildingRequest {
                building: Some(Building {
                    name: tower.name.clone(),
                    location: Some(lat_lng(PEOPLES_SQUARE)),
                    ..Building::default()
                }),
                update_mask: None,
                location_datum: UNKNOWN,
            })
            .await,
        "location_datum",
    );
    assert_invalid_field(
        app.registry
            .get_building(GetBuildingRequest {
                name: tower.name.clone(),
                response_datum: UNKNOWN,
            })
            .await,
        "response_datum",
    );
    assert_invalid_field(
        app.registry
            .list_buildings(ListBuildingsRequest {
                parent: DISTRICT.to_owned(),
                response_datum: UNKNOWN,
                ..Default::default()
            })
            .await,
        "response_datum",
    );
    assert_invalid_field(
        app.registry
            .create_building_resource(CreateBuildingResourceRequest {
                parent: DISTRICT.to_owned(),
                building_resource: Some(BuildingResource {
                    display_name: "服务站".to_owned(),
                    kind: ResourceKind::ServiceStation as i32,
                    location: Some(lat_lng(PEOPLES_SQUARE)),
                    ..BuildingResource::default()
                }),
                building_resource_id: "r-1".to_owned(),
                request_id: String::new(),
                location_datum: UNKNOWN,
            })
            .await,
        "location_datum",
    );
    assert_invalid_field(
        app.registry
            .list_building_resources(ListBuildingResourcesRequest {
                parent: DISTRICT.to_owned(),
                response_datum: UNKNOWN,
                ..Default::default()
            })
            .await,
        "response_datum",
    );
    assert_invalid_field(
        app.registry
            .search_nearby_resources(SearchNearbyResourcesRequest {
                building: tower.name.clone(),
                radius_meters: 0.0,
                kind: 0,
                response_datum: UNKNOWN,
                ..SearchNearbyResourcesRequest::default()
            })
            .await,
        "response_datum",
    );
    assert_invalid_field(
        app.registry
            .import_records(ImportRecordsRequest {
                parent: DISTRICT.to_owned(),
                kind: ImportKind::Buildings as i32,
                csv: b"building_id,display_name,address,managing_sub_district\n".to_vec(),
                validate_only: true,
                location_datum: UNKNOWN,
            })
            .await,
        "location_datum",
    );
    // Nothing was created or moved by the refused calls.
    let read = get_building_in(&mut app, &tower.name, CoordinateDatum::Unspecified).await;
    assert_same_point(read.location.as_ref(), PEOPLES_SQUARE, "unchanged");
}

async fn an_import_converts_each_rows_datum_or_else_the_files(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("nanjingxilu").await;
    let north = moved(PEOPLES_SQUARE, 200.0, 0.0);
    let in_gcj02 = Datum::Gcj02.from_wgs84(PEOPLES_SQUARE);
    let in_bd09 = Datum::Bd09.from_wgs84(north);
    // Rows of mixed origin in a file whose own datum is BD-09: a GCJ-02 row,
    // a row with its datum cell empty (the file's), a WGS-84 row in another
    // spelling, and a row with a datum no one knows.
    let csv = format!(
        "楼宇编号,楼宇名称,地址,纬度,经度,坐标系,所属街道\n\
         amap,高德大厦,人民大道1号,{},{},GCJ-02,nanjingxilu\n\
         baidu,百度大厦,人民大道2号,{},{},,nanjingxilu\n\
         survey,测绘大厦,人民大道3号,{},{},wgs84,nanjingxilu\n\
         mars,火星大厦,人民大道4号,{},{},MARS,nanjingxilu\n",
        in_gcj02.0,
        in_gcj02.1,
        in_bd09.0,
        in_bd09.1,
        PEOPLES_SQUARE.0,
        PEOPLES_SQUARE.1,
        in_gcj02.0,
        in_gcj02.1,
    );
    let response = app
        .registry
        .import_records(ImportRecordsRequest {
            parent: DISTRICT.to_owned(),
            kind: ImportKind::Buildings as i32,
            csv: csv.into_bytes(),
            validate_only: false,
            location_datum: CoordinateDatum::Bd09 as i32,
        })
        .await
        .expect("import")
        .into_inner();
    assert_eq!((response.total_rows, response.applied_rows), (4, 3));
    let problems: Vec<(i32, &str)> = response
        .errors
        .iter()
        .map(|error| (error.line, error.field.as_str()))
        .collect();
    assert_eq!(problems, vec![(5, "坐标系")]);

    for (id, expected) in [
        ("amap", PEOPLES_SQUARE),
        ("baidu", north),
        ("survey", PEOPLES_SQUARE),
    ] {
        let read = get_building_in(
            &mut app,
            &format!("{DISTRICT}/buildings/{id}"),
            CoordinateDatum::Unspecified,
        )
        .await;
        assert_same_point(read.location.as_ref(), expected, id);
    }
}

backend_tests!(
    a_building_given_in_gcj02_or_bd09_is_stored_in_wgs84_and_read_back_in_the_datum_asked,
    an_update_converts_the_location_it_sets_and_leaves_the_stored_one_alone_otherwise,
    the_service_circle_is_measured_in_wgs84_whatever_datum_the_resources_came_in,
    an_unknown_datum_is_an_invalid_argument_naming_its_field,
    an_import_converts_each_rows_datum_or_else_the_files,
);
