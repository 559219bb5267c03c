//! A registry, a visits service and the gateway for each test, each on a
//! fresh database of the chosen backend, on port 0, called over TCP; the
//! gateway's peer URLs point at the two (the risk service only where a test
//! asks for it, the referral service never: their URLs are closed ports).

use louyu_kit::config::ServiceName;
use louyu_kit::identity::Principal;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_testkit::TestBackend;
use louyu_testkit::identity::AuthorizedChannel;
use louyu_testkit::sandbox::Sandbox;

pub use louyu_testkit::assert_code;
pub use louyu_testkit::fixtures::DISTRICT;

pub struct Suite {
    pub sandbox: Sandbox,
}

pub async fn spawn_suite(backend: TestBackend) -> Option<Suite> {
    let sandbox = Sandbox::start(
        backend,
        &[
            &louyu_gateway::startup::Gateway,
            &louyu_registry::startup::Registry,
            &louyu_visits::startup::Visits,
        ],
    )
    .await?;
    Some(Suite { sandbox })
}

/// [`spawn_suite`] with the risk service too, whose operations the gateway
/// forwards.
pub async fn spawn_suite_with_risk(backend: TestBackend) -> Option<Suite> {
    let sandbox = Sandbox::start(
        backend,
        &[
            &louyu_gateway::startup::Gateway,
            &louyu_registry::startup::Registry,
            &louyu_visits::startup::Visits,
            &louyu_risk::startup::Risk,
        ],
    )
    .await?;
    Some(Suite { sandbox })
}

impl Suite {
    /// A district admin's registry client, through the gateway.
    pub async fn registry_through_gateway(&self) -> RegistryServiceClient<AuthorizedChannel> {
        RegistryServiceClient::new(self.sandbox.client(ServiceName::Gateway).await)
    }

    /// `principal`'s registry client at `service` (the gateway or the
    /// registry itself).
    pub async fn registry_as(
        &self,
        service: ServiceName,
        principal: &Principal,
    ) -> RegistryServiceClient<AuthorizedChannel> {
        RegistryServiceClient::new(self.sandbox.client_as(service, principal).await)
    }
}
