//! Data scope over real gRPC on both databases: every role against every
//! method (the permission table), and what each scoped role reaches of two
//! sub-districts: NOT_FOUND for what it may not see, worded as for what
//! does not exist; lists that leave it out; PERMISSION_DENIED for writes to
//! what it may see but not change. Contacts masked for auditors and
//! systems, and every unmasked read audited. Assignments announced.

use louyu_kit::identity::{Principal, Role, SystemIdentity};
use louyu_kit::permissions;
use louyu_proto::common::v1::ListAuditRecordsRequest;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::registry::v1::*;
use louyu_testkit::identity::{AuthorizedChannel, TOKEN_DISTRICT, auditor, person_in};
use louyu_testkit::permissions::{assert_roles_refused_as_the_table_says, call_empty};
use louyu_testkit::{TestBackend, assert_code, backend_tests};
use prost::Name;
use tonic::Code;

use crate::helpers::*;

const EAST: &str = "east";
const WEST: &str = "west";

/// Two sub-districts, a building in each (`be` east, `bw` west) with two
/// units; enterprise 1 in `be/101`, 2 in `bw/101`, 3 placed nowhere; staff
/// `fw-east` (east) assigned to `be` as its field worker, and `st-west`
/// (west); department `invest`.
struct World {
    e1: String,
    e2: String,
    e3: String,
}

