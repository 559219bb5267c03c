//! Server bootstrap shared by every service: health, reflection (v1 and
//! v1alpha), tracing of each request, a request timeout and a global
//! concurrency limit, and graceful shutdown (health turns NOT_SERVING, streams
//! end, calls in flight drain under a grace period).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tower::limit::GlobalConcurrencyLimitLayer;

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub request_timeout: Duration,
    pub concurrency_limit: usize,
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

/// A bound gRPC listener. Binding first lets tests ask for port 0 and learn
/// the port before serving.
pub struct GrpcServer {
    listener: TcpListener,
    local_addr: SocketAddr,
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
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves `routes` plus health and reflection until `shutdown`, then
    /// drains. `service_names` are the fully qualified gRPC services whose
    /// health is reported (besides the overall `""`).
    pub async fn serve(
        self,
        routes: Routes,
        service_names: &[&str],
        settings: &ServerSettings,
        shutdown: Shutdown,
    ) -> anyhow::Result<()> {
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        for name in service_names {
            health_reporter
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(louyu_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(louyu_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;
        let routes = routes
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);

        let names: Vec<String> = service_names
            .iter()
            .map(|name| (*name).to_owned())
            .collect();
        let stopping = {
            let shutdown = shutdown.clone();
            let health_reporter = health_reporter.clone();
            async move {
                shutdown.wait().await;
                health_reporter
                    .set_service_status("", ServingStatus::NotServing)
                    .await;
                for name in &names {
                    health_reporter
                        .set_service_status(name, ServingStatus::NotServing)
                        .await;
                }
            }
        };
        let incoming = TcpIncoming::from(self.listener).with_nodelay(Some(true));
        let server = Server::builder()
            .trace_fn(crate::telemetry::grpc_request_span)
            .timeout(settings.request_timeout)
            .layer(GlobalConcurrencyLimitLayer::new(settings.concurrency_limit))
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, stopping);
        tokio::pin!(server);
        tokio::select! {
            result = &mut server => return result.context("the gRPC server failed"),
            _ = shutdown.wait() => {}
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
