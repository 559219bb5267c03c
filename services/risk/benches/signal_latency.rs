//! How soon a signal shows on the risk service's feed as a change of
//! colour.
//!
//! `LOUYU_TEST_POSTGRES_URL=postgres://… cargo bench -p louyu-risk --bench signal_latency`
//! starts a registry, a visits service and a risk service on fresh
//! PostgreSQL databases (the test sandbox), registers 2,000 enterprises and
//! waits until the risk service has assessed each of them green. Then a
//! system (`court-cases`) records a court case against each, one enterprise
//! per signal, at 200 signals a second for 10 seconds, with `RecordSignal`
//! over gRPC; a court case (25 points) turns a green enterprise yellow. A
//! `WatchEvents` stream on the risk service's feed, as a district admin,
//! takes for each signal the time from the call's start until its
//! enterprise's `AssessmentChanged` arrives, and the benchmark prints the
//! 50th and 99th percentiles and the maximum. Without
//! `LOUYU_TEST_POSTGRES_URL` it says so and exits with status 2.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use louyu_kit::config::ServiceName;
use louyu_kit::identity::{Principal, SystemIdentity};
use louyu_proto::common::v1::RiskColour;
use louyu_proto::common::v1::WatchEventsRequest;
use louyu_proto::common::v1::event_feed_service_client::EventFeedServiceClient;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::registry::v1::{CreateEnterpriseRequest, Enterprise};
use louyu_proto::risk::v1::risk_service_client::RiskServiceClient;
use louyu_proto::risk::v1::{
    AssessmentChanged, ListAssessmentsRequest, RecordSignalRequest, Signal,
};
use louyu_testkit::TestBackend;
use louyu_testkit::fixtures::{DISTRICT, enterprise_name};
use louyu_testkit::identity::TOKEN_DISTRICT;
use louyu_testkit::sandbox::Sandbox;
use prost::Message;

const SIGNALS_PER_SECOND: u64 = 200;
const SECONDS: u64 = 10;
const SIGNALS: usize = (SIGNALS_PER_SECOND * SECONDS) as usize;
/// Registering enterprises concurrently, not measured.
const REGISTERING_CLIENTS: usize = 8;
/// How long the last change may take before the benchmark gives up.
const LAST_CHANGE_DEADLINE: Duration = Duration::from_secs(60);

/// Registers the enterprises, each by its own call, from a few clients at
/// once.
async fn register(sandbox: &Sandbox, codes: &[String]) {
    let registry = RegistryServiceClient::new(sandbox.client(ServiceName::Registry).await);
    let mut tasks = Vec::new();
    for share in codes.chunks(codes.len().div_ceil(REGISTERING_CLIENTS)) {
        let mut registry = registry.clone();
        let share = share.to_vec();
        tasks.push(tokio::spawn(async move {
            for code in share {
                registry
                    .create_enterprise(CreateEnterpriseRequest {
                        parent: DISTRICT.to_owned(),
                        enterprise: Some(Enterprise {
                            uscc: code,
                            display_name: "上海示例科技有限公司".to_owned(),
                            industry: "信息技术".to_owned(),
                            headcount: 20,
                            ..Enterprise::default()
                        }),
                        request_id: String::new(),
                    })
                    .await
                    .expect("an enterprise");
            }
        }));
    }
    for task in tasks {
        task.await.expect("registering");
    }
}

