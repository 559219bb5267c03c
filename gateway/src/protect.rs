//! The gateway's protection, in front of everything it answers (kit's
//! [`EdgeLayer`], inside the request's span and the server's timeout,
//! before authentication and routing), gRPC and REST alike:
//!
//! - **rate limits per caller**: a token bucket (GCRA: one instant per
//!   caller) keyed by a keyed hash of the caller's bearer token, else of
//!   its session cookie, else of its address (the peer's, or the
//!   `X-Forwarded-For` client's when the peer is a trusted proxy). A caller
//!   cannot spend another's bucket without holding its token. Refused at
//!   once: 429 with `Retry-After`, or RESOURCE_EXHAUSTED with a
//!   `google.rpc.RetryInfo`. Idle callers are forgotten (a bucket that has
//!   refilled is the same as none), and the table is bounded;
//! - **load shedding**: a bound on requests in flight, held until the
//!   answer's last byte, and a separate bound on streams (server-streaming
//!   and client-streaming gRPC, server-sent events), so that long-lived
//!   streams cannot starve short calls nor short calls streams. When full:
//!   refused at once, never queued;
//! - **size limits**: a REST body (declared or read) and every gRPC message
//!   of a request (read from each message's 5-byte prefix as the body
//!   flows, never buffered whole) at most `max_body_bytes`: 413, or
//!   RESOURCE_EXHAUSTED naming the limit;
//! - **a deadline for unary gRPC calls**: the caller's `grpc-timeout`, or
//!   `unary_timeout` when it gave none or a longer one, so the owner gives
//!   up too;
//! - **CORS** for the configured origins only, with credentials;
//! - **security headers** on every answer that is not gRPC.
//!
//! Health checks pass untouched: a probe must not be shed or rate limited.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use futures::future::BoxFuture;
use http::header::{self, HeaderName, HeaderValue};
use http_body::Frame;
use http_body_util::BodyExt;
use louyu_kit::config::{Config, IpRange};
use louyu_kit::server::{EdgeLayer, EdgeService, is_grpc};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::body::Body;
use tonic::transport::server::TcpConnectInfo;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use crate::rest::{RestError, error_response};

/// The cookie that holds a login session: a caller with one and no bearer
/// token is limited by it.
pub const SESSION_COOKIE: &str = "louyu_session";

/// Where server-sent event streams are served.
pub const STREAMS_PATH_PREFIX: &str = "/v1/streams/";

/// Most callers the rate limiter remembers at once. A caller forgotten
/// while its bucket is not yet full again gets a full one: only a flood of
/// more distinct callers than this, within a refill time, gains from it.
pub const MAX_REMEMBERED_CALLERS: usize = 100_000;

const HEALTH_PREFIX: &str = "/grpc.health.v1.Health/";

/// Why the gateway refused a request before anything else saw it.
#[derive(Debug, thiserror::Error)]
pub enum ProtectError {
    #[error(
        "请求过于频繁, 请 {seconds} 秒后重试: resource exhausted: too many requests from this caller, retry after {seconds} s",
        seconds = retry_seconds(*retry_after)
    )]
    RateLimited { retry_after: Duration },
    #[error("网关繁忙, 请稍后重试: resource exhausted: the gateway is overloaded, retry later")]
    Overloaded,
    #[error(
        "请求消息超过大小上限 {limit} 字节: resource exhausted: a request message exceeds the limit of {limit} bytes"
    )]
    MessageTooLarge { limit: usize },
}

impl ProtectError {
    /// When the caller may try again, if the gateway can say.
    fn retry_after(&self) -> Option<Duration> {
        match self {
            ProtectError::RateLimited { retry_after } => Some(*retry_after),
            ProtectError::Overloaded => Some(Duration::from_secs(1)),
            ProtectError::MessageTooLarge { .. } => None,
        }
    }

