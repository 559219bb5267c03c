//! Server bootstrap shared by every service: health, reflection (v1 and
//! v1alpha) of exactly the services served, tracing of each request, a
//! request timeout and a global concurrency limit, gRPC's status codes for
//! requests that cannot be read, and graceful shutdown (health turns
//! NOT_SERVING, the server keeps answering for a drain delay, then the
//! listener closes, streams end and calls in flight drain under a grace
//! period). [`crate::hosting`] assembles a service's server from these.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::{Stream, StreamExt};
use prost::Message;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use tokio::net::TcpListener;

use crate::feed::FeedStatus;
use tokio::sync::watch;
use tonic::codegen::http;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status};
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_health::server::{HealthReporter, HealthService};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::util::MapResponseLayer;

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub request_timeout: Duration,
    pub concurrency_limit: usize,
    /// How long a stopping server keeps answering, with health NOT_SERVING,
    /// before its listener closes: time for a Kubernetes readiness probe and
    /// the endpoints controller to take the pod out of its Service.
    pub drain_delay: Duration,
    /// How long calls still in flight get once the listener has closed.
    pub shutdown_grace: Duration,
}

/// The stop signal a process's servers and background tasks share.
#[derive(Debug, Clone)]
pub struct Shutdown {
    sender: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        let (sender, _) = watch::channel(false);
        Self {
            sender: Arc::new(sender),
        }
    }

    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.sender.subscribe()
    }

    /// Whether the stop signal was given.
    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    pub async fn wait(&self) {
        let mut receiver = self.subscribe();
        let _ = receiver.wait_for(|stopped| *stopped).await;
    }

    /// Triggers on SIGTERM (Kubernetes stopping a pod) or Ctrl-C.
    pub fn trigger_on_signal(&self) {
        let shutdown = self.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("stop signal received, shutting down");
            shutdown.trigger();
        });
    }
}

async fn wait_for_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("a SIGTERM handler can be installed");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Whether a server can answer everything it advertises. Until it is marked
/// ready, health reports NOT_SERVING while the server already answers calls
/// (`louyu up --demo` loads its demo data through the registry's own API).
#[derive(Debug, Clone)]
pub struct Readiness {
    sender: Arc<watch::Sender<bool>>,
}

impl Readiness {
    /// Ready from the start: a server with nothing to load first.
    pub fn ready() -> Self {
        let (sender, _) = watch::channel(true);
        Self {
            sender: Arc::new(sender),
        }
    }

    /// Not ready until `mark_ready` is called.
    pub fn pending() -> Self {
        let (sender, _) = watch::channel(false);
        Self {
            sender: Arc::new(sender),
        }
    }

    pub fn mark_ready(&self) {
        self.sender.send_replace(true);
    }

    async fn wait(&self) {
        let mut receiver = self.sender.subscribe();
        let _ = receiver.wait_for(|ready| *ready).await;
    }
}

/// The health service name that answers SERVING only while development
/// identity (`LOUYU_DEV_IDENTITY=1`) is on, and is unknown otherwise: a
/// production deployment probes it and alerts when it answers SERVING.
pub const DEVELOPMENT_IDENTITY_HEALTH_NAME: &str = "louyu.identity.development";

/// A bound gRPC listener. Binding first lets tests ask for port 0 and learn
/// the port before serving.
pub struct GrpcServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    feeds: Vec<(String, watch::Receiver<FeedStatus>)>,
    http_front: Option<HttpFront>,
    edge: Option<EdgeLayer>,
    admission: Option<Admission>,
}

/// The health service name under which a consumer of `feed` reports: SERVING
/// while it follows, NOT_SERVING once it halted. The server's overall health
/// does not follow it, so a halted feed alerts operators without taking the
/// service out of its load balancer.
pub fn feed_health_name(feed: &str) -> String {
    format!("louyu.feed.{feed}")
}

