//! Structured logs, and OpenTelemetry traces that follow a request across
//! services: W3C trace context is read from incoming gRPC metadata, written
//! into outgoing calls, and stored with every event, so that a consumer's
//! work on it links to the span of the request that caused it. Spans are
//! exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; trace context propagates
//! either way. The rest of the standard variables are read by the
//! OpenTelemetry SDK and exporter themselves: `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` and
//! `OTEL_TRACES_SAMPLER_ARG`, `OTEL_BSP_*`, `OTEL_EXPORTER_OTLP_HEADERS`,
//! `_TIMEOUT` and `_COMPRESSION`. The spans of calls are made in
//! [`crate::observe`]; JSON log lines carry the `trace_id` and `span_id` of
//! the span they were written in ([`JsonLines`]).

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
use tracing_subscriber::fmt::MakeWriter;
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

impl TelemetryGuard {
    /// Exports the spans ended so far now, rather than at the next batch.
    pub fn flush(&self) {
        if let Err(error) = self.provider.force_flush() {
            eprintln!("trace export did not flush: {error}");
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("trace export did not shut down cleanly: {error}");
        }
    }
}

const DEFAULT_FILTER: &str = "info,sqlx=warn,h2=warn,hyper=warn,tower=warn,opentelemetry=warn";

/// Installs the global subscriber: logs in `format` on standard output,
/// filtered by `RUST_LOG`, and spans sent to `otlp_endpoint` when given
/// (else to `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` when that is set).
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
    match log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| {
                    anyhow::anyhow!("cannot open the log file {}: {error}", path.display())
                })?;
            init_writing(
                service_name,
                format,
                otlp_endpoint,
                BoxMakeWriter::new(std::sync::Arc::new(file)),
                false,
            )
        }
        None => init_writing(
            service_name,
            format,
            otlp_endpoint,
            std::io::stdout,
            std::io::stdout().is_terminal(),
        ),
    }
}

/// [`init`], with the log lines written to `writer` (tests capture them),
/// without colour codes.
pub fn init_with_writer<W>(
    service_name: &str,
    format: LogFormat,
    otlp_endpoint: Option<&str>,
    writer: W,
) -> anyhow::Result<TelemetryGuard>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    init_writing(service_name, format, otlp_endpoint, writer, false)
}

