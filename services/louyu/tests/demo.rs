//! `louyu up --demo` as a newcomer runs it: the generated district is there
//! once the suite says it is up, graded in all five colours with referrals
//! at every stage; SIGINT stops it, and a second run on the same folder
//! finds everything and loads nothing twice. SQLite only: the demo runs on
//! the embedded databases by design.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use louyu_proto::referral::v1::referral_service_client::ReferralServiceClient;
use louyu_proto::referral::v1::{ListReferralsRequest, ReferralState};
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::registry::v1::{ListBuildingsRequest, ListEnterprisesRequest};
use louyu_proto::risk::v1::SummarizeAssessmentsRequest;
use louyu_proto::risk::v1::risk_service_client::RiskServiceClient;
use louyu_proto::visits::v1::visits_service_client::VisitsServiceClient;
use louyu_proto::visits::v1::{CountDemandsRequest, DemandStatus, ListVisitsRequest};

const DISTRICT: &str = "districts/jingan";
/// A debug build on a busy two-core CI machine; release loads in well under
/// a minute (docs/benchmarks.md).
const DEADLINE: Duration = Duration::from_secs(900);

struct Running {
    child: Child,
    /// Each service's address, `http://…`, by name.
    urls: BTreeMap<String, String>,
    admin_token: String,
    /// Everything `louyu up` printed before it was up.
    printed: Vec<String>,
}

fn start(folder: &std::path::Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_louyu"))
        .args([
            "up",
            "--demo",
            "--ephemeral-ports",
            "--demo-trickle-seconds",
            "1",
        ])
        .arg("--data-dir")
        .arg(folder.join("state"))
        .current_dir(folder)
        .env("LOUYU_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env_remove("LOUYU_DATABASE_URL")
        .env_remove("LOUYU_LISTEN")
        .env_remove("LOUYU_DATA_DIR")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start louyu");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut printed = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                printed.push(line);
                continue;
            };
            if entry["message"]
                .as_str()
                .is_some_and(|message| message.starts_with("louyu is up"))
            {
                let urls = entry["services"]
                    .as_str()
                    .unwrap_or_default()
                    .split(' ')
                    .filter_map(|pair| pair.split_once('='))
                    .map(|(name, url)| (name.to_owned(), url.to_owned()))
                    .collect::<BTreeMap<_, _>>();
                let _ = sender.send((urls, printed.clone()));
            }
        }
    });
    let (urls, printed) = receiver.recv_timeout(DEADLINE).expect("louyu comes up");
    let admin_token = printed
        .iter()
        .find_map(|line| {
            line.trim_start()
                .strip_prefix("district-admin (staff:district-admin-1): ")
        })
        .expect("a district admin's token is printed")
        .trim()
        .to_owned();
    Running {
        child,
        urls,
        admin_token,
        printed,
    }
}

impl Running {
    async fn channel(&self, service: &str) -> louyu_testkit::identity::AuthorizedChannel {
        let channel = tonic::transport::Channel::from_shared(self.urls[service].clone())
            .unwrap()
            .connect()
            .await
            .expect("connect");
        louyu_testkit::identity::AuthorizedChannel::new(
            channel,
            louyu_testkit::identity::Bearer::new(&self.admin_token),
        )
    }

    /// Ctrl-C; the process must exit cleanly.
    fn interrupt(mut self) {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "louyu exits cleanly on Ctrl-C: {status}");
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "louyu stops");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// What the test counts of the district.
#[derive(Debug, PartialEq)]
struct Counts {
    buildings: usize,
    enterprises: usize,
    visits: usize,
    open_demands: i64,
    referrals_by_state: BTreeMap<i32, usize>,
    colours: BTreeSet<i32>,
}

