//! Any set of services, started in this process the way `louyu up` starts
//! them: every listener is bound first (port 0), each service's peer URLs
//! then point at the addresses actually bound, and only then is each built
//! and run, so the order services are named in does not matter (quickwit's
//! `cluster_sandbox.rs` reserves its ports the same way). Each service gets
//! a fresh database of the chosen backend and its own stop signal, so a test
//! can stop one service and keep the others. The services verify tokens
//! against a development key pair of the sandbox's own, outside development
//! mode, and sign their own service tokens with it; [`Sandbox::client`]
//! gives a channel presenting a district admin's token.

use std::net::SocketAddr;
use std::time::Duration;

use louyu_kit::config::{Config, ServiceName};
use louyu_kit::hosting::{self, Service};
use louyu_kit::identity::{Principal, ProcessIdentity};
use louyu_kit::server::{Readiness, Shutdown};
use secrecy::SecretString;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

use crate::identity::{AuthorizedChannel, Bearer, TestKeys, district_admin};
use crate::{TestBackend, TestDatabase};

/// How long a stopping service may take.
const STOP_DEADLINE: Duration = Duration::from_secs(30);

/// One service of a sandbox.
struct Member {
    name: ServiceName,
    service: &'static dyn Service,
    /// Its settings, to start it again on the same port and database.
    config: Config,
    address: SocketAddr,
    shutdown: Shutdown,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    /// Its database, dropped with the sandbox.
    database: TestDatabase,
}

/// Services running in this process, each on its own database and port.
/// Dropping it stops them all.
pub struct Sandbox {
    members: Vec<Member>,
    keys: TestKeys,
}

/// The settings every sandboxed service starts from: fast feed polling, no
/// drain delay, a short grace period, and no peer but those the sandbox
/// starts (a peer it does not start is a closed port, never the default
/// local one, where a developer's own `louyu up` may be listening).
pub fn test_config() -> Config {
    let mut config = Config {
        listen: Some("127.0.0.1:0".to_owned()),
        feed_poll_interval_ms: 100,
        drain_delay: Duration::ZERO,
        shutdown_grace_seconds: 5,
        ..Config::default()
    };
    for service in ServiceName::ALL {
        config.set_peer_url(service, "http://127.0.0.1:9".to_owned());
    }
    config
}

