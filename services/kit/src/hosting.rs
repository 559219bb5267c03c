//! Hosting: how a service becomes a running server, written once.
//!
//! A service implements [`Service`]: its name, its migrations, and what it
//! adds to a [`HostBuilder`] (its own gRPC services and the feeds it
//! follows). Everything else every service serves is added here: health
//! under the names of exactly the services added, reflection (v1 and
//! v1alpha) of the same, the event feed and audit services, the tower layers,
//! readiness, each consumer's health, and the drain. `louyu serve`, `louyu
//! migrate`, `louyu up` and the test sandbox all go through [`migrate`],
//! [`bind`] and [`build`], so adding a service is one impl and one entry in
//! the binary's list.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::migrate::Migrator;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::body::Body;
use tonic::codegen::http;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::audit::AuditServer;
use crate::config::{Config, ServiceName};
use crate::db::Db;
use crate::feed::{Consumer, EventHandler, FeedReaders, FeedServer};
use crate::identity::{ProcessIdentity, ServiceCredentials};
use crate::page::PageTokens;
use crate::server::{GrpcServer, HttpFront, Readiness, ServerSettings, ServiceNames, Shutdown};
use louyu_proto::common::v1::audit_service_server::AuditServiceServer;
use louyu_proto::common::v1::event_feed_service_server::EventFeedServiceServer;

/// What a service gives the hosting: the `louyu` binary lists every service
/// as a `&dyn Service` and treats them all the same.
pub trait Service: Send + Sync {
    fn name(&self) -> ServiceName;

    /// The service's own migrations, one SQL for both backends (the kit's
    /// run first).
    fn migrator(&self) -> Migrator;

    /// The service's migrations that only PostgreSQL runs (its
    /// `migrations/postgres/` folder), numbered in one sequence with
    /// [`Service::migrator`]'s: see [`Db::migrate`].
    fn postgres_migrator(&self) -> Option<Migrator> {
        None
    }

    /// Adds the service's own gRPC services, and the feeds it follows, to
    /// `host`. Its peers are at the URLs in `context.config`; a peer may not
    /// be serving yet, so clients connect lazily.
    fn build(&self, context: &Context<'_>, host: HostBuilder) -> anyhow::Result<HostBuilder>;

    /// Whether the host adds the event feed and audit services of the
    /// service's own database. Every service has them but the gateway,
    /// which keeps no records of its own: it forwards.
    fn serves_feed_and_audit(&self) -> bool {
        true
    }
}

/// What a service is built from: its settings, its migrated database, its
/// page-token key, and the identity it presents to its peers.
pub struct Context<'a> {
    pub config: &'a Config,
    pub db: Db,
    pub page_tokens: PageTokens,
    pub shutdown: &'a Shutdown,
    pub identity: &'a ProcessIdentity,
}

impl Context<'_> {
    /// What the service presents when it calls a peer (put it in the
    /// client with [`crate::identity::PeerInterceptor`]); fails the start
    /// when it has no identity to present. Feed consumers get it from
    /// [`HostBuilder::follow`].
    pub fn peer_credentials(&self, service: ServiceName) -> anyhow::Result<ServiceCredentials> {
        let credentials = self.identity.credentials(service.as_str());
        credentials.ensure_presentable()?;
        Ok(credentials)
    }
}

/// Applies the service's migrations and stops: `louyu migrate <service>`,
/// run by a Kubernetes Job before a rollout.
pub async fn migrate(service: &dyn Service, config: &Config) -> anyhow::Result<()> {
    let db = Db::connect(&config.database_url(service.name())).await?;
    let migrated = migrate_database(&db, service).await;
    db.close().await;
    migrated
}

/// Applies the kit's and `service`'s migrations to `db`, with the
/// service's PostgreSQL-only ones when `db` is PostgreSQL.
pub async fn migrate_database(db: &Db, service: &dyn Service) -> anyhow::Result<()> {
    db.migrate(service.migrator(), service.postgres_migrator())
        .await
}

/// Binds the service's listener at its configured address.
pub async fn bind(service: &dyn Service, config: &Config) -> anyhow::Result<GrpcServer> {
    GrpcServer::bind(&config.listen_address(service.name())).await
}

/// Opens (and, unless `migrate_on_start` is off, migrates) the service's
/// database and builds the service on `server`, already bound.
pub async fn build(
    service: &dyn Service,
    config: &Config,
    server: GrpcServer,
    shutdown: &Shutdown,
    identity: &ProcessIdentity,
) -> anyhow::Result<Host> {
    let name = service.name();
    let db = Db::connect(&config.database_url(name)).await?;
    if config.migrate_on_start {
        migrate_database(&db, service).await?;
    }
    crate::metrics::report_pool(name.as_str(), &db);
    let page_tokens = PageTokens::from_config(config, name, db.backend());
    let context = Context {
        config,
        db: db.clone(),
        page_tokens: page_tokens.clone(),
        shutdown,
        identity,
    };
    let host = HostBuilder::new(
        name.as_str(),
        server,
        config.server_settings(),
        shutdown,
        identity,
    );
    let host = service.build(&context, host)?;
    if !service.serves_feed_and_audit() {
        return Ok(host.close_on_stop(db).build());
    }
    Ok(host
        .add_service(EventFeedServiceServer::new(
            FeedServer::new(
                db.clone(),
                shutdown.subscribe(),
                config.feed_poll_interval(),
            )
            .admitting(FeedReaders::new(&config.feed_readers)),
        ))
        .add_service(AuditServiceServer::new(AuditServer::new(
            db.clone(),
            page_tokens,
        )))
        .close_on_stop(db)
        .build())
}

