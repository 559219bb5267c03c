//! Structured logs, and OpenTelemetry traces that follow a request across
//! services: W3C trace context is read from incoming gRPC metadata, written
//! into outgoing calls, and stored with every event so a consumer's work joins
//! the trace of the request that caused it. Spans are exported over OTLP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set; trace context propagates either way.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Once;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tonic::codegen::http;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::Filter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable lines, for a terminal.
    Pretty,
}

/// Flushes and shuts down trace export when dropped. Keep it alive for the
/// whole run and drop it last, after the servers have drained, so the spans
/// of the final requests are exported.
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("trace export did not shut down cleanly: {error}");
        }
    }
}

const DEFAULT_FILTER: &str = "info,sqlx=warn,h2=warn,hyper=warn,tower=warn,opentelemetry=warn";

/// Installs the global subscriber: logs in `format`, filtered by `RUST_LOG`,
/// and spans sent to `otlp_endpoint` when given.
pub fn init(
    service_name: &str,
    format: LogFormat,
    otlp_endpoint: Option<&str>,
) -> anyhow::Result<TelemetryGuard> {
    init_to(service_name, format, otlp_endpoint, None)
}

/// As [`init`], with the logs appended to `log_file` instead of standard
/// output when given (`louyu up --log-file`), never with colour codes.
pub fn init_to(
    service_name: &str,
    format: LogFormat,
    otlp_endpoint: Option<&str>,
    log_file: Option<&std::path::Path>,
) -> anyhow::Result<TelemetryGuard> {
    let (writer, ansi) = match log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| {
                    anyhow::anyhow!("cannot open the log file {}: {error}", path.display())
                })?;
            (BoxMakeWriter::new(std::sync::Arc::new(file)), false)
        }
        None => (
            BoxMakeWriter::new(std::io::stdout),
            std::io::stdout().is_terminal(),
        ),
    };
    let mut builder = SdkTracerProvider::builder().with_resource(
        Resource::builder()
            .with_service_name(format!("louyu-{service_name}"))
            .build(),
    );
    if let Some(endpoint) = otlp_endpoint.filter(|endpoint| !endpoint.is_empty()) {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let tracer = provider.tracer("louyu");
    // Logs follow RUST_LOG; spans always reach the OpenTelemetry layer, so a
    // quieter log level never breaks trace propagation.
    let registry = tracing_subscriber::registry().with(span_layer(tracer));
    match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(writer)
                    .flatten_event(true)
                    .with_filter(log_filter()),
            )
            .try_init()?,
        // Colours only for a terminal: piped or collected logs get plain
        // text, and no escape codes are written per span.
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .compact()
                    .with_writer(writer)
                    .with_ansi(ansi)
                    .with_filter(log_filter()),
            )
            .try_init()?,
    }
    Ok(TelemetryGuard { provider })
}

/// The layer that turns `tracing` spans into OpenTelemetry spans, at INFO
/// and above, as every request's span needs it: the span's trace context is
/// read from it explicitly (`OpenTelemetrySpanExt::context`, for the next
/// hop and the audit trail), so it is not attached to the thread on every
/// poll of the request (context activation), and no per-span timing,
/// thread, source location or target attributes are collected. Each of
/// those costs every request; together they were most of what Louyu's
/// server frame cost over bare tonic (docs/benchmarks.md).
fn span_layer<S>(
    tracer: opentelemetry_sdk::trace::Tracer,
) -> impl tracing_subscriber::Layer<S> + Send + Sync
where
    S: tracing::Subscriber + for<'lookup> LookupSpan<'lookup> + Send + Sync,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_context_activation(false)
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_target(false)
        .with_filter(LevelFilter::INFO)
}

/// The filter of the log layer: `RUST_LOG`, else [`DEFAULT_FILTER`].
///
/// Every span and event passes it, the span of each gRPC request included,
/// so it is the cheaper `Targets` (levels by target, no locks) whenever the
/// directives are only that, which they are unless `RUST_LOG` filters on
/// spans or fields (`[`, `{`); then it is the `EnvFilter` that understands
/// those.
fn log_filter<S>() -> Box<dyn Filter<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    let directives = std::env::var(EnvFilter::DEFAULT_ENV)
        .ok()
        .unwrap_or_else(|| DEFAULT_FILTER.to_owned());
    if !directives.is_empty()
        && !directives.contains(['[', '{'])
        && let Ok(targets) = directives.parse::<Targets>()
    {
        return Box::new(targets);
    }
    Box::new(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER)))
}