impl GrpcServer {
    pub async fn bind(address: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
            feeds: Vec::new(),
            http_front: None,
            edge: None,
            admission: None,
        })
    }

    /// Reports a feed consumer's status in health, under
    /// [`feed_health_name`].
    pub fn report_feed(mut self, feed: &str, status: watch::Receiver<FeedStatus>) -> Self {
        self.feeds.push((feed_health_name(feed), status));
        self
    }

    /// Answers the requests that are not gRPC with `front`; the listener
    /// then accepts HTTP/1.1 besides HTTP/2.
    pub fn serve_http(mut self, front: HttpFront) -> Self {
        self.http_front = Some(front);
        self
    }

    /// Puts `edge` in front of everything the server answers, gRPC and
    /// HTTP alike, inside the request's span and timeout but before the
    /// concurrency limit, authentication and routing: the gateway's
    /// protection.
    pub fn edge(mut self, edge: EdgeLayer) -> Self {
        self.edge = Some(edge);
        self
    }

    /// Passes every request through `admission` first (see [`Admission`]).
    pub fn admit_with(mut self, admission: Admission) -> Self {
        self.admission = Some(admission);
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves `routes` plus health and reflection until `shutdown`, then
    /// drains. `names.served` are the fully qualified gRPC services that
    /// `routes` serves, as [`crate::hosting::HostBuilder`] recorded them while
    /// adding each: health reports each of them (besides the overall `""`),
    /// and reflection lists them and, besides, `names.forwarded`, which a
    /// forwarder behind `routes` answers for their owners (the gateway).
    /// Health stays NOT_SERVING until `readiness` is ready.
    pub(crate) async fn serve(
        self,
        routes: Routes,
        names: ServiceNames<'_>,
        settings: &ServerSettings,
        shutdown: Shutdown,
        readiness: Readiness,
        verifier: Arc<crate::identity::Verifier>,
    ) -> anyhow::Result<()> {
        let http_front = self.http_front;
        let edge = OptionalEdge(self.edge);
        let admission = self.admission;
        let ServiceNames {
            label,
            served: service_names,
            forwarded: forwarded_names,
        } = names;
        let health_reporter = HealthReporter::new();
        let mut health_names = vec![String::new()];
        health_names.extend(service_names.iter().map(|name| (*name).to_owned()));
        if verifier.is_development_identity() {
            // Unknown to health outside development mode: a production
            // probe of this name alerts when it answers SERVING.
            health_names.push(DEVELOPMENT_IDENTITY_HEALTH_NAME.to_owned());
        }
        set_health(&health_reporter, &health_names, ServingStatus::NotServing).await;
        let feed_names: Vec<String> = self.feeds.iter().map(|(name, _)| name.clone()).collect();
        set_health(&health_reporter, &feed_names, ServingStatus::NotServing).await;
        let (listener_closed, listener_closed_receiver) = watch::channel(false);
        let health_service = HealthServer::new(ClosingHealth {
            inner: HealthService::from_health_reporter(health_reporter.clone()),
            listener_closed: listener_closed_receiver.clone(),
        });
        let reflected_names: Vec<&str> = service_names
            .iter()
            .chain(forwarded_names)
            .copied()
            .collect();
        let routes = routes
            .add_service(health_service)
            .add_service(reflection_v1(&reflected_names)?)
            .add_service(reflection_v1alpha(&reflected_names)?);

        // Ready, then SERVING until the stop signal; NOT_SERVING while still
        // answering for the drain delay; then the listener closes.
        let lifecycle = {
            let drain_delay = settings.drain_delay;
            let shutdown = shutdown.clone();
            let health_names = health_names.clone();
            let feeds = self.feeds;
            async move {
                let following = async {
                    readiness.wait().await;
                    set_health(&health_reporter, &health_names, ServingStatus::Serving).await;
                    report_feeds(&health_reporter, feeds).await;
                };
                tokio::select! {
                    _ = following => {}
                    _ = shutdown.wait() => {}
                }
                set_health(&health_reporter, &feed_names, ServingStatus::NotServing).await;
                set_health(&health_reporter, &health_names, ServingStatus::NotServing).await;
                tracing::info!(
                    drain_delay_ms = drain_delay.as_millis() as u64,
                    "health is NOT_SERVING; still answering until the drain delay ends"
                );
                tokio::time::sleep(drain_delay).await;
                listener_closed.send_replace(true);
            }
        };
        let stop_accepting = {
            let mut listener_closed = listener_closed_receiver;
            async move {
                let _ = listener_closed.wait_for(|closed| *closed).await;
            }
        };
        let observer = crate::observe::ServerObserverLayer::new(label, self.local_addr);
        let incoming = TcpIncoming::from(self.listener).with_nodelay(Some(true));
        let server = Server::builder()
            .accept_http1(http_front.is_some())
            .timeout(settings.request_timeout)
            .layer(observer)
            .layer(edge)
            .layer(GlobalConcurrencyLimitLayer::new(settings.concurrency_limit))
            .layer(NonGrpcToLayer {
                front: http_front,
                admission,
            })
            .layer(MapResponseLayer::new(conventional_status))
            .layer(crate::identity::AuthenticateLayer::new(verifier))
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, stop_accepting);
        tokio::pin!(server);
        tokio::select! {
            result = &mut server => return result.context("the gRPC server failed"),
            _ = lifecycle => {}
        }
        match tokio::time::timeout(settings.shutdown_grace, &mut server).await {
            Ok(result) => result.context("the gRPC server failed while draining"),
            Err(_) => {
                tracing::warn!(
                    grace_seconds = settings.shutdown_grace.as_secs(),
                    "calls still in flight after the grace period; closing them"
                );
                Ok(())
            }
        }
    }
}

