//! The README's first command, end to end: `louyu up --demo` starts the
//! registry and the visits service in one process on embedded SQLite, they
//! talk to each other over gRPC and through the registry's feed, SIGTERM
//! stops them cleanly, and the data is there after a restart.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use louyu_proto::registry::v1::ListBuildingsRequest;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::visits::v1::visits_service_client::VisitsServiceClient;
use louyu_proto::visits::v1::*;

const DISTRICT: &str = "districts/jingan";
/// The first enterprise of the generated demo district, a tenant of `b-01`,
/// whose field worker is `teacher-1` (see services/louyu/src/demo/district.rs).
const DEMO_ENTERPRISE: &str = "91310106MA1003FYBW";
const DEMO_BUILDING: &str = "b-01";
/// The demo district loads in well under a minute in release; a debug build
/// on a busy CI machine gets more room.
const DEADLINE: Duration = Duration::from_secs(600);

/// A district admin's token from `louyu token`, signed with the key `louyu
/// up` generated under `folder`.
fn admin_token(folder: &std::path::Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_louyu"))
        .args([
            "token",
            "--role",
            "district-admin",
            "--staff",
            "s-001",
            "--ttl",
            "1h",
        ])
        .env(
            "LOUYU_SIGNING_KEY_FILE",
            folder.join("data/identity/signing-key.pem"),
        )
        .env_remove("LOUYU_CONFIG")
        .output()
        .expect("run louyu token");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A channel to `url` whose calls carry `token`.
async fn authorized(url: &str, token: &str) -> louyu_testkit::identity::AuthorizedChannel {
    let channel = tonic::transport::Channel::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .expect("connect");
    louyu_testkit::identity::AuthorizedChannel::new(
        channel,
        louyu_testkit::identity::Bearer::new(token),
    )
}

struct Suite {
    child: Child,
    registry_url: String,
    visits_url: String,
    /// The ready tokens `louyu up` printed, by role.
    tokens: std::collections::HashMap<String, String>,
}

/// Starts `louyu up --demo` in `folder` and waits for its "louyu is up" line.
fn start(folder: &std::path::Path) -> Suite {
    let mut child = Command::new(env!("CARGO_BIN_EXE_louyu"))
        .args(["up", "--demo", "--ephemeral-ports"])
        .current_dir(folder)
        .env("LOUYU_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env_remove("LOUYU_DATABASE_URL")
        .env_remove("LOUYU_LISTEN")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start louyu");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tokens = std::collections::HashMap::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                // "  field-worker (staff:teacher-1): eyJ…"
                // (the addresses above them read alike, but are no JWT).
                if let Some((role, rest)) = line.trim_start().split_once(" (")
                    && let Some((_, token)) = rest.split_once("): ")
                    && token.trim().starts_with("eyJ")
                {
                    tokens.insert(role.to_owned(), token.trim().to_owned());
                }
                continue;
            };
            if entry["message"]
                .as_str()
                .is_some_and(|message| message.starts_with("louyu is up"))
            {
                // `services` reads "registry=http://… visits=http://…".
                let services = entry["services"].as_str().unwrap_or_default();
                let url = |service: &str| {
                    services
                        .split(' ')
                        .find_map(|pair| pair.strip_prefix(&format!("{service}=")))
                        .unwrap_or_default()
                        .to_owned()
                };
                let _ = sender.send((url("registry"), url("visits"), tokens.clone()));
            }
        }
    });
    let (registry_url, visits_url, tokens) =
        receiver.recv_timeout(DEADLINE).expect("louyu comes up");
    Suite {
        child,
        registry_url,
        visits_url,
        tokens,
    }
}

