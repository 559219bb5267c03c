//! What Louyu's server frame costs a call: `grpc.health.v1.Health/Check`
//! driven by h2load against a real service (the registry, with every layer a
//! call passes: span, trace context, timeout, concurrency limit, status
//! mapping) and against a bare tonic server with only the health service,
//! in one run, on the same runtime. Prints both rates and their ratio, and
//! the servers' CPU time per request (steady on a shared machine, where the
//! rates are not) and its ratio.
//!
//! `cargo bench -p louyu-testkit --bench framework` (h2load comes with
//! Debian's `nghttp2-client`). `LOUYU_BENCH_REQUESTS` sets the requests per
//! round (default 200000); each server gets five rounds, taking turns to go first, and
//! its best counts (the machine may be shared: the best round is the one
//! least disturbed).

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

const ROUNDS: usize = 5;
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
    let best = |runs: &[Run]| runs.iter().map(|run| run.rate).fold(0.0, f64::max);
    let least_cpu = |runs: &[Run]| {
        runs.iter()
            .map(|run| run.cpu_micros_per_request)
            .fold(f64::INFINITY, f64::min)
    };
    println!(
        "Health/Check, {ROUNDS} rounds of {requests} requests each ({CLIENTS} clients x {STREAMS_PER_CLIENT} streams):"
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

/// One h2load run against one server.
struct Run {
    /// Requests per second, as h2load measured them.
    rate: f64,
    /// This process's CPU time (the servers'; h2load is another process)
    /// per request: unlike the rate, it does not depend on what else the
    /// machine is running.
    cpu_micros_per_request: f64,
}

/// Drives `address` with h2load; panics unless every request succeeded.
fn h2load(address: SocketAddr, body: &Path, requests: usize) -> Run {
    let cpu_before = process_cpu_seconds();
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
    let cpu_seconds = process_cpu_seconds() - cpu_before;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "h2load failed:\n{text}");
    assert!(
        text.contains(&format!("{requests} succeeded")),
        "not every request succeeded:\n{text}"
    );
    // "finished in 2.01s, 99502.49 req/s, 9.68MB/s"
    let rate = text
        .lines()
        .find_map(|line| {
            let rate = line.strip_prefix("finished in ")?.split(", ").nth(1)?;
            rate.strip_suffix(" req/s")?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no rate in h2load's output:\n{text}"));
    Run {
        rate,
        cpu_micros_per_request: cpu_seconds * 1e6 / requests as f64,
    }
}

/// User and system CPU time of this process so far, from /proc/self/stat
/// (fields 14 and 15, in clock ticks of 1/100 s on Linux).
fn process_cpu_seconds() -> f64 {
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The command name, field 2, is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')').expect("a command name") + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks = |index: usize| -> f64 { fields[index].parse().expect("a tick count") };
    // after_name starts at field 3: utime (14) and stime (15) are at 11, 12.
    (ticks(11) + ticks(12)) / TICKS_PER_SECOND
}
