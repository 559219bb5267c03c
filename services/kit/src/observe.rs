//! Every gRPC call a service answers or makes, observed once, in one place:
//! its OpenTelemetry span, named `<package.Service>/<Method>` and attributed
//! per the RPC semantic conventions (`rpc.system`, `rpc.service`,
//! `rpc.method`, `rpc.grpc.status_code`, `server.address`, `server.port`),
//! and, for calls answered, the `louyu_rpc_requests_total` counter and the
//! `louyu_rpc_duration_seconds` histogram ([`crate::metrics`]).
//!
//! A call's gRPC status is in its response headers when it failed before
//! answering (trailers-only), and otherwise in the trailers that end its
//! body; so the span and the metrics are finished when the body ends (or is
//! dropped: the caller went away, or its deadline passed), not when the
//! handler returns. The span lasts as long as the call does. When neither
//! metrics nor spans are recorded, nothing waits for the status: the span
//! ends with the response, and the body goes back unwrapped.
//!
//! Every span also carries `louyu.service`, the Louyu service that made it:
//! the OpenTelemetry resource (`service.name`) is the process's, and one
//! process may host several services (`louyu up`, the test sandbox).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::Body as _;
use http_body::{Frame, SizeHint};
use tonic::Code;
use tonic::body::Body;
use tonic::codegen::{Bytes, http};

/// Observes the calls a server answers: the outermost layer of kit's
/// server, so it sees every call as the caller does.
#[derive(Debug, Clone)]
pub struct ServerObserverLayer {
    endpoint: Arc<Endpoint>,
}

/// The service a span is about, where it listens, and its calls' metrics.
#[derive(Debug)]
struct Endpoint {
    service: &'static str,
    address: String,
    port: u16,
    metrics: crate::metrics::RpcMetrics,
}

impl ServerObserverLayer {
    /// Calls answered by `service` (its label: `registry`, `gateway`)
    /// listening at `address`.
    pub fn new(service: &'static str, address: SocketAddr) -> Self {
        Self {
            endpoint: Arc::new(Endpoint {
                service,
                address: address.ip().to_string(),
                port: address.port(),
                metrics: crate::metrics::RpcMetrics::new(service),
            }),
        }
    }
}

impl<S> tower::Layer<S> for ServerObserverLayer {
    type Service = ServerObserver<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerObserver {
            inner,
            endpoint: self.endpoint.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServerObserver<S> {
    inner: S,
    endpoint: Arc<Endpoint>,
}

impl<S> tower::Service<http::Request<Body>> for ServerObserver<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = ObservedCall<S::Future>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let grpc = crate::server::is_grpc(&request);
        let (span, method) = if grpc {
            let method = request.uri().path().trim_start_matches('/');
            (server_span(method, &self.endpoint, &request), Some(method))
        } else {
            (http_server_span(&self.endpoint, &request), None)
        };
        let metric = method.and_then(|method| RpcMetric::new(&self.endpoint, method));
        let inner = span.in_scope(|| self.inner.call(request));
        ObservedCall {
            inner,
            end: Some(CallEnd {
                span,
                metric,
                side: if grpc { Side::Server } else { Side::Http },
            }),
        }
    }
}

/// The span of a gRPC call answered, a child of the caller's trace when
/// the request carries a `traceparent` (health probes and most direct
/// callers do not; their span is a root either way).
///
/// Its attributes are for the exported span only: when nothing is
/// exported, nobody reads them (the log layers leave the spans of calls
/// out), and the span is its name and trace ids.
fn server_span(method: &str, endpoint: &Endpoint, request: &http::Request<Body>) -> tracing::Span {
    if !crate::telemetry::spans_exported() {
        let span = tracing::info_span!(target: "louyu_kit::observe", "grpc server");
        crate::telemetry::set_parent_from_headers(&span, request.headers());
        return span;
    }
    let (service, method_name) = method.split_once('/').unwrap_or((method, ""));
    let span = tracing::info_span!(
        target: "louyu_kit::observe",
        "grpc server",
        otel.name = method,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method_name,
        rpc.grpc.status_code = tracing::field::Empty,
        server.address = endpoint.address.as_str(),
        server.port = endpoint.port,
        louyu.service = endpoint.service,
    );
    crate::telemetry::set_parent_from_headers(&span, request.headers());
    span
}