    fn into_status(self) -> Status {
        let details = match self.retry_after() {
            Some(delay) => ErrorDetails::with_retry_info(Some(delay)),
            None => ErrorDetails::new(),
        };
        Status::with_error_details(Code::ResourceExhausted, self.to_string(), details)
    }

    /// The refusal as a gRPC answer, or as REST's 429 with `Retry-After`.
    fn into_response(self, grpc: bool) -> http::Response<Body> {
        if grpc {
            return self.into_status().into_http();
        }
        let mut details = Vec::new();
        let retry_after = self.retry_after();
        if let Some(delay) = retry_after {
            details.push(json!({
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": format!("{}s", retry_seconds(delay)),
            }));
        }
        let mut response = error_response(
            http::StatusCode::TOO_MANY_REQUESTS,
            Code::ResourceExhausted,
            &self.to_string(),
            details,
        );
        if let Some(delay) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_seconds(delay)));
        }
        response
    }
}

/// Whole seconds, rounded up, at least one: what `Retry-After` can say.
fn retry_seconds(delay: Duration) -> u64 {
    delay.as_secs() + u64::from(delay.subsec_nanos() > 0).max(u64::from(delay.is_zero()))
}

/// The gateway's protection, built from the config; [`Protection::layer`]
/// puts it in front of the gateway's server.
#[derive(Clone)]
pub struct Protection {
    shared: Arc<Shared>,
}

struct Shared {
    max_body_bytes: usize,
    limiter: Option<CallerLimiter>,
    trusted_proxies: Vec<IpRange>,
    requests: Arc<Semaphore>,
    streams: Arc<Semaphore>,
    unary_timeout: Duration,
    methods: StreamingMethods,
    cors_origins: Vec<HeaderValue>,
    security_headers: Vec<(HeaderName, HeaderValue)>,
    caller_hash: RandomState,
}

impl Protection {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let settings = &config.gateway_protection;
        settings.validate()?;
        let limiter = (settings.rate_per_second > 0.0).then(|| {
            CallerLimiter::new(
                settings.rate_per_second,
                settings.rate_burst,
                MAX_REMEMBERED_CALLERS,
            )
        });
        let cors_origins = settings
            .cors_origins
            .iter()
            .map(|origin| HeaderValue::from_str(origin))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            shared: Arc::new(Shared {
                max_body_bytes: settings.max_body_bytes,
                limiter,
                trusted_proxies: settings.trusted_proxy_ranges()?,
                requests: Arc::new(Semaphore::new(settings.max_in_flight)),
                streams: Arc::new(Semaphore::new(settings.max_streams)),
                unary_timeout: settings.unary_timeout,
                methods: StreamingMethods::of_louyu()?,
                cors_origins,
                security_headers: security_headers(
                    config.gateway_is_https(),
                    settings.hsts_max_age_seconds,
                ),
                caller_hash: RandomState::new(),
            }),
        })
    }

    /// The protection as kit's edge of the gateway's server.
    pub fn layer(self) -> EdgeLayer {
        EdgeLayer::new(move |inner| {
            let inner = match cors_layer(&self.shared.cors_origins) {
                Some(cors) => BoxCloneSyncService::new(tower::Layer::layer(&cors, inner)),
                None => inner,
            };
            BoxCloneSyncService::new(Protected {
                inner,
                shared: self.shared.clone(),
            })
        })
    }
}

/// CORS for `origins` only, with credentials; none without origins.
fn cors_layer(origins: &[HeaderValue]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.iter().cloned()))
            .allow_credentials(true)
            .allow_methods([
                http::Method::GET,
                http::Method::POST,
                http::Method::PUT,
                http::Method::PATCH,
                http::Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("x-request-id"),
                HeaderName::from_static("x-csrf-token"),
            ])
            .expose_headers([header::RETRY_AFTER, HeaderName::from_static("x-request-id")])
            .max_age(Duration::from_secs(600)),
    )
}

