//! How soon a visit shows on the live screen's event stream once its
//! submission is acknowledged (issue 13: p99 at most 250 ms at 200 visits a
//! second).
//!
//! `cargo bench -p louyu-gateway --bench stream_latency` starts the whole
//! suite with the test sandbox (registry, visits, risk, referral and the
//! gateway, over real gRPC on port 0), on SQLite and then, when
//! `LOUYU_TEST_POSTGRES_URL` is set, on PostgreSQL, each service with the
//! deployment's default feed polling interval (not the sandbox's faster
//! one). It registers a street of buildings, their tenants and staff (not
//! measured), then opens `GET /v1/streams/events` on the gateway as a
//! district admin, unfiltered, as the screen opens it. For
//! `LOUYU_BENCH_SECONDS` (default 10) it submits 200 visits a second
//! through the gateway with `SubmitVisit` over gRPC, each call started on
//! its tick whatever the others do, spread over several callers (the
//! gateway limits each caller to 50 requests a second, as deployed). For
//! each visit it takes the time from the instant its acknowledgement
//! arrives to the instant its `VisitRecorded` arrives on the stream
//! (matched by the visit's resource name), and prints the percentiles,
//! the rate actually held, and the visits that never arrived.
//! `LOUYU_BENCH_RATE` sets another rate than 200 a second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use louyu_kit::config::{Config, ServiceName};
use louyu_kit::identity::Principal;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::registry::v1::*;
use louyu_proto::risk::v1::ListAssessmentsRequest;
use louyu_proto::risk::v1::risk_service_client::RiskServiceClient;
use louyu_proto::visits::v1::visits_service_client::VisitsServiceClient;
use louyu_proto::visits::v1::{Observation, SubmitVisitRequest, Visit, VisitKind};
use louyu_testkit::TestBackend;
use louyu_testkit::fixtures::{DISTRICT, create_street_request, date_in, enterprise_name, uscc};
use louyu_testkit::identity::{AuthorizedChannel, person};
use louyu_testkit::sandbox::Sandbox;
use serde_json::Value as Json;
use tokio::sync::mpsc;

/// The rate of issue 13; `LOUYU_BENCH_RATE` sets another, to see where
/// the suite stops keeping up.
const VISITS_PER_SECOND: u32 = 200;
/// Callers the visits are spread over, each with a token of its own: the
/// gateway's rate limit (50 a second per caller by default) stays as
/// deployed.
const SUBMITTERS: usize = 8;
const BUILDINGS: usize = 10;
const TENANTS_PER_BUILDING: usize = 5;
const STAFF: usize = 10;
/// A visit whose event has not arrived this long after its
/// acknowledgement counts as never arrived.
const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(30);
/// How late a call may start after its tick before the rate counts as not
/// held.
const LATE_START: Duration = Duration::from_millis(50);
/// The target of issue 13.
const TARGET_P99: Duration = Duration::from_millis(250);

#[tokio::main]
async fn main() {
    let seconds: u32 = std::env::var("LOUYU_BENCH_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(10);
    let rate: u32 = std::env::var("LOUYU_BENCH_RATE")
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|rate| *rate > 0)
        .unwrap_or(VISITS_PER_SECOND);
    let mut backends = vec![TestBackend::Sqlite];
    if louyu_testkit::postgres_server_url().is_some() {
        backends.push(TestBackend::Postgres);
    } else {
        println!("LOUYU_TEST_POSTGRES_URL is not set: SQLite only");
    }
    for backend in backends {
        run(backend, seconds, rate).await;
    }
}

