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
//!
//! With no exporter, the spans are not OpenTelemetry's: they carry their
//! trace and span ids only (`trace_ids`), which is all that leaves such a
//! process, at a fraction of the cost per call.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Once;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tonic::codegen::http;
use tracing::span::{Attributes, Id, Record};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::Context;
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
    let exporting = !exporter_off && (endpoint.is_some() || traces_endpoint_set);
    SPANS_EXPORTED.store(exporting, std::sync::atomic::Ordering::Relaxed);
    if exporting {
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
    // Logs follow RUST_LOG; spans always reach the span layer, so a quieter
    // log level never breaks trace propagation. With nothing exported, the
    // spans carry trace ids only (`trace_ids`).
    let spans = if exporting {
        span_layer(provider.tracer("louyu"))
    } else {
        trace_id_layer()
    };
    let registry = tracing_subscriber::registry()
        .with(Admit(log_filter()))
        .with(spans);
    match format {
        LogFormat::Json => registry.with(JsonLines::new(writer)).try_init()?,
        // Colours only for a terminal: piped or collected logs get plain
        // text, and no escape codes are written per span.
        LogFormat::Pretty => registry
            .with(WithoutCallSpans(
                tracing_subscriber::fmt::layer()
                    .compact()
                    .with_writer(writer)
                    .with_ansi(ansi),
            ))
            .try_init()?,
    }
    Ok(TelemetryGuard { provider })
}

/// Whether this process exports its spans (set once, by [`init`]).
static SPANS_EXPORTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether spans are exported: when they are not, what is recorded on a
/// span besides its ids goes nowhere, and the calls' spans skip it.
pub(crate) fn spans_exported() -> bool {
    SPANS_EXPORTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The layer that turns `tracing` spans into OpenTelemetry spans, at INFO
/// and above, as every request's span needs it: the span's trace context is
/// read from it explicitly (`OpenTelemetrySpanExt::context`, for the next
/// hop and the audit trail), so it is not attached to the thread on every
/// poll of the request (context activation), and no per-span timing,
/// thread, source location or target attributes are collected. Each of
/// those costs every request; together they were most of what Louyu's
/// server frame cost over bare tonic (docs/benchmarks.md).
fn span_layer(tracer: opentelemetry_sdk::trace::Tracer) -> SpanLayer {
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_context_activation(false)
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_target(false)
        .with_filter(LevelFilter::INFO);
    Box::new(layer)
}

/// The filter of what the subscriber admits ([`log_filter`]).
type LogFilter = Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;

/// The registry behind the filter, which the span and log layers sit on.
type Admitted = tracing_subscriber::layer::Layered<Admit<LogFilter>, tracing_subscriber::Registry>;

/// The layer of spans: OpenTelemetry's when spans are exported, else
/// [`trace_id_layer`].
type SpanLayer = Box<dyn tracing_subscriber::Layer<Admitted> + Send + Sync>;

/// Trace ids and nothing else: what a process that exports nothing needs
/// of its spans (`crate::trace_ids`).
fn trace_id_layer() -> SpanLayer {
    Box::new(crate::trace_ids::TraceIdLayer)
}

/// What the log lines follow: `RUST_LOG`, else [`DEFAULT_FILTER`].
///
/// Every span and event passes it, the span of each gRPC request included,
/// so it is the cheaper `Targets` (levels by target, no locks) whenever the
/// directives are only that, which they are unless `RUST_LOG` filters on
/// spans or fields (`[`, `{`); then it is the `EnvFilter` that understands
/// those.
fn log_filter() -> LogFilter {
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
/// output, trace context on, nothing exported (so spans carry trace ids
/// only, as in a process that exports nothing).
pub fn init_for_tests() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let log_filter: LogFilter =
            Box::new(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")));
        let _ = tracing_subscriber::registry()
            .with(Admit(log_filter))
            .with(trace_id_layer())
            .with(WithoutCallSpans(
                tracing_subscriber::fmt::layer().with_test_writer(),
            ))
            .try_init();
    });
}

