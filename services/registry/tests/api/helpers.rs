//! A real registry for each test: a fresh database on the chosen backend,
//! port 0, real tonic clients over TCP.

use std::time::Duration;

use louyu_kit::config::{Config, ServiceName};
use louyu_kit::server::Shutdown;
use louyu_proto::common::v1::audit_service_client::AuditServiceClient;
use louyu_proto::common::v1::event_feed_service_client::EventFeedServiceClient;
use louyu_proto::common::v1::{Event, WatchEventsRequest};
use louyu_proto::google::r#type::{Date, LatLng};
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::registry::v1::*;
use louyu_testkit::TestBackend;
pub use louyu_testkit::fixtures::{DISTRICT, uscc};
use louyu_testkit::identity::AuthorizedChannel;
use louyu_testkit::sandbox::Sandbox;
pub use louyu_testkit::{assert_code, assert_invalid_field};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

pub const DEADLINE: Duration = Duration::from_secs(30);

pub struct TestApp {
    pub address: std::net::SocketAddr,
    /// A district admin's clients.
    pub registry: RegistryServiceClient<AuthorizedChannel>,
    pub feed: EventFeedServiceClient<AuthorizedChannel>,
    /// An auditor's: only auditors read the audit trail.
    pub audit: AuditServiceClient<AuthorizedChannel>,
    /// With no token: for health, reflection and tests that send their own.
    pub channel: Channel,
    /// With a district admin's token.
    pub authorized: AuthorizedChannel,
    pub shutdown: Shutdown,
    sandbox: Sandbox,
}