fn init_writing<W>(
    service_name: &str,
    format: LogFormat,
    otlp_endpoint: Option<&str>,
    writer: W,
    ansi: bool,
) -> anyhow::Result<TelemetryGuard>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let mut resource = Resource::builder();
    // `OTEL_SERVICE_NAME` wins (the SDK reads it); without it the process
    // is `louyu-<service>`, or `louyu-up` for the whole suite.
    if std::env::var_os("OTEL_SERVICE_NAME").is_none_or(|name| name.is_empty()) {
        resource = resource.with_service_name(format!("louyu-{service_name}"));
    }
    // The sampler is the SDK's default configuration, which reads
    // `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (parentbased_always_on
    // when unset).
    let mut builder = SdkTracerProvider::builder().with_resource(resource.build());
    let endpoint = otlp_endpoint.filter(|endpoint| !endpoint.is_empty());
    let traces_endpoint_set = std::env::var_os("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .is_some_and(|endpoint| !endpoint.is_empty());
    let exporter_off = std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|value| value == "none");
    if !exporter_off && (endpoint.is_some() || traces_endpoint_set) {
        let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic();
        // The traces-specific variable, when set, is more specific than
        // the general endpoint the config passes in.
        if let Some(endpoint) = endpoint.filter(|_| !traces_endpoint_set) {
            exporter = exporter.with_endpoint(endpoint);
        }
        builder = builder.with_batch_exporter(exporter.build()?);
    }
    let provider = builder.build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let tracer = provider.tracer("louyu");
    // Logs follow RUST_LOG; spans always reach the OpenTelemetry layer, so a
    // quieter log level never breaks trace propagation.
    let registry = tracing_subscriber::registry().with(span_layer(tracer));
    match format {
        LogFormat::Json => registry
            .with(JsonLines::new(writer).with_filter(EventsFiltered(log_filter())))
            .try_init()?,
        // Colours only for a terminal: piped or collected logs get plain
        // text, and no escape codes are written per span. The spans of
        // calls are not this layer's: it would format their fields on every
        // call, for the few calls that log a line.
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .compact()
                    .with_writer(writer)
                    .with_ansi(ansi)
                    .with_filter(WithoutCallSpans(log_filter())),
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
                    .with_filter(WithoutCallSpans(log_filter)),
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

/// Makes `span` a child of the caller's trace when `headers` carry a
/// `traceparent`; a request without one (health probes, most direct
/// callers) leaves it a root, without the cost of extracting nothing.
pub(crate) fn set_parent_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    if !headers.contains_key(TRACEPARENT) {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    let _ = span.set_parent(parent);
}

/// Links `span` to the span a stored `traceparent` names (the span that
/// wrote an event), leaving `span` in its own trace: work done on an event
/// is not part of the request that wrote it, which had answered long
/// before, but an operator can follow the link from one to the other.
pub fn link_to_traceparent(span: &tracing::Span, traceparent: &str) {
    if traceparent.is_empty() {
        return;
    }
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let context =
        opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&carrier));
    let linked = context.span().span_context().clone();
    if linked.is_valid() {
        span.add_link(linked);
    }
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
///
/// It writes what W3C's propagator (the one kit installs) would, without
/// its global lookup and dynamic dispatch: this runs on every call a
/// service or the gateway makes.
pub fn inject_trace_context(headers: &mut http::HeaderMap) {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    if !span_context.is_valid() {
        return;
    }
    let traceparent = format!(
        "00-{}-{}-{:02x}",
        span_context.trace_id(),
        span_context.span_id(),
        (span_context.trace_flags() & opentelemetry::trace::TraceFlags::SAMPLED).to_u8()
    );
    let Ok(traceparent) = http::HeaderValue::try_from(traceparent) else {
        return;
    };
    headers.insert(TRACEPARENT, traceparent);
    let state = span_context.trace_state().header();
    match http::HeaderValue::try_from(state) {
        Ok(state) if !state.is_empty() => {
            headers.insert(TRACESTATE, state);
        }
        _ => {
            headers.remove(TRACESTATE);
        }
    }
}

/// The W3C header that carries vendors' trace data beside `traceparent`.
const TRACESTATE: &str = "tracestate";

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

/// The log layer of `LOG_FORMAT=json`: one JSON object per line, with the
/// event's level, target, message and fields, the name of the span it was
/// written in, and that span's OpenTelemetry `trace_id` and `span_id`, so a
/// log line leads to its trace. It keeps nothing per span (the fields of
/// spans are not logged, and so cost nothing on a call that logs nothing):
/// the ids are read from the span when a line is written.
pub struct JsonLines<W> {
    writer: W,
    dispatch: std::sync::OnceLock<tracing::dispatcher::WeakDispatch>,
}

impl<W> JsonLines<W> {
    pub fn new(writer: W) -> Self {
        Self {
            writer,
            dispatch: std::sync::OnceLock::new(),
        }
    }
}

impl<S, W> tracing_subscriber::Layer<S> for JsonLines<W>
where
    S: tracing::Subscriber + for<'lookup> LookupSpan<'lookup>,
    W: for<'writer> MakeWriter<'writer> + 'static,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        context: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let metadata = event.metadata();
        let mut line = serde_json::Map::new();
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        line.insert("timestamp".to_owned(), now.into());
        line.insert("level".to_owned(), metadata.level().as_str().into());
        line.insert("target".to_owned(), metadata.target().into());
        event.record(&mut JsonFields(&mut line));
        if let Some(span) = context.event_span(event) {
            line.insert("span".to_owned(), span.name().into());
            let dispatch = self
                .dispatch
                .get()
                .and_then(tracing::dispatcher::WeakDispatch::upgrade);
            if let Some(otel) = dispatch
                .and_then(|dispatch| tracing_opentelemetry::get_otel_context(&span.id(), &dispatch))
            {
                let otel_span = otel.span();
                let ids = otel_span.span_context();
                if ids.is_valid() {
                    line.insert("trace_id".to_owned(), ids.trace_id().to_string().into());
                    line.insert("span_id".to_owned(), ids.span_id().to_string().into());
                }
            }
        }
        let Ok(mut bytes) = serde_json::to_vec(&line) else {
            return;
        };
        bytes.push(b'\n');
        let _ = std::io::Write::write_all(&mut self.writer.make_writer_for(metadata), &bytes);
    }
}

