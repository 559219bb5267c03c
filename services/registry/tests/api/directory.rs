use louyu_proto::common::v1::DemandCategory;
use louyu_proto::registry::v1::*;
use louyu_testkit::TestBackend;
use louyu_testkit::backend_tests;
use tonic::Code;

use crate::helpers::*;

async fn create_staff(app: &mut TestApp, id: &str) -> Staff {
    app.registry
        .create_staff(CreateStaffRequest {
            parent: DISTRICT.to_owned(),
            staff: Some(Staff {
                display_name: format!("工作人员{id}"),
                phone: "021-62888888".to_owned(),
                sub_district: format!("{DISTRICT}/subDistricts/nanjingxilu"),
                active: true,
                ..Staff::default()
            }),
            staff_id: id.to_owned(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn assign(
    app: &mut TestApp,
    staff: &str,
    role: AssignmentRole,
) -> Result<Assignment, tonic::Status> {
    app.registry
        .create_assignment(CreateAssignmentRequest {
            parent: format!("{DISTRICT}/staff/{staff}"),
            assignment: Some(Assignment {
                building: format!("{DISTRICT}/buildings/b-1"),
                role: role as i32,
                ..Assignment::default()
            }),
            request_id: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn each_building_has_at_most_one_officer_per_role_and_many_field_workers(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("nanjingxilu").await;
    app.create_building("b-1", "nanjingxilu", None).await;
    for id in ["s-1", "s-2", "s-3"] {
        create_staff(&mut app, id).await;
    }
    assign(&mut app, "s-1", AssignmentRole::SafetyOfficer)
        .await
        .unwrap();
    assert_code(
        assign(&mut app, "s-2", AssignmentRole::SafetyOfficer).await,
        Code::FailedPrecondition,
    );
    assign(&mut app, "s-2", AssignmentRole::PartyBuildingInstructor)
        .await
        .unwrap();
    assign(&mut app, "s-1", AssignmentRole::FieldWorker)
        .await
        .unwrap();
    assign(&mut app, "s-3", AssignmentRole::FieldWorker)
        .await
        .unwrap();
    assert_code(
        assign(&mut app, "s-3", AssignmentRole::FieldWorker).await,
        Code::FailedPrecondition,
    );
    assert_invalid_field(
        assign(&mut app, "s-3", AssignmentRole::Unspecified).await,
        "assignment.role",
    );

    let everyone = app
        .registry
        .list_assignments(ListAssignmentsRequest {
            parent: format!("{DISTRICT}/staff/-"),
            filter: format!("building = \"{DISTRICT}/buildings/b-1\" AND role = FIELD_WORKER"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(everyone.assignments.len(), 2);
    let of_s1 = app
        .registry
        .list_assignments(ListAssignmentsRequest {
            parent: format!("{DISTRICT}/staff/s-1"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(of_s1.assignments.len(), 2);

    app.registry
        .delete_assignment(DeleteAssignmentRequest {
            name: of_s1.assignments[0].name.clone(),
        })
        .await
        .unwrap();
    assert_code(
        app.registry
            .delete_assignment(DeleteAssignmentRequest {
                name: of_s1.assignments[0].name.clone(),
            })
            .await,
        Code::NotFound,
    );
    let unknown_sub_district = app
        .registry
        .create_staff(CreateStaffRequest {
            parent: DISTRICT.to_owned(),
            staff: Some(Staff {
                display_name: "某人".to_owned(),
                sub_district: format!("{DISTRICT}/subDistricts/nowhere"),
                active: true,
                ..Staff::default()
            }),
            staff_id: String::new(),
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(unknown_sub_district, "staff.sub_district");
}

async fn departments_are_found_by_the_category_and_sub_district_they_serve(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("nanjingxilu").await;
    app.create_sub_district("jingansi").await;
    let departments = [
        (
            "tax",
            DepartmentKind::Tax,
            vec![DemandCategory::Tax],
            vec![],
        ),
        (
            "njxl-office",
            DepartmentKind::SubDistrictOffice,
            vec![
                DemandCategory::OfficeSpace,
                DemandCategory::PolicyConsultation,
            ],
            vec!["nanjingxilu"],
        ),
        (
            "jas-office",
            DepartmentKind::SubDistrictOffice,
            vec![DemandCategory::OfficeSpace],
            vec!["jingansi"],
        ),
    ];
    for (id, kind, categories, jurisdiction) in departments {
        app.registry
            .create_department(CreateDepartmentRequest {
                parent: DISTRICT.to_owned(),
                department: Some(Department {
                    display_name: id.to_owned(),
                    kind: kind as i32,
                    demand_categories: categories.iter().map(|category| *category as i32).collect(),
                    jurisdiction: jurisdiction
                        .iter()
                        .map(|street| format!("{DISTRICT}/subDistricts/{street}"))
                        .collect(),
                    ..Department::default()
                }),
                department_id: id.to_owned(),
                request_id: String::new(),
            })
            .await
            .unwrap();
    }
    let list = |filter: &str| ListDepartmentsRequest {
        parent: DISTRICT.to_owned(),
        filter: filter.to_owned(),
        ..Default::default()
    };
    let office_space_here = app
        .registry
        .list_departments(list(&format!("demand_category = OFFICE_SPACE AND sub_district = \"{DISTRICT}/subDistricts/nanjingxilu\"")))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = office_space_here
        .departments
        .iter()
        .map(|department| department.display_name.as_str())
        .collect();
    assert_eq!(names, vec!["njxl-office"]);
    let tax_anywhere = app
        .registry
        .list_departments(list(&format!(
            "demand_category = TAX AND sub_district = \"{DISTRICT}/subDistricts/jingansi\""
        )))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        tax_anywhere.departments.len(),
        1,
        "a district-wide department serves every street"
    );
    assert_eq!(
        tax_anywhere.departments[0].demand_categories,
        vec![DemandCategory::Tax as i32]
    );

    let bad_category = app
        .registry
        .create_department(CreateDepartmentRequest {
            parent: DISTRICT.to_owned(),
            department: Some(Department {
                display_name: "x".to_owned(),
                kind: DepartmentKind::Other as i32,
                demand_categories: vec![99],
                ..Department::default()
            }),
            department_id: String::new(),
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(bad_category, "department.demand_categories[0]");
    let updated = app
        .registry
        .update_department(UpdateDepartmentRequest {
            department: Some(Department {
                name: format!("{DISTRICT}/departments/jas-office"),
                jurisdiction: vec![],
                ..Department::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["jurisdiction".to_owned()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(updated.jurisdiction.is_empty());
    assert_eq!(
        updated.demand_categories,
        vec![DemandCategory::OfficeSpace as i32]
    );
}

backend_tests!(
    each_building_has_at_most_one_officer_per_role_and_many_field_workers,
    departments_are_found_by_the_category_and_sub_district_they_serve,
);
