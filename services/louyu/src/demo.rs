//! Demo data for `louyu up --demo`: a small district loaded through the
//! registry's public API. Every call carries a fixed request id, so loading
//! twice changes nothing.

use louyu_proto::common::v1::{CoordinateDatum, DemandCategory};
use louyu_proto::google::r#type::{Date, LatLng};
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::registry::v1::*;
use tonic::Code;

pub async fn load(registry_url: &str, district: &str, token: &str) -> anyhow::Result<()> {
    let channel = tonic::transport::Endpoint::from_shared(registry_url.to_owned())?
        .connect()
        .await?;
    let mut client =
        RegistryServiceClient::with_interceptor(channel, crate::cli::bearer(Some(token))?);
    let parent = format!("districts/{district}");
    let sub_district = |id: &str| format!("{parent}/subDistricts/{id}");

    for (id, display_name) in [("nanjingxilu", "南京西路街道"), ("jingansi", "静安寺街道")]
    {
        tolerate_existing(
            client
                .create_sub_district(CreateSubDistrictRequest {
                    parent: parent.clone(),
                    sub_district: Some(SubDistrict {
                        display_name: display_name.to_owned(),
                        kind: SubDistrictKind::Street as i32,
                        ..SubDistrict::default()
                    }),
                    sub_district_id: id.to_owned(),
                    request_id: format!("demo-sub-district-{id}"),
                })
                .await,
        )?;
    }

    let buildings = [
        (
            "b-plaza66",
            "恒隆广场",
            "南京西路1266号",
            31.2292,
            121.4504,
            66,
            "nanjingxilu",
        ),
        (
            "b-citic",
            "中信泰富广场",
            "南京西路1168号",
            31.2298,
            121.4519,
            38,
            "nanjingxilu",
        ),
        (
            "b-kerry",
            "嘉里中心",
            "南京西路1515号",
            31.2245,
            121.4462,
            56,
            "jingansi",
        ),
    ];
    for (id, display_name, address, latitude, longitude, floors, street) in buildings {
        tolerate_existing(
            client
                .create_building(CreateBuildingRequest {
                    parent: parent.clone(),
                    building: Some(Building {
                        display_name: display_name.to_owned(),
                        address: address.to_owned(),
                        location: Some(LatLng {
                            latitude,
                            longitude,
                        }),
                        floors_above_ground: floors,
                        floors_below_ground: 3,
                        managing_sub_district: sub_district(street),
                        property_manager: "示例物业管理有限公司".to_owned(),
                        ..Building::default()
                    }),
                    building_id: id.to_owned(),
                    request_id: format!("demo-building-{id}"),
                    location_datum: CoordinateDatum::Wgs84 as i32,
                })
                .await,
        )?;
        for floor in [10, 20, 30] {
            for number in 1..=2 {
                let unit_id = format!("{floor}{number:02}");
                tolerate_existing(
                    client
                        .create_unit(CreateUnitRequest {
                            parent: format!("{parent}/buildings/{id}"),
                            unit: Some(Unit {
                                display_name: format!("{floor}F-{number:02}"),
                                floor,
                                area_square_meters: 400.0 + f64::from(number) * 150.0,
                                ..Unit::default()
                            }),
                            unit_id: unit_id.clone(),
                            request_id: format!("demo-unit-{id}-{unit_id}"),
                        })
                        .await,
                )?;
            }
        }
    }

    let enterprises = [
        (
            "91310106MA1G5KTR31",
            "上海示例科技有限公司",
            "信息技术",
            120,
            "b-plaza66",
            "1001",
        ),
        (
            "91310000MA1FL4TQ8Q",
            "示例金融服务有限公司",
            "金融业",
            300,
            "b-citic",
            "2002",
        ),
    ];
    for (uscc, display_name, industry, headcount, building, unit) in enterprises {
        tolerate_existing(
            client
                .create_enterprise(CreateEnterpriseRequest {
                    parent: parent.clone(),
                    enterprise: Some(Enterprise {
                        uscc: uscc.to_owned(),
                        display_name: display_name.to_owned(),
                        industry: industry.to_owned(),
                        headcount,
                        status: EnterpriseStatus::Active as i32,
                        ..Enterprise::default()
                    }),
                    request_id: format!("demo-enterprise-{uscc}"),
                })
                .await,
        )?;
        tolerate_existing(
            client
                .create_tenancy(CreateTenancyRequest {
                    parent: parent.clone(),
                    tenancy: Some(Tenancy {
                        enterprise: format!("{parent}/enterprises/{uscc}"),
                        unit: format!("{parent}/buildings/{building}/units/{unit}"),
                        lease_start: Some(Date {
                            year: 2024,
                            month: 1,
                            day: 1,
                        }),
                        lease_end: Some(Date {
                            year: 2027,
                            month: 6,
                            day: 30,
                        }),
                        ..Tenancy::default()
                    }),
                    request_id: format!("demo-tenancy-{uscc}"),
                })
                .await,
        )?;
    }

    tolerate_existing(
        client
            .create_staff(CreateStaffRequest {
                parent: parent.clone(),
                staff: Some(Staff {
                    display_name: "示例楼宇老师".to_owned(),
                    sub_district: sub_district("nanjingxilu"),
                    active: true,
                    ..Staff::default()
                }),
                staff_id: "teacher-1".to_owned(),
                request_id: "demo-staff-teacher-1".to_owned(),
            })
            .await,
    )?;
    for building in ["b-plaza66", "b-citic"] {
        tolerate_existing(
            client
                .create_assignment(CreateAssignmentRequest {
                    parent: format!("{parent}/staff/teacher-1"),
                    assignment: Some(Assignment {
                        building: format!("{parent}/buildings/{building}"),
                        role: AssignmentRole::FieldWorker as i32,
                        ..Assignment::default()
                    }),
                    request_id: format!("demo-assignment-teacher-1-{building}"),
                })
                .await,
        )?;
    }

    tolerate_existing(
        client
            .create_department(CreateDepartmentRequest {
                parent: parent.clone(),
                department: Some(Department {
                    display_name: "区税务局".to_owned(),
                    kind: DepartmentKind::Tax as i32,
                    demand_categories: vec![DemandCategory::Tax as i32],
                    ..Department::default()
                }),
                department_id: "tax".to_owned(),
                request_id: "demo-department-tax".to_owned(),
            })
            .await,
    )?;
    tolerate_existing(
        client
            .create_building_resource(CreateBuildingResourceRequest {
                parent: parent.clone(),
                building_resource: Some(BuildingResource {
                    display_name: "南京西路党群服务站".to_owned(),
                    kind: ResourceKind::ServiceStation as i32,
                    location: Some(LatLng {
                        latitude: 31.2285,
                        longitude: 121.4498,
                    }),
                    opening_hours: "工作日 9:00-17:00".to_owned(),
                    ..BuildingResource::default()
                }),
                building_resource_id: "station-njxl".to_owned(),
                request_id: "demo-resource-station-njxl".to_owned(),
                location_datum: CoordinateDatum::Wgs84 as i32,
            })
            .await,
    )?;
    Ok(())
}

/// Demo data loaded before (by another run without the same request ids)
/// is fine; anything else is an error.
fn tolerate_existing<T>(result: Result<tonic::Response<T>, tonic::Status>) -> anyhow::Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(status) if status.code() == Code::AlreadyExists => Ok(()),
        Err(status) if status.code() == Code::FailedPrecondition => Ok(()),
        Err(status) => Err(anyhow::anyhow!("{:?}: {}", status.code(), status.message())),
    }
}