async fn world(app: &mut TestApp) -> World {
    app.create_sub_district(EAST).await;
    app.create_sub_district(WEST).await;
    for (building, sub_district) in [("be", EAST), ("bw", WEST)] {
        app.create_building(building, sub_district, None).await;
        app.create_unit(building, "101", 1, 100.0).await;
        app.create_unit(building, "102", 1, 100.0).await;
    }
    let world = World {
        e1: uscc(1),
        e2: uscc(2),
        e3: uscc(3),
    };
    for code in [&world.e1, &world.e2, &world.e3] {
        app.create_enterprise(code).await;
    }
    app.start_tenancy(&world.e1, "be", "101").await;
    app.start_tenancy(&world.e2, "bw", "101").await;
    for (staff, sub_district) in [("fw-east", EAST), ("st-west", WEST)] {
        app.registry
            .create_staff(CreateStaffRequest {
                parent: DISTRICT.to_owned(),
                staff: Some(Staff {
                    display_name: format!("工作人员{staff}"),
                    sub_district: format!("{DISTRICT}/subDistricts/{sub_district}"),
                    active: true,
                    ..Staff::default()
                }),
                staff_id: staff.to_owned(),
                request_id: String::new(),
            })
            .await
            .expect("create staff");
    }
    assign(app, "fw-east", "be").await;
    app.registry
        .create_department(CreateDepartmentRequest {
            parent: DISTRICT.to_owned(),
            department: Some(Department {
                display_name: "区投资促进办公室".to_owned(),
                kind: DepartmentKind::DistrictInvestmentOffice as i32,
                office_phone: "021-62880000".to_owned(),
                ..Department::default()
            }),
            department_id: "invest".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("create a department");
    world
}

async fn assign(app: &mut TestApp, staff: &str, building: &str) -> Assignment {
    app.registry
        .create_assignment(CreateAssignmentRequest {
            parent: format!("{DISTRICT}/staff/{staff}"),
            assignment: Some(Assignment {
                building: format!("{DISTRICT}/buildings/{building}"),
                role: AssignmentRole::FieldWorker as i32,
                ..Assignment::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("create an assignment")
        .into_inner()
}

fn field_worker() -> Principal {
    person_in("fw-east", &[Role::FieldWorker], Some(EAST), None)
}

fn east_admin() -> Principal {
    person_in("admin-east", &[Role::SubDistrictAdmin], Some(EAST), None)
}

fn officer() -> Principal {
    person_in(
        "officer-1",
        &[Role::DepartmentOfficer],
        None,
        Some("invest"),
    )
}

fn system() -> Principal {
    Principal::System(SystemIdentity {
        name: "hotline-12345".to_owned(),
        district: TOKEN_DISTRICT.to_owned(),
    })
}

async fn registry_as(app: &TestApp, who: &Principal) -> RegistryServiceClient<AuthorizedChannel> {
    RegistryServiceClient::new(
        app.sandbox()
            .client_as(louyu_kit::config::ServiceName::Registry, who)
            .await,
    )
}

fn building_name(id: &str) -> String {
    format!("{DISTRICT}/buildings/{id}")
}

async fn building_ids(registry: &mut RegistryServiceClient<AuthorizedChannel>) -> Vec<String> {
    let response = registry
        .list_buildings(ListBuildingsRequest {
            parent: DISTRICT.to_owned(),
            ..ListBuildingsRequest::default()
        })
        .await
        .expect("list buildings")
        .into_inner();
    response
        .buildings
        .iter()
        .map(|building| {
            building
                .name
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

async fn enterprise_codes(registry: &mut RegistryServiceClient<AuthorizedChannel>) -> Vec<String> {
    let mut codes: Vec<String> = registry
        .list_enterprises(ListEnterprisesRequest {
            parent: DISTRICT.to_owned(),
            ..ListEnterprisesRequest::default()
        })
        .await
        .expect("list enterprises")
        .into_inner()
        .enterprises
        .into_iter()
        .map(|enterprise| enterprise.uscc)
        .collect();
    codes.sort();
    codes
}

/// NOT_FOUND, worded exactly as for a resource that does not exist.
fn assert_hidden<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
    name: &str,
) {
    let status = assert_code(result, Code::NotFound);
    assert_eq!(status.message(), format!("未找到 not found: {name}"));
}

async fn a_field_worker_reaches_only_their_assignments(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let world = world(&mut app).await;
    let mut registry = registry_as(&app, &field_worker()).await;

    assert_eq!(building_ids(&mut registry).await, ["be"]);
    assert_eq!(
        enterprise_codes(&mut registry).await,
        vec![world.e1.clone()]
    );
    registry
        .get_building(GetBuildingRequest {
            name: building_name("be"),
            ..Default::default()
        })
        .await
        .expect("their own building");
    assert_hidden(
        registry
            .get_building(GetBuildingRequest {
                name: building_name("bw"),
                ..Default::default()
            })
            .await,
        &building_name("bw"),
    );
    assert_hidden(
        registry
            .get_building(GetBuildingRequest {
                name: building_name("nowhere"),
                ..Default::default()
            })
            .await,
        &building_name("nowhere"),
    );
    assert_hidden(
        registry
            .get_enterprise(GetEnterpriseRequest {
                name: format!("{DISTRICT}/enterprises/{}", world.e2),
            })
            .await,
        &format!("{DISTRICT}/enterprises/{}", world.e2),
    );
    assert_hidden(
        registry
            .get_unit(GetUnitRequest {
                name: format!("{DISTRICT}/buildings/bw/units/101"),
            })
            .await,
        &format!("{DISTRICT}/buildings/bw/units/101"),
    );
    assert_code(
        registry
            .list_units(ListUnitsRequest {
                parent: building_name("bw"),
                ..ListUnitsRequest::default()
            })
            .await,
        Code::NotFound,
    );
    let tenancies = registry
        .list_tenancies(ListTenanciesRequest {
            parent: DISTRICT.to_owned(),
            ..ListTenanciesRequest::default()
        })
        .await
        .expect("list tenancies")
        .into_inner()
        .tenancies;
    assert_eq!(tenancies.len(), 1);
    assert_eq!(
        tenancies[0].enterprise,
        format!("{DISTRICT}/enterprises/{}", world.e1)
    );
    let assignments = registry
        .list_assignments(ListAssignmentsRequest {
            parent: format!("{DISTRICT}/staff/-"),
            ..ListAssignmentsRequest::default()
        })
        .await
        .expect("list assignments")
        .into_inner()
        .assignments;
    assert_eq!(assignments.len(), 1);
    assert!(assignments[0].name.contains("/staff/fw-east/"));

    // A page token from a wider reach shows nothing beyond the caller's.
    let first_page = app
        .registry
        .list_buildings(ListBuildingsRequest {
            parent: DISTRICT.to_owned(),
            page_size: 1,
            ..ListBuildingsRequest::default()
        })
        .await
        .expect("the admin's first page")
        .into_inner();
    assert_eq!(first_page.buildings[0].name, building_name("be"));
    let rest = registry
        .list_buildings(ListBuildingsRequest {
            parent: DISTRICT.to_owned(),
            page_token: first_page.next_page_token,
            ..ListBuildingsRequest::default()
        })
        .await
        .expect("the rest with the admin's token")
        .into_inner();
    assert!(rest.buildings.is_empty(), "{:?}", rest.buildings);

    // Assigned to the west building too, the worker sees it at once.
    assign(&mut app, "fw-east", "bw").await;
    assert_eq!(building_ids(&mut registry).await, ["be", "bw"]);
}

async fn a_sub_district_admin_reaches_only_their_sub_district(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let world = world(&mut app).await;
    let mut registry = registry_as(&app, &east_admin()).await;

    assert_eq!(building_ids(&mut registry).await, ["be"]);
    // Unplaced enterprises are the district's, and every sub-district may
    // place them.
    let mut expected = vec![world.e1.clone(), world.e3.clone()];
    expected.sort();
    assert_eq!(enterprise_codes(&mut registry).await, expected);
    let staff: Vec<String> = registry
        .list_staff(ListStaffRequest {
            parent: DISTRICT.to_owned(),
            ..ListStaffRequest::default()
        })
        .await
        .expect("list staff")
        .into_inner()
        .staff
        .into_iter()
        .map(|staff| staff.name)
        .collect();
    assert_eq!(staff, [format!("{DISTRICT}/staff/fw-east")]);
    assert_hidden(
        registry
            .get_staff(GetStaffRequest {
                name: format!("{DISTRICT}/staff/st-west"),
            })
            .await,
        &format!("{DISTRICT}/staff/st-west"),
    );

    // Writes within the sub-district go through.
    registry
        .create_tenancy(CreateTenancyRequest {
            parent: DISTRICT.to_owned(),
            tenancy: Some(tenancy(&world.e3, "be", "102")),
            request_id: String::new(),
        })
        .await
        .expect("place an unplaced enterprise in their building");
    let mut patch = building(EAST, None);
    patch.name = building_name("be");
    patch.display_name = "东区大厦".to_owned();
    registry
        .update_building(UpdateBuildingRequest {
            building: Some(patch.clone()),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".to_owned()],
            }),
            ..Default::default()
        })
        .await
        .expect("rename their building");

    // What they cannot see is not found; what they see but may not change
    // is denied.
    let mut west = building(WEST, None);
    west.name = building_name("bw");
    assert_hidden(
        registry
            .update_building(UpdateBuildingRequest {
                building: Some(west),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".to_owned()],
                }),
                ..Default::default()
            })
            .await,
        &building_name("bw"),
    );
    assert_hidden(
        registry
            .create_unit(CreateUnitRequest {
                parent: building_name("bw"),
                unit: Some(Unit {
                    display_name: "201".to_owned(),
                    floor: 2,
                    area_square_meters: 50.0,
                    ..Unit::default()
                }),
                unit_id: "201".to_owned(),
                request_id: String::new(),
            })
            .await,
        &building_name("bw"),
    );
    assert_code(
        registry
            .move_enterprise(MoveEnterpriseRequest {
                from_tenancy: registry_tenancy_of(&mut app, &world.e1).await,
                to_tenancy: Some(tenancy(&world.e1, "bw", "102")),
                move_date: Some(date(2026, 6, 1)),
                request_id: String::new(),
            })
            .await,
        Code::NotFound,
    );
    let mut handed_over = patch;
    handed_over.managing_sub_district = format!("{DISTRICT}/subDistricts/{WEST}");
    let denied = assert_code(
        registry
            .update_building(UpdateBuildingRequest {
                building: Some(handed_over),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["managing_sub_district".to_owned()],
                }),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
    );
    assert!(
        denied.message().contains("managing_sub_district"),
        "{denied:?}"
    );
    assert_code(
        registry
            .create_building(CreateBuildingRequest {
                parent: DISTRICT.to_owned(),
                building: Some(building(WEST, None)),
                building_id: "bw-2".to_owned(),
                request_id: String::new(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        registry
            .create_staff(CreateStaffRequest {
                parent: DISTRICT.to_owned(),
                staff: Some(Staff {
                    display_name: "新同事".to_owned(),
                    sub_district: format!("{DISTRICT}/subDistricts/{WEST}"),
                    active: true,
                    ..Staff::default()
                }),
                staff_id: "new-west".to_owned(),
                request_id: String::new(),
            })
            .await,
        Code::PermissionDenied,
    );
    // Nothing of the refused writes was written.
    assert_eq!(building_ids(&mut app.registry).await, ["be", "bw"]);
}

async fn registry_tenancy_of(app: &mut TestApp, code: &str) -> String {
    app.registry
        .list_tenancies(ListTenanciesRequest {
            parent: DISTRICT.to_owned(),
            filter: format!("enterprise = \"{DISTRICT}/enterprises/{code}\""),
            ..ListTenanciesRequest::default()
        })
        .await
        .expect("list tenancies")
        .into_inner()
        .tenancies[0]
        .name
        .clone()
}

async fn a_department_officer_keeps_their_entry_and_sees_no_place_unreferred(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    world(&mut app).await;
    let mut registry = registry_as(&app, &officer()).await;
    // No demand has been referred to the department: no place is theirs.
    assert!(building_ids(&mut registry).await.is_empty());
    assert!(enterprise_codes(&mut registry).await.is_empty());
    let mut entry = registry
        .get_department(GetDepartmentRequest {
            name: format!("{DISTRICT}/departments/invest"),
        })
        .await
        .expect("the directory is everyone's")
        .into_inner();
    entry.office_phone = "021-62889999".to_owned();
    registry
        .update_department(UpdateDepartmentRequest {
            department: Some(entry),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["office_phone".to_owned()],
            }),
        })
        .await
        .expect("their own entry");
    app.registry
        .create_department(CreateDepartmentRequest {
            parent: DISTRICT.to_owned(),
            department: Some(Department {
                display_name: "区市场监管局".to_owned(),
                kind: DepartmentKind::MarketRegulation as i32,
                ..Department::default()
            }),
            department_id: "market".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("another department");
    let other = Department {
        name: format!("{DISTRICT}/departments/market"),
        display_name: "改名".to_owned(),
        kind: DepartmentKind::MarketRegulation as i32,
        ..Department::default()
    };
    assert_code(
        registry
            .update_department(UpdateDepartmentRequest {
                department: Some(other),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".to_owned()],
                }),
            })
            .await,
        Code::PermissionDenied,
    );
}

async fn contacts_are_masked_for_auditors_and_systems_and_every_unmasked_read_is_audited(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let world = world(&mut app).await;
    let name = format!("{DISTRICT}/enterprises/{}", world.e1);
    for who in [auditor(), system()] {
        let enterprise = registry_as(&app, &who)
            .await
            .get_enterprise(GetEnterpriseRequest { name: name.clone() })
            .await
            .expect("read the enterprise")
            .into_inner();
        let contact = &enterprise.contacts[0];
        assert_eq!(contact.person_name, "王**");
        assert_eq!(contact.phone, "138****8000");
        assert_eq!(contact.email, "w***@example.com");
        assert_eq!(contact.title, "行政经理");
    }
    let audited = |records: &[louyu_proto::common::v1::AuditRecord]| {
        records
            .iter()
            .filter(|record| record.method.starts_with("DiscloseContacts/"))
            .map(|record| {
                (
                    record.actor.clone(),
                    record.method.clone(),
                    record.resource.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    let before = audit_records(&mut app).await;
    assert!(
        audited(&before).is_empty(),
        "masked reads are not disclosures"
    );

    let enterprise = app
        .registry
        .get_enterprise(GetEnterpriseRequest { name: name.clone() })
        .await
        .expect("the admin reads it")
        .into_inner();
    assert_eq!(enterprise.contacts[0].person_name, "王小明");
    let listed = app
        .registry
        .list_enterprises(ListEnterprisesRequest {
            parent: DISTRICT.to_owned(),
            ..ListEnterprisesRequest::default()
        })
        .await
        .expect("the admin lists them")
        .into_inner();
    assert_eq!(listed.enterprises.len(), 3);
    let disclosures = audited(&audit_records(&mut app).await);
    assert_eq!(disclosures.len(), 4, "{disclosures:?}");
    assert!(disclosures.contains(&(
        "staff:admin-1".to_owned(),
        "DiscloseContacts/GetEnterprise".to_owned(),
        name.clone()
    )));
    assert_eq!(
        disclosures
            .iter()
            .filter(|(_, method, _)| method == "DiscloseContacts/ListEnterprises")
            .count(),
        3
    );
}

async fn audit_records(app: &mut TestApp) -> Vec<louyu_proto::common::v1::AuditRecord> {
    app.audit
        .list_audit_records(ListAuditRecordsRequest {
            page_size: 1000,
            ..ListAuditRecordsRequest::default()
        })
        .await
        .expect("list audit records")
        .into_inner()
        .audit_records
}

async fn assignments_are_announced_and_end_when_their_staff_leave(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    world(&mut app).await;
    let second = assign(&mut app, "fw-east", "bw").await;
    app.registry
        .delete_assignment(DeleteAssignmentRequest {
            name: second.name.clone(),
        })
        .await
        .expect("delete an assignment");
    app.registry
        .update_staff(UpdateStaffRequest {
            staff: Some(Staff {
                name: format!("{DISTRICT}/staff/fw-east"),
                active: false,
                ..Staff::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["active".to_owned()],
            }),
        })
        .await
        .expect("the worker leaves");
    let left = app
        .registry
        .list_assignments(ListAssignmentsRequest {
            parent: format!("{DISTRICT}/staff/fw-east"),
            ..ListAssignmentsRequest::default()
        })
        .await
        .expect("list assignments")
        .into_inner()
        .assignments;
    assert!(left.is_empty(), "{left:?}");

    // The world's 2 buildings, 3 enterprises and 2 tenancies, then the
    // four assignment events, in order.
    let assignment_events: Vec<_> = app
        .events(11)
        .await
        .into_iter()
        .filter(|event| event.event_type.contains("Assignment"))
        .collect();
    let kinds: Vec<String> = assignment_events
        .iter()
        .map(|event| event.event_type.clone())
        .collect();
    assert_eq!(
        kinds,
        [
            AssignmentStarted::full_name(),
            AssignmentStarted::full_name(),
            AssignmentEnded::full_name(),
            AssignmentEnded::full_name(),
        ]
    );
    let reasons: Vec<String> = assignment_events[2..]
        .iter()
        .map(|event| {
            let payload = event.payload.as_ref().expect("a payload");
            <AssignmentEnded as prost::Message>::decode(payload.value.as_slice())
                .expect("an AssignmentEnded")
                .reason
        })
        .collect();
    assert_eq!(reasons, ["删除 deleted", "离岗 staff left"]);
}

async fn every_role_is_refused_exactly_the_methods_the_table_denies_it(backend: TestBackend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let methods = assert_roles_refused_as_the_table_says(
        app.sandbox(),
        louyu_kit::config::ServiceName::Registry,
        &[
            permissions::REGISTRY,
            permissions::COUNCILS,
            permissions::AUDIT,
            permissions::EVENT_FEED,
        ],
    )
    .await;
    assert!(methods > 35, "every registry method is covered: {methods}");
}

async fn a_system_follows_the_feed_only_when_granted(backend: TestBackend) {
    let path = "/louyu.common.v1.EventFeedService/WatchEvents";
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let hotline = app
        .sandbox()
        .client_as(louyu_kit::config::ServiceName::Registry, &system())
        .await;
    assert_eq!(
        call_empty(hotline, path).await,
        Some(Code::PermissionDenied)
    );
    let visits = Principal::System(SystemIdentity {
        name: "visits".to_owned(),
        district: TOKEN_DISTRICT.to_owned(),
    });
    let visits = app
        .sandbox()
        .client_as(louyu_kit::config::ServiceName::Registry, &visits)
        .await;
    assert_eq!(call_empty(visits, path).await, None);

    let Some(granted) = spawn_app_with(backend, |config| {
        config.feed_readers = vec!["hotline-12345".to_owned()];
    })
    .await
    else {
        return;
    };
    let hotline = granted
        .sandbox()
        .client_as(louyu_kit::config::ServiceName::Registry, &system())
        .await;
    assert_eq!(call_empty(hotline, path).await, None);
}

async fn a_request_id_belongs_to_whom_the_call_is_made_for(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    world(&mut app).await;
    let request = |name: &str| CreateBuildingRequest {
        parent: DISTRICT.to_owned(),
        building: Some(building(EAST, None)),
        building_id: name.to_owned(),
        request_id: "4b1d6a52-shared".to_owned(),
        ..Default::default()
    };
    let created = app
        .registry
        .create_building(request("be-2"))
        .await
        .expect("the admin creates a building")
        .into_inner();
    // The same body and id from someone else is not a retry: it never
    // answers with the first caller's response.
    let mut east = registry_as(&app, &east_admin()).await;
    let refused = assert_code(
        east.create_building(request("be-2")).await,
        Code::InvalidArgument,
    );
    assert!(refused.message().contains("request_id"), "{refused:?}");
    // The first caller's retry still answers from its key.
    let retried = app
        .registry
        .create_building(request("be-2"))
        .await
        .expect("a retry")
        .into_inner();
    assert_eq!(retried, created);
}

backend_tests!(
    a_field_worker_reaches_only_their_assignments,
    a_sub_district_admin_reaches_only_their_sub_district,
    a_department_officer_keeps_their_entry_and_sees_no_place_unreferred,
    contacts_are_masked_for_auditors_and_systems_and_every_unmasked_read_is_audited,
    assignments_are_announced_and_end_when_their_staff_leave,
    every_role_is_refused_exactly_the_methods_the_table_denies_it,
    a_system_follows_the_feed_only_when_granted,
    a_request_id_belongs_to_whom_the_call_is_made_for,
);
