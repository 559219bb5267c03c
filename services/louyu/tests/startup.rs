//! The `louyu` command line: each subcommand takes exactly the flags its help
//! lists, and a start-up error is one readable line without secrets.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

const PASSWORD: &str = "hunter2-secret";

/// Development identity, so `serve` starts without a JWKS file; the test of
/// a deployment without one sets it back.
fn louyu(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_louyu"))
        .args(arguments)
        .env("LOUYU_DEV_IDENTITY", "1")
        .env_remove("LOUYU_DATABASE_URL")
        .env_remove("LOUYU_LISTEN")
        .env_remove("LOUYU_CONFIG")
        .env("LOUYU_LOG_FORMAT", "json")
        .output()
        .expect("run louyu")
}

fn help_of(subcommand: &str) -> String {
    let output = louyu(&[subcommand, "--help"]);
    assert!(output.status.success(), "louyu {subcommand} --help");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn each_subcommand_help_lists_exactly_the_flags_it_accepts() {
    let cases: [(&str, &[&str], &[&str]); 5] = [
        (
            "serve",
            &["--config", "--district", "--database-url", "--listen"],
            &["--demo", "--registry-url"],
        ),
        (
            "migrate",
            &["--config", "--database-url"],
            &["--listen", "--demo", "--registry-url"],
        ),
        (
            "import",
            &[
                "--config",
                "--district",
                "--kind",
                "--validate-only",
                "--registry-url",
            ],
            &["--listen", "--database-url", "--demo"],
        ),
        (
            "token",
            &[
                "--role",
                "--staff",
                "--sub-district",
                "--department",
                "--system",
                "--ttl",
                "--district",
            ],
            &["--listen", "--database-url", "--registry-url", "--demo"],
        ),
        (
            "up",
            &["--config", "--district", "--demo", "--ephemeral-ports"],
            &["--listen", "--database-url", "--registry-url"],
        ),
    ];
    for (subcommand, listed, not_listed) in cases {
        let help = help_of(subcommand);
        for flag in listed {
            assert!(
                help.contains(flag),
                "louyu {subcommand} lists {flag}:\n{help}"
            );
        }
        for flag in not_listed {
            assert!(
                !help.contains(flag),
                "louyu {subcommand} does not list {flag}:\n{help}"
            );
        }
    }
    let refused = louyu(&["up", "--listen", "127.0.0.1:0"]);
    assert_eq!(refused.status.code(), Some(2), "a flag up does not take");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unexpected argument"));
}

#[test]
fn a_deployment_without_public_keys_or_development_identity_does_not_start() {
    let output = Command::new(env!("CARGO_BIN_EXE_louyu"))
        .args(["serve", "registry", "--listen", "127.0.0.1:0"])
        .env_remove("LOUYU_JWKS_FILE")
        .env_remove("LOUYU_DEV_IDENTITY")
        .env_remove("LOUYU_CONFIG")
        .env("LOUYU_DATABASE_URL", "sqlite::memory:")
        .output()
        .expect("run louyu");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("LOUYU_JWKS_FILE is not set"), "{stderr}");
}