/// What answers a server's requests that are not gRPC (REST and pages, over
/// HTTP/1.1 or HTTP/2 on the same listener): the gateway's. It sees them
/// before authentication, which knows only gRPC methods, so it checks or
/// passes on the caller's credentials itself.
pub type HttpFront = tower::util::BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    std::convert::Infallible,
>;

/// Every request a server answers, as its [`EdgeLayer`] gets and returns
/// it.
pub type EdgeService = tower::util::BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    std::convert::Infallible,
>;

/// What a server puts in front of everything it answers
/// ([`GrpcServer::edge`]): a function from the server's own stack to the
/// service that answers in its stead.
#[derive(Clone)]
pub struct EdgeLayer(Arc<dyn Fn(EdgeService) -> EdgeService + Send + Sync>);

impl EdgeLayer {
    pub fn new(wrap: impl Fn(EdgeService) -> EdgeService + Send + Sync + 'static) -> Self {
        Self(Arc::new(wrap))
    }
}

/// The server's edge, if it has one; without one, the stack as it is, not
/// boxed (most servers have none, and every call would pay for the box).
#[derive(Clone)]
struct OptionalEdge(Option<EdgeLayer>);

impl<S> tower::Layer<S> for OptionalEdge
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    type Service = tower::util::Either<EdgeService, S>;

    fn layer(&self, inner: S) -> Self::Service {
        match &self.0 {
            Some(EdgeLayer(wrap)) => {
                tower::util::Either::Left(wrap(tower::util::BoxCloneSyncService::new(inner)))
            }
            None => tower::util::Either::Right(inner),
        }
    }
}

/// Whether a request is gRPC: its content type is `application/grpc` or
/// `application/grpc+<codec>`.
pub fn is_grpc<B>(request: &http::Request<B>) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|content_type| content_type.starts_with("application/grpc"))
}

/// Sends the requests that are not gRPC to the [`HttpFront`], when there is
/// one, and every other to the gRPC stack; before either, the server's
/// [`Admission`], when it has one, may rewrite a request or answer it.
#[derive(Clone)]
struct NonGrpcToLayer {
    front: Option<HttpFront>,
    admission: Option<Admission>,
}

impl<S> tower::Layer<S> for NonGrpcToLayer {
    type Service = NonGrpcTo<S>;

    fn layer(&self, grpc: S) -> Self::Service {
        NonGrpcTo {
            grpc,
            front: self.front.clone(),
            admission: self.admission.clone(),
        }
    }
}

#[derive(Clone)]
struct NonGrpcTo<S> {
    grpc: S,
    front: Option<HttpFront>,
    admission: Option<Admission>,
}