/// Writes an event's fields into a JSON object, as JSON numbers and
/// booleans where they are, and text otherwise.
struct JsonFields<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl tracing::field::Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_error(
        &mut self,
        field: &tracing::field::Field,
        value: &(dyn std::error::Error + 'static),
    ) {
        self.0
            .insert(field.name().to_owned(), value.to_string().into());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), format!("{value:?}").into());
    }
}

/// A log filter applied to events only: every span at INFO or above is
/// kept, so a line written under a filtered span still finds its trace.
struct EventsFiltered<F>(F);

/// A log filter that also leaves out the spans of calls
/// ([`crate::observe`]): the `fmt` layer would otherwise format their
/// fields on every call.
struct WithoutCallSpans<F>(F);

/// The target of the spans of calls.
const CALL_SPAN_TARGET: &str = "louyu_kit::observe";

macro_rules! delegate_span_callbacks {
    () => {
        fn on_new_span(
            &self,
            attributes: &tracing::span::Attributes<'_>,
            id: &tracing::span::Id,
            context: tracing_subscriber::layer::Context<'_, S>,
        ) {
            self.0.on_new_span(attributes, id, context)
        }

        fn on_record(
            &self,
            id: &tracing::span::Id,
            values: &tracing::span::Record<'_>,
            context: tracing_subscriber::layer::Context<'_, S>,
        ) {
            self.0.on_record(id, values, context)
        }

        fn on_enter(
            &self,
            id: &tracing::span::Id,
            context: tracing_subscriber::layer::Context<'_, S>,
        ) {
            self.0.on_enter(id, context)
        }

        fn on_exit(
            &self,
            id: &tracing::span::Id,
            context: tracing_subscriber::layer::Context<'_, S>,
        ) {
            self.0.on_exit(id, context)
        }

        fn on_close(
            &self,
            id: tracing::span::Id,
            context: tracing_subscriber::layer::Context<'_, S>,
        ) {
            self.0.on_close(id, context)
        }
    };
}

impl<S, F: Filter<S>> Filter<S> for EventsFiltered<F> {
    fn enabled(
        &self,
        metadata: &tracing::Metadata<'_>,
        context: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        if metadata.is_span() {
            return *metadata.level() <= tracing::Level::INFO;
        }
        self.0.enabled(metadata, context)
    }

    fn callsite_enabled(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if metadata.is_span() {
            return if *metadata.level() <= tracing::Level::INFO {
                tracing::subscriber::Interest::always()
            } else {
                tracing::subscriber::Interest::never()
            };
        }
        self.0.callsite_enabled(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.0
            .max_level_hint()
            .map(|hint| hint.max(LevelFilter::INFO))
    }

    delegate_span_callbacks!();
}

impl<S, F: Filter<S>> Filter<S> for WithoutCallSpans<F> {
    fn enabled(
        &self,
        metadata: &tracing::Metadata<'_>,
        context: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        if metadata.is_span() && metadata.target() == CALL_SPAN_TARGET {
            return false;
        }
        self.0.enabled(metadata, context)
    }

    fn callsite_enabled(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if metadata.is_span() && metadata.target() == CALL_SPAN_TARGET {
            return tracing::subscriber::Interest::never();
        }
        self.0.callsite_enabled(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.0.max_level_hint()
    }

    delegate_span_callbacks!();
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