async fn count(running: &Running) -> Counts {
    let mut registry = RegistryServiceClient::new(running.channel("registry").await);
    let buildings = registry
        .list_buildings(ListBuildingsRequest {
            parent: DISTRICT.to_owned(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(buildings.next_page_token.is_empty());
    let mut enterprises = 0;
    let mut page_token = String::new();
    loop {
        let page = registry
            .list_enterprises(ListEnterprisesRequest {
                parent: DISTRICT.to_owned(),
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for enterprise in &page.enterprises {
            louyu_kit::uscc::Uscc::parse("uscc", &enterprise.uscc)
                .unwrap_or_else(|_| panic!("{} is a valid code", enterprise.uscc));
        }
        enterprises += page.enterprises.len();
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }

    let mut visits = VisitsServiceClient::new(running.channel("visits").await);
    let mut visit_count = 0;
    let mut page_token = String::new();
    loop {
        let page = visits
            .list_visits(ListVisitsRequest {
                parent: DISTRICT.to_owned(),
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        visit_count += page.visits.len();
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let demands = visits
        .count_demands(CountDemandsRequest {
            parent: DISTRICT.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let open_demands = demands
        .counts
        .iter()
        .filter(|count| count.status != DemandStatus::Confirmed as i32)
        .map(|count| count.count)
        .sum();

    let mut referral = ReferralServiceClient::new(running.channel("referral").await);
    let mut referrals_by_state = BTreeMap::new();
    let mut page_token = String::new();
    loop {
        let page = referral
            .list_referrals(ListReferralsRequest {
                parent: DISTRICT.to_owned(),
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for referral in &page.referrals {
            *referrals_by_state.entry(referral.state).or_insert(0) += 1;
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }

    let summary = RiskServiceClient::new(running.channel("risk").await)
        .summarize_assessments(SummarizeAssessmentsRequest {
            parent: DISTRICT.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    Counts {
        buildings: buildings.buildings.len(),
        enterprises,
        visits: visit_count,
        open_demands,
        referrals_by_state,
        colours: summary.counts.iter().map(|count| count.colour).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn louyu_up_demo_loads_a_whole_district_once_and_keeps_it_across_a_restart() {
    let folder = tempfile::tempdir().unwrap();
    let first = start(folder.path());
    let welcome = first.printed.join("\n");
    assert!(welcome.contains("demo district loaded in"), "{welcome}");
    assert!(welcome.contains("curl -H"), "an example call: {welcome}");
    assert!(welcome.contains("grpcurl -plaintext"), "{welcome}");
    let loaded = count(&first).await;
    assert_eq!(loaded.buildings, 50, "{loaded:?}");
    assert_eq!(loaded.enterprises, 2_000, "{loaded:?}");
    assert!(loaded.visits >= 300, "a season of visits: {loaded:?}");
    assert!(loaded.open_demands > 0, "{loaded:?}");
    for state in [
        ReferralState::Requested,
        ReferralState::Accepted,
        ReferralState::InProgress,
        ReferralState::Completed,
        ReferralState::Confirmed,
    ] {
        assert!(
            loaded.referrals_by_state.contains_key(&(state as i32)),
            "referrals {state:?}: {loaded:?}"
        );
    }
    assert_eq!(loaded.colours.len(), 5, "all five colours: {loaded:?}");
    assert!(
        folder
            .path()
            .join("state/identity/signing-key.pem")
            .is_file(),
        "the development keys are in the data folder"
    );
    first.interrupt();

    let second = start(folder.path());
    let welcome = second.printed.join("\n");
    assert!(welcome.contains("not loaded again"), "{welcome}");
    let again = count(&second).await;
    assert_eq!(again.buildings, loaded.buildings);
    assert_eq!(again.enterprises, loaded.enterprises);
    assert!(
        again.visits >= loaded.visits && again.visits <= loaded.visits + 50,
        "the season once, plus the trickle: {loaded:?} then {again:?}"
    );
    let referrals = |counts: &Counts| counts.referrals_by_state.values().sum::<usize>();
    assert!(referrals(&again) >= referrals(&loaded));
    assert!(referrals(&again) <= referrals(&loaded) + 20);
    second.interrupt();
}