impl Sandbox {
    /// Starts `services` on fresh databases of `backend`; `None` when the
    /// backend is not available outside CI (the test is then skipped).
    pub async fn start(backend: TestBackend, services: &[&'static dyn Service]) -> Option<Self> {
        Self::start_with(backend, services, |_, _| {}).await
    }

    /// `start`, with the test's own changes to each service's settings.
    pub async fn start_with(
        backend: TestBackend,
        services: &[&'static dyn Service],
        configure: impl Fn(ServiceName, &mut Config),
    ) -> Option<Self> {
        louyu_kit::telemetry::init_for_tests();
        let keys = TestKeys::generate();
        let mut base = test_config();
        keys.apply_to(&mut base);
        let mut bound = Vec::with_capacity(services.len());
        for service in services {
            let database = TestDatabase::create(backend).await?;
            let server = hosting::bind(*service, &base)
                .await
                .expect("a listener on port 0");
            bound.push((*service, database, server));
        }
        let mut wired = base;
        for (service, _, server) in &bound {
            wired.set_peer_url(service.name(), format!("http://{}", server.local_addr()));
        }
        let mut members = Vec::with_capacity(bound.len());
        for (service, database, server) in bound {
            let name = service.name();
            let mut config = wired.clone();
            config.database_url = Some(SecretString::from(database.url().to_owned()));
            configure(name, &mut config);
            let shutdown = Shutdown::new();
            let identity = ProcessIdentity::from_config(&config)
                .unwrap_or_else(|error| panic!("{} identity: {error:#}", name.as_str()));
            let host = hosting::build(service, &config, server, &shutdown, &identity)
                .await
                .unwrap_or_else(|error| panic!("{} builds: {error:#}", name.as_str()));
            members.push(Member {
                name,
                service,
                config,
                address: host.local_addr(),
                shutdown,
                task: Some(tokio::spawn(host.run(Readiness::ready()))),
                database,
            });
        }
        let sandbox = Self { members, keys };
        for member in &sandbox.members {
            sandbox.wait_until_serving(member.name).await;
        }
        Some(sandbox)
    }

    /// Health turns SERVING a moment after the server starts; tests begin
    /// once it has, so none sees the NOT_SERVING of the start.
    async fn wait_until_serving(&self, name: ServiceName) {
        wait_until_serving_at(self.address(name), name).await;
    }

    fn member(&self, name: ServiceName) -> &Member {
        self.members
            .iter()
            .find(|member| member.name == name)
            .unwrap_or_else(|| panic!("{} is not in the sandbox", name.as_str()))
    }

    fn member_mut(&mut self, name: ServiceName) -> &mut Member {
        self.members
            .iter_mut()
            .find(|member| member.name == name)
            .unwrap_or_else(|| panic!("{} is not in the sandbox", name.as_str()))
    }

    /// The URL of the database `name` runs on, for tests that look at it
    /// as another client would (a BI tool reading PostgreSQL's `reporting`
    /// views).
    pub fn database_url(&self, name: ServiceName) -> &str {
        self.member(name).database.url()
    }

    pub fn address(&self, name: ServiceName) -> SocketAddr {
        self.member(name).address
    }

    /// A channel to the service, connected.
    pub async fn channel(&self, name: ServiceName) -> Channel {
        Channel::from_shared(format!("http://{}", self.address(name)))
            .expect("a valid URL")
            .connect()
            .await
            .unwrap_or_else(|error| panic!("connect to {}: {error}", name.as_str()))
    }

    /// A channel to the service whose calls present a district admin's
    /// token.
    pub async fn client(&self, name: ServiceName) -> AuthorizedChannel {
        self.client_as(name, &district_admin()).await
    }

    /// A channel to the service whose calls present `principal`'s token.
    pub async fn client_as(&self, name: ServiceName, principal: &Principal) -> AuthorizedChannel {
        let token = self.keys.token(principal);
        AuthorizedChannel::new(self.channel(name).await, Bearer::new(&token))
    }

    /// The sandbox's key pair: tokens for anyone, and the JWKS file the
    /// services watch.
    pub fn keys(&self) -> &TestKeys {
        &self.keys
    }

    /// The service's stop signal, for tests that stop it themselves.
    pub fn shutdown(&self, name: ServiceName) -> Shutdown {
        self.member(name).shutdown.clone()
    }

    /// Stops the service and waits until it has drained.
    pub async fn stop(&mut self, name: ServiceName) {
        self.member(name).shutdown.trigger();
        self.wait_until_stopped(name).await;
    }

    /// Stops the service, then starts it again on the same port and
    /// database, as a restart of its process would, and waits until it
    /// serves.
    pub async fn restart(&mut self, name: ServiceName) {
        self.stop(name).await;
        self.start_again(name).await;
    }

    /// Starts a stopped service again on the same port and database, and
    /// waits until it serves.
    pub async fn start_again(&mut self, name: ServiceName) {
        let member = self.member(name);
        let (service, mut config, address) =
            (member.service, member.config.clone(), member.address);
        config.listen = Some(address.to_string());
        let server = hosting::bind(service, &config)
            .await
            .unwrap_or_else(|error| panic!("{} binds its port again: {error:#}", name.as_str()));
        let shutdown = Shutdown::new();
        let identity = ProcessIdentity::from_config(&config)
            .unwrap_or_else(|error| panic!("{} identity: {error:#}", name.as_str()));
        let host = hosting::build(service, &config, server, &shutdown, &identity)
            .await
            .unwrap_or_else(|error| panic!("{} builds: {error:#}", name.as_str()));
        let member = self.member_mut(name);
        member.shutdown = shutdown;
        member.task = Some(tokio::spawn(host.run(Readiness::ready())));
        self.wait_until_serving(name).await;
    }

    /// Starts another replica of the service: a second server of the same
    /// settings on the same database, on a port of its own, as a second
    /// pod of a Deployment would run. It follows the same feeds and runs
    /// the same jobs; the first keeps running. Dropping the replica stops
    /// it.
    pub async fn start_replica(&self, name: ServiceName) -> Replica {
        let member = self.member(name);
        let (service, config) = (member.service, member.config.clone());
        let server = hosting::bind(service, &config)
            .await
            .expect("a listener on port 0");
        let shutdown = Shutdown::new();
        let identity = ProcessIdentity::from_config(&config)
            .unwrap_or_else(|error| panic!("{} identity: {error:#}", name.as_str()));
        let host = hosting::build(service, &config, server, &shutdown, &identity)
            .await
            .unwrap_or_else(|error| panic!("a {} replica builds: {error:#}", name.as_str()));
        let address = host.local_addr();
        let replica = Replica {
            name,
            address,
            shutdown,
            task: Some(tokio::spawn(host.run(Readiness::ready()))),
        };
        wait_until_serving_at(address, name).await;
        replica
    }

    /// Rewinds the service's cursor of `feed` to the feed's start and
    /// restarts the service, so that every event of the feed arrives again,
    /// as after a crash between applying events and saving the cursor.
    pub async fn replay_feed(&mut self, name: ServiceName, feed: &str) {
        use secrecy::ExposeSecret;
        use sqlx::Connection;
        self.stop(name).await;
        let url = self
            .member(name)
            .config
            .database_url
            .as_ref()
            .expect("a sandbox service has its database")
            .expose_secret()
            .to_owned();
        sqlx::any::install_default_drivers();
        let mut connection = sqlx::AnyConnection::connect(&url)
            .await
            .expect("the service's database");
        let rewound = sqlx::query(
            "UPDATE consumer_cursors SET last_sequence = 0, last_event_id = '' WHERE feed = $1",
        )
        .bind(feed)
        .execute(&mut connection)
        .await
        .expect("rewind the cursor");
        assert_eq!(
            rewound.rows_affected(),
            1,
            "{} follows {feed}",
            name.as_str()
        );
        connection.close().await.expect("close");
        self.start_again(name).await;
    }

    /// Waits for a service already told to stop; panics unless it ends
    /// cleanly within 30 seconds.
    pub async fn wait_until_stopped(&mut self, name: ServiceName) {
        let Some(task) = self.member_mut(name).task.take() else {
            return;
        };
        tokio::time::timeout(STOP_DEADLINE, task)
            .await
            .unwrap_or_else(|_| panic!("{} stops within the deadline", name.as_str()))
            .expect("the service's task")
            .unwrap_or_else(|error| panic!("{} ends cleanly: {error:#}", name.as_str()));
    }
}

/// Waits until the server at `address` reports SERVING.
async fn wait_until_serving_at(address: SocketAddr, name: ServiceName) {
    use tonic_health::pb::health_check_response::ServingStatus;
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("a valid URL")
        .connect()
        .await
        .unwrap_or_else(|error| panic!("connect to {}: {error}", name.as_str()));
    let health = tonic_health::pb::health_client::HealthClient::new(channel);
    crate::eventually(&format!("{} is SERVING", name.as_str()), || {
        let mut health = health.clone();
        async move {
            health
                .check(tonic_health::pb::HealthCheckRequest::default())
                .await
                .is_ok_and(|answer| answer.into_inner().status == ServingStatus::Serving as i32)
        }
    })
    .await;
}

/// A second server of one of a sandbox's services on the same database
/// ([`Sandbox::start_replica`]). Dropping it stops it.
pub struct Replica {
    name: ServiceName,
    address: SocketAddr,
    shutdown: Shutdown,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Replica {
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops the replica and waits until it has drained; panics unless it
    /// ends cleanly within 30 seconds.
    pub async fn stop(mut self) {
        self.shutdown.trigger();
        let Some(task) = self.task.take() else {
            return;
        };
        tokio::time::timeout(STOP_DEADLINE, task)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the {} replica stops within the deadline",
                    self.name.as_str()
                )
            })
            .expect("the replica's task")
            .unwrap_or_else(|error| {
                panic!("the {} replica ends cleanly: {error:#}", self.name.as_str())
            });
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for member in &self.members {
            member.shutdown.trigger();
        }
    }
}
