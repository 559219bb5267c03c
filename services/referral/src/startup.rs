//! What the referral service serves and follows, built on kit's hosting:
//! its API, the visits feed (every new demand opens a referral), the risk
//! feed (retention cases), the registry's (data scope), a lazy registry
//! client for the department directory, the deadline scanner, and the job
//! that delivers the notification outbox to the district's webhook.

use louyu_kit::config::ServiceName;
use louyu_kit::feed::Consumer;
use louyu_kit::hosting::{Context, HostBuilder, Service};
use louyu_kit::names::DistrictNames;
use louyu_proto::referral::v1::referral_service_server::ReferralServiceServer;
use sqlx::migrate::Migrator;

use crate::api::ReferralApi;
use crate::delivery::Delivery;
use crate::domain::Rules;
use crate::feeds::{
    REGISTRY_FEED, RISK_FEED, RegistryEvents, RiskEvents, VISITS_FEED, VisitsEvents,
};
use crate::registry::Registry;
use crate::store::Store;

/// The referral service, as the `louyu` binary and the test sandbox host it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Referral;

impl Service for Referral {
    fn name(&self) -> ServiceName {
        ServiceName::Referral
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
        let rules = Rules::default_rules();
        for warning in crate::store::calendar_warnings(&rules) {
            tracing::warn!(%warning, "the shipped working-day calendar lacks a year");
        }
        let store = Store::new(
            context.db.clone(),
            DistrictNames::new(&config.district),
            context.page_tokens.clone(),
            rules,
        );
        let registry = Registry::connect_lazy(
            &config.registry_url,
            &config.district,
            context.peer_credentials(ServiceName::Referral)?,
        )?;
        let demands = Consumer::new(
            VISITS_FEED,
            &config.visits_url,
            context.db.clone(),
            VisitsEvents::new(store.clone(), registry.clone()),
        );
        let colours = Consumer::new(
            RISK_FEED,
            &config.risk_url,
            context.db.clone(),
            RiskEvents::new(store.clone(), registry.clone()),
        );
        let scope = Consumer::new(
            REGISTRY_FEED,
            &config.registry_url,
            context.db.clone(),
            RegistryEvents,
        );
        let api = ReferralApi::new(store.clone(), registry, context.page_tokens.clone());
        let interval = config.feed_poll_interval();
        let metrics_refresh = config.metrics_refresh_interval;
        let scanned = store.clone();
        let host = host
            .add_service(ReferralServiceServer::new(api))
            .follow(demands)
            .follow(scope)
            .follow(colours)
            .run_job("deadline scanner", move |shutdown| {
                crate::deadlines::run(scanned, shutdown, interval, metrics_refresh)
            });
        let Some(webhook) = config.referral_webhook()? else {
            // Nothing is lost: notifications wait, pending, and are sent
            // from the start once a webhook is configured.
            tracing::warn!(
                "no webhook is configured (LOUYU_REFERRAL_WEBHOOK_URL): notifications are kept pending until one is"
            );
            return Ok(host);
        };
        if webhook.signs_with_development_key() {
            tracing::warn!(
                "webhooks are signed with the development key; set LOUYU_REFERRAL_WEBHOOK_SECRET"
            );
        }
        // Who holds a notification's lease: this process, for as long as
        // it runs.
        let holder = louyu_kit::names::generate_id("referral");
        let delivery = Delivery::new(store, &webhook, holder, interval)?;
        Ok(host.run_job("notification delivery", move |shutdown| {
            delivery.run(shutdown)
        }))
    }
}
