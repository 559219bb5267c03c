//! Concurrent calls released together from a barrier. On SQLite writers run
//! one at a time; on PostgreSQL (READ COMMITTED) these transactions overlap,
//! and every rule the docs state must still hold.

use louyu_proto::common::v1::{Event, ListAuditRecordsRequest};
use louyu_proto::registry::v1::*;
use louyu_testkit::backend_tests;
use louyu_testkit::{TestBackend, race, tally, the_one_response};
use tonic::Code;

use crate::helpers::*;

const RACERS: usize = 20;

/// Every event in the feed so far: reads until a marker enterprise created
/// after the race shows up.
async fn events_so_far(app: &mut TestApp, marker: u32) -> Vec<Event> {
    let marker = app.create_enterprise(&uscc(marker)).await;
    let mut count = 1;
    loop {
        let events = app.events(count).await;
        if events.iter().any(|event| event.resource == marker.name) {
            return events;
        }
        count = events.len() + 1;
    }
}

fn count_of(events: &[Event], event_type: &str, resource: &str) -> usize {
    events
        .iter()
        .filter(|event| event.event_type == event_type && event.resource == resource)
        .count()
}

async fn twenty_identical_creates_all_get_the_first_response(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let code = uscc(1);
    let results = race(RACERS, |_| {
        let mut registry = app.registry.clone();
        let body = enterprise(&code);
        async move {
            registry
                .create_enterprise(CreateEnterpriseRequest {
                    parent: DISTRICT.to_owned(),
                    enterprise: Some(body),
                    request_id: "same-request".to_owned(),
                })
                .await
                .map(tonic::Response::into_inner)
        }
    })
    .await;
    let first = the_one_response(&results);
    let events = events_so_far(&mut app, 900).await;
    assert_eq!(
        count_of(&events, "louyu.registry.v1.EnterpriseCreated", &first.name),
        1,
        "created once"
    );
    let audit = app
        .audit
        .list_audit_records(ListAuditRecordsRequest {
            filter: format!("resource = \"{}\"", first.name),
            ..ListAuditRecordsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(audit.audit_records.len(), 1, "audited once");
}

async fn creates_of_one_code_under_different_request_ids_leave_one_winner(backend: TestBackend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let code = uscc(2);
    let results = race(RACERS, |index| {
        let mut registry = app.registry.clone();
        let body = enterprise(&code);
        async move {
            registry
                .create_enterprise(CreateEnterpriseRequest {
                    parent: DISTRICT.to_owned(),
                    enterprise: Some(body),
                    request_id: format!("request-{index}"),
                })
                .await
        }
    })
    .await;
    assert_eq!(tally(&results, &[Code::AlreadyExists]), 1);
}

async fn creates_of_one_id_leave_one_winner_for_every_kind_of_resource(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let sub_districts = race(RACERS, |_| {
        let mut registry = app.registry.clone();
        async move {
            registry
                .create_sub_district(louyu_testkit::fixtures::create_street_request())
                .await
        }
    })
    .await;
    assert_eq!(tally(&sub_districts, &[Code::AlreadyExists]), 1);
    let buildings = race(RACERS, |_| {
        let mut registry = app.registry.clone();
        async move {
            registry
                .create_building(CreateBuildingRequest {
                    parent: DISTRICT.to_owned(),
                    building: Some(building("nanjingxilu", None)),
                    building_id: "b-1".to_owned(),
                    request_id: String::new(),
                    ..Default::default()
                })
                .await
        }
    })
    .await;
    assert_eq!(tally(&buildings, &[Code::AlreadyExists]), 1);
    let units = race(RACERS, |_| {
        let mut registry = app.registry.clone();
        async move {
            registry
                .create_unit(CreateUnitRequest {
                    parent: format!("{DISTRICT}/buildings/b-1"),
                    unit: Some(Unit {
                        display_name: "1001".to_owned(),
                        floor: 10,
                        area_square_meters: 200.0,
                        ..Unit::default()
                    }),
                    unit_id: "1001".to_owned(),
                    request_id: String::new(),
                })
                .await
        }
    })
    .await;
    assert_eq!(tally(&units, &[Code::AlreadyExists]), 1);
    let staff = race(RACERS, |_| {
        let mut registry = app.registry.clone();
        async move {
            registry
                .create_staff(CreateStaffRequest {
                    parent: DISTRICT.to_owned(),
                    staff: Some(Staff {
                        display_name: "楼宇老师".to_owned(),
                        active: true,
                        ..Staff::default()
                    }),
                    staff_id: "s-1".to_owned(),
                    request_id: String::new(),
                })
                .await
        }
    })
    .await;
    assert_eq!(tally(&staff, &[Code::AlreadyExists]), 1);
    let departments = race(RACERS, |_| {
        let mut registry = app.registry.clone();
        async move {
            registry
                .create_department(CreateDepartmentRequest {
                    parent: DISTRICT.to_owned(),
                    department: Some(Department {
                        display_name: "区投资促进办公室".to_owned(),
                        kind: DepartmentKind::DistrictInvestmentOffice as i32,
                        demand_categories: vec![1, 2],
                        ..Department::default()
                    }),
                    department_id: "invest".to_owned(),
                    request_id: String::new(),
                })
                .await
        }
    })
    .await;
    assert_eq!(tally(&departments, &[Code::AlreadyExists]), 1);
    let resources = race(RACERS, |_| {
        let mut registry = app.registry.clone();
        async move {
            registry
                .create_building_resource(CreateBuildingResourceRequest {
                    parent: DISTRICT.to_owned(),
                    building_resource: Some(BuildingResource {
                        display_name: "党群服务站".to_owned(),
                        kind: 1,
                        building: format!("{DISTRICT}/buildings/b-1"),
                        location: Some(louyu_proto::google::r#type::LatLng {
                            latitude: 31.2304,
                            longitude: 121.4553,
                        }),
                        address: "南京西路1266号".to_owned(),
                        ..BuildingResource::default()
                    }),
                    building_resource_id: "station".to_owned(),
                    request_id: String::new(),
                    ..Default::default()
                })
                .await
        }
    })
    .await;
    assert_eq!(tally(&resources, &[Code::AlreadyExists]), 1);
    let listed = app
        .registry
        .list_units(ListUnitsRequest {
            parent: format!("{DISTRICT}/buildings/b-1"),
            ..ListUnitsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.units.len(), 1);
}

async fn concurrent_masked_updates_each_change_only_their_field(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let created = app.create_enterprise(&uscc(3)).await;
    for round in 0..5 {
        let headcount = 200 + round;
        let industry = format!("行业{round}");
        let results = race(2, |index| {
            let mut registry = app.registry.clone();
            let (patch, path) = if index == 0 {
                (
                    Enterprise {
                        name: created.name.clone(),
                        headcount,
                        ..Enterprise::default()
                    },
                    "headcount",
                )
            } else {
                (
                    Enterprise {
                        name: created.name.clone(),
                        industry: industry.clone(),
                        ..Enterprise::default()
                    },
                    "industry",
                )
            };
            async move {
                registry
                    .update_enterprise(UpdateEnterpriseRequest {
                        enterprise: Some(patch),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec![path.to_owned()],
                        }),
                    })
                    .await
            }
        })
        .await;
        assert_eq!(tally(&results, &[]), 2);
        let fetched = app
            .registry
            .get_enterprise(GetEnterpriseRequest {
                name: created.name.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            fetched.headcount, headcount,
            "round {round}: headcount kept"
        );
        assert_eq!(fetched.industry, industry, "round {round}: industry kept");
    }
}

/// A sub-district, a building and `units` units of 200 m² (ids 1001, ...).
async fn building_with_units(app: &mut TestApp, units: usize) {
    app.create_sub_district("nanjingxilu").await;
    app.create_building("b-1", "nanjingxilu", None).await;
    for index in 0..units {
        app.create_unit("b-1", &format!("{}", 1001 + index), 10, 200.0)
            .await;
    }
}

async fn two_moves_from_one_tenancy_leave_one_winner(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    building_with_units(&mut app, 3).await;
    let code = uscc(4);
    app.create_enterprise(&code).await;
    let from = app.start_tenancy(&code, "b-1", "1001").await;
    let results = race(2, |index| {
        let mut registry = app.registry.clone();
        let from = from.name.clone();
        let to = tenancy(&code, "b-1", &format!("{}", 1002 + index));
        async move {
            registry
                .move_enterprise(MoveEnterpriseRequest {
                    from_tenancy: from,
                    to_tenancy: Some(to),
                    move_date: Some(date(2025, 6, 30)),
                    request_id: String::new(),
                })
                .await
        }
    })
    .await;
    assert_eq!(tally(&results, &[Code::FailedPrecondition]), 1);
    let active = app
        .registry
        .list_tenancies(ListTenanciesRequest {
            parent: DISTRICT.to_owned(),
            filter: format!("enterprise = \"{DISTRICT}/enterprises/{code}\" AND state = ACTIVE"),
            ..ListTenanciesRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        active.tenancies.len(),
        1,
        "one active tenancy after the moves"
    );
    let events = events_so_far(&mut app, 901).await;
    assert_eq!(
        count_of(&events, "louyu.registry.v1.TenancyEnded", &from.name),
        1,
        "the old tenancy ends once"
    );
}

/// A repeated state change, unlike a create, has no key of its own that the
/// racing copies collide on: each waits on the enterprise's row lock, finds
/// the old tenancy ended, fails, and is answered with the winner's response.
async fn twenty_identical_moves_all_get_the_first_response(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    building_with_units(&mut app, 2).await;
    let code = uscc(5);
    app.create_enterprise(&code).await;
    let from = app.start_tenancy(&code, "b-1", "1001").await;
    let results = race(RACERS, |_| {
        let mut registry = app.registry.clone();
        let from = from.name.clone();
        let to = tenancy(&code, "b-1", "1002");
        async move {
            registry
                .move_enterprise(MoveEnterpriseRequest {
                    from_tenancy: from,
                    to_tenancy: Some(to),
                    move_date: Some(date(2025, 6, 30)),
                    request_id: "same-move".to_owned(),
                })
                .await
                .map(tonic::Response::into_inner)
        }
    })
    .await;
    the_one_response(&results);
    let events = events_so_far(&mut app, 902).await;
    assert_eq!(
        count_of(&events, "louyu.registry.v1.TenancyEnded", &from.name),
        1,
        "the old tenancy ends once"
    );
}

async fn two_moves_that_swap_units_end_without_an_internal_error(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    building_with_units(&mut app, 2).await;
    for round in 0..5u32 {
        let first = uscc(10 + round * 2);
        let second = uscc(11 + round * 2);
        app.create_enterprise(&first).await;
        app.create_enterprise(&second).await;
        let first_tenancy = app.start_tenancy(&first, "b-1", "1001").await;
        let second_tenancy = app.start_tenancy(&second, "b-1", "1002").await;
        let moves = [
            (first_tenancy.name.clone(), tenancy(&first, "b-1", "1002")),
            (second_tenancy.name.clone(), tenancy(&second, "b-1", "1001")),
        ];
        let results = race(2, |index| {
            let mut registry = app.registry.clone();
            let (from, to) = moves[index].clone();
            async move {
                registry
                    .move_enterprise(MoveEnterpriseRequest {
                        from_tenancy: from,
                        to_tenancy: Some(to),
                        move_date: Some(date(2025, 6, 30)),
                        request_id: String::new(),
                    })
                    .await
            }
        })
        .await;
        // Neither unit is free until the other move commits: both lose or
        // one is told to retry, and nothing is half-written.
        tally(&results, &[Code::FailedPrecondition, Code::Aborted]);
        for name in [&first_tenancy.name, &second_tenancy.name] {
            let fetched = app
                .registry
                .get_tenancy(GetTenancyRequest { name: name.clone() })
                .await
                .unwrap()
                .into_inner();
            if fetched.state == TenancyState::Ended as i32 {
                continue;
            }
            // Still active: end it, so the next round starts from vacant units.
            app.registry
                .end_tenancy(EndTenancyRequest {
                    name: name.clone(),
                    end_date: Some(date(2025, 7, 1)),
                    reason: "round over".to_owned(),
                    request_id: String::new(),
                })
                .await
                .unwrap();
        }
        let vacant = app
            .registry
            .list_tenancies(ListTenanciesRequest {
                parent: DISTRICT.to_owned(),
                filter: "state = ACTIVE".to_owned(),
                ..ListTenanciesRequest::default()
            })
            .await
            .unwrap()
            .into_inner();
        for active in vacant.tenancies {
            app.registry
                .end_tenancy(EndTenancyRequest {
                    name: active.name,
                    end_date: Some(date(2025, 7, 1)),
                    reason: "round over".to_owned(),
                    request_id: String::new(),
                })
                .await
                .unwrap();
        }
    }
}

async fn moving_out_while_a_tenancy_starts_leaves_no_active_tenancy(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    building_with_units(&mut app, 5).await;
    for round in 0..5u32 {
        let code = uscc(30 + round);
        app.create_enterprise(&code).await;
        let name = format!("{DISTRICT}/enterprises/{code}");
        let unit = format!("{}", 1001 + round);
        let results = race(2, |index| {
            let mut registry = app.registry.clone();
            let name = name.clone();
            let tenancy = tenancy(&code, "b-1", &unit);
            async move {
                if index == 0 {
                    registry
                        .update_enterprise(UpdateEnterpriseRequest {
                            enterprise: Some(Enterprise {
                                name,
                                status: EnterpriseStatus::MovedOut as i32,
                                ..Enterprise::default()
                            }),
                            update_mask: Some(prost_types::FieldMask {
                                paths: vec!["status".to_owned()],
                            }),
                        })
                        .await
                        .map(|_| ())
                } else {
                    registry
                        .create_tenancy(CreateTenancyRequest {
                            parent: DISTRICT.to_owned(),
                            tenancy: Some(tenancy),
                            request_id: String::new(),
                        })
                        .await
                        .map(|_| ())
                }
            }
        })
        .await;
        assert!(results[0].is_ok(), "moving out succeeds: {:?}", results[0]);
        tally(&results, &[Code::FailedPrecondition]);
        let fetched = app
            .registry
            .get_enterprise(GetEnterpriseRequest { name: name.clone() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(fetched.status, EnterpriseStatus::MovedOut as i32);
        assert!(
            fetched.occupied_units.is_empty(),
            "round {round}: a moved-out enterprise occupies {:?}",
            fetched.occupied_units
        );
    }
}

async fn tenancies_of_one_unit_started_at_once_leave_one_tenant(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    building_with_units(&mut app, 1).await;
    let codes: Vec<String> = (0..10).map(|index| uscc(50 + index)).collect();
    for code in &codes {
        app.create_enterprise(code).await;
    }
    let results = race(codes.len(), |index| {
        let mut registry = app.registry.clone();
        let tenancy = tenancy(&codes[index], "b-1", "1001");
        async move {
            registry
                .create_tenancy(CreateTenancyRequest {
                    parent: DISTRICT.to_owned(),
                    tenancy: Some(tenancy),
                    request_id: String::new(),
                })
                .await
        }
    })
    .await;
    assert_eq!(tally(&results, &[Code::FailedPrecondition]), 1);
}

async fn officers_of_one_role_assigned_at_once_leave_one_officer(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    building_with_units(&mut app, 0).await;
    for index in 0..10 {
        app.registry
            .create_staff(CreateStaffRequest {
                parent: DISTRICT.to_owned(),
                staff: Some(Staff {
                    display_name: format!("专员{index}"),
                    active: true,
                    ..Staff::default()
                }),
                staff_id: format!("s-{index}"),
                request_id: String::new(),
            })
            .await
            .unwrap();
    }
    let results = race(10, |index| {
        let mut registry = app.registry.clone();
        async move {
            registry
                .create_assignment(CreateAssignmentRequest {
                    parent: format!("{DISTRICT}/staff/s-{index}"),
                    assignment: Some(Assignment {
                        building: format!("{DISTRICT}/buildings/b-1"),
                        role: AssignmentRole::EconomicServiceOfficer as i32,
                        ..Assignment::default()
                    }),
                    request_id: String::new(),
                })
                .await
        }
    })
    .await;
    assert_eq!(tally(&results, &[Code::FailedPrecondition]), 1);
}

async fn concurrent_department_updates_end_in_one_of_them(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("nanjingxilu").await;
    app.create_sub_district("jingansi").await;
    let created = app
        .registry
        .create_department(CreateDepartmentRequest {
            parent: DISTRICT.to_owned(),
            department: Some(Department {
                display_name: "街道办".to_owned(),
                kind: DepartmentKind::SubDistrictOffice as i32,
                demand_categories: vec![1],
                ..Department::default()
            }),
            department_id: "office".to_owned(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let results = race(RACERS, |index| {
        let mut registry = app.registry.clone();
        let name = created.name.clone();
        let street = if index % 2 == 0 {
            "nanjingxilu"
        } else {
            "jingansi"
        };
        async move {
            registry
                .update_department(UpdateDepartmentRequest {
                    department: Some(Department {
                        name,
                        demand_categories: vec![1, 2, 3],
                        jurisdiction: vec![format!("{DISTRICT}/subDistricts/{street}")],
                        ..Department::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["demand_categories".to_owned(), "jurisdiction".to_owned()],
                    }),
                })
                .await
        }
    })
    .await;
    assert_eq!(tally(&results, &[]), RACERS);
    let fetched = app
        .registry
        .get_department(GetDepartmentRequest { name: created.name })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched.demand_categories, vec![1, 2, 3]);
    assert_eq!(fetched.jurisdiction.len(), 1, "{:?}", fetched.jurisdiction);
}

backend_tests!(
    twenty_identical_creates_all_get_the_first_response,
    creates_of_one_code_under_different_request_ids_leave_one_winner,
    creates_of_one_id_leave_one_winner_for_every_kind_of_resource,
    concurrent_masked_updates_each_change_only_their_field,
    two_moves_from_one_tenancy_leave_one_winner,
    twenty_identical_moves_all_get_the_first_response,
    two_moves_that_swap_units_end_without_an_internal_error,
    moving_out_while_a_tenancy_starts_leaves_no_active_tenancy,
    tenancies_of_one_unit_started_at_once_leave_one_tenant,
    officers_of_one_role_assigned_at_once_leave_one_officer,
    concurrent_department_updates_end_in_one_of_them,
);
