//! A registry, a visits service and a risk service for each test, each on a
//! fresh database of the chosen backend, on port 0, called over TCP.

use louyu_kit::config::{Config, ServiceName};
use louyu_proto::common::v1::RiskColour;
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
    spawn_suite_with(backend, |_, _| {}).await
}

/// [`spawn_suite`], with the test's own changes to each service's settings.
pub async fn spawn_suite_with(
    backend: TestBackend,
    configure: impl Fn(ServiceName, &mut Config),
) -> Option<Suite> {
    let sandbox = Sandbox::start_with(
        backend,
        &[
            &louyu_risk::startup::Risk,
            &louyu_visits::startup::Visits,
            &louyu_registry::startup::Registry,
        ],
        configure,
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

    /// A street, building `b-1` with units 101 and 201, and field worker
    /// `s-1` (`louyu_testkit::fixtures::one_building`).
    pub async fn building(&mut self) {
        louyu_testkit::fixtures::one_building(&mut self.registry).await;
    }

    /// An enterprise in unit `unit` of `b-1`, its lease ending `days` from
    /// today.
    pub async fn tenant(&mut self, code: &str, unit: &str, days: i64) -> Tenancy {
        louyu_testkit::fixtures::tenant(&mut self.registry, code, unit, days).await
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

    /// Waits until the risk service files the enterprise under `b-1` (the
    /// registry's feed brought its tenancy): what a sub-district admin's
    /// reach rests on.
    pub async fn placed(&mut self, code: &str) {
        let risk = self.risk.clone();
        let name = format!("{}/assessment", enterprise_name(code));
        eventually(&format!("{code} is filed under b-1"), || {
            let mut risk = risk.clone();
            let name = name.clone();
            async move {
                risk.get_assessment(GetAssessmentRequest { name })
                    .await
                    .is_ok_and(|found| found.into_inner().building.ends_with("/buildings/b-1"))
            }
        })
        .await;
    }

    /// Records a visit to `b-1` meeting the enterprise.
    pub async fn visit(&mut self, code: &str, observation: Observation) {
        louyu_testkit::fixtures::visit(&mut self.visits, code, observation).await;
    }
}
