//! Traces, metrics and logs of the whole suite, observed from outside: the
//! services export their spans over OTLP to a receiver in this process,
//! serve `/metrics` over HTTP, and write JSON log lines into a buffer.
//!
//! A test binary of its own: telemetry is process-global (one subscriber,
//! one `TracerProvider`, one metrics recorder), so this process installs
//! them as `louyu up` does, for every service it hosts. The OpenTelemetry
//! resource (`service.name`) is then the process's, as it is under `louyu
//! up`; which service made a span is its `louyu.service` attribute, which
//! every span of kit's carries for that reason. That is what these tests
//! check, rather than the resource.

mod receiver;

use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use louyu_kit::config::ServiceName;
use louyu_kit::telemetry::LogFormat;
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::visits::v1::visits_service_client::VisitsServiceClient;
use louyu_proto::visits::v1::{
    DemandDraft, ExpansionFit, Observation, RelocationIntent, SubmitVisitRequest, Trend, Urgency,
    Visit, VisitKind,
};
use louyu_testkit::fixtures::{self, DISTRICT, enterprise_name, uscc};
use louyu_testkit::metrics::scrape;
use louyu_testkit::sandbox::Sandbox;
use louyu_testkit::{TestBackend, backend_tests};
use receiver::{ReceivedSpan, Receiver};

/// What the process's telemetry sends where the tests can see it.
struct Harness {
    receiver: Receiver,
    logs: LogBuffer,
    telemetry: louyu_kit::telemetry::TelemetryGuard,
}

/// The runtime the receiver and the exporter's channel live on: the
/// process's, not one test's (the metrics endpoint has its own, in
/// `louyu_testkit::metrics`).
static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Runtime::new().expect("a runtime"));

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let _entered = RUNTIME.enter();
    let receiver = Receiver::start();
    let logs = LogBuffer::default();
    let telemetry = louyu_kit::telemetry::init_with_writer(
        "telemetry-test",
        LogFormat::Json,
        Some(&format!("http://{}", receiver.address())),
        logs.clone(),
    )
    .expect("telemetry installs");
    louyu_testkit::metrics::endpoint();
    Harness {
        receiver,
        logs,
        telemetry,
    }
});

/// Log lines, as the JSON layer writes them.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'writer> tracing_subscriber::fmt::MakeWriter<'writer> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'writer self) -> Self::Writer {
        self.clone()
    }
}

impl LogBuffer {
    fn lines(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|line| serde_json::from_str(line).expect("every log line is JSON"))
            .collect()
    }
}

/// A random trace id, as a caller (the phone app) would start it.
fn new_trace_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn start_suite(backend: TestBackend) -> Option<Sandbox> {
    LazyLock::force(&HARNESS);
    Sandbox::start(
        backend,
        &[
            &louyu_registry::startup::Registry,
            &louyu_visits::startup::Visits,
            &louyu_risk::startup::Risk,
            &louyu_referral::startup::Referral,
            &louyu_gateway::startup::Gateway,
        ],
    )
    .await
}