async fn run(backend: TestBackend, seconds: u32, rate: u32) {
    let label = match backend {
        TestBackend::Sqlite => "SQLite",
        TestBackend::Postgres => "PostgreSQL",
    };
    let sandbox = Sandbox::start_with(
        backend,
        &[
            &louyu_gateway::startup::Gateway,
            &louyu_registry::startup::Registry,
            &louyu_visits::startup::Visits,
            &louyu_risk::startup::Risk,
            &louyu_referral::startup::Referral,
        ],
        |_, config| {
            // The sandbox polls feeds every 100 ms; a deployment every
            // second unless told otherwise.
            config.feed_poll_interval_ms = Config::default().feed_poll_interval_ms;
        },
    )
    .await
    .unwrap_or_else(|| panic!("{label} is available"));
    let seeding = Instant::now();
    let tenants = seed(&sandbox).await;
    wait_until_assessed(&sandbox, tenants.len()).await;
    println!(
        "{label}: registered {BUILDINGS} buildings, {} tenants and {STAFF} staff, and waited for \
         their assessments, in {:.1} s (not measured)",
        tenants.len(),
        seeding.elapsed().as_secs_f64()
    );

    let viewer = person("screen-1", &[louyu_kit::identity::Role::DistrictAdmin]);
    let (arrivals, other_events) = open_stream(&sandbox, &viewer).await;

    let mut submitters = Vec::with_capacity(SUBMITTERS);
    for index in 0..SUBMITTERS {
        let caller = person(
            &format!("submitter-{index}"),
            &[louyu_kit::identity::Role::DistrictAdmin],
        );
        submitters.push(VisitsServiceClient::new(
            sandbox.client_as(ServiceName::Gateway, &caller).await,
        ));
    }
    let total = (rate * seconds) as usize;
    let sending = submit_visits(&submitters, &tenants, total, rate).await;
    let received = collect_arrivals(arrivals, &sending.acknowledged).await;
    report(label, &sending, &received, other_events.load());
    drop(sandbox);
}