/// `louyu serve <service>`: binds, builds and serves until a stop signal.
pub async fn serve(service: &dyn Service, config: &Config) -> anyhow::Result<()> {
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signal();
    let identity = ProcessIdentity::from_config(config)?;
    let server = bind(service, config).await?;
    serve_metrics(config, &shutdown).await?;
    let host = build(service, config, server, &shutdown, &identity).await?;
    host.run(Readiness::ready()).await
}

/// Several services in one process (`louyu up`): every listener is bound
/// first, each service's peer URLs then point at the addresses actually
/// bound, and only then is each service built. So the order of `services`
/// does not matter: a consumer may be built before its producer. They share
/// the process's one [`ProcessIdentity`].
pub async fn build_together(
    services: &[&dyn Service],
    config: &Config,
    shutdown: &Shutdown,
) -> anyhow::Result<Vec<Host>> {
    let identity = ProcessIdentity::from_config(config)?;
    serve_metrics(config, shutdown).await?;
    let mut servers = Vec::with_capacity(services.len());
    for service in services {
        servers.push(bind(*service, config).await?);
    }
    let mut wired = config.clone();
    for (service, server) in services.iter().zip(&servers) {
        wired.set_peer_url(service.name(), format!("http://{}", server.local_addr()));
    }
    let mut hosts = Vec::with_capacity(services.len());
    for (service, server) in services.iter().zip(servers) {
        hosts.push(build(*service, &wired, server, shutdown, &identity).await?);
    }
    Ok(hosts)
}

/// Serves the process's Prometheus metrics at `LOUYU_METRICS_LISTEN`, when
/// it is set, until the stop signal: one endpoint per process, whatever it
/// hosts.
async fn serve_metrics(config: &Config, shutdown: &Shutdown) -> anyhow::Result<()> {
    if let Some(address) = config.metrics_listen.as_deref() {
        crate::metrics::serve(address, shutdown.subscribe()).await?;
    }
    Ok(())
}

/// A task a server runs beside itself (a feed consumer), with its name for
/// the logs.
struct BackgroundTask {
    name: String,
    task: BoxFuture<'static, ()>,
}

/// Assembles one server: the services it serves, the feeds it follows, the
/// databases it closes when it stops.
pub struct HostBuilder {
    label: &'static str,
    server: GrpcServer,
    settings: ServerSettings,
    shutdown: Shutdown,
    routes: Routes,
    service_names: Vec<&'static str>,
    forwarded_names: Vec<&'static str>,
    background: Vec<BackgroundTask>,
    databases: Vec<Db>,
    identity: ProcessIdentity,
}

impl HostBuilder {
    /// `label` names the server in its logs ("registry serving") and is the
    /// system name it presents to the feeds it follows. Every method but
    /// health and reflection is behind `identity`'s verifier.
    pub fn new(
        label: &'static str,
        server: GrpcServer,
        settings: ServerSettings,
        shutdown: &Shutdown,
        identity: &ProcessIdentity,
    ) -> Self {
        Self {
            label,
            server,
            settings,
            identity: identity.clone(),
            shutdown: shutdown.clone(),
            routes: Routes::default(),
            service_names: Vec::new(),
            forwarded_names: Vec::new(),
            background: Vec::new(),
            databases: Vec::new(),
        }
    }

