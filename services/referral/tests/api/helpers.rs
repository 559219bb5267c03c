//! A registry, a visits, a risk and a referral service for each test, each
//! on a fresh database of the chosen backend, on port 0, called over TCP;
//! a street with one building, its field worker, the street's office and
//! the district investment office in the directory, and a tenant.

use louyu_kit::config::{Config, ServiceName};
use louyu_kit::identity::Role;
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::referral::v1::referral_service_client::ReferralServiceClient;
use louyu_proto::referral::v1::*;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::registry::v1::*;
use louyu_proto::risk::v1::risk_service_client::RiskServiceClient;
use louyu_proto::visits::v1::visits_service_client::VisitsServiceClient;
use louyu_proto::visits::v1::{
    CreateDemandRequest, Demand, DemandDraft, DemandStatus, GetDemandRequest, Urgency,
};
use louyu_testkit::TestBackend;
pub use louyu_testkit::fixtures::{DISTRICT, enterprise_name, uscc};
use louyu_testkit::identity::{AuthorizedChannel, person_in};
use louyu_testkit::sandbox::Sandbox;
pub use louyu_testkit::{assert_code, assert_invalid_field, eventually};

pub type Referrals = ReferralServiceClient<AuthorizedChannel>;

/// The street office (leads office-space demands of the street) and the
/// district investment office.
pub const STREET_OFFICE: &str = "nanjingxilu-office";
pub const INVESTMENT_OFFICE: &str = "investment";

pub struct Suite {
    /// A district admin's clients.
    pub registry: RegistryServiceClient<AuthorizedChannel>,
    pub visits: VisitsServiceClient<AuthorizedChannel>,
    pub referral: Referrals,
    pub risk: RiskServiceClient<AuthorizedChannel>,
    pub sandbox: Sandbox,
}

pub async fn spawn_suite(backend: TestBackend) -> Option<Suite> {
    spawn_suite_with(backend, |_, _| {}).await
}

