//! What a `CreateEnterprise` costs beyond its effect on PostgreSQL.
//!
//! `LOUYU_TEST_POSTGRES_URL=postgres://… cargo bench -p louyu-registry --bench create_enterprise`
//! starts a registry on a fresh PostgreSQL database and drives
//! `CreateEnterprise` over real gRPC from 16 concurrent clients (each with a
//! connection of its own, each call with a `request_id`), then runs pgbench
//! with the same 16 clients on another fresh database with the same schema,
//! executing the least transaction with the same effect
//! (`create_enterprise.pgbench.sql`: the row, its idempotency key, its
//! audit record, its event under the next sequence number). It prints both
//! rates and their ratio. `LOUYU_BENCH_SECONDS` sets each run's length
//! (default 10); pgbench must be on the `PATH` (Debian: `postgresql-client`).

use std::io::Write;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use louyu_kit::config::ServiceName;
use louyu_kit::db::Db;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::registry::v1::{
    Contact, CreateEnterpriseRequest, Enterprise, EnterpriseCreated, EnterpriseStatus,
};
use louyu_registry::domain::uscc::with_check_character;
use louyu_testkit::sandbox::Sandbox;
use louyu_testkit::{TestBackend, TestDatabase};
use prost::Message;
use secrecy::ExposeSecret;
use tonic::transport::Channel;

const CLIENTS: usize = 16;
const DISTRICT: &str = "districts/jingan";
const PGBENCH_SCRIPT: &str = include_str!("create_enterprise.pgbench.sql");

fn enterprise(uscc: String) -> Enterprise {
    Enterprise {
        uscc,
        display_name: "上海示例科技有限公司".to_owned(),
        industry: "信息技术".to_owned(),
        headcount: 120,
        party_members: 8,
        contacts: vec![Contact {
            person_name: "王小明".to_owned(),
            title: "行政经理".to_owned(),
            phone: "13800138000".to_owned(),
            email: "wang@example.com".to_owned(),
        }],
        status: EnterpriseStatus::Active as i32,
        registered_address: "浦东新区示例路1号".to_owned(),
        ..Enterprise::default()
    }
}

/// A valid code for each client and call: `n` fills the organisation code.
fn uscc(client: usize, call: u64) -> String {
    let n = client as u64 * 10_000_000 + call;
    with_check_character(&format!("91310106{n:09}"))
}

/// Calls per second of `CreateEnterprise` from [`CLIENTS`] clients, and a
/// response as the registry sent it (to size pgbench's).
async fn grpc_rate(seconds: u64) -> Option<(f64, Enterprise)> {
    let sandbox =
        Sandbox::start(TestBackend::Postgres, &[&louyu_registry::startup::Registry]).await?;
    let address = sandbox.address(ServiceName::Registry);
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let channel = Channel::from_shared(format!("http://{address}"))
            .expect("an address")
            .connect()
            .await
            .expect("connect to the registry");
        // Each call's token is verified, as in production.
        let token = sandbox
            .keys()
            .token(&louyu_testkit::identity::district_admin());
        clients.push(RegistryServiceClient::with_interceptor(
            channel,
            louyu_testkit::identity::Bearer::new(&token),
        ));
    }
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (client_index, mut client) in clients.into_iter().enumerate() {
        let (measuring, stop, calls) = (measuring.clone(), stop.clone(), calls.clone());
        tasks.push(tokio::spawn(async move {
            let mut last = None;
            let mut call = 0;
            while !stop.load(Ordering::Relaxed) {
                call += 1;
                let created = client
                    .create_enterprise(CreateEnterpriseRequest {
                        parent: DISTRICT.to_owned(),
                        enterprise: Some(enterprise(uscc(client_index, call))),
                        request_id: format!("bench-{client_index}-{call}"),
                    })
                    .await
                    .expect("CreateEnterprise succeeds")
                    .into_inner();
                if measuring.load(Ordering::Relaxed) {
                    calls.fetch_add(1, Ordering::Relaxed);
                }
                last = Some(created);
            }
            last
        }));
    }
    // A second of warm-up: connections, prepared statements, caches.
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let rate = calls.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut sample = None;
    for task in tasks {
        sample = task.await.expect("a client").or(sample);
    }
    drop(sandbox);
    Some((rate, sample.expect("at least one call")))
}

/// pgbench's transactions per second for the script, on a fresh database
/// migrated as the registry's is; `None` when pgbench is missing.
async fn pgbench_rate(seconds: u64, response_bytes: usize, payload_bytes: usize) -> Option<f64> {
    let database = TestDatabase::create(TestBackend::Postgres).await?;
    let db = Db::connect(&database.url).await.expect("connect");
    louyu_kit::hosting::migrate_database(&db, &louyu_registry::startup::Registry)
        .await
        .expect("migrate");
    db.close().await;
    let mut script = tempfile::NamedTempFile::new().expect("a temporary file");
    script
        .write_all(PGBENCH_SCRIPT.as_bytes())
        .expect("write the script");
    let output = match Command::new("pgbench")
        .args(["--no-vacuum", "--protocol=prepared"])
        .arg(format!("--client={CLIENTS}"))
        .arg("--jobs=2")
        .arg(format!("--time={seconds}"))
        .arg(format!("--define=response_bytes={response_bytes}"))
        .arg(format!("--define=payload_bytes={payload_bytes}"))
        .arg(format!("--file={}", script.path().display()))
        .arg(database.url.expose_secret())
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
        Err(error) => panic!("cannot run pgbench: {error}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "pgbench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tps = stdout
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no tps in pgbench's output:\n{stdout}"));
    Some(tps)
}

#[tokio::main]
async fn main() {
    let seconds = std::env::var("LOUYU_BENCH_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(10);
    if std::env::var(louyu_testkit::POSTGRES_URL_VARIABLE).is_err() {
        println!("skipped: set LOUYU_TEST_POSTGRES_URL to a PostgreSQL server");
        return;
    }
    let (calls_per_second, sample) = grpc_rate(seconds).await.expect("a database");
    println!("CreateEnterprise over gRPC, {CLIENTS} clients: {calls_per_second:>8.0} calls/s");
    let response_bytes = sample.encoded_len();
    // The event carries the enterprise without its contacts.
    let payload_bytes = EnterpriseCreated {
        enterprise: Some(Enterprise {
            contacts: Vec::new(),
            ..sample
        }),
    }
    .encoded_len();
    let Some(transactions_per_second) = pgbench_rate(seconds, response_bytes, payload_bytes).await
    else {
        println!(
            "pgbench is missing: install it (Debian: apt-get install postgresql-client) to get the ratio"
        );
        std::process::exit(2);
    };
    println!(
        "pgbench, same effect, {CLIENTS} clients:  {transactions_per_second:>8.0} transactions/s"
    );
    println!("ratio: {:.2}", calls_per_second / transactions_per_second);
}