/// The headers every answer that is not gRPC carries: nothing of the
/// gateway's runs as a script of another site, is framed, sniffed, sent as
/// a referrer or cached, and browsers keep to HTTPS when the gateway is
/// reached over it.
fn security_headers(https: bool, hsts_max_age_seconds: u64) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = vec![
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    if https && hsts_max_age_seconds > 0 {
        headers.push((
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_str(&format!("max-age={hsts_max_age_seconds}"))
                .expect("digits are a header value"),
        ));
    }
    headers
}

/// The gRPC methods whose calls are streams, by path: a server stream
/// lives as long as its subscriber, a client stream as long as its sender.
struct StreamingMethods {
    streams: HashSet<String>,
    /// Methods whose request is one message, so its prefix can be read
    /// before the call goes on.
    client_streaming: HashSet<String>,
}

impl StreamingMethods {
    fn of_louyu() -> anyhow::Result<Self> {
        let pool = crate::rest::louyu_pool()?;
        let mut streams = HashSet::new();
        let mut client_streaming = HashSet::new();
        for service in pool.services() {
            for method in service.methods() {
                let path = format!("/{}/{}", service.full_name(), method.name());
                if method.is_client_streaming() {
                    client_streaming.insert(path.clone());
                }
                if method.is_server_streaming() || method.is_client_streaming() {
                    streams.insert(path);
                }
            }
        }
        for reflection in [
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            streams.insert(reflection.to_owned());
            client_streaming.insert(reflection.to_owned());
        }
        Ok(Self {
            streams,
            client_streaming,
        })
    }
}

/// What a request is, for the bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestKind {
    /// A health check: never shed or limited.
    Exempt,
    /// A gRPC call of one request message and one answer, or a REST
    /// request.
    Unary,
    /// A gRPC call whose answer is a stream (one request message).
    ServerStream,
    /// A gRPC call whose request is a stream.
    ClientStream,
    /// Server-sent events.
    EventStream,
}

impl Shared {
    fn kind_of(&self, request: &http::Request<Body>, grpc: bool) -> RequestKind {
        let path = request.uri().path();
        if grpc {
            if path.starts_with(HEALTH_PREFIX) {
                RequestKind::Exempt
            } else if self.methods.client_streaming.contains(path) {
                RequestKind::ClientStream
            } else if self.methods.streams.contains(path) {
                RequestKind::ServerStream
            } else {
                RequestKind::Unary
            }
        } else if path.starts_with(STREAMS_PATH_PREFIX)
            || request
                .headers()
                .get_all(header::ACCEPT)
                .iter()
                .any(|accept| {
                    accept
                        .to_str()
                        .is_ok_and(|accept| accept.contains("text/event-stream"))
                })
        {
            RequestKind::EventStream
        } else {
            RequestKind::Unary
        }
    }

    /// Who is calling, as a key no caller can forge for another: a keyed
    /// hash (random per process) of its bearer token, else of its session
    /// cookie, else of its address.
    fn caller_key(&self, request: &http::Request<Body>) -> u64 {
        let headers = request.headers();
        let mut hasher = self.caller_hash.build_hasher();
        if let Some(token) = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .filter(|token| !token.trim().is_empty())
        {
            0u8.hash(&mut hasher);
            token.trim().hash(&mut hasher);
        } else if let Some(session) = session_cookie(headers) {
            1u8.hash(&mut hasher);
            session.hash(&mut hasher);
        } else {
            2u8.hash(&mut hasher);
            self.client_address(request).hash(&mut hasher);
        }
        hasher.finish()
    }

