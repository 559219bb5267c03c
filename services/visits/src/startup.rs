//! What the visits service serves and follows, built on kit's hosting: its
//! own API, a lazy registry client, and the consumers of the registry's
//! feed, of the risk service's (each plan's colour) and of the referral
//! service's (each referred demand's status); the
//! feed, audit, health, reflection and layers come from the kit.

use louyu_kit::config::ServiceName;
use louyu_kit::feed::Consumer;
use louyu_kit::hosting::{Context, HostBuilder, Service};
use louyu_kit::names::DistrictNames;
use louyu_proto::visits::v1::visits_service_server::VisitsServiceServer;
use sqlx::migrate::Migrator;

use crate::api::VisitsApi;
use crate::feeds::{
    REFERRAL_FEED, REGISTRY_FEED, RISK_FEED, ReferralEvents, RegistryEvents, RiskEvents,
};
use crate::registry::Registry;
use crate::store::Store;

/// The visits service, as the `louyu` binary and the test sandbox host it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Visits;

impl Service for Visits {
    fn name(&self) -> ServiceName {
        ServiceName::Visits
    }

    /// One SQL that both backends accept.
    fn migrator(&self) -> Migrator {
        sqlx::migrate!()
    }

    /// PostgreSQL only: the `reporting` schema of views for BI tools and
    /// its read-only role (docs/reporting.md).
    fn postgres_migrator(&self) -> Option<Migrator> {
        Some(sqlx::migrate!("migrations/postgres"))
    }

    fn build(&self, context: &Context<'_>, host: HostBuilder) -> anyhow::Result<HostBuilder> {
        let config = context.config;
        let store = Store::new(
            context.db.clone(),
            DistrictNames::new(&config.district),
            context.page_tokens.clone(),
        );
        let registry = Registry::connect_lazy(
            &config.registry_url,
            &config.district,
            context.peer_credentials(ServiceName::Visits)?,
        )?;
        let consumer = Consumer::new(
            REGISTRY_FEED,
            &config.registry_url,
            context.db.clone(),
            RegistryEvents::new(store.clone()),
        );
        let colours = Consumer::new(
            RISK_FEED,
            &config.risk_url,
            context.db.clone(),
            RiskEvents::new(store.clone()),
        );
        let referrals = Consumer::new(
            REFERRAL_FEED,
            &config.referral_url,
            context.db.clone(),
            ReferralEvents::new(store.clone()),
        );
        let api = VisitsApi::new(store, registry, context.page_tokens.clone());
        Ok(host
            .add_service(VisitsServiceServer::new(api))
            .follow(consumer)
            .follow(colours)
            .follow(referrals))
    }
}