/// Installs telemetry once per test process: logs to the test's captured
/// output, trace context on, nothing exported.
pub fn init_for_tests() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let provider = SdkTracerProvider::builder().build();
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let tracer = provider.tracer("louyu-test");
        let log_filter =
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
        let _ = tracing_subscriber::registry()
            .with(span_layer(tracer))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_test_writer()
                    .with_filter(log_filter),
            )
            .try_init();
        // The provider must outlive every test in the process.
        std::mem::forget(provider);
    });
}

/// The current span's W3C `traceparent`, or empty when it is not traced.
pub fn current_traceparent() -> String {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    if !span_context.is_valid() {
        return String::new();
    }
    format!(
        "00-{}-{}-{:02x}",
        span_context.trace_id(),
        span_context.span_id(),
        span_context.trace_flags().to_u8()
    )
}

/// Makes `span` a child of the trace a stored `traceparent` names.
pub fn set_parent_from_traceparent(span: &tracing::Span, traceparent: &str) {
    if traceparent.is_empty() {
        return;
    }
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let parent =
        opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&carrier));
    let _ = span.set_parent(parent);
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// The span every gRPC request runs in, a child of the caller's trace when
/// the request carries one. For `tonic::transport::Server::trace_fn`.
///
/// It runs on every call, so it does only what the span needs: the method is
/// recorded as a string (no formatting), and the caller's trace context is
/// extracted only when the request carries a `traceparent` (health probes
/// and most direct callers do not; their span is a root either way).
pub fn grpc_request_span(request: &http::Request<()>) -> tracing::Span {
    let method = request.uri().path().trim_start_matches('/');
    let span = tracing::info_span!(
        "grpc request",
        otel.name = method,
        otel.kind = "server",
        rpc.system = "grpc",
    );
    if request.headers().contains_key(TRACEPARENT) {
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(request.headers()))
        });
        let _ = span.set_parent(parent);
    }
    span
}

/// The W3C header that carries a caller's trace context.
const TRACEPARENT: &str = "traceparent";

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// Puts the current span's trace context in `headers` (`traceparent` and
/// `tracestate`), replacing the caller's, so that a call passed on (by the
/// gateway) joins the trace as a child of the span that passed it. When the
/// current span is not traced, the caller's headers stay as they came.
pub fn inject_trace_context(headers: &mut http::HeaderMap) {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return;
    }
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    });
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::try_from(value),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// A client interceptor that sends the current trace context with each call,
/// so the callee's spans join the caller's trace.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextInterceptor;

impl tonic::service::Interceptor for TraceContextInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let context = tracing::Span::current().context();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut MetadataInjector(request.metadata_mut()));
        });
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use tonic::service::Interceptor;

    use super::*;

    #[test]
    fn outgoing_calls_carry_the_trace_of_the_request_being_served() {
        init_for_tests();
        let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let span = tracing::info_span!("serving a request");
        set_parent_from_traceparent(&span, &format!("00-{trace_id}-00f067aa0ba902b7-01"));
        let outgoing = span.in_scope(|| {
            TraceContextInterceptor
                .call(tonic::Request::new(()))
                .expect("the interceptor never refuses")
        });
        let traceparent = outgoing
            .metadata()
            .get("traceparent")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        assert!(
            traceparent.starts_with(&format!("00-{trace_id}-")),
            "{traceparent:?}"
        );
        assert!(
            !traceparent.contains("00f067aa0ba902b7"),
            "the callee's parent is our own span"
        );
    }

    #[test]
    fn a_forwarded_call_joins_the_trace_as_a_child_of_the_forwarding_span() {
        init_for_tests();
        let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let callers = format!("00-{trace_id}-00f067aa0ba902b7-01");
        let span = tracing::info_span!("forwarding a request");
        set_parent_from_traceparent(&span, &callers);
        let mut headers = http::HeaderMap::new();
        headers.insert("traceparent", callers.parse().unwrap());
        span.in_scope(|| inject_trace_context(&mut headers));
        let traceparent = headers["traceparent"].to_str().unwrap();
        assert!(
            traceparent.starts_with(&format!("00-{trace_id}-")),
            "{traceparent:?}"
        );
        assert_ne!(traceparent, callers, "the parent is the forwarding span");

        let mut untraced = http::HeaderMap::new();
        untraced.insert("traceparent", callers.parse().unwrap());
        inject_trace_context(&mut untraced);
        assert_eq!(untraced["traceparent"], callers.as_str(), "left as it came");
    }
}
