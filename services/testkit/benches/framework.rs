//! What Louyu's server frame costs a call: `grpc.health.v1.Health/Check`
//! driven by h2load against a real service (the registry, with every layer a
//! call passes: span, trace context, metrics, timeout, concurrency limit,
//! status mapping) and against a bare tonic server with only the health service,
//! in one run, on the same runtime. Prints both rates and their ratio, and
//! the servers' CPU time per request (steady on a shared machine, where the
//! rates are not) and its ratio.
//!
//! `cargo bench -p louyu-testkit --bench framework` (h2load comes with
//! Debian's `nghttp2-client`). `LOUYU_BENCH_REQUESTS` sets the requests per
//! round (default 200000); each server gets five rounds, taking turns to go first, and
//! its best counts (the machine may be shared: the best round is the one
//! least disturbed). `LOUYU_BENCH_ONLY=bare` or `louyu` drives one server
//! alone, for a profiler; `LOUYU_BENCH_METRICS=off` leaves the calls'
//! metrics out, as a server without `LOUYU_METRICS_LISTEN` does.

use std::net::SocketAddr;
use std::path::Path;

use louyu_kit::config::ServiceName;
use louyu_kit::telemetry::LogFormat;
use louyu_testkit::TestBackend;
use louyu_testkit::h2load::{self, CLIENTS, Round, Run, STREAMS_PER_CLIENT};
use louyu_testkit::sandbox::Sandbox;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

const ROUNDS: usize = 5;

fn main() {
    h2load::require();
    let requests = h2load::requests_per_round(200_000);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    // The process's telemetry as `louyu serve` installs it with deploy/'s
    // settings: logs at info, the calls' metrics recorded, no span exported
    // (`LOUYU_BENCH_METRICS=off`: no metrics, as without
    // LOUYU_METRICS_LISTEN).
    let _telemetry = runtime.block_on(async {
        louyu_kit::telemetry::init("bench", LogFormat::Pretty, None).expect("telemetry")
    });
    let metrics = std::env::var("LOUYU_BENCH_METRICS").map_or(true, |value| value != "off");
    if metrics {
        louyu_kit::metrics::install().expect("the metrics recorder");
    }
    let folder = tempfile::tempdir().expect("a temporary folder");
    let body = folder.path().join("health-check-request");
    // A gRPC frame: no compression, length 0, an empty HealthCheckRequest.
    std::fs::write(&body, [0u8; 5]).expect("write the request body");

    let sandbox = runtime
        .block_on(Sandbox::start(
            TestBackend::Sqlite,
            &[&louyu_registry::startup::Registry],
        ))
        .expect("SQLite is always available");
    let louyu = sandbox.address(ServiceName::Registry);
    let bare = runtime.block_on(bare_health_server());

    // For a profiler (callgrind): one server alone, no ratio.
    if let Ok(only) = std::env::var("LOUYU_BENCH_ONLY") {
        let address = match only.as_str() {
            "bare" => bare,
            "louyu" => louyu,
            other => panic!("LOUYU_BENCH_ONLY is bare or louyu, not {other:?}"),
        };
        for round in 1..=ROUNDS {
            let run = h2load(address, &body, requests);
            println!("round {round}: {only} {:>7.0} req/s", run.rate);
        }
        return;
    }
    let mut louyu_runs = Vec::with_capacity(ROUNDS);
    let mut bare_runs = Vec::with_capacity(ROUNDS);
    for round in 1..=ROUNDS {
        // Alternate which goes first, so neither gains from going second.
        let (bare_run, louyu_run) = if round % 2 == 1 {
            let bare_run = h2load(bare, &body, requests);
            (bare_run, h2load(louyu, &body, requests))
        } else {
            let louyu_run = h2load(louyu, &body, requests);
            (h2load(bare, &body, requests), louyu_run)
        };
        println!(
            "round {round}: bare tonic {:>7.0} req/s ({:>4.1} µs CPU/req), louyu registry {:>7.0} req/s ({:>4.1} µs CPU/req)",
            bare_run.rate,
            bare_run.cpu_micros_per_request,
            louyu_run.rate,
            louyu_run.cpu_micros_per_request
        );
        bare_runs.push(bare_run);
        louyu_runs.push(louyu_run);
    }
    let best = |runs: &[Run]| h2load::best(runs).rate;
    let least_cpu = h2load::least_cpu;
    println!(
        "Health/Check, {ROUNDS} rounds of {requests} requests each ({CLIENTS} clients x {STREAMS_PER_CLIENT} streams), metrics {}:",
        if metrics { "on" } else { "off" }
    );
    println!(
        "  bare tonic (health only):    best {:>7.0} req/s, least {:>4.1} µs CPU/req",
        best(&bare_runs),
        least_cpu(&bare_runs)
    );
    println!(
        "  louyu registry (all layers): best {:>7.0} req/s, least {:>4.1} µs CPU/req",
        best(&louyu_runs),
        least_cpu(&louyu_runs)
    );
    println!(
        "  ratio louyu / bare: {:.3} by requests/s, {:.3} by CPU per request",
        best(&louyu_runs) / best(&bare_runs),
        least_cpu(&bare_runs) / least_cpu(&louyu_runs)
    );
    drop(sandbox);
}

/// tonic with nothing but the health service, SERVING, on port 0.
async fn bare_health_server() -> SocketAddr {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let address = listener.local_addr().expect("its address");
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tokio::spawn(async move {
        // The reporter lives as long as the server.
        let _reporter = reporter;
        Server::builder()
            .add_service(service)
            .serve_with_incoming(incoming)
            .await
            .expect("the bare server");
    });
    address
}

/// Drives `address`'s `Health/Check` with h2load; the CPU counted is this
/// process's (the servers'; h2load is another process), which unlike the
/// rate does not depend on what else the machine runs.
fn h2load(address: SocketAddr, body: &Path, requests: usize) -> Run {
    let log = body.with_extension(format!("{}.log", address.port()));
    Round {
        url: format!("http://{address}/grpc.health.v1.Health/Check"),
        body,
        headers: Vec::new(),
        requests,
        log: &log,
        cpu_of: "self".to_owned(),
    }
    .run()
}
