//! What the scenarios share: every Louyu service there is, each on a fresh
//! database of the chosen backend, on port 0, with a district admin's
//! clients over real gRPC.

use louyu_kit::config::ServiceName;
use louyu_proto::referral::v1::referral_service_client::ReferralServiceClient;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::risk::v1::risk_service_client::RiskServiceClient;
use louyu_proto::visits::v1::visits_service_client::VisitsServiceClient;
use louyu_testkit::TestBackend;
use louyu_testkit::identity::AuthorizedChannel;
use louyu_testkit::sandbox::Sandbox;

/// The services of a scenario, and a district admin's clients of each.
pub struct District {
    pub registry: RegistryServiceClient<AuthorizedChannel>,
    pub visits: VisitsServiceClient<AuthorizedChannel>,
    pub risk: RiskServiceClient<AuthorizedChannel>,
    pub referral: ReferralServiceClient<AuthorizedChannel>,
    pub sandbox: Sandbox,
}

/// Starts the registry, visits, risk and referral services; `None` when the backend
/// is not available outside CI (the scenario is then skipped).
pub async fn start(backend: TestBackend) -> Option<District> {
    let sandbox = Sandbox::start(
        backend,
        &[
            &louyu_registry::startup::Registry,
            &louyu_visits::startup::Visits,
            &louyu_risk::startup::Risk,
            &louyu_referral::startup::Referral,
        ],
    )
    .await?;
    Some(District {
        registry: RegistryServiceClient::new(sandbox.client(ServiceName::Registry).await),
        visits: VisitsServiceClient::new(sandbox.client(ServiceName::Visits).await),
        risk: RiskServiceClient::new(sandbox.client(ServiceName::Risk).await),
        referral: ReferralServiceClient::new(sandbox.client(ServiceName::Referral).await),
        sandbox,
    })
}
