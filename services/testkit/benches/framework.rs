//! What Louyu's server frame costs a call: `grpc.health.v1.Health/Check`
//! driven by h2load against a real service (the registry, with every layer a
//! call passes: span, trace context, timeout, concurrency limit, status
//! mapping) and against a bare tonic server with only the health service,
//! in one run, on the same runtime. Prints both rates and their ratio.
//!
//! `cargo bench -p louyu-testkit --bench framework` (h2load comes with
//! Debian's `nghttp2-client`). `LOUYU_BENCH_REQUESTS` sets the requests per
//! round (default 200000); each server gets three rounds, alternating, and
//! its best counts.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use louyu_kit::config::ServiceName;
use louyu_kit::telemetry::LogFormat;
use louyu_testkit::TestBackend;
use louyu_testkit::sandbox::Sandbox;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

const ROUNDS: usize = 3;
const CLIENTS: usize = 8;
const STREAMS_PER_CLIENT: usize = 16;

fn main() {
    if Command::new("h2load").arg("--version").output().is_err() {
        eprintln!(
            "h2load is missing: this benchmark drives the servers with it. \
             Install Debian's nghttp2-client (apt-get install -y nghttp2-client) and run it again."
        );
        std::process::exit(2);
    }
    let requests: usize = std::env::var("LOUYU_BENCH_REQUESTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(200_000);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    // The process's telemetry as `louyu serve` installs it: logs at info,
    // spans to the OpenTelemetry layer, nothing exported.
    let _telemetry = runtime.block_on(async {
        louyu_kit::telemetry::init("bench", LogFormat::Pretty, None).expect("telemetry")
    });
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

    let mut best_louyu: f64 = 0.0;
    let mut best_bare: f64 = 0.0;
    for round in 1..=ROUNDS {
        let bare_rate = h2load(bare, &body, requests);
        let louyu_rate = h2load(louyu, &body, requests);
        println!(
            "round {round}: bare tonic {bare_rate:>9.0} req/s, louyu registry {louyu_rate:>9.0} req/s"
        );
        best_bare = best_bare.max(bare_rate);
        best_louyu = best_louyu.max(louyu_rate);
    }
    println!(
        "Health/Check, best of {ROUNDS} rounds of {requests} requests ({CLIENTS} clients x {STREAMS_PER_CLIENT} streams):"
    );
    println!("  bare tonic (health only):  {best_bare:>9.0} req/s");
    println!("  louyu registry (all layers): {best_louyu:>9.0} req/s");
    println!("  ratio louyu / bare: {:.3}", best_louyu / best_bare);
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

/// Requests per second h2load reached against `address`; panics unless
/// every request succeeded.
fn h2load(address: SocketAddr, body: &Path, requests: usize) -> f64 {
    let output = Command::new("h2load")
        .args(["-n", &requests.to_string()])
        .args(["-c", &CLIENTS.to_string()])
        .args(["-m", &STREAMS_PER_CLIENT.to_string()])
        .args(["-t", "1"])
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
        .arg("-d")
        .arg(body)
        .arg(format!("http://{address}/grpc.health.v1.Health/Check"))
        .output()
        .expect("run h2load");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "h2load failed:\n{text}");
    assert!(
        text.contains(&format!("{requests} succeeded")),
        "not every request succeeded:\n{text}"
    );
    // "finished in 2.01s, 99502.49 req/s, 9.68MB/s"
    text.lines()
        .find_map(|line| {
            let rate = line.strip_prefix("finished in ")?.split(", ").nth(1)?;
            rate.strip_suffix(" req/s")?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no rate in h2load's output:\n{text}"))
}