/// Spans received so far that satisfy `wanted`, once there are any, waiting
/// (and flushing the exporter) up to a deadline.
async fn spans_until(what: &str, wanted: impl Fn(&[ReceivedSpan]) -> bool) -> Vec<ReceivedSpan> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        HARNESS.telemetry.flush();
        let spans = HARNESS.receiver.spans();
        if wanted(&spans) {
            return spans;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}; received {spans:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn a_visit_with_a_demand_is_one_trace_and_the_work_it_triggers_links_to_it(
    backend: TestBackend,
) {
    let Some(sandbox) = start_suite(backend).await else {
        return;
    };
    let mut registry =
        louyu_proto::registry::v1::registry_service_client::RegistryServiceClient::new(
            sandbox.client(ServiceName::Registry).await,
        );
    fixtures::one_building(&mut registry).await;
    let code = uscc(1);
    fixtures::tenant(&mut registry, &code, "101", 60).await;
    fixtures::referral_departments(&mut registry).await;

    let trace_id = new_trace_id();
    let mut visits = VisitsServiceClient::new(sandbox.client(ServiceName::Gateway).await);
    let mut request = tonic::Request::new(SubmitVisitRequest {
        parent: DISTRICT.to_owned(),
        visit: Some(Visit {
            building: format!("{DISTRICT}/buildings/b-1"),
            staff: vec![format!("{DISTRICT}/staff/s-1")],
            visit_time: Some(louyu_kit::time::timestamp_from_micros(
                louyu_kit::time::now_micros() - 3_600_000_000,
            )),
            kind: VisitKind::Routine as i32,
            observations: vec![Observation {
                enterprise: enterprise_name(&code),
                relocation_intent: RelocationIntent::None as i32,
                expansion_need: true,
                expansion_fit: ExpansionFit::BuildingCannotMeet as i32,
                headcount_trend: Trend::Growing as i32,
                business_trend: Trend::Growing as i32,
                satisfaction: 4,
                ..Observation::default()
            }],
            ..Visit::default()
        }),
        demands: vec![DemandDraft {
            enterprise: enterprise_name(&code),
            category: DemandCategory::OfficeSpace as i32,
            description: "需扩租 needs more room".to_owned(),
            urgency: Urgency::High as i32,
        }],
        request_id: String::new(),
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    visits.submit_visit(request).await.expect("the visit");

    let in_trace = |spans: &[ReceivedSpan]| -> Vec<ReceivedSpan> {
        spans
            .iter()
            .filter(|span| span.trace_id == trace_id)
            .cloned()
            .collect()
    };
    let linked_consumer = |spans: &[ReceivedSpan], service: &str| -> Option<ReceivedSpan> {
        spans
            .iter()
            .find(|span| {
                span.attribute("louyu.service") == Some(service)
                    && span.name.starts_with("consume visits ")
                    && span.links.iter().any(|(linked, _)| *linked == trace_id)
            })
            .cloned()
    };
    let spans = spans_until(
        "the request's spans and the consumers' linked spans arrive",
        |spans| {
            let traced = in_trace(spans);
            traced
                .iter()
                .any(|span| span.attribute("louyu.service") == Some("registry"))
                && linked_consumer(spans, "risk").is_some()
                && linked_consumer(spans, "referral").is_some()
        },
    )
    .await;
    let traced = in_trace(&spans);
    let method = "louyu.visits.v1.VisitsService/SubmitVisit";
    let find = |service: &str, kind: &str, name: &str| -> ReceivedSpan {
        traced
            .iter()
            .find(|span| {
                span.attribute("louyu.service") == Some(service)
                    && span.kind == kind
                    && span.name == name
            })
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} span {name} of {service} in {traced:#?}"))
    };
    let gateway_server = find("gateway", "server", method);
    let gateway_client = find("gateway", "client", method);
    let visits_server = find("visits", "server", method);
    assert_eq!(
        gateway_server.parent_span_id, "00f067aa0ba902b7",
        "the caller's child"
    );
    assert_eq!(gateway_client.parent_span_id, gateway_server.span_id);
    assert_eq!(visits_server.parent_span_id, gateway_client.span_id);
    for (attribute, value) in [
        ("rpc.system", "grpc"),
        ("rpc.service", "louyu.visits.v1.VisitsService"),
        ("rpc.method", "SubmitVisit"),
        ("rpc.grpc.status_code", "0"),
    ] {
        for span in [&gateway_server, &gateway_client, &visits_server] {
            assert_eq!(
                span.attribute(attribute),
                Some(value),
                "{attribute} of {span:#?}"
            );
        }
    }
    assert_eq!(
        visits_server.attribute("server.port"),
        Some(
            sandbox
                .address(ServiceName::Visits)
                .port()
                .to_string()
                .as_str()
        )
    );
    assert_eq!(
        gateway_client.attribute("server.port"),
        Some(
            sandbox
                .address(ServiceName::Visits)
                .port()
                .to_string()
                .as_str()
        ),
        "the client span names the peer it calls"
    );
    // Visits checks the visit against the registry, inside the same trace.
    let registry_server = traced
        .iter()
        .find(|span| span.attribute("louyu.service") == Some("registry") && span.kind == "server")
        .expect("a registry server span in the trace");
    let registry_caller = traced
        .iter()
        .find(|span| span.span_id == registry_server.parent_span_id)
        .expect("the registry's caller is in the trace");
    assert_eq!(registry_caller.kind, "client");
    assert_eq!(registry_caller.attribute("louyu.service"), Some("visits"));

    // The risk and referral services' work on the visit's events: traces
    // of their own, linked to the visits span that wrote the events.
    for service in ["risk", "referral"] {
        let consumer = linked_consumer(&spans, service).expect("a linked consumer span");
        assert_ne!(
            consumer.trace_id, trace_id,
            "{service}'s work is a trace of its own"
        );
        assert!(consumer.parent_span_id.is_empty(), "a root: {consumer:#?}");
        assert_eq!(consumer.kind, "consumer");
        assert!(
            consumer
                .links
                .iter()
                .any(|(trace, span)| *trace == trace_id && *span == visits_server.span_id),
            "{service}'s span links to the span that wrote the event: {consumer:#?}"
        );
    }
}

async fn metrics_count_calls_by_method_and_code_and_report_feeds_and_pools(backend: TestBackend) {
    let Some(sandbox) = start_suite(backend).await else {
        return;
    };
    let mut registry =
        louyu_proto::registry::v1::registry_service_client::RegistryServiceClient::new(
            sandbox.client(ServiceName::Registry).await,
        );
    let method = "louyu.registry.v1.RegistryService/GetBuilding";
    let counted = |text: &str, code: &str| {
        sample(
            text,
            "louyu_rpc_requests_total",
            &[
                ("service", "registry"),
                ("rpc_method", method),
                ("grpc_code", code),
            ],
        )
    };
    let before = scrape().await;
    fixtures::one_building(&mut registry).await;
    for name in ["b-1", "b-1", "no-such-building"] {
        let _ = registry
            .get_building(louyu_proto::registry::v1::GetBuildingRequest {
                name: format!("{DISTRICT}/buildings/{name}"),
                ..Default::default()
            })
            .await;
    }
    let after = scrape().await;
    assert!(
        counted(&after, "OK") >= counted(&before, "OK") + 2.0,
        "two more OK GetBuilding calls:\n{after}"
    );
    assert!(
        counted(&after, "NOT_FOUND") >= counted(&before, "NOT_FOUND") + 1.0,
        "one more NOT_FOUND:\n{after}"
    );
    let durations = |text: &str| {
        sample(
            text,
            "louyu_rpc_duration_seconds_count",
            &[("service", "registry"), ("rpc_method", method)],
        )
    };
    assert!(durations(&after) >= durations(&before) + 3.0, "{after}");
    assert!(
        after.contains("louyu_rpc_duration_seconds_bucket{"),
        "a histogram"
    );
    assert!(
        sample(&after, "louyu_db_pool_max", &[("service", "registry")]) >= 1.0,
        "{after}"
    );
    assert!(after.contains("louyu_db_pool_connections{service=\"registry\",state=\"idle\"}"));
    // The visits service follows the registry's feed: its lag is reported
    // once it has read a batch of the building's events.
    louyu_testkit::eventually(
        "the visits service reports its lag on the registry's feed",
        || async {
            let text = scrape().await;
            text.lines().any(|line| {
                line.starts_with("louyu_feed_lag_events{")
                    && line.contains("consumer=\"visits\"")
                    && line.contains("feed=\"registry\"")
            })
        },
    )
    .await;
    drop(sandbox);
}

async fn json_log_lines_carry_the_trace_and_span_of_the_call_and_no_token(backend: TestBackend) {
    let Some(sandbox) = start_suite(backend).await else {
        return;
    };
    let trace_id = new_trace_id();
    // A call without a token is refused, and the refusal logged (at info)
    // inside the call's span.
    let channel = sandbox.channel(ServiceName::Registry).await;
    let mut registry =
        louyu_proto::registry::v1::registry_service_client::RegistryServiceClient::new(channel);
    let mut request = tonic::Request::new(louyu_proto::registry::v1::GetBuildingRequest {
        name: format!("{DISTRICT}/buildings/b-1"),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    request.metadata_mut().insert(
        "authorization",
        "Bearer not-a-token-secret-123".parse().unwrap(),
    );
    let refused = registry.get_building(request).await.expect_err("refused");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let lines = HARNESS.logs.lines();
    let line = lines
        .iter()
        .find(|line| line["trace_id"] == trace_id.as_str())
        .unwrap_or_else(|| panic!("a log line in trace {trace_id}: {lines:#?}"));
    assert_eq!(line["message"], "call refused");
    let span_id = line["span_id"].as_str().expect("a span id");
    assert_eq!(span_id.len(), 16);
    assert_ne!(
        span_id, "00f067aa0ba902b7",
        "the server's own span, not the caller's"
    );
    let everything = String::from_utf8_lossy(&HARNESS.logs.0.lock().unwrap()).into_owned();
    assert!(
        !everything.contains("not-a-token-secret-123"),
        "no token in any log line"
    );
}

backend_tests!(
    a_visit_with_a_demand_is_one_trace_and_the_work_it_triggers_links_to_it,
    metrics_count_calls_by_method_and_code_and_report_feeds_and_pools,
    json_log_lines_carry_the_trace_and_span_of_the_call_and_no_token,
);

/// The value of the sample of `name` whose labels include `labels`
/// (0 when there is none yet).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .filter(|line| {
            labels
                .iter()
                .all(|(label, value)| line.contains(&format!("{label}=\"{value}\"")))
        })
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}
