//! Building and running the visits service: database, migrations, the
//! registry client and feed consumer, the gRPC services, the listener.

use std::net::SocketAddr;

use louyu_kit::audit::AuditServer;
use louyu_kit::config::{Config, ServiceName};
use louyu_kit::db::Db;
use louyu_kit::feed::{Consumer, FeedServer};
use louyu_kit::names::DistrictNames;
use louyu_kit::page::PageTokens;
use louyu_kit::server::{GrpcServer, Readiness, Shutdown};
use louyu_proto::common::v1::audit_service_server::AuditServiceServer;
use louyu_proto::common::v1::event_feed_service_server::EventFeedServiceServer;
use louyu_proto::visits::v1::visits_service_server::VisitsServiceServer;
use sqlx::migrate::Migrator;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::api::VisitsApi;
use crate::events::{REGISTRY_FEED, RegistryEvents};
use crate::registry::Registry;
use crate::store::Store;

/// The service's own migrations: one SQL that both backends accept.
pub fn migrator() -> Migrator {
    sqlx::migrate!()
}

/// Applies the migrations and stops: `louyu migrate visits`.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = Db::connect(&config.database_url(ServiceName::Visits)).await?;
    db.migrate(migrator()).await?;
    db.close().await;
    Ok(())
}

/// A visits service bound to its port, ready to serve.
pub struct Application {
    server: GrpcServer,
    routes: Routes,
    db: Db,
    consumer: Consumer<RegistryEvents>,
    settings: louyu_kit::server::ServerSettings,
}

impl Application {
    pub async fn build(config: &Config, shutdown: &Shutdown) -> anyhow::Result<Self> {
        let db = Db::connect(&config.database_url(ServiceName::Visits)).await?;
        if config.migrate_on_start {
            db.migrate(migrator()).await?;
        }
        let page_tokens = PageTokens::from_config(config, ServiceName::Visits, db.backend());
        let store = Store::new(
            db.clone(),
            DistrictNames::new(&config.district),
            page_tokens.clone(),
        );
        let registry = Registry::connect_lazy(&config.registry_url, &config.district)?;
        let consumer = Consumer::new(
            REGISTRY_FEED,
            &config.registry_url,
            db.clone(),
            RegistryEvents::new(store.clone()),
        );
        let api = VisitsApi::new(store, registry, page_tokens.clone());
        let routes = Routes::new(VisitsServiceServer::new(api))
            .add_service(EventFeedServiceServer::new(FeedServer::new(
                db.clone(),
                shutdown.subscribe(),
                config.feed_poll_interval(),
            )))
            .add_service(AuditServiceServer::new(AuditServer::new(
                db.clone(),
                page_tokens,
            )));
        let server = GrpcServer::bind(&config.listen_address(ServiceName::Visits))
            .await?
            .report_feed(consumer.feed(), consumer.status());
        Ok(Self {
            server,
            routes,
            db,
            consumer,
            settings: config.server_settings(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Serves, and follows the registry's feed, until `shutdown`.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        self.run_until_stopped_once_ready(shutdown, Readiness::ready())
            .await
    }

    /// Serves until `shutdown`, with health NOT_SERVING until `readiness` is
    /// ready: `louyu up --demo` holds it until the demo data is loaded.
    pub async fn run_until_stopped_once_ready(
        self,
        shutdown: Shutdown,
        readiness: Readiness,
    ) -> anyhow::Result<()> {
        tracing::info!(address = %self.local_addr(), "visits serving");
        let consuming = tokio::spawn(self.consumer.run(shutdown.subscribe()));
        let served = self
            .server
            .serve(
                self.routes,
                &[
                    VisitsServiceServer::<VisitsApi>::NAME,
                    EventFeedServiceServer::<FeedServer>::NAME,
                    AuditServiceServer::<AuditServer>::NAME,
                ],
                &self.settings,
                shutdown,
                readiness,
            )
            .await;
        let _ = consuming.await;
        self.db.close().await;
        served
    }
}