/// [`spawn_suite`], with the test's own changes to each service's settings
/// (a webhook for the referral service, say).
pub async fn spawn_suite_with(
    backend: TestBackend,
    configure: impl Fn(ServiceName, &mut Config),
) -> Option<Suite> {
    let sandbox = Sandbox::start_with(
        backend,
        &[
            &louyu_referral::startup::Referral,
            &louyu_risk::startup::Risk,
            &louyu_visits::startup::Visits,
            &louyu_registry::startup::Registry,
        ],
        configure,
    )
    .await?;
    let mut suite = Suite {
        registry: RegistryServiceClient::new(sandbox.client(ServiceName::Registry).await),
        visits: VisitsServiceClient::new(sandbox.client(ServiceName::Visits).await),
        referral: ReferralServiceClient::new(sandbox.client(ServiceName::Referral).await),
        risk: RiskServiceClient::new(sandbox.client(ServiceName::Risk).await),
        sandbox,
    };
    louyu_testkit::fixtures::one_building(&mut suite.registry).await;
    suite
        .registry
        .create_assignment(CreateAssignmentRequest {
            parent: format!("{DISTRICT}/staff/s-1"),
            assignment: Some(Assignment {
                building: format!("{DISTRICT}/buildings/b-1"),
                role: AssignmentRole::FieldWorker as i32,
                ..Assignment::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("s-1 covers b-1");
    louyu_testkit::fixtures::referral_departments(&mut suite.registry).await;
    louyu_testkit::fixtures::tenant(&mut suite.registry, &uscc(1), "101", 400).await;
    Some(suite)
}

pub fn department(id: &str) -> String {
    format!("{DISTRICT}/departments/{id}")
}

impl Suite {
    /// A client of the referral service as `principal`.
    pub async fn referral_as(&self, principal: &louyu_kit::identity::Principal) -> Referrals {
        ReferralServiceClient::new(
            self.sandbox
                .client_as(ServiceName::Referral, principal)
                .await,
        )
    }

    /// An officer of department `id`.
    pub async fn officer(&self, id: &str) -> Referrals {
        self.referral_as(&person_in(
            &format!("officer-{id}"),
            &[Role::DepartmentOfficer],
            None,
            Some(id),
        ))
        .await
    }

    /// A client of the visits service as an officer of department `id`.
    pub async fn visits_as_officer(&self, id: &str) -> VisitsServiceClient<AuthorizedChannel> {
        VisitsServiceClient::new(
            self.sandbox
                .client_as(
                    ServiceName::Visits,
                    &person_in(
                        &format!("officer-{id}"),
                        &[Role::DepartmentOfficer],
                        None,
                        Some(id),
                    ),
                )
                .await,
        )
    }

    /// The demand in visits once its status is `status`.
    pub async fn demand_once(&self, name: &str, status: DemandStatus) -> Demand {
        let read = || async {
            self.visits
                .clone()
                .get_demand(GetDemandRequest {
                    name: name.to_owned(),
                })
                .await
                .expect("the demand")
                .into_inner()
        };
        eventually(&format!("the demand is {status:?}"), || async {
            read().await.status == status as i32
        })
        .await;
        read().await
    }

    /// The field worker of b-1, `s-1`.
    pub async fn field_worker(&self) -> Referrals {
        self.referral_as(&person_in(
            "s-1",
            &[Role::FieldWorker],
            Some("nanjingxilu"),
            None,
        ))
        .await
    }

    /// The street's admin.
    pub async fn street_admin(&self) -> Referrals {
        self.referral_as(&person_in(
            "street-admin",
            &[Role::SubDistrictAdmin],
            Some("nanjingxilu"),
            None,
        ))
        .await
    }

    /// Raises a demand of the tenant in visits.
    pub async fn raise(&mut self, category: DemandCategory, description: &str) -> Demand {
        self.visits
            .create_demand(CreateDemandRequest {
                parent: DISTRICT.to_owned(),
                demand: Some(DemandDraft {
                    enterprise: enterprise_name(&uscc(1)),
                    category: category as i32,
                    description: description.to_owned(),
                    urgency: Urgency::Normal as i32,
                }),
                request_id: String::new(),
            })
            .await
            .expect("a demand")
            .into_inner()
            .demand
            .expect("the demand")
    }

    /// Every referral of a demand.
    pub async fn referrals_of(&self, demand: &str) -> Vec<Referral> {
        self.referral
            .clone()
            .list_referrals(ListReferralsRequest {
                parent: DISTRICT.to_owned(),
                page_size: 100,
                filter: format!("demand = \"{demand}\""),
                ..ListReferralsRequest::default()
            })
            .await
            .expect("list referrals")
            .into_inner()
            .referrals
    }

    /// The referral the visits feed opens for a demand, once it has.
    pub async fn referral_of(&self, demand: &str) -> Referral {
        eventually("the demand's referral opens", || async {
            !self.referrals_of(demand).await.is_empty()
        })
        .await;
        let mut referrals = self.referrals_of(demand).await;
        assert_eq!(referrals.len(), 1, "one referral per demand");
        let referral = referrals.remove(0);
        // The street's and the field worker's reach come from the
        // registry's feed (the building's sub-district, s-1's assignment):
        // wait until both have, so tests acting as them do not race it.
        for reader in [self.street_admin().await, self.field_worker().await] {
            eventually("the street and the field worker reach the referral", || {
                let mut reader = reader.clone();
                let name = referral.name.clone();
                async move {
                    reader
                        .get_referral(GetReferralRequest { name })
                        .await
                        .is_ok()
                }
            })
            .await;
        }
        referral
    }

    /// An office-space demand and its referral.
    pub async fn office_space_referral(&mut self) -> Referral {
        let demand = self
            .raise(
                DemandCategory::OfficeSpace,
                "需要扩租至400平方米 needs 400 m²",
            )
            .await;
        self.referral_of(&demand.name).await
    }
}

pub fn state(referral: &Referral) -> ReferralState {
    ReferralState::try_from(referral.state).expect("a known state")
}