/// The span of a request that is not gRPC (the gateway's REST and pages):
/// named by its HTTP method only, as the route is not known here and the
/// path has ids in it.
fn http_server_span(endpoint: &Endpoint, request: &http::Request<Body>) -> tracing::Span {
    let span = tracing::info_span!(
        target: "louyu_kit::observe",
        "http server",
        otel.name = request.method().as_str(),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = request.method().as_str(),
        http.response.status_code = tracing::field::Empty,
        server.address = endpoint.address.as_str(),
        server.port = endpoint.port,
        louyu.service = endpoint.service,
    );
    crate::telemetry::set_parent_from_headers(&span, request.headers());
    span
}

/// A client of a peer service whose every call has its own span, a child
/// of the span the call is made in, whose trace context the call carries:
/// the callee's server span is then the client span's child. Wraps the
/// channel (under any interceptor, whose `traceparent` it replaces).
#[derive(Debug, Clone)]
pub struct ClientObserver<S> {
    inner: S,
    peer: Arc<Peer>,
}

#[derive(Debug)]
struct Peer {
    /// The calling service's label.
    caller: String,
    address: String,
    port: u16,
}

impl<S> ClientObserver<S> {
    /// Calls from the service labelled `caller` through `inner` to the peer
    /// at `url` (`http://host:port`).
    pub fn new(inner: S, caller: &str, url: &str) -> Self {
        let authority = url
            .split_once("://")
            .map_or(url, |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or_default();
        let (address, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().unwrap_or(0)),
            None => (authority, if url.starts_with("https") { 443 } else { 80 }),
        };
        Self {
            inner,
            peer: Arc::new(Peer {
                caller: caller.to_owned(),
                address: address.trim_matches(['[', ']']).to_owned(),
                port,
            }),
        }
    }
}

impl<S> tower::Service<http::Request<Body>> for ClientObserver<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = ObservedCall<S::Future>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let span = self.span_of(&request);
        let inner = span.in_scope(|| {
            crate::telemetry::inject_trace_context(request.headers_mut());
            self.inner.call(request)
        });
        ObservedCall {
            inner,
            end: Some(CallEnd {
                span,
                metric: None,
                side: Side::Client,
            }),
        }
    }
}

impl<S> ClientObserver<S> {
    /// The span of a call made: its name and trace ids, and, when spans
    /// are exported, the attributes of the RPC conventions.
    fn span_of(&self, request: &http::Request<Body>) -> tracing::Span {
        if !crate::telemetry::spans_exported() {
            return tracing::info_span!(target: "louyu_kit::observe", "grpc client");
        }
        let method = request.uri().path().trim_start_matches('/');
        let (service, method_name) = method.split_once('/').unwrap_or((method, ""));
        tracing::info_span!(
            target: "louyu_kit::observe",
            "grpc client",
            otel.name = method,
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method_name,
            rpc.grpc.status_code = tracing::field::Empty,
            server.address = self.peer.address.as_str(),
            server.port = self.peer.port,
            louyu.service = self.peer.caller.as_str(),
        )
    }
}

/// Which end of a call a span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Server,
    Client,
    /// A request that is not gRPC, answered.
    Http,
}

/// Where a call's metrics go, its method, and when it started, when
/// metrics are recorded.
#[derive(Debug)]
struct RpcMetric {
    endpoint: Arc<Endpoint>,
    method: String,
    started: Instant,
}

impl RpcMetric {
    fn new(endpoint: &Arc<Endpoint>, method: &str) -> Option<Self> {
        crate::metrics::enabled().then(|| Self {
            endpoint: endpoint.clone(),
            method: method.to_owned(),
            started: Instant::now(),
        })
    }
}

/// What a call still has to record when it ends.
#[derive(Debug)]
struct CallEnd {
    span: tracing::Span,
    metric: Option<RpcMetric>,
    side: Side,
}

impl CallEnd {
    /// Whether the call's status is recorded anywhere: in its metrics, or
    /// in its span when spans are exported. When it is not, the call ends
    /// with its response, and its body is passed on unwrapped.
    fn records_status(&self) -> bool {
        self.metric.is_some() || crate::telemetry::spans_exported()
    }

    fn finish(self, code: Code) {
        let error = match self.side {
            // The server's own failures; a caller's mistake is not the
            // server's error (OpenTelemetry's RPC conventions).
            Side::Server => matches!(
                code,
                Code::Unknown
                    | Code::DeadlineExceeded
                    | Code::Unimplemented
                    | Code::Internal
                    | Code::Unavailable
                    | Code::DataLoss
            ),
            Side::Client => code != Code::Ok,
            Side::Http => false,
        };
        if crate::telemetry::spans_exported() {
            if self.side != Side::Http {
                self.span.record("rpc.grpc.status_code", code as i64);
            }
            if error {
                self.span.record("otel.status_code", "error");
            }
        }
        if let Some(metric) = self.metric {
            // A method no service has is refused as UNIMPLEMENTED; its path
            // is the caller's to choose, so it is not a label value.
            let method = if code == Code::Unimplemented {
                crate::metrics::UNKNOWN_METHOD
            } else {
                metric.method.as_str()
            };
            metric
                .endpoint
                .metrics
                .record(method, code, metric.started.elapsed());
        }
    }

