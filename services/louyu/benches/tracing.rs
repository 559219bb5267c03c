//! What exporting every trace costs: `RegistryService/GetEnterprise` driven
//! by h2load against two `louyu serve registry` processes, in one run, the
//! same build and settings but for their traces: one exports every span
//! over OTLP (`OTEL_TRACES_SAMPLER=always_on`) to a collector in this
//! process, the other exports nothing (`OTEL_TRACES_EXPORTER=none`, what a
//! deployment without a collector runs). Prints both rates, their ratio,
//! each server's CPU time per request, and the spans the collector received
//! (at least one per traced request, or the run is refused).
//!
//! `cargo bench -p louyu --bench tracing` (h2load comes with Debian's
//! `nghttp2-client`). `LOUYU_BENCH_REQUESTS` sets the requests per round
//! (default 50000); each server gets five rounds, taking turns to go first,
//! and its best rate counts.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use louyu_proto::registry::v1::GetEnterpriseRequest;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_testkit::h2load::{self, Round, Run};
use louyu_testkit::identity::{Bearer, TestKeys, auditor, district_admin};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::transport::{Channel, Endpoint};

const ROUNDS: usize = 5;

fn main() {
    h2load::require();
    let requests = h2load::requests_per_round(50_000);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let collector = runtime.block_on(Collector::start());
    let keys = TestKeys::generate();
    let folder = tempfile::tempdir().expect("a temporary folder");

    let traced = Registry::start(&keys, folder.path(), "traced", |command| {
        command
            .env(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://{}", collector.address),
            )
            .env("OTEL_TRACES_SAMPLER", "always_on")
            // A queue and batches that keep up with every request's span
            // (the defaults, 2,048 queued and 512 per batch every 5 s, drop
            // most of them at these rates).
            .env("OTEL_BSP_MAX_QUEUE_SIZE", "65536")
            .env("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096")
            .env("OTEL_BSP_SCHEDULE_DELAY", "500");
    });
    let untraced = Registry::start(&keys, folder.path(), "untraced", |command| {
        command.env("OTEL_TRACES_EXPORTER", "none");
    });
    let enterprise = runtime.block_on(async {
        let mut name = String::new();
        for registry in [&traced, &untraced] {
            name = registry.seed(&keys).await;
        }
        name
    });

    let body = folder.path().join("get-enterprise-request");
    h2load::write_request(
        &body,
        &GetEnterpriseRequest { name: enterprise }.encode_to_vec(),
    );
    // An auditor reads: contacts masked, so no read is audited, and the
    // figures are the request path's, not SQLite's writes.
    let authorization = format!("authorization: Bearer {}", keys.token(&auditor()));
    let spans_before = collector.spans();
    let mut traced_runs = Vec::with_capacity(ROUNDS);
    let mut untraced_runs = Vec::with_capacity(ROUNDS);
    for round in 1..=ROUNDS {
        let run = |registry: &Registry| {
            let log = folder
                .path()
                .join(format!("{}-{round}.log", registry.label));
            Round {
                url: format!(
                    "http://{}/louyu.registry.v1.RegistryService/GetEnterprise",
                    registry.address
                ),
                body: &body,
                headers: vec![authorization.clone()],
                requests,
                log: &log,
                cpu_of: registry.child.id().to_string(),
            }
            .run()
        };
        // Alternate which goes first, so neither gains from going second.
        let (traced_run, untraced_run) = if round % 2 == 1 {
            let traced_run = run(&traced);
            (traced_run, run(&untraced))
        } else {
            let untraced_run = run(&untraced);
            (run(&traced), untraced_run)
        };
        println!(
            "round {round}: tracing off {:>7.0} req/s ({:>5.1} µs CPU/req), every span exported {:>7.0} req/s ({:>5.1} µs CPU/req)",
            untraced_run.rate,
            untraced_run.cpu_micros_per_request,
            traced_run.rate,
            traced_run.cpu_micros_per_request
        );
        traced_runs.push(traced_run);
        untraced_runs.push(untraced_run);
    }
    // The batch exporter sends every few seconds: wait for the last batch.
    let traced_requests = (ROUNDS * requests) as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while collector.spans() - spans_before < traced_requests && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let exported = collector.spans() - spans_before;
    report(requests, &traced_runs, &untraced_runs, exported);
    assert!(
        exported >= traced_requests,
        "the collector received {exported} spans for {traced_requests} traced requests: \
         the traced server did not export every request's span"
    );
    drop(runtime);
}