impl<S> tower::Service<http::Request<tonic::body::Body>> for NonGrpcTo<S>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    /// A gRPC call with no admission to pass goes straight on, unboxed.
    type Future = futures::future::Either<
        S::Future,
        futures::future::BoxFuture<'static, Result<S::Response, S::Error>>,
    >;

    fn poll_ready(
        &mut self,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.grpc.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        use futures::future::Either;
        // The service polled ready is the one that serves; its clone waits
        // for the next request.
        let clone = self.grpc.clone();
        let mut grpc = std::mem::replace(&mut self.grpc, clone);
        if self.admission.is_none() && (self.front.is_none() || is_grpc(&request)) {
            return Either::Left(grpc.call(request));
        }
        let front = self.front.clone();
        let admission = self.admission.clone();
        Either::Right(Box::pin(async move {
            let request = match admission {
                Some(admission) => match admission(request).await {
                    Ok(admitted) => admitted,
                    Err(answered) => return Ok(answered),
                },
                None => request,
            };
            match front {
                Some(front) if !is_grpc(&request) => {
                    match tower::ServiceExt::oneshot(front, request).await {
                        Ok(response) => Ok(response),
                        Err(never) => match never {},
                    }
                }
                _ => grpc.call(request).await,
            }
        }))
    }
}

/// What a server does with every request, gRPC or not, before anything
/// else reads it: the gateway turns a session cookie into a token there,
/// in front of authentication. `Ok` goes on (rewritten or not); `Err` is
/// the answer, and the request goes no further.
pub type Admission = std::sync::Arc<
    dyn Fn(
            http::Request<tonic::body::Body>,
        ) -> futures::future::BoxFuture<
            'static,
            Result<http::Request<tonic::body::Body>, http::Response<tonic::body::Body>>,
        > + Send
        + Sync,
>;

/// The gRPC services a server answers for: its own, and those it forwards
/// to their owners.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServiceNames<'a> {
    /// The server's label (`registry`, `gateway`), in its spans and metrics.
    pub label: &'static str,
    pub served: &'a [&'static str],
    pub forwarded: &'a [&'static str],
}

/// Follows each feed consumer's status into health, until every status
/// channel closes (the consumers ended); the caller stops it at shutdown.
async fn report_feeds(
    reporter: &HealthReporter,
    feeds: Vec<(String, watch::Receiver<FeedStatus>)>,
) {
    let reporting = feeds.into_iter().map(|(name, mut status)| async move {
        loop {
            let serving = match *status.borrow_and_update() {
                FeedStatus::Following => ServingStatus::Serving,
                FeedStatus::Halted { .. } => ServingStatus::NotServing,
            };
            reporter.set_service_status(&name, serving).await;
            if status.changed().await.is_err() {
                return;
            }
        }
    });
    futures::future::join_all(reporting).await;
    std::future::pending::<()>().await;
}

async fn set_health(reporter: &HealthReporter, names: &[String], status: ServingStatus) {
    for name in names {
        reporter.set_service_status(name, status).await;
    }
}

/// tonic's health service, whose `Watch` streams end when the listener
/// closes: an open watch would otherwise hold the server for the whole grace
/// period, since tonic's streams end only when the reporter is dropped.
struct ClosingHealth {
    inner: HealthService,
    listener_closed: watch::Receiver<bool>,
}

type HealthWatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

type HealthCheckFuture<'call> = Pin<
    Box<
        dyn std::future::Future<Output = Result<Response<HealthCheckResponse>, Status>>
            + Send
            + 'call,
    >,
>;

#[tonic::async_trait]
impl Health for ClosingHealth {
    /// tonic's own future, not boxed a second time: health checks are the
    /// most frequent call a server gets (every probe, every load balancer).
    fn check<'life0, 'async_trait>(
        &'life0 self,
        request: Request<HealthCheckRequest>,
    ) -> HealthCheckFuture<'async_trait>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.check(request)
    }

    type WatchStream = HealthWatchStream;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let statuses = self.inner.watch(request).await?.into_inner();
        let mut listener_closed = self.listener_closed.clone();
        let closed = async move {
            let _ = listener_closed.wait_for(|closed| *closed).await;
        };
        Ok(Response::new(Box::pin(statuses.take_until(closed))))
    }
}

