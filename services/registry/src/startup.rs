//! What the registry serves and follows, built on kit's hosting: its own
//! API, and the referral service's feed (department officers' reach); the
//! feed, audit, health, reflection and layers come from the kit.

use louyu_kit::config::ServiceName;
use louyu_kit::feed::Consumer;
use louyu_kit::hosting::{Context, HostBuilder, Service};
use louyu_proto::registry::v1::building_council_service_server::BuildingCouncilServiceServer;
use louyu_proto::registry::v1::registry_service_server::RegistryServiceServer;
use sqlx::migrate::Migrator;

use crate::api::{CouncilApi, RegistryApi};
use crate::domain::Names;
use crate::feeds::{REFERRAL_FEED, ReferralEvents};
use crate::store::Store;

/// Largest request accepted: room for an import file of some 60,000 rows.
const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// The registry, as the `louyu` binary and the test sandbox host it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Registry;

impl Service for Registry {
    fn name(&self) -> ServiceName {
        ServiceName::Registry
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
        let store = Store::new(
            context.db.clone(),
            Names::new(&context.config.district),
            context.page_tokens.clone(),
        );
        let councils = CouncilApi::new(
            store.clone(),
            context.page_tokens.clone(),
            context.config.chief_policy,
        );
        let api = RegistryApi::new(
            store,
            &context.config.district_name,
            context.page_tokens.clone(),
        );
        let referrals = Consumer::new(
            REFERRAL_FEED,
            &context.config.referral_url,
            context.db.clone(),
            ReferralEvents,
        );
        Ok(host
            .add_service(
                RegistryServiceServer::new(api).max_decoding_message_size(MAX_REQUEST_BYTES),
            )
            .add_service(BuildingCouncilServiceServer::new(councils))
            .follow(referrals))
    }
}
