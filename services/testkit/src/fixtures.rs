//! The shared district every cross-service test starts from, created
//! through the registry's own API, so no suite rebuilds the registry's
//! world by hand.

use louyu_proto::google::r#type::Date;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::registry::v1::*;

use crate::identity::AuthorizedChannel;

/// The district's resource name.
pub const DISTRICT: &str = "districts/jingan";

/// A valid unified social credit code, different for each `n`.
pub fn uscc(n: u32) -> String {
    louyu_registry::domain::uscc::sample(n)
}

/// The resource name of the enterprise with `code`.
pub fn enterprise_name(code: &str) -> String {
    format!("{DISTRICT}/enterprises/{code}")
}

/// Two buildings, `b-1` and `b-2`, on one street (`nanjingxilu`), each with
/// units 101, 102 and 103; enterprises A, B and E renting 101, 102 and 103
/// of b-1, C and D renting 101 and 102 of b-2 (leases 2024-01-01 to
/// 2027-12-31); staff `s-1`, a field worker covering b-1 and enterprise D of
/// b-2, and `s-2`, covering nothing. The fields hold the enterprises'
/// USCCs.
pub struct District {
    pub a: String,
    pub b: String,
    pub c: String,
    pub d: String,
    pub e: String,
}

/// The request that creates the district's street, `nanjingxilu`
/// (南京西路街道).
pub fn create_street_request() -> CreateSubDistrictRequest {
    CreateSubDistrictRequest {
        parent: DISTRICT.to_owned(),
        sub_district: Some(SubDistrict {
            display_name: "南京西路街道".to_owned(),
            kind: SubDistrictKind::Street as i32,
            ..SubDistrict::default()
        }),
        sub_district_id: "nanjingxilu".to_owned(),
        request_id: String::new(),
    }
}