/// The health and reflection services every server adds to its own.
const HEALTH_SERVICE: &str = "grpc.health.v1.Health";
const REFLECTION_SERVICES: [&str; 2] = [
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

fn reflection_v1(
    service_names: &[&str],
) -> anyhow::Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection + use<>,
    >,
> {
    Ok(reflection_builder(service_names)?
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
        .build_v1()?)
}

fn reflection_v1alpha(
    service_names: &[&str],
) -> anyhow::Result<
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection + use<>,
    >,
> {
    Ok(reflection_builder(service_names)?
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?)
}

/// A reflection builder that lists `service_names`, health and both
/// reflection versions, and resolves only the symbols of their files.
fn reflection_builder(
    service_names: &[&str],
) -> anyhow::Result<tonic_reflection::server::Builder<'static>> {
    let mut builder = tonic_reflection::server::Builder::configure()
        .register_file_descriptor_set(descriptors_of(service_names)?)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
    for name in service_names
        .iter()
        .copied()
        .chain([HEALTH_SERVICE])
        .chain(REFLECTION_SERVICES)
    {
        builder = builder.with_service_name(name);
    }
    Ok(builder)
}

/// The Louyu files that define one of `service_names`, and every file they
/// import, directly or not. (Decoding with `prost-types` drops extension
/// options, such as the `google.api.http` routes: reflection serves the
/// descriptors without them; the gateway reads them with prost-reflect.)
fn descriptors_of(service_names: &[&str]) -> anyhow::Result<FileDescriptorSet> {
    let set = FileDescriptorSet::decode(louyu_proto::FILE_DESCRIPTOR_SET)
        .context("the Louyu descriptor set does not decode")?;
    let mut wanted: Vec<String> = set
        .file
        .iter()
        .filter(|file| {
            file.service.iter().any(|service| {
                let full_name = format!("{}.{}", file.package(), service.name());
                service_names.contains(&full_name.as_str())
            })
        })
        .map(|file| file.name().to_owned())
        .collect();
    let mut files: HashMap<String, FileDescriptorProto> = set
        .file
        .into_iter()
        .map(|file| (file.name().to_owned(), file))
        .collect();
    let mut kept = Vec::new();
    while let Some(name) = wanted.pop() {
        if let Some(file) = files.remove(&name) {
            wanted.extend(file.dependency.iter().cloned());
            kept.push(file);
        }
    }
    Ok(FileDescriptorSet { file: kept })
}

/// Gives requests that cannot be read gRPC's conventional codes: a message
/// over the size limit is RESOURCE_EXHAUSTED (tonic says OUT_OF_RANGE), and
/// one that is not valid protobuf is INVALID_ARGUMENT (tonic says INTERNAL,
/// with the decoder's text). tonic reports both before the handler runs, in
/// the headers of a trailers-only response, which is where this looks; a
/// stream of requests (only reflection takes one) keeps tonic's codes.
fn conventional_status<B: http_body::Body>(mut response: http::Response<B>) -> http::Response<B> {
    // A response with a body to come has its status in its trailers.
    if !response.body().is_end_stream()
        || !response
            .headers()
            .contains_key(&crate::observe::GRPC_STATUS)
    {
        return response;
    }
    let Some(status) = Status::from_header_map(response.headers()) else {
        return response;
    };
    let replacement = match status.code() {
        Code::OutOfRange if status.message().starts_with(TONIC_TOO_LARGE) => {
            let limit = status
                .message()
                .rsplit_once("the limit is: ")
                .map(|(_, limit)| limit.trim_end_matches(" bytes"))
                .unwrap_or("?");
            Status::resource_exhausted(format!(
                "请求超过大小上限 {limit} 字节 the request exceeds the size limit of {limit} bytes"
            ))
        }
        Code::Internal if status.message().starts_with(PROST_DECODE_FAILED) => {
            Status::invalid_argument(
                "请求不是有效的 protobuf 消息 the request is not a valid protobuf message",
            )
        }
        _ => return response,
    };
    let headers = response.headers_mut();
    headers.remove("grpc-status-details-bin");
    if replacement.add_header(headers).is_err() {
        tracing::warn!("a request's status could not be rewritten");
    }
    response
}

/// How tonic and prost begin the messages `conventional_status` rewrites;
/// the tests in services/registry/tests/api/server.rs notice if they change.
const TONIC_TOO_LARGE: &str = "Error, decoded message length too large";
const PROST_DECODE_FAILED: &str = "failed to decode Protobuf message";