    /// The caller's address: the peer's, unless the peer is a trusted
    /// proxy; then the nearest address in `X-Forwarded-For` that is not a
    /// trusted proxy (read from the right: the left is what the client
    /// wrote).
    fn client_address(&self, request: &http::Request<Body>) -> IpAddr {
        let peer = request
            .extensions()
            .get::<TcpConnectInfo>()
            .and_then(TcpConnectInfo::remote_addr)
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |address| address.ip());
        client_behind_proxies(peer, request.headers(), &self.trusted_proxies)
    }

    async fn answer(
        &self,
        inner: EdgeService,
        request: http::Request<Body>,
    ) -> http::Response<Body> {
        let grpc = is_grpc(&request);
        let mut response = match self.protected(inner, request, grpc).await {
            Ok(response) => response,
            Err(refused) => refused,
        };
        if !grpc {
            let headers = response.headers_mut();
            // tower-http's CORS says "credentials allowed" to every origin;
            // only an allowed one, with its origin echoed, is told so.
            if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
                headers.remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
            }
            for (name, value) in &self.security_headers {
                if !headers.contains_key(name) {
                    headers.insert(name.clone(), value.clone());
                }
            }
        }
        response
    }

    async fn protected(
        &self,
        inner: EdgeService,
        request: http::Request<Body>,
        grpc: bool,
    ) -> Result<http::Response<Body>, http::Response<Body>> {
        let kind = self.kind_of(&request, grpc);
        if kind == RequestKind::Exempt {
            return Ok(call(inner, request).await);
        }
        if let Some(limiter) = &self.limiter
            && let Err(retry_after) = limiter.check(self.caller_key(&request), Instant::now())
        {
            tracing::info!(
                path = request.uri().path(),
                retry_after_ms = retry_after.as_millis() as u64,
                "a caller over its rate was refused"
            );
            return Err(ProtectError::RateLimited { retry_after }.into_response(grpc));
        }
        let bound = match kind {
            RequestKind::Unary => &self.requests,
            _ => &self.streams,
        };
        let Ok(permit) = bound.clone().try_acquire_owned() else {
            tracing::warn!(
                path = request.uri().path(),
                stream = kind != RequestKind::Unary,
                "the gateway is full; a request was shed"
            );
            return Err(ProtectError::Overloaded.into_response(grpc));
        };
        let request = if grpc {
            self.checked_grpc_request(request, kind).await?
        } else {
            self.checked_http_request(request)
                .map_err(RestError::into_response)?
        };
        let response = call(inner, request).await;
        Ok(response.map(|body| {
            Body::new(HoldingPermit {
                body,
                _permit: permit,
            })
        }))
    }

    /// A gRPC request whose messages are checked against the size limit as
    /// they come: the first at once for a call of one request message,
    /// before it goes on; and with the gateway's deadline for unary calls.
    async fn checked_grpc_request(
        &self,
        request: http::Request<Body>,
        kind: RequestKind,
    ) -> Result<http::Request<Body>, http::Response<Body>> {
        let limit = self.max_body_bytes;
        let too_large = || ProtectError::MessageTooLarge { limit }.into_response(true);
        let (mut parts, body) = request.into_parts();
        let mut body = LimitedMessages::new(body, limit);
        if kind != RequestKind::ClientStream {
            match body.read_first_prefix().await {
                Ok(()) => {}
                Err(PrefixError::TooLarge) => return Err(too_large()),
                Err(PrefixError::Broken) => {
                    return Err(
                        Status::cancelled("请求中断: cancelled: the request broke off").into_http(),
                    );
                }
            }
        }
        if kind == RequestKind::Unary {
            cap_grpc_timeout(&mut parts.headers, self.unary_timeout);
        }
        Ok(http::Request::from_parts(parts, Body::new(body)))
    }

    /// A REST request whose declared length is within the limit (the REST
    /// side reads at most the limit of an undeclared one).
    fn checked_http_request(
        &self,
        request: http::Request<Body>,
    ) -> Result<http::Request<Body>, RestError> {
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > self.max_body_bytes as u64) {
            return Err(RestError::BodyTooLarge {
                limit: self.max_body_bytes,
            });
        }
        Ok(request)
    }
}

async fn call(inner: EdgeService, request: http::Request<Body>) -> http::Response<Body> {
    match inner.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The value of the session cookie, if the request carries one.
fn session_cookie(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && !value.is_empty())
        .map(|(_, value)| value)
}