/// The current span's W3C `traceparent`, or empty when it is not traced.
pub fn current_traceparent() -> String {
    let span_context = span_context_of(&tracing::Span::current());
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
    set_parent(span, stored_context(traceparent));
}

/// The trace context a stored `traceparent` names (invalid when it names
/// none).
fn stored_context(traceparent: &str) -> opentelemetry::Context {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    TraceContextPropagator::new().extract(&carrier)
}

/// Makes `span` a child of `parent`, in whichever span layer keeps it.
fn set_parent(span: &tracing::Span, parent: opentelemetry::Context) {
    if !crate::trace_ids::set_parent(span, parent.span().span_context()) {
        let _ = span.set_parent(parent);
    }
}

/// `span`'s trace context, from whichever span layer keeps it: the trace
/// ids of a process that exports nothing, else OpenTelemetry's span.
fn span_context_of(span: &tracing::Span) -> opentelemetry::trace::SpanContext {
    crate::trace_ids::of(span).unwrap_or_else(|| span.context().span().span_context().clone())
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
    if !headers.contains_key(&TRACEPARENT_HEADER) {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    set_parent(span, parent);
}

/// Links `span` to the span a stored `traceparent` names (the span that
/// wrote an event), leaving `span` in its own trace: work done on an event
/// is not part of the request that wrote it, which had answered long
/// before, but an operator can follow the link from one to the other.
pub fn link_to_traceparent(span: &tracing::Span, traceparent: &str) {
    if traceparent.is_empty() {
        return;
    }
    let context = stored_context(traceparent);
    let linked = context.span().span_context().clone();
    if linked.is_valid() {
        span.add_link(linked);
    }
}

/// The W3C header that carries a caller's trace context.
const TRACEPARENT: &str = "traceparent";
/// [`TRACEPARENT`], looked up without parsing its name on every call.
static TRACEPARENT_HEADER: http::HeaderName = http::HeaderName::from_static(TRACEPARENT);

/// Puts the current span's trace context in `headers` (`traceparent` and
/// `tracestate`), replacing the caller's, so that a call passed on (by the
/// gateway) joins the trace as a child of the span that passed it. When the
/// current span is not traced, the caller's headers stay as they came.
///
/// It writes what W3C's propagator (the one kit installs) would, without
/// its global lookup and dynamic dispatch: this runs on every call a
/// service or the gateway makes.
pub fn inject_trace_context(headers: &mut http::HeaderMap) {
    let span_context = span_context_of(&tracing::Span::current());
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
    headers.insert(TRACEPARENT_HEADER.clone(), traceparent);
    let state = span_context.trace_state().header();
    match http::HeaderValue::try_from(state) {
        Ok(state) if !state.is_empty() => {
            headers.insert(TRACESTATE_HEADER.clone(), state);
        }
        _ => {
            headers.remove(&TRACESTATE_HEADER);
        }
    }
}

/// The W3C header that carries vendors' trace data beside `traceparent`.
static TRACESTATE_HEADER: http::HeaderName = http::HeaderName::from_static("tracestate");

/// A client interceptor that sends the current trace context with each call,
/// so the callee's spans join the caller's trace.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextInterceptor;

impl tonic::service::Interceptor for TraceContextInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        inject_trace_context(request.metadata_mut().as_mut());
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
            let kept = span
                .extensions()
                .get::<crate::trace_ids::TraceIds>()
                .map(|ids| ids.0.clone());
            let ids = kept.or_else(|| {
                let dispatch = self
                    .dispatch
                    .get()
                    .and_then(tracing::dispatcher::WeakDispatch::upgrade)?;
                let otel = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch)?;
                Some(otel.span().span_context().clone())
            });
            if let Some(ids) = ids.filter(opentelemetry::trace::SpanContext::is_valid) {
                line.insert("trace_id".to_owned(), ids.trace_id().to_string().into());
                line.insert("span_id".to_owned(), ids.span_id().to_string().into());
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

/// The span callbacks a wrapping layer passes on unchanged to the layer it
/// wraps (`self.0`).
macro_rules! pass_on_enter_exit_and_close {
    () => {
        fn on_enter(&self, id: &Id, context: Context<'_, S>) {
            self.0.on_enter(id, context);
        }

        fn on_exit(&self, id: &Id, context: Context<'_, S>) {
            self.0.on_exit(id, context);
        }

        fn on_close(&self, id: Id, context: Context<'_, S>) {
            self.0.on_close(id, context);
        }
    };
}

/// What the subscriber admits, for every layer alike: every span at INFO
/// and above (the spans of calls among them, whose trace context must pass
/// whatever the log level), and the spans and events the log filter `F`
/// lets through. One filter for all layers rather than one per layer: a
/// filter per layer looks the span up again on every enter, exit, record
/// and close of every call's span, once for each filtered layer.
struct Admit<F>(F);

fn is_kept_span(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.is_span() && *metadata.level() <= tracing::Level::INFO
}

impl<S, F> tracing_subscriber::Layer<S> for Admit<F>
where
    S: tracing::Subscriber,
    F: tracing_subscriber::Layer<S>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.0.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.0.on_layer(subscriber);
    }

    fn register_callsite(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if is_kept_span(metadata) {
            return tracing::subscriber::Interest::always();
        }
        self.0.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &tracing::Metadata<'_>, context: Context<'_, S>) -> bool {
        is_kept_span(metadata) || self.0.enabled(metadata, context)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.0
            .max_level_hint()
            .map(|hint| hint.max(LevelFilter::INFO))
    }

    fn event_enabled(&self, event: &tracing::Event<'_>, context: Context<'_, S>) -> bool {
        self.0.event_enabled(event, context)
    }

    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        self.0.on_new_span(attributes, id, context);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, context: Context<'_, S>) {
        self.0.on_record(id, values, context);
    }

    pass_on_enter_exit_and_close!();
}