    /// Serves `service`; health reports it under its name and reflection
    /// lists it.
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: tower::Service<
                http::Request<Body>,
                Response = http::Response<Body>,
                Error = std::convert::Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.service_names.push(S::NAME);
        self.routes = self.routes.add_service(service);
        self
    }

    /// Hands every call that no added service routes (health and
    /// reflection aside) to `forwarder`, which answers it, typically by
    /// passing it on to the service that owns it: the gateway. Reflection
    /// lists `forwarded_names` as if served here; health does not report
    /// them, since their health is their owners'.
    pub fn forward_unrouted<S>(mut self, forwarded_names: &[&'static str], forwarder: S) -> Self
    where
        S: tower::Service<
                http::Request<Body>,
                Response = http::Response<Body>,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.forwarded_names.extend_from_slice(forwarded_names);
        let router = std::mem::take(&mut self.routes)
            .into_axum_router()
            .fallback_service(TonicBody(forwarder));
        self.routes = Routes::from(router);
        self
    }

    /// Answers every request that is not gRPC with `front` (REST and pages,
    /// on the same listener, which then accepts HTTP/1.1 besides HTTP/2):
    /// the gateway. Without it a server speaks gRPC only.
    pub fn serve_http(mut self, front: HttpFront) -> Self {
        self.server = self.server.serve_http(front);
        self
    }

    /// Puts `edge` in front of everything the server answers (see
    /// [`GrpcServer::edge`]): the gateway's protection.
    pub fn edge(mut self, edge: crate::server::EdgeLayer) -> Self {
        self.server = self.server.edge(edge);
        self
    }

    /// Passes every request through `admission` before authentication and
    /// routing (see [`crate::server::Admission`]): the gateway's login.
    pub fn admit_with(mut self, admission: crate::server::Admission) -> Self {
        self.server = self.server.admit_with(admission);
        self
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Follows a feed while the server runs: the consumer's status shows in
    /// health under [`crate::server::feed_health_name`]. A consumer that
    /// fails or panics restarts itself (see [`Consumer::run`]); should its
    /// task end anyway before the stop signal, the server stops with an
    /// error rather than serve on without it.
    /// The consumer presents the server's service identity to the producer.
    pub fn follow<H: EventHandler>(mut self, consumer: Consumer<H>) -> Self {
        let consumer = consumer.presenting(self.identity.credentials(self.label));
        let name = format!("the {} feed consumer", consumer.feed());
        self.server = self.server.report_feed(consumer.feed(), consumer.status());
        let task = consumer.run(self.shutdown.subscribe()).boxed();
        self.background.push(BackgroundTask { name, task });
        self
    }

    /// Runs a job of the service's own while the server runs (a scheduler,
    /// a sweeper): `job` gets the stop signal, which turns true at
    /// shutdown, and returns then. Should it end before that, the server
    /// stops with an error rather than serve on without it.
    pub fn run_job<F>(mut self, name: &str, job: impl FnOnce(watch::Receiver<bool>) -> F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let task = job(self.shutdown.subscribe()).boxed();
        self.background.push(BackgroundTask {
            name: format!("{} {name}", self.label),
            task,
        });
        self
    }

    /// Closes `db` once the server has drained.
    pub fn close_on_stop(mut self, db: Db) -> Self {
        self.databases.push(db);
        self
    }

    pub fn build(self) -> Host {
        Host { builder: self }
    }
}

/// A server ready to run: bound, with everything it serves and follows.
pub struct Host {
    builder: HostBuilder,
}

impl Host {
    pub fn local_addr(&self) -> SocketAddr {
        self.builder.server.local_addr()
    }

    /// The gRPC services it serves besides health and reflection.
    pub fn service_names(&self) -> &[&'static str] {
        &self.builder.service_names
    }

    /// Serves until the stop signal, then drains; health stays NOT_SERVING
    /// until `readiness` is ready (`louyu up --demo` holds it until the demo
    /// data is loaded). Returns an error when the server failed or a
    /// background task ended before the stop signal.
    pub async fn run(self, readiness: Readiness) -> anyhow::Result<()> {
        let HostBuilder {
            label,
            server,
            settings,
            shutdown,
            routes,
            service_names,
            forwarded_names,
            background,
            databases,
            identity,
        } = self.builder;
        tracing::info!(address = %server.local_addr(), "{label} serving");
        let mut tasks = JoinSet::new();
        for BackgroundTask { name, task } in background {
            tasks.spawn(
                AssertUnwindSafe(task)
                    .catch_unwind()
                    .map(|ended| (name, ended)),
            );
        }
        let (served, supervised) = tokio::join!(
            server.serve(
                routes,
                ServiceNames {
                    label,
                    served: &service_names,
                    forwarded: &forwarded_names,
                },
                &settings,
                shutdown.clone(),
                readiness,
                identity.verifier().clone(),
            ),
            supervise(tasks, &shutdown),
        );
        for db in databases {
            db.close().await;
        }
        served?;
        supervised
    }
}

/// A service of tonic bodies taking whatever body the router hands it (the
/// router's fallback gets axum's).
#[derive(Clone)]
struct TonicBody<S>(S);

impl<S, RequestBody> tower::Service<http::Request<RequestBody>> for TonicBody<S>
where
    S: tower::Service<http::Request<Body>>,
    RequestBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    RequestBody::Error: Into<tonic::codegen::StdError>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        self.0.call(request.map(Body::new))
    }
}

/// Waits for every background task; one that ends before the stop signal
/// (it panicked past its own recovery, or returned) is logged and stops the
/// process's servers, and is returned as the error.
async fn supervise(
    mut tasks: JoinSet<(String, std::thread::Result<()>)>,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        let (name, ended) = match joined {
            Ok(ended) => ended,
            Err(error) => {
                failure.get_or_insert_with(|| anyhow::anyhow!("a background task failed: {error}"));
                continue;
            }
        };
        if shutdown.is_triggered() && ended.is_ok() {
            continue;
        }
        let cause = match &ended {
            Ok(()) => String::from("it returned"),
            Err(panic) => format!("it panicked: {}", panic_message(panic.as_ref())),
        };
        tracing::error!(task = %name, %cause, "a background task ended before the stop signal; stopping");
        shutdown.trigger();
        failure.get_or_insert_with(|| anyhow::anyhow!("{name} ended unexpectedly: {cause}"));
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// The text a panic was raised with, when it was a string.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "(no message)"
    }
}