/// Starts a registry on a fresh database; `None` when the backend is not
/// available outside CI (the test is then skipped).
pub async fn spawn_app(backend: TestBackend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// `spawn_app`, with the test's own changes to the configuration.
pub async fn spawn_app_with(
    backend: TestBackend,
    configure: impl Fn(&mut Config),
) -> Option<TestApp> {
    let sandbox = Sandbox::start_with(
        backend,
        &[&louyu_registry::startup::Registry],
        |_, config| configure(config),
    )
    .await?;
    let channel = sandbox.channel(ServiceName::Registry).await;
    let client = sandbox.client(ServiceName::Registry).await;
    let auditor = sandbox
        .client_as(ServiceName::Registry, &louyu_testkit::identity::auditor())
        .await;
    Some(TestApp {
        address: sandbox.address(ServiceName::Registry),
        registry: RegistryServiceClient::new(client.clone())
            .max_encoding_message_size(64 * 1024 * 1024),
        feed: EventFeedServiceClient::new(client.clone()),
        authorized: client,
        audit: AuditServiceClient::new(auditor),
        channel,
        shutdown: sandbox.shutdown(ServiceName::Registry),
        sandbox,
    })
}

impl TestApp {
    /// The sandbox, for clients with other tokens and its keys.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Stops the server and waits for it to drain.
    pub async fn stop(&mut self) {
        self.sandbox.stop(ServiceName::Registry).await;
    }

    /// Waits for a server already told to stop to finish.
    pub async fn wait_until_stopped(&mut self) {
        self.sandbox.wait_until_stopped(ServiceName::Registry).await;
    }

    pub async fn create_sub_district(&mut self, id: &str) -> SubDistrict {
        self.registry
            .create_sub_district(CreateSubDistrictRequest {
                parent: DISTRICT.to_owned(),
                sub_district: Some(SubDistrict {
                    display_name: format!("{id}街道"),
                    kind: SubDistrictKind::Street as i32,
                    ..SubDistrict::default()
                }),
                sub_district_id: id.to_owned(),
                request_id: String::new(),
            })
            .await
            .expect("create sub-district")
            .into_inner()
    }

    pub async fn create_building(
        &mut self,
        id: &str,
        sub_district: &str,
        location: Option<LatLng>,
    ) -> Building {
        self.registry
            .create_building(CreateBuildingRequest {
                parent: DISTRICT.to_owned(),
                building: Some(building(sub_district, location)),
                building_id: id.to_owned(),
                request_id: String::new(),
                ..Default::default()
            })
            .await
            .expect("create building")
            .into_inner()
    }

    pub async fn create_unit(
        &mut self,
        building_id: &str,
        unit_id: &str,
        floor: i32,
        area: f64,
    ) -> Unit {
        self.registry
            .create_unit(CreateUnitRequest {
                parent: format!("{DISTRICT}/buildings/{building_id}"),
                unit: Some(Unit {
                    display_name: format!("{floor}F-{unit_id}"),
                    floor,
                    area_square_meters: area,
                    ..Unit::default()
                }),
                unit_id: unit_id.to_owned(),
                request_id: String::new(),
            })
            .await
            .expect("create unit")
            .into_inner()
    }

    pub async fn create_enterprise(&mut self, uscc: &str) -> Enterprise {
        self.registry
            .create_enterprise(CreateEnterpriseRequest {
                parent: DISTRICT.to_owned(),
                enterprise: Some(enterprise(uscc)),
                request_id: String::new(),
            })
            .await
            .expect("create enterprise")
            .into_inner()
    }

    pub async fn start_tenancy(&mut self, uscc: &str, building_id: &str, unit_id: &str) -> Tenancy {
        self.registry
            .create_tenancy(CreateTenancyRequest {
                parent: DISTRICT.to_owned(),
                tenancy: Some(tenancy(uscc, building_id, unit_id)),
                request_id: String::new(),
            })
            .await
            .expect("start tenancy")
            .into_inner()
    }

    /// Reads the registry's feed from the start until `count` events arrived.
    pub async fn events(&mut self, count: usize) -> Vec<Event> {
        let mut stream = self
            .feed
            .watch_events(WatchEventsRequest {
                after_sequence: 0,
                max_batch_size: 0,
                ..WatchEventsRequest::default()
            })
            .await
            .expect("watch events")
            .into_inner();
        let mut events = Vec::new();
        let collect = async {
            while events.len() < count {
                let batch = stream
                    .next()
                    .await
                    .expect("the stream stays open")
                    .expect("a batch");
                events.extend(batch.events);
            }
        };
        tokio::time::timeout(DEADLINE, collect)
            .await
            .expect("the events arrive");
        events
    }
}

pub fn building(sub_district: &str, location: Option<LatLng>) -> Building {
    Building {
        display_name: "恒隆广场".to_owned(),
        address: "南京西路1266号".to_owned(),
        location,
        floors_above_ground: 66,
        floors_below_ground: 3,
        managing_sub_district: format!("{DISTRICT}/subDistricts/{sub_district}"),
        property_manager: "示例物业".to_owned(),
        ..Building::default()
    }
}

pub fn enterprise(uscc: &str) -> Enterprise {
    Enterprise {
        uscc: uscc.to_owned(),
        display_name: "上海示例科技有限公司".to_owned(),
        industry: "信息技术".to_owned(),
        headcount: 120,
        party_members: 8,
        contacts: vec![Contact {
            person_name: "王小明".to_owned(),
            title: "行政经理".to_owned(),
            phone: "13800138000".to_owned(),
            email: "wang@example.com".to_owned(),
        }],
        status: EnterpriseStatus::Active as i32,
        registered_address: "浦东新区示例路1号".to_owned(),
        ..Enterprise::default()
    }
}

pub fn tenancy(uscc: &str, building_id: &str, unit_id: &str) -> Tenancy {
    Tenancy {
        enterprise: format!("{DISTRICT}/enterprises/{uscc}"),
        unit: format!("{DISTRICT}/buildings/{building_id}/units/{unit_id}"),
        lease_start: Some(date(2024, 1, 1)),
        lease_end: Some(date(2026, 12, 31)),
        ..Tenancy::default()
    }
}

pub fn date(year: i32, month: i32, day: i32) -> Date {
    Date { year, month, day }
}