/// The client's address behind a chain of trusted proxies.
fn client_behind_proxies(peer: IpAddr, headers: &http::HeaderMap, trusted: &[IpRange]) -> IpAddr {
    let is_trusted = |address: IpAddr| trusted.iter().any(|range| range.contains(address));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in forwarded.iter().rev() {
        let Ok(address) = hop.parse::<IpAddr>() else {
            // Not an address: nothing to the left of it can be believed.
            return client;
        };
        client = address;
        if !is_trusted(address) {
            return address;
        }
    }
    client
}

/// Sets `grpc-timeout` to `cap` unless the caller's is shorter; the
/// forwarder's channel and the owner both keep to it.
fn cap_grpc_timeout(headers: &mut http::HeaderMap, cap: Duration) {
    let callers = headers
        .get(&GRPC_TIMEOUT)
        .and_then(|value| value.to_str().ok())
        .and_then(parse_grpc_timeout);
    if callers.is_some_and(|timeout| timeout <= cap) {
        return;
    }
    let millis = cap.as_millis().clamp(1, 99_999_999);
    headers.insert(
        GRPC_TIMEOUT.clone(),
        HeaderValue::from_str(&format!("{millis}m")).expect("digits are a header value"),
    );
}

/// `grpc-timeout`, looked up and set without parsing its name on every call.
static GRPC_TIMEOUT: http::HeaderName = http::HeaderName::from_static("grpc-timeout");

/// A `grpc-timeout` value: at most eight digits and a unit.
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.checked_mul(3600)?),
        "M" => Duration::from_secs(amount.checked_mul(60)?),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// A token bucket per caller, as GCRA: each caller's one instant, the time
/// at which its bucket would be full again. A caller whose instant has
/// passed has a full bucket, the same as one never seen, so such callers
/// are forgotten whenever the table fills.
struct CallerLimiter {
    /// The time one request costs: 1 / rate.
    interval: Duration,
    /// How far ahead of now a caller may run: burst × interval.
    tolerance: Duration,
    shards: Box<[Mutex<HashMap<u64, Instant>>]>,
    max_per_shard: usize,
}

const LIMITER_SHARDS: usize = 16;

impl CallerLimiter {
    fn new(rate_per_second: f64, burst: u32, max_callers: usize) -> Self {
        let interval = Duration::from_secs_f64(1.0 / rate_per_second);
        Self {
            interval,
            tolerance: interval.saturating_mul(burst),
            shards: (0..LIMITER_SHARDS)
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
            max_per_shard: max_callers.div_ceil(LIMITER_SHARDS).max(1),
        }
    }

    /// Takes one request from `caller`'s bucket at `now`; when it is
    /// empty, how long until it holds one.
    fn check(&self, caller: u64, now: Instant) -> Result<(), Duration> {
        let shard = &self.shards[(caller % LIMITER_SHARDS as u64) as usize];
        let mut full_at = shard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = full_at.get(&caller).copied().unwrap_or(now).max(now);
        let next = current + self.interval;
        let limit = now + self.tolerance;
        if next > limit {
            return Err(next - limit);
        }
        if full_at.len() >= self.max_per_shard && !full_at.contains_key(&caller) {
            full_at.retain(|_, at| *at > now);
            if full_at.len() >= self.max_per_shard
                && let Some(nearest) = full_at
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(caller, _)| *caller)
            {
                full_at.remove(&nearest);
            }
        }
        full_at.insert(caller, next);
        Ok(())
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().unwrap().len())
            .sum()
    }
}

/// The tower service of the edge.
#[derive(Clone)]
struct Protected {
    inner: EdgeService,
    shared: Arc<Shared>,
}

impl tower::Service<http::Request<Body>> for Protected {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<http::Response<Body>, Infallible>>;