    fn finish_http(self, status: http::StatusCode) {
        if !crate::telemetry::spans_exported() {
            return;
        }
        self.span
            .record("http.response.status_code", i64::from(status.as_u16()));
        if status.is_server_error() {
            self.span.record("otel.status_code", "error");
        }
    }
}

pin_project_lite::pin_project! {
    /// A call under way: its future polled inside its span, and then its
    /// response body, which ends it.
    pub struct ObservedCall<F> {
        #[pin]
        inner: F,
        end: Option<CallEnd>,
    }

    impl<F> PinnedDrop for ObservedCall<F> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before it answered: the caller went away or its
            // deadline passed (tonic's timeout answers DEADLINE_EXCEEDED
            // outside this layer).
            if let Some(end) = this.project().end.take() {
                end.finish(Code::Cancelled);
            }
        }
    }
}

impl<F, E> Future for ObservedCall<F>
where
    F: Future<Output = Result<http::Response<Body>, E>>,
{
    type Output = Result<http::Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = match this.end {
            Some(end) => {
                let _entered = end.span.enter();
                this.inner.poll(context)
            }
            None => this.inner.poll(context),
        };
        let Poll::Ready(result) = polled else {
            return Poll::Pending;
        };
        let Some(end) = this.end.take() else {
            return Poll::Ready(result);
        };
        if !end.records_status() {
            return Poll::Ready(result);
        }
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                end.finish(Code::Unavailable);
                return Poll::Ready(Err(error));
            }
        };
        if end.side == Side::Http {
            end.finish_http(response.status());
            return Poll::Ready(Ok(response));
        }
        // Trailers-only: the call failed before answering, its status in
        // the headers of a response with an empty body.
        if response.body().is_end_stream()
            && let Some(code) = grpc_status(response.headers())
        {
            end.finish(code);
            return Poll::Ready(Ok(response));
        }
        Poll::Ready(Ok(response.map(|body| {
            Body::new(ObservedBody {
                inner: body,
                end: Some(end),
            })
        })))
    }
}

/// `grpc-status`, looked up without parsing its name on every call.
pub(crate) static GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");

fn grpc_status(headers: &http::HeaderMap) -> Option<Code> {
    let value = headers.get(&GRPC_STATUS)?;
    let code: i32 = value.to_str().ok()?.parse().ok()?;
    Some(Code::from(code))
}

/// A response body that ends its call when its trailers arrive, or when it
/// is dropped before that.
struct ObservedBody {
    inner: Body,
    end: Option<CallEnd>,
}

impl http_body::Body for ObservedBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(context);
        let code = match &polled {
            Poll::Ready(Some(Ok(frame))) => frame
                .trailers_ref()
                .map(|trailers| grpc_status(trailers).unwrap_or(Code::Unknown)),
            Poll::Ready(Some(Err(status))) => Some(status.code()),
            // Ended without trailers: gRPC says that is not a status.
            Poll::Ready(None) => Some(Code::Unknown),
            Poll::Pending => None,
        };
        if let Some(code) = code
            && let Some(end) = self.end.take()
        {
            end.finish(code);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ObservedBody {
    fn drop(&mut self) {
        if let Some(end) = self.end.take() {
            end.finish(Code::Cancelled);
        }
    }
}

/// gRPC's canonical name of `code`, as Prometheus labels and dashboards
/// spell it (`OK`, `NOT_FOUND`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_url_gives_the_client_spans_server_address_and_port() {
        let observer = ClientObserver::new((), "visits", "http://registry.louyu:50051");
        assert_eq!(observer.peer.address, "registry.louyu");
        assert_eq!(observer.peer.port, 50051);
        let observer = ClientObserver::new((), "visits", "http://[::1]:7");
        assert_eq!(observer.peer.address, "::1");
        assert_eq!(observer.peer.port, 7);
    }

    #[test]
    fn codes_are_named_as_grpc_names_them() {
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::FailedPrecondition), "FAILED_PRECONDITION");
    }
}
