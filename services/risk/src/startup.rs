//! What the risk service serves and follows, built on kit's hosting: its
//! API and its long-running operations, the feeds of the registry, the
//! visits service and the referral service, the job that re-assesses when
//! time alone changes a colour, and the one that runs rule activations.

use louyu_kit::config::ServiceName;
use louyu_kit::feed::Consumer;
use louyu_kit::hosting::{Context, HostBuilder, Service};
use louyu_kit::names::DistrictNames;
use louyu_kit::operations::{Operations, OperationsServer};
use louyu_proto::risk::v1::risk_service_server::RiskServiceServer;
use sqlx::migrate::Migrator;

use crate::api::RiskApi;
use crate::domain::Rules;
use crate::feeds::{
    REFERRAL_FEED, REGISTRY_FEED, ReferralEvents, RegistryEvents, VISITS_FEED, VisitsEvents,
};
use crate::store::Store;

/// The risk service, as the `louyu` binary and the test sandbox host it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Risk;

impl Service for Risk {
    fn name(&self) -> ServiceName {
        ServiceName::Risk
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
            Rules::default_rules(),
        );
        let registry = Consumer::new(
            REGISTRY_FEED,
            &config.registry_url,
            context.db.clone(),
            RegistryEvents::new(store.clone()),
        );
        let visits = Consumer::new(
            VISITS_FEED,
            &config.visits_url,
            context.db.clone(),
            VisitsEvents::new(store.clone()),
        );
        let referrals = Consumer::new(
            REFERRAL_FEED,
            &config.referral_url,
            context.db.clone(),
            ReferralEvents::new(store.clone()),
        );
        let api = RiskApi::new(store.clone(), context.page_tokens.clone());
        let operations = OperationsServer::new(context.db.clone(), context.page_tokens.clone());
        let interval = config.feed_poll_interval();
        let metrics_refresh = config.metrics_refresh_interval;
        let activations = store.clone();
        let operations_db = context.db.clone();
        // Who holds an activation's lease: this process, for as long as it
        // runs.
        let holder = louyu_kit::names::generate_id("risk");
        Ok(host
            .add_service(RiskServiceServer::new(api))
            .add_service(OperationsServer::server(operations))
            .follow(registry)
            .follow(visits)
            .follow(referrals)
            .run_job("re-assessment scheduler", move |shutdown| {
                crate::schedule::run(store, shutdown, interval, metrics_refresh)
            })
            .run_job("rule activations", move |shutdown| {
                crate::activation::run(
                    activations,
                    Operations::new(operations_db),
                    holder,
                    shutdown,
                    interval,
                )
            }))
    }
}