    /// Always ready: a request that cannot be served is refused in `call`,
    /// never made to wait here.
    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        let shared = self.shared.clone();
        Box::pin(async move { Ok(shared.answer(inner, request).await) })
    }
}

/// An answer's body that holds its request's permit until it ends.
struct HoldingPermit {
    body: Body,
    _permit: OwnedSemaphorePermit,
}

impl http_body::Body for HoldingPermit {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        Pin::new(&mut self.body).poll_frame(context)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

enum PrefixError {
    TooLarge,
    Broken,
}

/// A gRPC request body whose messages may each be at most `limit` bytes,
/// read from each message's 5-byte prefix (a flag and a big-endian length)
/// as the bytes pass; a message over the limit ends the body with
/// RESOURCE_EXHAUSTED. Frames read ahead (for the first prefix) are
/// replayed first.
struct LimitedMessages {
    body: Body,
    replay: VecDeque<Frame<Bytes>>,
    limit: usize,
    /// Where the scan is: the prefix bytes seen so far, or the message
    /// bytes still to pass.
    prefix: [u8; 5],
    prefix_seen: usize,
    message_left: u64,
    first_prefix_read: bool,
}

impl LimitedMessages {
    fn new(body: Body, limit: usize) -> Self {
        Self {
            body,
            replay: VecDeque::new(),
            limit,
            prefix: [0; 5],
            prefix_seen: 0,
            message_left: 0,
            first_prefix_read: false,
        }
    }

    /// Reads until the first message's prefix has passed (or the body
    /// ended), keeping what it read to replay.
    async fn read_first_prefix(&mut self) -> Result<(), PrefixError> {
        while !self.first_prefix_read {
            let Some(frame) = self.body.frame().await else {
                return Ok(());
            };
            let frame = frame.map_err(|_| PrefixError::Broken)?;
            if let Some(data) = frame.data_ref() {
                self.scan(data).map_err(|_| PrefixError::TooLarge)?;
            }
            self.replay.push_back(frame);
        }
        Ok(())
    }

