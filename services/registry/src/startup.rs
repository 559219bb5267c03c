//! Building and running the registry: database, migrations, the gRPC
//! services it serves, and the listener.

use std::net::SocketAddr;

use louyu_kit::audit::AuditServer;
use louyu_kit::config::{Config, ServiceName};
use louyu_kit::db::Db;
use louyu_kit::feed::FeedServer;
use louyu_kit::page::PageTokens;
use louyu_kit::server::{GrpcServer, Readiness, Shutdown};
use louyu_proto::common::v1::audit_service_server::AuditServiceServer;
use louyu_proto::common::v1::event_feed_service_server::EventFeedServiceServer;
use louyu_proto::registry::v1::registry_service_server::RegistryServiceServer;
use sqlx::migrate::Migrator;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::api::RegistryApi;
use crate::domain::Names;
use crate::store::Store;

/// Largest request accepted: room for an import file of some 60,000 rows.
const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// The service's own migrations: one SQL that both backends accept.
pub fn migrator() -> Migrator {
    sqlx::migrate!()
}

/// Applies the registry's migrations and stops: `louyu migrate registry`,
/// run by a Kubernetes Job before a rollout.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = Db::connect(&config.database_url(ServiceName::Registry)).await?;
    db.migrate(migrator()).await?;
    db.close().await;
    Ok(())
}

/// A registry bound to its port, ready to serve.
pub struct Application {
    server: GrpcServer,
    routes: Routes,
    db: Db,
    settings: louyu_kit::server::ServerSettings,
}

impl Application {
    pub async fn build(config: &Config, shutdown: &Shutdown) -> anyhow::Result<Self> {
        let db = Db::connect(&config.database_url(ServiceName::Registry)).await?;
        if config.migrate_on_start {
            db.migrate(migrator()).await?;
        }
        let page_tokens = PageTokens::from_config(config, ServiceName::Registry, db.backend());
        let store = Store::new(
            db.clone(),
            Names::new(&config.district),
            page_tokens.clone(),
        );
        let api = RegistryApi::new(store, &config.district_name, page_tokens.clone());
        let routes = Routes::new(
            RegistryServiceServer::new(api).max_decoding_message_size(MAX_REQUEST_BYTES),
        )
        .add_service(EventFeedServiceServer::new(FeedServer::new(
            db.clone(),
            shutdown.subscribe(),
            config.feed_poll_interval(),
        )))
        .add_service(AuditServiceServer::new(AuditServer::new(
            db.clone(),
            page_tokens,
        )));
        let server = GrpcServer::bind(&config.listen_address(ServiceName::Registry)).await?;
        Ok(Self {
            server,
            routes,
            db,
            settings: config.server_settings(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

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
        tracing::info!(address = %self.local_addr(), "registry serving");
        let served = self
            .server
            .serve(
                self.routes,
                &[
                    RegistryServiceServer::<RegistryApi>::NAME,
                    EventFeedServiceServer::<FeedServer>::NAME,
                    AuditServiceServer::<AuditServer>::NAME,
                ],
                &self.settings,
                shutdown,
                readiness,
            )
            .await;
        self.db.close().await;
        served
    }
}
