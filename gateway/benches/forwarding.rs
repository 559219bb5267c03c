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
//! first, and its best rate counts. `LOUYU_BENCH_ONLY=direct` or `gateway`
//! drives one path alone, for a profiler; `LOUYU_BENCH_PROXY=nghttpx`
//! compares nghttpx (Debian's `nghttp2-proxy`) in the gateway's place, as a
//! reference for what a bare HTTP/2 proxy costs here.

use std::net::SocketAddr;
use std::path::Path;

use louyu_kit::config::ServiceName;
use louyu_kit::telemetry::LogFormat;
use louyu_proto::registry::v1::GetEnterpriseRequest;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_testkit::TestBackend;
use louyu_testkit::h2load::{self, CLIENTS, Round, Run, STREAMS_PER_CLIENT};
use louyu_testkit::identity::{auditor, district_admin};
use louyu_testkit::sandbox::Sandbox;
use prost::Message;

const ROUNDS: usize = 3;

fn main() {
    h2load::require();
    let requests = h2load::requests_per_round(50_000);
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
    h2load::write_request(
        &body,
        &GetEnterpriseRequest { name: enterprise }.encode_to_vec(),
    );

    let gateway = sandbox.address(ServiceName::Gateway);
    let registry = sandbox.address(ServiceName::Registry);
    // A reference: the same calls through nghttpx (Debian's nghttp2-proxy),
    // a bare HTTP/2 proxy in C, in place of the gateway.
    if std::env::var("LOUYU_BENCH_PROXY").as_deref() == Ok("nghttpx") {
        let proxy = nghttpx_in_front_of(registry);
        for round in 1..=ROUNDS {
            let log = |name: &str| folder.path().join(format!("{name}-{round}.log"));
            let direct_run = h2load(registry, &body, &token, requests, &log("direct"));
            let proxied = h2load(proxy.address, &body, &token, requests, &log("nghttpx"));
            println!(
                "round {round}: registry {:>7.0} req/s, through nghttpx {:>7.0} req/s: ratio {:.3}",
                direct_run.rate,
                proxied.rate,
                proxied.rate / direct_run.rate
            );
        }
        return;
    }
    // For a profiler (perf, callgrind): one path alone, no ratio.
    if let Ok(only) = std::env::var("LOUYU_BENCH_ONLY") {
        let (address, name) = match only.as_str() {
            "direct" => (registry, "direct"),
            "gateway" => (gateway, "gateway"),
            other => panic!("LOUYU_BENCH_ONLY is direct or gateway, not {other:?}"),
        };
        for round in 1..=ROUNDS {
            let log = folder.path().join(format!("{name}-{round}.log"));
            let run = h2load(address, &body, &token, requests, &log);
            println!(
                "round {round}: {name} {:>7.0} req/s ({:>5.1} µs CPU/req)",
                run.rate, run.cpu_micros_per_request
            );
        }
        return;
    }
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
            "round {round}: registry {:>7.0} req/s (p50 {:>6.2} ms, p99 {:>6.2} ms, {:>5.1} µs CPU/req), through the gateway {:>7.0} req/s (p50 {:>6.2} ms, p99 {:>6.2} ms, {:>5.1} µs CPU/req)",
            direct_run.rate,
            direct_run.p50_ms,
            direct_run.p99_ms,
            direct_run.cpu_micros_per_request,
            gateway_run.rate,
            gateway_run.p50_ms,
            gateway_run.p99_ms,
            gateway_run.cpu_micros_per_request,
        );
        direct.push(direct_run);
        through.push(gateway_run);
    }
    let best = h2load::best;
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

/// Drives `address`'s `GetEnterprise` with h2load as `token`'s bearer.
fn h2load(address: SocketAddr, body: &Path, token: &str, requests: usize, log: &Path) -> Run {
    Round {
        url: format!("http://{address}/louyu.registry.v1.RegistryService/GetEnterprise"),
        body,
        headers: vec![format!("authorization: Bearer {token}")],
        requests,
        log,
        cpu_of: "self".to_owned(),
    }
    .run()
}

/// nghttpx serving plain HTTP/2 on a free port and passing every request
/// to `backend` over HTTP/2, with one worker; stopped when dropped.
struct Nghttpx {
    address: SocketAddr,
    child: std::process::Child,
}

impl Drop for Nghttpx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nghttpx_in_front_of(backend: SocketAddr) -> Nghttpx {
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let child = std::process::Command::new("nghttpx")
        .arg(format!(
            "--frontend={},{};no-tls",
            address.ip(),
            address.port()
        ))
        .arg(format!(
            "--backend={},{};;proto=h2",
            backend.ip(),
            backend.port()
        ))
        .args([
            "--workers=1",
            // One process: killing it leaves no worker behind.
            "--single-process",
            "--no-via",
            "--no-ocsp",
            "--errorlog-file=/dev/null",
        ])
        .arg("--accesslog-file=/dev/null")
        .arg("--conf=/dev/null")
        .spawn()
        .expect("nghttpx (apt-get install -y nghttp2-proxy)");
    // Stopped when dropped, on the way out of a panic too.
    let proxy = Nghttpx { address, child };
    for _ in 0..100 {
        if std::net::TcpStream::connect(address).is_ok() {
            return proxy;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("nghttpx did not listen on {address}");
}