impl Suite {
    /// SIGTERM, as Kubernetes stops a pod; the process must exit cleanly.
    fn stop(mut self) {
        let terminated = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(terminated.success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "louyu exits cleanly on SIGTERM: {status}");
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "louyu stops within the deadline"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Suite {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Health says SERVING only once the service can answer what it advertises:
/// with `--demo`, once the demo district is loaded. The registry already
/// answers before that (the demo loads through its API), so a health check
/// made as soon as it listens must not say SERVING while buildings are
/// missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn louyu_up_reports_serving_only_once_the_demo_data_is_loaded() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let folder = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_louyu"))
        .args(["up", "--demo", "--ephemeral-ports"])
        .current_dir(folder.path())
        .env("LOUYU_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env_remove("LOUYU_DATABASE_URL")
        .env_remove("LOUYU_LISTEN")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start louyu");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if entry["message"] == "registry serving" {
                let address = entry["address"].as_str().unwrap_or_default().to_owned();
                let _ = sender.send(format!("http://{address}"));
            }
        }
    });
    let registry_url = receiver
        .recv_timeout(DEADLINE)
        .expect("the registry listens");
    let suite = Suite {
        child,
        registry_url: registry_url.clone(),
        visits_url: String::new(),
        tokens: std::collections::HashMap::new(),
    };

    let channel = tonic::transport::Channel::from_shared(registry_url)
        .unwrap()
        .connect()
        .await
        .expect("connect to the registry");
    let mut health = HealthClient::new(channel.clone());
    let mut registry = RegistryServiceClient::new(
        authorized(&suite.registry_url, &admin_token(folder.path())).await,
    );
    let started = Instant::now();
    loop {
        let status = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("health answers")
            .into_inner()
            .status;
        if status == ServingStatus::Serving as i32 {
            break;
        }
        assert!(started.elapsed() < DEADLINE, "the registry becomes SERVING");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let buildings = registry
        .list_buildings(ListBuildingsRequest {
            parent: DISTRICT.to_owned(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        buildings.buildings.len(),
        50,
        "SERVING came only after the demo district was loaded"
    );
    let development = health
        .check(HealthCheckRequest {
            service: "louyu.identity.development".to_owned(),
        })
        .await
        .expect("development identity shows in health")
        .into_inner()
        .status;
    assert_eq!(development, ServingStatus::Serving as i32);
    suite.stop();
}

fn import(registry_url: &str, token: &str, file: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_louyu"))
        .args([
            "import",
            "--kind",
            "enterprises",
            "--registry-url",
            registry_url,
        ])
        .arg(file)
        .env("LOUYU_TOKEN", token)
        .env("LOUYU_LOG_FORMAT", "json")
        .output()
        .expect("run louyu import")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn louyu_up_runs_the_suite_on_embedded_sqlite_and_stops_cleanly() {
    let folder = tempfile::tempdir().unwrap();
    let suite = start(folder.path());
    let token = admin_token(folder.path());
    let mut registry = RegistryServiceClient::new(authorized(&suite.registry_url, &token).await);
    let mut visits = VisitsServiceClient::new(authorized(&suite.visits_url, &token).await);
    let mut roles: Vec<&str> = suite.tokens.keys().map(String::as_str).collect();
    roles.sort();
    assert_eq!(
        roles,
        [
            "auditor",
            "department-officer",
            "district-admin",
            "field-worker",
            "sub-district-admin",
            "system"
        ],
        "a ready token for each role"
    );

    let buildings = registry
        .list_buildings(ListBuildingsRequest {
            parent: DISTRICT.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        !buildings.buildings.is_empty(),
        "the demo district is loaded"
    );
    registry
        .get_enterprise(louyu_proto::registry::v1::GetEnterpriseRequest {
            name: format!("{DISTRICT}/enterprises/{DEMO_ENTERPRISE}"),
        })
        .await
        .expect("the demo enterprise is loaded");

    // The visits service follows the registry's feed: the demo tenancy gave
    // the enterprise a visit plan.
    let plan = format!("{DISTRICT}/visitPlans/{DEMO_ENTERPRISE}");
    let started = Instant::now();
    while visits
        .get_visit_plan(GetVisitPlanRequest { name: plan.clone() })
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < DEADLINE,
            "the plan appears from the registry's feed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let now = prost_types::Timestamp {
        seconds: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
        nanos: 0,
    };
    let submitted = visits
        .submit_visit(SubmitVisitRequest {
            parent: DISTRICT.to_owned(),
            visit: Some(Visit {
                building: format!("{DISTRICT}/buildings/{DEMO_BUILDING}"),
                staff: vec![format!("{DISTRICT}/staff/teacher-1")],
                visit_time: Some(now),
                kind: VisitKind::Routine as i32,
                observations: vec![Observation {
                    enterprise: format!("{DISTRICT}/enterprises/{DEMO_ENTERPRISE}"),
                    satisfaction: 5,
                    ..Observation::default()
                }],
                ..Visit::default()
            }),
            demands: vec![DemandDraft {
                enterprise: format!("{DISTRICT}/enterprises/{DEMO_ENTERPRISE}"),
                category: louyu_proto::common::v1::DemandCategory::OfficeSpace as i32,
                description: "需要增加200平方米办公面积".to_owned(),
                urgency: Urgency::Normal as i32,
            }],
            request_id: "e2e-visit-1".to_owned(),
        })
        .await
        .expect("a visit checked against the registry over gRPC")
        .into_inner();
    assert_eq!(submitted.demands.len(), 1);

    // The printed field worker's token works as is: visits asks the registry
    // about them, acting for them.
    let teacher = authorized(&suite.visits_url, &suite.tokens["field-worker"]).await;
    VisitsServiceClient::new(teacher)
        .list_due_visits(ListDueVisitsRequest {
            staff: format!("{DISTRICT}/staff/teacher-1"),
            horizon_days: 31,
            ..ListDueVisitsRequest::default()
        })
        .await
        .expect("the field worker's due visits");

    // `louyu import` loads a CSV file through the registry.
    let good = folder.path().join("enterprises.csv");
    std::fs::write(
        &good,
        "统一社会信用代码,企业名称,员工人数\n91110000802100433B,导入示例有限公司,42\n",
    )
    .unwrap();
    let imported = import(&suite.registry_url, &token, &good);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stdout)
    );
    assert!(
        String::from_utf8_lossy(&imported.stdout).contains("1 rows read, applied 1, rejected 0")
    );
    let bad = folder.path().join("bad.csv");
    std::fs::write(&bad, "uscc,display_name\n91110000802100433C,校验码错误\n").unwrap();
    let rejected = import(&suite.registry_url, &token, &bad);
    assert!(
        !rejected.status.success(),
        "a rejected row fails the command"
    );
    let report = String::from_utf8_lossy(&rejected.stdout);
    assert!(report.contains("line 2 [uscc]"), "{report}");
    suite.stop();

    // Everything was kept in ./data.
    // Each start makes a new development key pair: a new token is needed.
    let restarted = start(folder.path());
    let token = admin_token(folder.path());
    let mut visits = VisitsServiceClient::new(authorized(&restarted.visits_url, &token).await);
    visits
        .get_visit(GetVisitRequest {
            name: submitted
                .visit
                .as_ref()
                .expect("the recorded visit")
                .name
                .clone(),
        })
        .await
        .expect("the visit survived the restart");
    assert!(folder.path().join("data/registry.db").is_file());
    assert!(folder.path().join("data/visits.db").is_file());
    restarted.stop();
}