/// One street, `BUILDINGS` buildings with `TENANTS_PER_BUILDING` tenants
/// each, and `STAFF` field workers: each tenant's building and name.
async fn seed(sandbox: &Sandbox) -> Vec<(String, String)> {
    let mut registry: RegistryServiceClient<AuthorizedChannel> =
        RegistryServiceClient::new(sandbox.client(ServiceName::Registry).await);
    registry
        .create_sub_district(create_street_request())
        .await
        .expect("a street");
    let mut tenants = Vec::new();
    for building_index in 0..BUILDINGS {
        let building_id = format!("b-{building_index}");
        let building = format!("{DISTRICT}/buildings/{building_id}");
        registry
            .create_building(CreateBuildingRequest {
                parent: DISTRICT.to_owned(),
                building: Some(Building {
                    display_name: format!("静安大厦{building_index}号楼"),
                    address: "南京西路1号".to_owned(),
                    managing_sub_district: format!("{DISTRICT}/subDistricts/nanjingxilu"),
                    ..Building::default()
                }),
                building_id,
                ..Default::default()
            })
            .await
            .expect("a building");
        for tenant_index in 0..TENANTS_PER_BUILDING {
            let unit_id = format!("{}01", tenant_index + 1);
            registry
                .create_unit(CreateUnitRequest {
                    parent: building.clone(),
                    unit: Some(Unit {
                        display_name: unit_id.clone(),
                        floor: 1,
                        area_square_meters: 200.0,
                        ..Unit::default()
                    }),
                    unit_id: unit_id.clone(),
                    request_id: String::new(),
                })
                .await
                .expect("a unit");
            let code = uscc((building_index * TENANTS_PER_BUILDING + tenant_index + 1) as u32);
            registry
                .create_enterprise(CreateEnterpriseRequest {
                    parent: DISTRICT.to_owned(),
                    enterprise: Some(Enterprise {
                        uscc: code.clone(),
                        display_name: "上海示例科技有限公司".to_owned(),
                        industry: "信息技术".to_owned(),
                        headcount: 20,
                        ..Enterprise::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .expect("an enterprise");
            registry
                .create_tenancy(CreateTenancyRequest {
                    parent: DISTRICT.to_owned(),
                    tenancy: Some(Tenancy {
                        enterprise: enterprise_name(&code),
                        unit: format!("{building}/units/{unit_id}"),
                        lease_start: Some(date_in(-100)),
                        lease_end: Some(date_in(800)),
                        ..Tenancy::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .expect("a tenancy");
            tenants.push((building.clone(), enterprise_name(&code)));
        }
    }
    for staff_index in 0..STAFF {
        registry
            .create_staff(CreateStaffRequest {
                parent: DISTRICT.to_owned(),
                staff: Some(Staff {
                    display_name: format!("楼宇老师{staff_index}"),
                    active: true,
                    ..Staff::default()
                }),
                staff_id: format!("s-{staff_index}"),
                request_id: String::new(),
            })
            .await
            .expect("a member of staff");
    }
    tenants
}

/// Waits until the risk service has assessed every tenant, so its
/// reactions to the seeding are over before the measurement starts.
async fn wait_until_assessed(sandbox: &Sandbox, count: usize) {
    let risk = RiskServiceClient::new(sandbox.client(ServiceName::Risk).await);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let assessed = risk
            .clone()
            .list_assessments(ListAssessmentsRequest {
                parent: DISTRICT.to_owned(),
                page_size: 1000,
                ..ListAssessmentsRequest::default()
            })
            .await
            .expect("assessments")
            .into_inner()
            .assessments
            .len();
        if assessed >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {assessed} of {count} tenants assessed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How many domain events other than `VisitRecorded` the stream relayed.
#[derive(Clone, Default)]
struct Counter(Arc<std::sync::atomic::AtomicUsize>);

impl Counter {
    fn add(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn load(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Opens the gateway's event stream as `viewer`, with no filter (as the
/// screen opens it), waits for its `open` event, and reads it in a task of
/// its own: each `VisitRecorded`'s resource name with the instant the
/// bytes that ended it arrived, and a count of the other domain events.
async fn open_stream(
    sandbox: &Sandbox,
    viewer: &Principal,
) -> (mpsc::UnboundedReceiver<(String, Instant)>, Counter) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let request = http::Request::builder()
        .method("GET")
        .uri(format!(
            "http://{}/v1/streams/events",
            sandbox.address(ServiceName::Gateway)
        ))
        .header("accept", "text/event-stream")
        .header(
            "authorization",
            format!("Bearer {}", sandbox.keys().token(viewer)),
        )
        .body(Full::new(Bytes::new()))
        .expect("a request");
    let response = client.request(request).await.expect("the stream answers");
    assert_eq!(response.status(), 200, "the stream opens");
    let mut body = response.into_body();
    let (arrived, arrivals) = mpsc::unbounded_channel();
    let other_events = Counter::default();
    let (opened, is_open) = tokio::sync::oneshot::channel();
    let counter = other_events.clone();
    tokio::spawn(async move {
        let mut opened = Some(opened);
        let mut buffer: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame.expect("the stream stays open").into_data() else {
                continue;
            };
            let at = Instant::now();
            buffer.extend_from_slice(&data);
            while let Some(end) = buffer.windows(2).position(|pair| pair == b"\n\n") {
                let block: Vec<u8> = buffer.drain(..end + 2).collect();
                let block = String::from_utf8(block).expect("UTF-8");
                match sse_event(&block) {
                    SseEvent::Open => {
                        if let Some(opened) = opened.take() {
                            let _ = opened.send(());
                        }
                    }
                    SseEvent::End(data) => panic!("the stream ended: {data}"),
                    SseEvent::Domain(data) => {
                        if data["eventType"] == "louyu.visits.v1.VisitRecorded" {
                            let name = data["resourceName"].as_str().unwrap_or_default();
                            let _ = arrived.send((name.to_owned(), at));
                        } else {
                            counter.add();
                        }
                    }
                    SseEvent::Other => {}
                }
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(30), is_open)
        .await
        .expect("the stream's open event within 30 s")
        .expect("the reader is running");
    (arrivals, other_events)
}

enum SseEvent {
    Open,
    End(Json),
    Domain(Json),
    /// A comment, `retry:`, or a control event the benchmark ignores.
    Other,
}

fn sse_event(block: &str) -> SseEvent {
    let (mut kind, mut data) = (None, None);
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("event: ") {
            kind = Some(value.to_owned());
        } else if let Some(value) = line.strip_prefix("data: ") {
            data = Some(serde_json::from_str::<Json>(value).expect("JSON data"));
        }
    }
    match (kind.as_deref(), data) {
        (Some("open"), _) => SseEvent::Open,
        (Some("end"), Some(data)) => SseEvent::End(data),
        (None, Some(data)) => SseEvent::Domain(data),
        _ => SseEvent::Other,
    }
}

/// What the submitting side saw.
struct Sending {
    total: usize,
    rate: u32,
    /// From the first call's start to the last call's start, plus one tick.
    offered_for: Duration,
    /// Calls that started more than `LATE_START` after their tick.
    late_starts: usize,
    latest_start: Duration,
    /// Each acknowledged visit's name, and when the answer arrived.
    acknowledged: HashMap<String, Instant>,
    /// From the first call's start to the last answer.
    answered_for: Duration,
    /// How long each acknowledged call took, sorted.
    call_times: Vec<Duration>,
    failed: HashMap<String, usize>,
}

/// Submits `total` visits at `rate` a second, each started on its tick
/// whatever the calls before it do, taking turns among `submitters`.
async fn submit_visits(
    submitters: &[VisitsServiceClient<AuthorizedChannel>],
    tenants: &[(String, String)],
    total: usize,
    rate: u32,
) -> Sending {
    let tick = Duration::from_secs(1) / rate;
    let acknowledged: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let failed: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let call_times: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let mut ticks = tokio::time::interval(tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let (mut late_starts, mut latest_start) = (0, Duration::ZERO);
    let mut calls = Vec::with_capacity(total);
    for index in 0..total {
        ticks.tick().await;
        let late = started.elapsed().saturating_sub(tick * index as u32);
        if late > LATE_START {
            late_starts += 1;
        }
        latest_start = latest_start.max(late);
        let (building, enterprise) = tenants[index % tenants.len()].clone();
        let staff = format!("{DISTRICT}/staff/s-{}", index % STAFF);
        let mut visits = submitters[index % submitters.len()].clone();
        let acknowledged = Arc::clone(&acknowledged);
        let failed = Arc::clone(&failed);
        let call_times = Arc::clone(&call_times);
        calls.push(tokio::spawn(async move {
            let call_started = Instant::now();
            let answer = visits
                .submit_visit(SubmitVisitRequest {
                    parent: DISTRICT.to_owned(),
                    visit: Some(Visit {
                        building,
                        staff: vec![staff],
                        visit_time: Some(louyu_kit::time::timestamp_from_micros(
                            louyu_kit::time::now_micros() - 3_600_000_000,
                        )),
                        kind: VisitKind::Routine as i32,
                        observations: vec![Observation {
                            enterprise,
                            satisfaction: 4,
                            ..Observation::default()
                        }],
                        ..Visit::default()
                    }),
                    demands: Vec::new(),
                    request_id: String::new(),
                })
                .await;
            let at = Instant::now();
            match answer {
                Ok(answer) => {
                    let name = answer.into_inner().visit.expect("the visit").name;
                    acknowledged.lock().expect("not poisoned").insert(name, at);
                    call_times
                        .lock()
                        .expect("not poisoned")
                        .push(at - call_started);
                }
                Err(status) => {
                    *failed
                        .lock()
                        .expect("not poisoned")
                        .entry(format!("{:?}", status.code()))
                        .or_default() += 1;
                }
            }
            at
        }));
    }
    let offered_for = started.elapsed() + tick;
    let mut last_answer = started;
    for call in calls {
        last_answer = last_answer.max(call.await.expect("a call"));
    }
    Sending {
        total,
        rate,
        offered_for,
        late_starts,
        latest_start,
        acknowledged: take(acknowledged),
        answered_for: last_answer - started,
        failed: take(failed),
        call_times: {
            let mut call_times = take(call_times);
            call_times.sort();
            call_times
        },
    }
}

/// Each acknowledged visit's time from acknowledgement to its event, as
/// the events arrive, until every one has arrived or `ARRIVAL_TIMEOUT` has
/// passed since the last acknowledgement.
struct Received {
    latencies: Vec<Duration>,
    /// Events that arrived before their acknowledgement (counted as 0).
    before_ack: usize,
    /// Acknowledged visits whose event did not arrive within the timeout.
    missing: usize,
    /// Events of visits this run did not acknowledge.
    strangers: usize,
    /// From the first acknowledged visit's event to the last one's.
    relayed_for: Duration,
}

async fn collect_arrivals(
    mut arrivals: mpsc::UnboundedReceiver<(String, Instant)>,
    acknowledged: &HashMap<String, Instant>,
) -> Received {
    let last_ack = acknowledged
        .values()
        .max()
        .copied()
        .unwrap_or_else(Instant::now);
    let deadline = tokio::time::Instant::from_std(last_ack + ARRIVAL_TIMEOUT);
    let mut arrived: HashMap<String, Instant> = HashMap::new();
    let mut strangers = 0;
    while arrived.len() < acknowledged.len() {
        match tokio::time::timeout_at(deadline, arrivals.recv()).await {
            Ok(Some((name, at))) => {
                if acknowledged.contains_key(&name) {
                    arrived.insert(name, at);
                } else {
                    strangers += 1;
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    let (mut latencies, mut before_ack, mut missing) = (Vec::new(), 0, 0);
    for (name, acked) in acknowledged {
        match arrived.get(name) {
            Some(at) if at.saturating_duration_since(*acked) <= ARRIVAL_TIMEOUT => {
                if at < acked {
                    before_ack += 1;
                }
                latencies.push(at.saturating_duration_since(*acked));
            }
            _ => missing += 1,
        }
    }
    latencies.sort();
    let first = arrived.values().min().copied();
    let last = arrived.values().max().copied();
    let relayed_for = match (first, last) {
        (Some(first), Some(last)) => last - first,
        _ => Duration::ZERO,
    };
    Received {
        relayed_for,
        latencies,
        before_ack,
        missing,
        strangers,
    }
}

fn take<T: Default>(shared: Arc<Mutex<T>>) -> T {
    std::mem::take(&mut *shared.lock().expect("not poisoned"))
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    let index = ((sorted.len() as f64 * share).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn report(label: &str, sending: &Sending, received: &Received, other_events: usize) {
    let offered_rate = sending.total as f64 / sending.offered_for.as_secs_f64();
    let acked = sending.acknowledged.len();
    let acked_rate = acked as f64 / sending.answered_for.as_secs_f64();
    let held = sending.late_starts == 0 && sending.failed.is_empty();
    println!(
        "{label}: sent {} visits (SubmitVisit over gRPC through the gateway) in {:.2} s: {offered_rate:.1}/s \
         started ({} started more than {} ms late, the latest {:.1} ms)",
        sending.total,
        sending.offered_for.as_secs_f64(),
        sending.late_starts,
        LATE_START.as_millis(),
        millis(sending.latest_start),
    );
    println!(
        "{label}: acknowledged {acked} (the last answer {:.2} s after the first start: {acked_rate:.1}/s); failed {:?}; \
         the {}/s rate {}",
        sending.answered_for.as_secs_f64(),
        sending.failed,
        sending.rate,
        if held { "was held" } else { "was NOT held" },
    );
    println!(
        "{label}: received {} on the stream, {} not within {} s of their acknowledgement, {} before it (counted as 0 ms); \
         {} other events relayed, {} visits not of this run",
        received.latencies.len(),
        received.missing,
        ARRIVAL_TIMEOUT.as_secs(),
        received.before_ack,
        other_events,
        received.strangers,
    );
    if !sending.call_times.is_empty() {
        println!(
            "{label}: SubmitVisit through the gateway took p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
             the stream relayed the visits' events over {:.2} s ({:.1}/s)",
            millis(percentile(&sending.call_times, 0.50)),
            millis(percentile(&sending.call_times, 0.99)),
            millis(*sending.call_times.last().expect("a call")),
            received.relayed_for.as_secs_f64(),
            received.latencies.len() as f64 / received.relayed_for.as_secs_f64().max(1e-3),
        );
    }
    if received.latencies.is_empty() {
        println!("{label}: no visit arrived on the stream");
        return;
    }
    let p99 = percentile(&received.latencies, 0.99);
    println!(
        "{label}: acknowledgement to event on the stream: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms \
         (target p99 <= {} ms: {})",
        millis(percentile(&received.latencies, 0.50)),
        millis(percentile(&received.latencies, 0.90)),
        millis(p99),
        millis(*received.latencies.last().expect("a latency")),
        TARGET_P99.as_millis(),
        if p99 <= TARGET_P99 && received.missing == 0 {
            "met"
        } else {
            "missed"
        },
    );
}