/// Runs `louyu serve registry` against `database_url`; returns its error
/// line, checking that it failed fast, on one line, without the password.
fn start_up_error(database_url: &str) -> String {
    let started = Instant::now();
    let output = louyu(&[
        "serve",
        "registry",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        database_url,
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "failed within seconds"
    );
    assert!(!output.status.success(), "louyu must not start");
    let stderr = String::from_utf8(output.stderr).unwrap();
    let everything = format!("{stderr}{}", String::from_utf8_lossy(&output.stdout));
    assert!(!everything.contains(PASSWORD), "no password: {everything}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("Caused by"), "{stderr}");
    stderr
}

#[test]
fn a_start_up_error_is_one_line_naming_the_cause_and_never_the_password() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let line = start_up_error(&format!(
        "postgres://louyu:{PASSWORD}@127.0.0.1:{closed_port}/louyu"
    ));
    assert!(line.contains(&format!("127.0.0.1:{closed_port}")), "{line}");
    assert!(line.contains("connection refused"), "{line}");

    let line = start_up_error("sqlite:");
    assert!(line.contains("names no file"), "{line}");

    let folder = tempfile::tempdir().unwrap();
    let missing = folder.path().join("mistyped");
    let line = start_up_error(&format!("sqlite://{}/registry.db", missing.display()));
    assert!(line.contains("does not exist"), "{line}");
    assert!(!missing.exists(), "the mistyped folder was not created");
}

/// `louyu serve registry` as a Deployment runs it, with its log lines read
/// for the address it bound.
struct Served {
    child: std::process::Child,
    address: String,
}

impl Served {
    fn start(database_url: &str, drain_delay: &str) -> Self {
        Self::start_with(database_url, drain_delay, &[])
    }

    fn start_with(database_url: &str, drain_delay: &str, environment: &[(&str, &str)]) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(env!("CARGO_BIN_EXE_louyu"))
            .args(["serve", "registry", "--listen", "127.0.0.1:0"])
            .env("LOUYU_DEV_IDENTITY", "1")
            .envs(environment.iter().copied())
            .env("LOUYU_DATABASE_URL", database_url)
            .env("LOUYU_DRAIN_DELAY", drain_delay)
            .env("LOUYU_SHUTDOWN_GRACE_SECONDS", "600")
            .env("LOUYU_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env_remove("LOUYU_LISTEN")
            .env_remove("LOUYU_CONFIG")
            .stdout(std::process::Stdio::piped())
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
        let address = receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("the registry listens");
        Self { child, address }
    }

    fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Waits for the process to exit; panics after `deadline`.
    async fn exit_within(&mut self, deadline: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < deadline,
                "louyu still running after {deadline:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

async fn health_of(address: &str) -> Result<i32, Box<dyn std::error::Error>> {
    let channel = tonic::transport::Channel::from_shared(address.to_owned())?
        .connect()
        .await?;
    let status = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await?
        .into_inner()
        .status;
    Ok(status)
}

/// SIGTERM: the server answers NOT_SERVING, to new connections too, for the
/// drain delay, and an open health watch does not hold it for the 600 s grace
/// period.
async fn sigterm_drains_then_stops_without_waiting_for_health_watches(
    backend: louyu_testkit::TestBackend,
) {
    use tokio_stream::StreamExt;
    use tonic_health::pb::health_check_response::ServingStatus;

    let Some(database) = louyu_testkit::TestDatabase::create(backend).await else {
        return;
    };
    let drain_delay = Duration::from_secs(1);
    let mut served = Served::start(database.url(), "1s");
    let channel = tonic::transport::Channel::from_shared(served.address.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut watch = tonic_health::pb::health_client::HealthClient::new(channel)
        .watch(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    // Health turns SERVING just after the "serving" log line: wait for it.
    let serving = async {
        loop {
            let update = watch.next().await.unwrap().unwrap();
            if update.status == ServingStatus::Serving as i32 {
                return;
            }
            assert_eq!(update.status, ServingStatus::NotServing as i32);
        }
    };
    tokio::time::timeout(Duration::from_secs(30), serving)
        .await
        .expect("health turns SERVING");

    let terminated = Instant::now();
    served.terminate();
    let not_serving = watch.next().await.unwrap().unwrap();
    assert_eq!(not_serving.status, ServingStatus::NotServing as i32);
    assert_eq!(
        health_of(&served.address).await.unwrap(),
        ServingStatus::NotServing as i32,
        "a new connection is still answered while draining"
    );
    assert!(terminated.elapsed() < drain_delay);

    let status = served.exit_within(Duration::from_secs(30)).await;
    assert!(status.success(), "louyu exits cleanly: {status}");
    assert!(
        terminated.elapsed() >= drain_delay,
        "it answered for the drain delay"
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(5), watch.next())
            .await
            .is_ok_and(|next| !matches!(next, Some(Ok(_)))),
        "the watch stream ended"
    );
}

louyu_testkit::backend_tests!(sigterm_drains_then_stops_without_waiting_for_health_watches);

#[tokio::test]
async fn after_a_restore_an_operator_renews_the_epoch_and_resumes_the_halted_consumer() {
    use louyu_kit::db::Db;
    use louyu_kit::feed;
    use secrecy::SecretString;

    let folder = tempfile::tempdir().unwrap();
    let registry_url = format!("sqlite://{}/registry.db", folder.path().display());
    let visits_url = format!("sqlite://{}/visits.db", folder.path().display());
    for (service, url) in [("registry", &registry_url), ("visits", &visits_url)] {
        let output = louyu(&["migrate", service, "--database-url", url]);
        assert!(output.status.success(), "migrate {service}: {output:?}");
    }
    let registry = Db::connect(&SecretString::from(registry_url.clone()))
        .await
        .unwrap();
    let before = feed::current_epoch(&registry).await.unwrap();
    let renewed = louyu(&[
        "feed",
        "new-epoch",
        "registry",
        "--database-url",
        &registry_url,
    ]);
    assert!(renewed.status.success(), "{renewed:?}");
    let after = feed::current_epoch(&registry).await.unwrap();
    assert_ne!(before, after, "a new epoch");
    assert!(String::from_utf8_lossy(&renewed.stdout).contains(&after));

    let resume = [
        "feed",
        "resume",
        "visits",
        "registry",
        "--database-url",
        &visits_url,
    ];
    let misspelt = louyu(&[
        "feed",
        "resume",
        "visits",
        "regsitry",
        "--database-url",
        &visits_url,
    ]);
    assert!(!misspelt.status.success(), "{misspelt:?}");
    assert!(String::from_utf8_lossy(&misspelt.stderr).contains("no feed named \"regsitry\""));

    let visits = Db::connect(&SecretString::from(visits_url.clone()))
        .await
        .unwrap();
    feed::cursor_of(&visits, "registry").await.unwrap();
    let refused = louyu(&resume);
    assert!(!refused.status.success(), "nothing to resume: {refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not halted"));
    feed::record_halt(&visits, "registry", "the feed has no event 10")
        .await
        .unwrap();
    let resumed = louyu(&resume);
    assert!(resumed.status.success(), "{resumed:?}");
    assert_eq!(
        feed::halted_reason(&visits, "registry").await.unwrap(),
        None
    );
    assert_eq!(feed::cursor_of(&visits, "registry").await.unwrap(), 0);
}

#[tokio::test]
async fn a_shifted_development_clock_dates_what_the_service_writes() {
    use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
    use louyu_proto::registry::v1::{CreateEnterpriseRequest, Enterprise};

    let folder = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/registry.db", folder.path().display());
    let served = Served::start_with(&database_url, "0s", &[("LOUYU_DEV_CLOCK_OFFSET", "+400d")]);
    let mut registry = RegistryServiceClient::connect(served.address.clone())
        .await
        .unwrap();
    // Development identity: the caller names itself.
    let mut request = tonic::Request::new(CreateEnterpriseRequest {
        parent: "districts/jingan".to_owned(),
        enterprise: Some(Enterprise {
            uscc: louyu_registry::domain::uscc::sample(7),
            display_name: "上海时钟测试有限公司".to_owned(),
            ..Enterprise::default()
        }),
        request_id: String::new(),
    });
    request
        .metadata_mut()
        .insert("x-louyu-actor", "s-001".parse().unwrap());
    let created = registry
        .create_enterprise(request)
        .await
        .unwrap()
        .into_inner();
    let written = created.create_time.unwrap().seconds;
    let system_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let shift_days = (written - system_now) as f64 / 86_400.0;
    assert!(
        (399.9..400.1).contains(&shift_days),
        "written {shift_days:.2} days ahead"
    );

    let bad = Command::new(env!("CARGO_BIN_EXE_louyu"))
        .args(["migrate", "registry", "--database-url", &database_url])
        .env("LOUYU_DEV_CLOCK_OFFSET", "soon")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("LOUYU_DEV_CLOCK_OFFSET"));
}