/// Creates [`District`] in an empty registry.
pub async fn district(registry: &mut RegistryServiceClient<AuthorizedChannel>) -> District {
    registry
        .create_sub_district(create_street_request())
        .await
        .expect("create the sub-district");
    for building in ["b-1", "b-2"] {
        registry
            .create_building(CreateBuildingRequest {
                parent: DISTRICT.to_owned(),
                building: Some(Building {
                    display_name: building.to_owned(),
                    address: "南京西路".to_owned(),
                    managing_sub_district: format!("{DISTRICT}/subDistricts/nanjingxilu"),
                    ..Building::default()
                }),
                building_id: building.to_owned(),
                request_id: String::new(),
                ..Default::default()
            })
            .await
            .expect("create a building");
        for unit in ["101", "102", "103"] {
            registry
                .create_unit(CreateUnitRequest {
                    parent: format!("{DISTRICT}/buildings/{building}"),
                    unit: Some(Unit {
                        display_name: unit.to_owned(),
                        floor: 1,
                        area_square_meters: 100.0,
                        ..Unit::default()
                    }),
                    unit_id: unit.to_owned(),
                    request_id: String::new(),
                })
                .await
                .expect("create a unit");
        }
    }
    let district = District {
        a: uscc(1),
        b: uscc(2),
        c: uscc(3),
        d: uscc(4),
        e: uscc(5),
    };
    for (code, building, unit) in [
        (&district.a, "b-1", "101"),
        (&district.b, "b-1", "102"),
        (&district.e, "b-1", "103"),
        (&district.c, "b-2", "101"),
        (&district.d, "b-2", "102"),
    ] {
        registry
            .create_enterprise(CreateEnterpriseRequest {
                parent: DISTRICT.to_owned(),
                enterprise: Some(Enterprise {
                    uscc: code.clone(),
                    display_name: format!("企业{code}"),
                    ..Enterprise::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("create an enterprise");
        registry
            .create_tenancy(CreateTenancyRequest {
                parent: DISTRICT.to_owned(),
                tenancy: Some(Tenancy {
                    enterprise: enterprise_name(code),
                    unit: format!("{DISTRICT}/buildings/{building}/units/{unit}"),
                    lease_start: Some(Date {
                        year: 2024,
                        month: 1,
                        day: 1,
                    }),
                    lease_end: Some(Date {
                        year: 2027,
                        month: 12,
                        day: 31,
                    }),
                    ..Tenancy::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("start a tenancy");
    }
    for staff in ["s-1", "s-2"] {
        registry
            .create_staff(CreateStaffRequest {
                parent: DISTRICT.to_owned(),
                staff: Some(Staff {
                    display_name: format!("楼宇老师{staff}"),
                    active: true,
                    ..Staff::default()
                }),
                staff_id: staff.to_owned(),
                request_id: String::new(),
            })
            .await
            .expect("create staff");
    }
    for (building, enterprise) in [
        ("b-1", String::new()),
        ("b-2", enterprise_name(&district.d)),
    ] {
        registry
            .create_assignment(CreateAssignmentRequest {
                parent: format!("{DISTRICT}/staff/s-1"),
                assignment: Some(Assignment {
                    building: format!("{DISTRICT}/buildings/{building}"),
                    enterprise,
                    role: AssignmentRole::FieldWorker as i32,
                    ..Assignment::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("create an assignment");
    }
    district
}

/// A street (`nanjingxilu`), building `b-1` on it with units 101 (100 m²)
/// and 201 (400 m²), and field worker `s-1`: where the suites that follow
/// one enterprise through several services start.
pub async fn one_building(registry: &mut RegistryServiceClient<AuthorizedChannel>) {
    registry
        .create_sub_district(create_street_request())
        .await
        .expect("a street");
    registry
        .create_building(CreateBuildingRequest {
            parent: DISTRICT.to_owned(),
            building: Some(Building {
                display_name: "静安大厦".to_owned(),
                address: "南京西路1号".to_owned(),
                managing_sub_district: format!("{DISTRICT}/subDistricts/nanjingxilu"),
                ..Building::default()
            }),
            building_id: "b-1".to_owned(),
            request_id: String::new(),
            ..Default::default()
        })
        .await
        .expect("a building");
    for (unit, area) in [("101", 100.0), ("201", 400.0)] {
        registry
            .create_unit(CreateUnitRequest {
                parent: format!("{DISTRICT}/buildings/b-1"),
                unit: Some(Unit {
                    display_name: unit.to_owned(),
                    floor: 1,
                    area_square_meters: area,
                    ..Unit::default()
                }),
                unit_id: unit.to_owned(),
                request_id: String::new(),
            })
            .await
            .expect("a unit");
    }
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
        .expect("a field worker");
}

/// Registers a small enterprise and lets it unit `unit` of [`one_building`]'s
/// `b-1`, its lease ending `days` from today.
pub async fn tenant(
    registry: &mut RegistryServiceClient<AuthorizedChannel>,
    code: &str,
    unit: &str,
    days: i64,
) -> Tenancy {
    registry
        .create_enterprise(CreateEnterpriseRequest {
            parent: DISTRICT.to_owned(),
            enterprise: Some(Enterprise {
                uscc: code.to_owned(),
                display_name: "上海小外资科技有限公司".to_owned(),
                industry: "信息技术".to_owned(),
                headcount: 12,
                ..Enterprise::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("an enterprise");
    registry
        .create_tenancy(CreateTenancyRequest {
            parent: DISTRICT.to_owned(),
            tenancy: Some(Tenancy {
                enterprise: enterprise_name(code),
                unit: format!("{DISTRICT}/buildings/b-1/units/{unit}"),
                lease_start: Some(Date {
                    year: 2025,
                    month: 1,
                    day: 1,
                }),
                lease_end: Some(date_in(days)),
                ..Tenancy::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("a tenancy")
        .into_inner()
}

/// The date `days` from today, in Shanghai.
pub fn date_in(days: i64) -> Date {
    let day = louyu_kit::time::today_in_shanghai() + time::Duration::days(days);
    Date {
        year: day.year(),
        month: i32::from(u8::from(day.month())),
        day: i32::from(day.day()),
    }
}

/// Records a visit an hour ago by `s-1` to [`one_building`]'s `b-1`,
/// meeting one enterprise, with what was observed.
pub async fn visit(
    visits: &mut louyu_proto::visits::v1::visits_service_client::VisitsServiceClient<
        AuthorizedChannel,
    >,
    code: &str,
    observation: louyu_proto::visits::v1::Observation,
) {
    use louyu_proto::visits::v1::{Observation, SubmitVisitRequest, Visit, VisitKind};
    visits
        .submit_visit(SubmitVisitRequest {
            parent: DISTRICT.to_owned(),
            visit: Some(Visit {
                building: format!("{DISTRICT}/buildings/b-1"),
                staff: vec![format!("{DISTRICT}/staff/s-1")],
                visit_time: Some(louyu_kit::time::timestamp_from_micros(
                    louyu_kit::time::now_micros() - 3_600_000_000,
                )),
                kind: VisitKind::Routine as i32,
                observations: vec![Observation {
                    enterprise: enterprise_name(code),
                    ..observation
                }],
                ..Visit::default()
            }),
            demands: Vec::new(),
            request_id: String::new(),
        })
        .await
        .expect("a visit");
}

/// The street office of [`one_building`]'s street (`nanjingxilu-office`,
/// serving `nanjingxilu`) and the district investment office
/// (`investment`, district-wide): where the shipped referral rules send an
/// office-space demand, the street leading.
pub async fn referral_departments(registry: &mut RegistryServiceClient<AuthorizedChannel>) {
    for (id, name, kind, jurisdiction) in [
        (
            "nanjingxilu-office",
            "南京西路街道办事处",
            DepartmentKind::SubDistrictOffice,
            vec![format!("{DISTRICT}/subDistricts/nanjingxilu")],
        ),
        (
            "investment",
            "区投资促进办公室",
            DepartmentKind::DistrictInvestmentOffice,
            Vec::new(),
        ),
    ] {
        registry
            .create_department(CreateDepartmentRequest {
                parent: DISTRICT.to_owned(),
                department: Some(Department {
                    display_name: name.to_owned(),
                    kind: kind as i32,
                    jurisdiction,
                    ..Department::default()
                }),
                department_id: id.to_owned(),
                request_id: String::new(),
            })
            .await
            .expect("a department");
    }
}
