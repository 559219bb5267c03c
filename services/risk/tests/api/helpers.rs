//! A registry, a visits service and a risk service for each test, each on a
//! fresh database of the chosen backend, on port 0, called over TCP.

use louyu_kit::config::ServiceName;
use louyu_proto::common::v1::RiskColour;
use louyu_proto::google::r#type::Date;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::registry::v1::*;
use louyu_proto::risk::v1::risk_service_client::RiskServiceClient;
use louyu_proto::risk::v1::{Assessment, GetAssessmentRequest};
use louyu_proto::visits::v1::visits_service_client::VisitsServiceClient;
use louyu_proto::visits::v1::*;
use louyu_testkit::TestBackend;
pub use louyu_testkit::fixtures::{DISTRICT, enterprise_name, uscc};
use louyu_testkit::identity::AuthorizedChannel;
use louyu_testkit::sandbox::Sandbox;
pub use louyu_testkit::{assert_code, eventually};

pub struct Suite {
    /// A district admin's clients.
    pub registry: RegistryServiceClient<AuthorizedChannel>,
    pub visits: VisitsServiceClient<AuthorizedChannel>,
    pub risk: RiskServiceClient<AuthorizedChannel>,
    sandbox: Sandbox,
}

pub async fn spawn_suite(backend: TestBackend) -> Option<Suite> {
    let sandbox = Sandbox::start(
        backend,
        &[
            &louyu_risk::startup::Risk,
            &louyu_visits::startup::Visits,
            &louyu_registry::startup::Registry,
        ],
    )
    .await?;
    Some(Suite {
        registry: RegistryServiceClient::new(sandbox.client(ServiceName::Registry).await),
        visits: VisitsServiceClient::new(sandbox.client(ServiceName::Visits).await),
        risk: RiskServiceClient::new(sandbox.client(ServiceName::Risk).await),
        sandbox,
    })
}

impl Suite {
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// A street, building `b-1` with units 101 (100 m²) and 201 (400 m²),
    /// and field worker `s-1` covering it.
    pub async fn building(&mut self) {
        self.registry
            .create_sub_district(louyu_testkit::fixtures::create_street_request())
            .await
            .expect("a street");
        self.registry
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
            })
            .await
            .expect("a building");
        for (unit, area) in [("101", 100.0), ("201", 400.0)] {
            self.registry
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
        self.registry
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

    /// Registers an enterprise and lets it unit `unit` of `b-1`, its lease
    /// ending `days` from today.
    pub async fn tenant(&mut self, code: &str, unit: &str, days: i64) -> Tenancy {
        self.registry
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
        self.registry
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

    /// The enterprise's assessment once it is `colour`.
    pub async fn assessment_once(&mut self, code: &str, colour: RiskColour) -> Assessment {
        let risk = self.risk.clone();
        let name = format!("{}/assessment", enterprise_name(code));
        eventually(&format!("{code} is {colour:?}"), || {
            let mut risk = risk.clone();
            let name = name.clone();
            async move {
                risk.get_assessment(GetAssessmentRequest { name })
                    .await
                    .is_ok_and(|assessment| assessment.into_inner().colour == colour as i32)
            }
        })
        .await;
        self.risk
            .get_assessment(GetAssessmentRequest { name })
            .await
            .expect("the assessment")
            .into_inner()
    }

    /// Records a visit to `b-1` meeting the enterprise.
    pub async fn visit(&mut self, code: &str, observation: Observation) {
        self.visits
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
