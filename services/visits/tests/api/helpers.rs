//! A real registry and a real visits service for each test, each on a fresh
//! database of the chosen backend, on port 0, called over TCP.

use std::sync::Mutex;
use std::time::Duration;

use louyu_kit::config::ServiceName;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::visits::v1::visits_service_client::VisitsServiceClient;
use louyu_testkit::TestBackend;
pub use louyu_testkit::fixtures::{DISTRICT, District as World};
use louyu_testkit::identity::AuthorizedChannel;
use louyu_testkit::sandbox::Sandbox;
pub use louyu_testkit::{assert_code, assert_invalid_field, eventually};
use secrecy::SecretString;

pub const DEADLINE: Duration = Duration::from_secs(30);

pub struct Suite {
    /// A district admin's clients.
    pub registry: RegistryServiceClient<AuthorizedChannel>,
    pub visits: VisitsServiceClient<AuthorizedChannel>,
    pub visits_channel: AuthorizedChannel,
    /// The visits service's database, for what no service publishes yet
    /// (referrals).
    pub visits_database_url: SecretString,
    sandbox: Sandbox,
}

/// The visits service is named first: the sandbox binds every port before
/// it starts anything, so it need not come after the registry it follows.
pub async fn spawn_suite(backend: TestBackend) -> Option<Suite> {
    let visits_database_url = Mutex::new(None);
    let sandbox = Sandbox::start_with(
        backend,
        &[
            &louyu_visits::startup::Visits,
            &louyu_registry::startup::Registry,
        ],
        |name, config| {
            if name == ServiceName::Visits {
                *visits_database_url.lock().expect("not poisoned") = config.database_url.clone();
            }
        },
    )
    .await?;
    let visits_channel = sandbox.client(ServiceName::Visits).await;
    Some(Suite {
        registry: RegistryServiceClient::new(sandbox.client(ServiceName::Registry).await),
        visits: VisitsServiceClient::new(visits_channel.clone()),
        visits_channel,
        visits_database_url: visits_database_url
            .into_inner()
            .expect("not poisoned")
            .expect("the visits service has a database"),
        sandbox,
    })
}

impl Suite {
    /// The sandbox, for clients with other tokens.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    pub async fn stop_registry(&mut self) {
        self.sandbox.stop(ServiceName::Registry).await;
    }

    /// The shared district (see [`World`]).
    pub async fn build_world(&mut self) -> World {
        louyu_testkit::fixtures::district(&mut self.registry).await
    }
}

pub fn enterprise(code: &str) -> String {
    louyu_testkit::fixtures::enterprise_name(code)
}