fn report(requests: usize, traced: &[Run], untraced: &[Run], exported: u64) {
    let (traced_best, untraced_best) = (h2load::best(traced), h2load::best(untraced));
    let (traced_cpu, untraced_cpu) = (h2load::least_cpu(traced), h2load::least_cpu(untraced));
    println!(
        "GetEnterprise, {ROUNDS} rounds of {requests} requests each ({} clients x {} streams):",
        h2load::CLIENTS,
        h2load::STREAMS_PER_CLIENT
    );
    println!(
        "  tracing off:          best {:>7.0} req/s (p50 {:.2} ms, p99 {:.2} ms), least {:.1} µs CPU/req",
        untraced_best.rate, untraced_best.p50_ms, untraced_best.p99_ms, untraced_cpu
    );
    println!(
        "  every span exported:  best {:>7.0} req/s (p50 {:.2} ms, p99 {:.2} ms), least {:.1} µs CPU/req",
        traced_best.rate, traced_best.p50_ms, traced_best.p99_ms, traced_cpu
    );
    println!("  spans the collector received: {exported}");
    println!(
        "  ratio exported / off: {:.3} by requests/s, {:.3} by CPU per request",
        traced_best.rate / untraced_best.rate,
        untraced_cpu / traced_cpu
    );
}

/// A `louyu serve registry` child process on its own SQLite file.
struct Registry {
    label: &'static str,
    address: SocketAddr,
    child: Child,
}

impl Registry {
    fn start(
        keys: &TestKeys,
        folder: &Path,
        label: &'static str,
        traces: impl FnOnce(&mut Command),
    ) -> Self {
        let address = free_address();
        let database = folder.join(format!("{label}.db"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_louyu"));
        command
            .args(["serve", "registry", "--listen", &address.to_string()])
            .arg("--database-url")
            .arg(format!("sqlite://{}?mode=rwc", database.display()))
            .env("LOUYU_JWKS_FILE", &keys.jwks_file)
            .env("LOUYU_SIGNING_KEY_FILE", &keys.signing_key_file)
            .env("LOUYU_LOG_FORMAT", "json")
            .env("LOUYU_DRAIN_DELAY", "0s")
            .env(
                "LOUYU_PAGE_TOKEN_SECRET",
                "bench-page-token-secret-0123456789",
            )
            .env_remove("LOUYU_DEV_IDENTITY")
            .env_remove("LOUYU_CONFIG")
            .env_remove("LOUYU_METRICS_LISTEN")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .env_remove("LOUYU_OTLP_ENDPOINT")
            .env_remove("OTEL_TRACES_SAMPLER")
            .env_remove("OTEL_TRACES_EXPORTER")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        traces(&mut command);
        let child = command.spawn().expect("start louyu serve registry");
        Self {
            label,
            address,
            child,
        }
    }

    /// Waits for the server, then creates the test district in it; returns
    /// an enterprise's name.
    async fn seed(&self, keys: &TestKeys) -> String {
        let endpoint = Endpoint::from_shared(format!("http://{}", self.address)).expect("a URL");
        let deadline = Instant::now() + Duration::from_secs(60);
        let channel: Channel = loop {
            match endpoint.connect().await {
                Ok(channel) => break channel,
                Err(error) if Instant::now() < deadline => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("the {} registry did not start: {error}", self.label),
            }
        };
        let mut admin = RegistryServiceClient::with_interceptor(
            channel,
            Bearer::new(&keys.token(&district_admin())),
        );
        let district = louyu_testkit::fixtures::district(&mut admin).await;
        louyu_testkit::fixtures::enterprise_name(&district.a)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An address no one listens on now (the port is released at once, so
/// another process could take it first; fine for a benchmark).
fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

/// An OTLP/gRPC trace collector that only counts the spans it is sent.
struct Collector {
    address: SocketAddr,
    spans: Arc<AtomicU64>,
}

impl Collector {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the collector");
        let address = listener.local_addr().expect("the collector's address");
        let spans = Arc::new(AtomicU64::new(0));
        let service = TraceServiceServer::new(Counting(spans.clone()));
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        Self { address, spans }
    }

    fn spans(&self) -> u64 {
        self.spans.load(Ordering::Relaxed)
    }
}

struct Counting(Arc<AtomicU64>);

#[tonic::async_trait]
impl TraceService for Counting {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans: usize = request
            .into_inner()
            .resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .map(|scope| scope.spans.len())
            .sum();
        self.0.fetch_add(spans as u64, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}