/// The `fmt` log layer without the spans of calls ([`crate::observe`]): it
/// would otherwise format their fields on every call, for the few calls
/// that log a line. A line written in a call's span names the span.
struct WithoutCallSpans<L>(L);

/// The target of the spans of calls.
const CALL_SPAN_TARGET: &str = "louyu_kit::observe";

impl<S, L> tracing_subscriber::Layer<S> for WithoutCallSpans<L>
where
    S: tracing::Subscriber + for<'lookup> LookupSpan<'lookup>,
    L: tracing_subscriber::Layer<S>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.0.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.0.on_layer(subscriber);
    }

    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        if attributes.metadata().target() != CALL_SPAN_TARGET {
            self.0.on_new_span(attributes, id, context);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, context: Context<'_, S>) {
        if context
            .metadata(id)
            .is_some_and(|metadata| metadata.target() != CALL_SPAN_TARGET)
        {
            self.0.on_record(id, values, context);
        }
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, context: Context<'_, S>) {
        self.0.on_follows_from(span, follows, context);
    }

    fn on_event(&self, event: &tracing::Event<'_>, context: Context<'_, S>) {
        self.0.on_event(event, context);
    }

    pass_on_enter_exit_and_close!();
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

    /// A log line written while a call is served names the caller's trace
    /// when nothing is exported, as when spans are.
    #[test]
    fn json_lines_carry_the_trace_ids_kept_without_export() {
        #[derive(Clone, Default)]
        struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        // Logs at WARN: the spans are kept all the same.
        let quiet: LogFilter = Box::new(LevelFilter::WARN);
        let subscriber = tracing_subscriber::registry()
            .with(Admit(quiet))
            .with(trace_id_layer())
            .with(JsonLines::new(move || writer.clone()));
        let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let sent = tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("serving a request");
            set_parent_from_traceparent(&span, &format!("00-{trace_id}-00f067aa0ba902b7-01"));
            span.in_scope(|| {
                tracing::info!("below the log level");
                tracing::warn!("a line");
                current_traceparent()
            })
        });
        let written = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(written.trim()).unwrap();
        assert_eq!(line["trace_id"], trace_id, "{written}");
        let span_id = line["span_id"].as_str().expect("a span id");
        assert_ne!(
            span_id, "00f067aa0ba902b7",
            "the span's own id, not the caller's"
        );
        assert_eq!(sent, format!("00-{trace_id}-{span_id}-01"));
    }
}
