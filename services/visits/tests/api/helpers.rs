//! A real registry and a real visits service for each test, each on a fresh
//! database of the chosen backend, on port 0, called over TCP.

use std::time::Duration;

use louyu_kit::config::Config;
use louyu_kit::server::Shutdown;
use louyu_kit::testing::{TestBackend, TestDatabase};
pub use louyu_kit::testing::{assert_code, assert_invalid_field, eventually};
use louyu_proto::google::r#type::Date;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::registry::v1::*;
use louyu_proto::visits::v1::visits_service_client::VisitsServiceClient;
use secrecy::SecretString;
use tonic::transport::Channel;

pub const DISTRICT: &str = "districts/jingan";
pub const DEADLINE: Duration = Duration::from_secs(30);

pub struct Suite {
    pub registry: RegistryServiceClient<Channel>,
    pub visits: VisitsServiceClient<Channel>,
    pub visits_channel: Channel,
    registry_shutdown: Shutdown,
    visits_shutdown: Shutdown,
    registry_task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _databases: (TestDatabase, TestDatabase),
}

fn config(database: &TestDatabase, registry_url: &str) -> Config {
    Config {
        listen: Some("127.0.0.1:0".to_owned()),
        database_url: Some(SecretString::from(database.url().to_owned())),
        registry_url: registry_url.to_owned(),
        feed_poll_interval_ms: 100,
        drain_delay: Duration::ZERO,
        shutdown_grace_seconds: 5,
        ..Config::default()
    }
}

async fn channel(address: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .expect("connect")
}

pub async fn spawn_suite(backend: TestBackend) -> Option<Suite> {
    louyu_kit::telemetry::init_for_tests();
    let registry_database = TestDatabase::create(backend).await?;
    let visits_database = TestDatabase::create(backend).await?;

    let registry_shutdown = Shutdown::new();
    let registry_app = louyu_registry::startup::Application::build(
        &config(&registry_database, ""),
        &registry_shutdown,
    )
    .await
    .expect("the registry builds");
    let registry_address = registry_app.local_addr();
    let registry_task = tokio::spawn(registry_app.run_until_stopped(registry_shutdown.clone()));

    let visits_shutdown = Shutdown::new();
    let visits_config = config(&visits_database, &format!("http://{registry_address}"));
    let visits_app = louyu_visits::startup::Application::build(&visits_config, &visits_shutdown)
        .await
        .expect("the visits service builds");
    let visits_address = visits_app.local_addr();
    tokio::spawn(visits_app.run_until_stopped(visits_shutdown.clone()));

    let visits_channel = channel(visits_address).await;
    Some(Suite {
        registry: RegistryServiceClient::new(channel(registry_address).await),
        visits: VisitsServiceClient::new(visits_channel.clone()),
        visits_channel,
        registry_shutdown,
        visits_shutdown,
        registry_task: Some(registry_task),
        _databases: (registry_database, visits_database),
    })
}

impl Drop for Suite {
    fn drop(&mut self) {
        self.visits_shutdown.trigger();
        self.registry_shutdown.trigger();
    }
}

/// The district every test starts from: two buildings on one street;
/// enterprises A and B and E in b-1, C and D in b-2; staff s-1 covers b-1
/// and enterprise D, s-2 covers nothing.
pub struct World {
    pub a: String,
    pub b: String,
    pub c: String,
    pub d: String,
    pub e: String,
}

impl Suite {
    pub async fn stop_registry(&mut self) {
        self.registry_shutdown.trigger();
        if let Some(task) = self.registry_task.take() {
            tokio::time::timeout(DEADLINE, task)
                .await
                .expect("the registry stops")
                .unwrap()
                .unwrap();
        }
    }

    pub async fn build_world(&mut self) -> World {
        let registry = &mut self.registry;
        registry
            .create_sub_district(CreateSubDistrictRequest {
                parent: DISTRICT.to_owned(),
                sub_district: Some(SubDistrict {
                    display_name: "南京西路街道".to_owned(),
                    kind: SubDistrictKind::Street as i32,
                    ..SubDistrict::default()
                }),
                sub_district_id: "nanjingxilu".to_owned(),
                request_id: String::new(),
            })
            .await
            .unwrap();
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
                })
                .await
                .unwrap();
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
                    .unwrap();
            }
        }
        let world = World {
            a: uscc(1),
            b: uscc(2),
            c: uscc(3),
            d: uscc(4),
            e: uscc(5),
        };
        for (code, building, unit) in [
            (&world.a, "b-1", "101"),
            (&world.b, "b-1", "102"),
            (&world.e, "b-1", "103"),
            (&world.c, "b-2", "101"),
            (&world.d, "b-2", "102"),
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
                .unwrap();
            registry
                .create_tenancy(CreateTenancyRequest {
                    parent: DISTRICT.to_owned(),
                    tenancy: Some(Tenancy {
                        enterprise: format!("{DISTRICT}/enterprises/{code}"),
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
                .unwrap();
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
                .unwrap();
        }
        for (building, enterprise) in [
            ("b-1", String::new()),
            ("b-2", format!("{DISTRICT}/enterprises/{}", world.d)),
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
                .unwrap();
        }
        world
    }
}

pub fn enterprise(code: &str) -> String {
    format!("{DISTRICT}/enterprises/{code}")
}

/// A valid unified social credit code, different for each `n`.
pub fn uscc(n: u32) -> String {
    louyu_registry::domain::uscc::sample(n)
}