    /// Passes `data` through the scan; an error names a message over the
    /// limit.
    fn scan(&mut self, data: &Bytes) -> Result<(), ProtectError> {
        let mut rest: &[u8] = data;
        while !rest.is_empty() {
            if self.message_left > 0 {
                let skipped = rest.len().min(self.message_left as usize);
                rest.advance(skipped);
                self.message_left -= skipped as u64;
                continue;
            }
            self.prefix[self.prefix_seen] = rest[0];
            self.prefix_seen += 1;
            rest.advance(1);
            if self.prefix_seen == 5 {
                let length = u32::from_be_bytes([
                    self.prefix[1],
                    self.prefix[2],
                    self.prefix[3],
                    self.prefix[4],
                ]);
                if length as usize > self.limit {
                    return Err(ProtectError::MessageTooLarge { limit: self.limit });
                }
                self.prefix_seen = 0;
                self.message_left = u64::from(length);
                self.first_prefix_read = true;
            }
        }
        Ok(())
    }
}

impl http_body::Body for LimitedMessages {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if let Some(frame) = self.replay.pop_front() {
            return Poll::Ready(Some(Ok(frame)));
        }
        let frame = match Pin::new(&mut self.body).poll_frame(context) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        if let Some(data) = frame.data_ref()
            && let Err(refused) = self.scan(data)
        {
            return Poll::Ready(Some(Err(refused.into_status())));
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.replay.is_empty() && self.body.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_gets_its_burst_then_waits_one_interval_per_request() {
        let limiter = CallerLimiter::new(2.0, 3, 100);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.check(7, start).unwrap();
        }
        let wait = limiter.check(7, start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        // Another caller has its own bucket.
        limiter.check(8, start).unwrap();
        // Half a second on, one more request is allowed, and only one.
        let later = start + Duration::from_millis(500);
        limiter.check(7, later).unwrap();
        assert!(limiter.check(7, later).is_err());
    }

    #[test]
    fn idle_callers_are_forgotten_and_the_table_stays_bounded() {
        let limiter = CallerLimiter::new(10.0, 1, LIMITER_SHARDS * 4);
        let start = Instant::now();
        for caller in 0..1_000u64 {
            limiter.check(caller, start).unwrap();
        }
        assert!(limiter.remembered() <= LIMITER_SHARDS * 4);
        // A second later every bucket is full again: all forgotten as new
        // callers come.
        let later = start + Duration::from_secs(1);
        for caller in 1_000..1_064u64 {
            limiter.check(caller, later).unwrap();
        }
        assert!(limiter.remembered() <= LIMITER_SHARDS * 4);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(retry_seconds(Duration::from_secs(3)), 3);
        assert_eq!(retry_seconds(Duration::ZERO), 1);
    }

    #[test]
    fn the_client_behind_trusted_proxies_is_the_first_untrusted_hop_from_the_right() {
        let trusted = [IpRange::parse("10.0.0.0/8").unwrap()];
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.9, 10.1.1.1".parse().unwrap(),
        );
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            client_behind_proxies(proxy, &headers, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // From a peer that is not a proxy, the header is the caller's own
        // claim and counts for nothing.
        let stranger: IpAddr = "198.51.100.4".parse().unwrap();
        assert_eq!(
            client_behind_proxies(stranger, &headers, &trusted),
            stranger
        );
    }

    #[test]
    fn the_unary_deadline_caps_a_longer_or_missing_one_and_keeps_a_shorter_one() {
        let cap = Duration::from_secs(30);
        let mut headers = http::HeaderMap::new();
        cap_grpc_timeout(&mut headers, cap);
        assert_eq!(headers["grpc-timeout"], "30000m");
        headers.insert("grpc-timeout", "2H".parse().unwrap());
        cap_grpc_timeout(&mut headers, cap);
        assert_eq!(headers["grpc-timeout"], "30000m");
        headers.insert("grpc-timeout", "1500m".parse().unwrap());
        cap_grpc_timeout(&mut headers, cap);
        assert_eq!(headers["grpc-timeout"], "1500m");
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            header::COOKIE,
            format!("theme=dark; {SESSION_COOKIE}=abc; lang=zh")
                .parse()
                .unwrap(),
        );
        assert_eq!(session_cookie(&headers), Some("abc"));
    }

    fn framed(messages: &[usize]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for length in messages {
            bytes.push(0);
            bytes.extend_from_slice(&(*length as u32).to_be_bytes());
            bytes.extend(std::iter::repeat_n(7u8, *length));
        }
        bytes
    }

    #[tokio::test]
    async fn a_message_over_the_limit_is_found_across_chunks_and_others_pass_whole() {
        // Split into 3-byte chunks, so prefixes straddle them.
        let bytes = framed(&[10, 20, 30]);
        let chunked = || {
            let chunks: Vec<Result<Frame<Bytes>, Status>> = bytes
                .chunks(3)
                .map(|chunk| Ok(Frame::data(Bytes::copy_from_slice(chunk))))
                .collect();
            Body::new(http_body_util::StreamBody::new(futures::stream::iter(
                chunks,
            )))
        };
        let body = chunked();
        let mut within = LimitedMessages::new(body, 30);
        assert!(within.read_first_prefix().await.is_ok());
        let passed = within.collect().await.unwrap().to_bytes();
        assert_eq!(passed.as_ref(), bytes.as_slice());

        let body = chunked();
        let mut over = LimitedMessages::new(body, 25);
        assert!(over.read_first_prefix().await.is_ok(), "the first is 10");
        let refused = over.collect().await.unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert!(refused.message().contains("25"), "{refused:?}");

        let body = Body::new(http_body_util::Full::new(Bytes::from(framed(&[100]))));
        let mut first = LimitedMessages::new(body, 99);
        assert!(matches!(
            first.read_first_prefix().await,
            Err(PrefixError::TooLarge)
        ));
    }
}