/// Waits until the risk service has assessed `count` enterprises green.
async fn wait_until_assessed(sandbox: &Sandbox, count: usize) {
    let risk = RiskServiceClient::new(sandbox.client(ServiceName::Risk).await);
    let deadline = Instant::now() + LAST_CHANGE_DEADLINE;
    loop {
        let mut risk = risk.clone();
        let mut green = 0;
        let mut page_token = String::new();
        loop {
            let page = risk
                .list_assessments(ListAssessmentsRequest {
                    parent: DISTRICT.to_owned(),
                    page_size: 1000,
                    page_token,
                    filter: "colour = GREEN".to_owned(),
                })
                .await
                .expect("assessments")
                .into_inner();
            green += page.assessments.len();
            page_token = page.next_page_token;
            if page_token.is_empty() {
                break;
            }
        }
        if green == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {green} of {count} enterprises assessed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    let index = ((sorted.len() as f64 * share).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

#[tokio::main]
async fn main() {
    if louyu_testkit::postgres_server_url().is_none() {
        eprintln!(
            "signal_latency needs PostgreSQL: set LOUYU_TEST_POSTGRES_URL, e.g. \
             LOUYU_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres"
        );
        std::process::exit(2);
    }
    let sandbox = Sandbox::start(
        TestBackend::Postgres,
        &[
            &louyu_registry::startup::Registry,
            &louyu_visits::startup::Visits,
            &louyu_risk::startup::Risk,
        ],
    )
    .await
    .expect("a sandbox on PostgreSQL");
    let codes: Vec<String> = (1..=SIGNALS)
        .map(|n| louyu_kit::uscc::with_check_character(&format!("91310106{n:09}")))
        .collect();
    let registering = Instant::now();
    register(&sandbox, &codes).await;
    wait_until_assessed(&sandbox, codes.len()).await;
    println!(
        "registered and assessed {} enterprises in {:.1} s (not measured)",
        codes.len(),
        registering.elapsed().as_secs_f64()
    );

    // Each signal's start, by enterprise, and each change's arrival.
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut feed = EventFeedServiceClient::new(sandbox.client(ServiceName::Risk).await);
    let mut events = feed
        .watch_events(WatchEventsRequest {
            after_sequence: 0,
            max_batch_size: 1000,
            ..WatchEventsRequest::default()
        })
        .await
        .expect("the risk feed")
        .into_inner();
    let watcher = tokio::spawn({
        let sent = Arc::clone(&sent);
        async move {
            let mut latencies = Vec::with_capacity(SIGNALS);
            while latencies.len() < SIGNALS {
                let batch = tokio::time::timeout(LAST_CHANGE_DEADLINE, events.next())
                    .await
                    .expect("a change within the deadline")
                    .expect("the feed stays open")
                    .expect("events");
                let arrived = Instant::now();
                for event in batch.events {
                    let Some(payload) = event.payload else {
                        continue;
                    };
                    let Ok(change) = AssessmentChanged::decode(payload.value.as_slice()) else {
                        continue;
                    };
                    if change.previous_colour != RiskColour::Green as i32
                        || change.colour != RiskColour::Yellow as i32
                    {
                        continue;
                    }
                    let started = sent
                        .lock()
                        .expect("not poisoned")
                        .remove(&change.enterprise);
                    if let Some(started) = started {
                        latencies.push(arrived - started);
                    }
                }
            }
            latencies
        }
    });

    let court = Principal::System(SystemIdentity {
        name: "court-cases".to_owned(),
        district: TOKEN_DISTRICT.to_owned(),
    });
    let risk = RiskServiceClient::new(sandbox.client_as(ServiceName::Risk, &court).await);
    let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / SIGNALS_PER_SECOND));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let recording = Instant::now();
    let mut calls = Vec::with_capacity(SIGNALS);
    for code in &codes {
        ticks.tick().await;
        let mut risk = risk.clone();
        let name = enterprise_name(code);
        let sent = Arc::clone(&sent);
        calls.push(tokio::spawn(async move {
            sent.lock()
                .expect("not poisoned")
                .insert(name.clone(), Instant::now());
            risk.record_signal(RecordSignalRequest {
                parent: name,
                signal: Some(Signal {
                    kind: "court_case".to_owned(),
                    subject: "（2026）沪0106民初1234号".to_owned(),
                    ..Signal::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("a signal recorded");
        }));
    }
    for call in calls {
        call.await.expect("a call");
    }
    let offered = recording.elapsed();
    let mut latencies = watcher.await.expect("the watcher");
    latencies.sort();
    println!(
        "signal_latency: {SIGNALS} signals in {:.1} s ({:.0}/s), RecordSignal to AssessmentChanged on the feed: \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        offered.as_secs_f64(),
        SIGNALS as f64 / offered.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.last().expect("a latency").as_secs_f64() * 1000.0,
    );
}
