//! What the gateway costs a call: `RegistryService/GetEnterprise` driven by
//! h2load through the gateway (forwarding, with its protection on: the
//! rate limiter, the in-flight bound, the size check, the deadline) and
//! straight to the registry, at the same concurrency, in one run. Prints
//! both rates, their ratio, and the latency the gateway adds at p50 and
//! p99 (from h2load's per-request log).
//!
//! `cargo bench -p louyu-gateway --bench forwarding` (h2load comes with
//! Debian's `nghttp2-client`). `LOUYU_BENCH_REQUESTS` sets the requests per
//! round (default 50000); each target gets three rounds, taking turns to go
//! first, and its best rate counts.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use louyu_kit::config::ServiceName;
use louyu_kit::telemetry::LogFormat;
use louyu_proto::registry::v1::GetEnterpriseRequest;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_testkit::TestBackend;
use louyu_testkit::identity::{auditor, district_admin};
use louyu_testkit::sandbox::Sandbox;
use prost::Message;

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
        .unwrap_or(50_000);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let _telemetry = runtime.block_on(async {
        louyu_kit::telemetry::init("bench", LogFormat::Pretty, None).expect("telemetry")
    });
    // The protection as deployed, but with a rate no benchmark reaches: the
    // limiter still takes a token for every call, from the one caller.
    let sandbox = runtime
        .block_on(Sandbox::start_with(
            TestBackend::Sqlite,
            &[
                &louyu_gateway::startup::Gateway,
                &louyu_registry::startup::Registry,
            ],
            |_, config| {
                config.gateway_protection.rate_per_second = 1e9;
                config.gateway_protection.rate_burst = 1_000_000;
            },
        ))
        .expect("SQLite is always available");
    // An auditor reads: contacts masked, so no read is audited, and the
    // figures are the forwarding's, not SQLite's writes.
    let enterprise = runtime.block_on(async {
        let mut admin = RegistryServiceClient::new(
            sandbox
                .client_as(ServiceName::Registry, &district_admin())
                .await,
        );
        let district = louyu_testkit::fixtures::district(&mut admin).await;
        let name = louyu_testkit::fixtures::enterprise_name(&district.a);
        for service in [ServiceName::Gateway, ServiceName::Registry] {
            let mut reader =
                RegistryServiceClient::new(sandbox.client_as(service, &auditor()).await);
            reader
                .get_enterprise(GetEnterpriseRequest { name: name.clone() })
                .await
                .unwrap_or_else(|status| panic!("{} answers: {status:?}", service.as_str()));
        }
        name
    });
    let token = sandbox.keys().token(&auditor());
    let folder = tempfile::tempdir().expect("a temporary folder");
    let body = folder.path().join("get-enterprise-request");
    let message = GetEnterpriseRequest { name: enterprise }.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    std::fs::write(&body, frame).expect("write the request body");

    let gateway = sandbox.address(ServiceName::Gateway);
    let registry = sandbox.address(ServiceName::Registry);
    let mut through = Vec::new();
    let mut direct = Vec::new();
    for round in 1..=ROUNDS {
        let log = |name: &str| folder.path().join(format!("{name}-{round}.log"));
        let run = |address, name| h2load(address, &body, &token, requests, &log(name));
        let (direct_run, gateway_run) = if round % 2 == 1 {
            let direct_run = run(registry, "direct");
            (direct_run, run(gateway, "gateway"))
        } else {
            let gateway_run = run(gateway, "gateway");
            (run(registry, "direct"), gateway_run)
        };
        println!(
            "round {round}: registry {:>7.0} req/s (p50 {:>6.2} ms, p99 {:>6.2} ms), through the gateway {:>7.0} req/s (p50 {:>6.2} ms, p99 {:>6.2} ms)",
            direct_run.rate,
            direct_run.p50_ms,
            direct_run.p99_ms,
            gateway_run.rate,
            gateway_run.p50_ms,
            gateway_run.p99_ms,
        );
        direct.push(direct_run);
        through.push(gateway_run);
    }
    let best = |runs: &[Run]| {
        runs.iter()
            .max_by(|a, b| a.rate.total_cmp(&b.rate))
            .expect("a round")
            .clone()
    };
    let (direct, through) = (best(&direct), best(&through));
    println!(
        "GetEnterprise, best of {ROUNDS} rounds of {requests} requests ({CLIENTS} clients x {STREAMS_PER_CLIENT} streams):"
    );
    println!(
        "  straight to the registry: {:>7.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        direct.rate, direct.p50_ms, direct.p99_ms
    );
    println!(
        "  through the gateway:      {:>7.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        through.rate, through.p50_ms, through.p99_ms
    );
    println!(
        "  ratio gateway / direct: {:.3}; the gateway adds {:.2} ms at p50, {:.2} ms at p99",
        through.rate / direct.rate,
        through.p50_ms - direct.p50_ms,
        through.p99_ms - direct.p99_ms
    );
    drop(sandbox);
}

/// One h2load run against one server.
#[derive(Clone)]
struct Run {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Drives `address` with h2load; panics unless every request succeeded.
fn h2load(address: SocketAddr, body: &Path, token: &str, requests: usize, log: &Path) -> Run {
    let output = Command::new("h2load")
        .args(["-n", &requests.to_string()])
        .args(["-c", &CLIENTS.to_string()])
        .args(["-m", &STREAMS_PER_CLIENT.to_string()])
        .args(["-t", "1"])
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
        .args(["-H", &format!("authorization: Bearer {token}")])
        .arg("-d")
        .arg(body)
        .arg("--log-file")
        .arg(log)
        .arg(format!(
            "http://{address}/louyu.registry.v1.RegistryService/GetEnterprise"
        ))
        .output()
        .expect("run h2load");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "h2load failed:\n{text}");
    assert!(
        text.contains(&format!("{requests} succeeded")),
        "not every request succeeded:\n{text}"
    );
    let rate = text
        .lines()
        .find_map(|line| {
            let rate = line.strip_prefix("finished in ")?.split(", ").nth(1)?;
            rate.strip_suffix(" req/s")?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no rate in h2load's output:\n{text}"));
    // Each line: start (µs since the epoch), status, time to the end of the
    // answer (µs).
    let mut latencies: Vec<f64> = std::fs::read_to_string(log)
        .expect("h2load's log")
        .lines()
        .filter_map(|line| line.split('\t').nth(2)?.trim().parse::<f64>().ok())
        .collect();
    assert!(!latencies.is_empty(), "h2load logged no request");
    latencies.sort_by(f64::total_cmp);
    let at = |quantile: f64| {
        let index = ((latencies.len() as f64 - 1.0) * quantile).round() as usize;
        latencies[index] / 1000.0
    };
    Run {
        rate,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    }
}
