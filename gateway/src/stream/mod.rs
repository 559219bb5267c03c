//! The live screen's event stream: `GET /v1/streams/events`, server-sent
//! events relaying the services' feeds to a viewer, each event only when
//! the viewer may read what it is about (see [`reads`]), resumable with
//! `Last-Event-ID` (see [`cursor`]). docs/gateway-streams.md describes it
//! for integrators.
//!
//! Each stream follows the feeds itself, from its own position, as the
//! gateway (`WatchEvents` with the gateway's system token, over one shared
//! HTTP/2 connection per service); the viewer's token is used only for the
//! reads that decide what the viewer sees, and to check, at every
//! heartbeat, that the viewer is still signed in. So every event is judged
//! once per stream, in feed order, and the stream's cursor moves past an
//! event only once it was relayed or judged invisible: a resume never loses
//! or repeats one.

pub mod cursor;
pub mod reads;

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::{BoxStream, FuturesOrdered, SelectAll};
use futures::{Stream, StreamExt};
use http_body_util::StreamBody;
use hyper::body::Frame;
use louyu_kit::config::{Config, ServiceName};
use louyu_kit::feed::{CURSOR_NOT_IN_FEED, EPOCH_CHANGED, EPOCH_HEADER, START_HEADER};
use louyu_kit::identity::ServiceCredentials;
use louyu_proto::common::v1::event_feed_service_client::EventFeedServiceClient;
use louyu_proto::common::v1::{Event, WatchEventsRequest};
use secrecy::ExposeSecret;
use serde_json::{Value as Json, json};
use tokio::sync::{Semaphore, watch};
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::forward::CONNECT_TIMEOUT;
use crate::rest::{Inner, RestError, status_response};
use cursor::{CursorKey, Cursors, FEEDS, Position, epoch_prefix};
use reads::Reads;

/// Where the stream is served.
pub const STREAM_PATH: &str = "/v1/streams/events";

/// How often a stream sends a comment line (so proxies keep the connection)
/// and checks that its viewer is still signed in.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// The `retry:` a stream sends: how long a browser waits to reconnect.
pub const RETRY_MILLIS: u64 = 3000;

/// The most streams one gateway serves at once; the next is refused (503)
/// until one ends.
pub const MAX_STREAMS: usize = 256;

/// How long a stream remembers that its viewer may not read a resource,
/// so a burst of events about it costs one read.
pub const HIDDEN_FOR: Duration = Duration::from_secs(10);

/// How long a new stream waits for the feeds to open before it starts
/// without those that did not (they join when they can).
const OPEN_WAIT: Duration = Duration::from_secs(3);

/// Backoff between attempts to reach a feed, or to read an event's
/// resource from an owner that does not answer.
/// Events of one stream whose resources are read at once, relayed in
/// their feeds' order: one read at a time held a stream to about a
/// hundred events a second on PostgreSQL.
const READS_IN_FLIGHT: usize = 16;

const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Why a stream request was refused before it started.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(
        "Last-Event-ID 无效 invalid Last-Event-ID: {0}; reconnect without it to start from now"
    )]
    BadLastEventId(cursor::CursorError),
    #[error(
        "事件流已达上限 unavailable: the gateway serves {limit} event streams at most; try again later"
    )]
    TooManyStreams { limit: usize },
}

/// The gateway's event streams: the connections to every feed, the
/// gateway's own credentials, the cursor key.
pub struct Streams {
    feeds: Vec<(ServiceName, Channel)>,
    credentials: ServiceCredentials,
    key: CursorKey,
    reads: Reads,
    district: String,
    shutdown: watch::Receiver<bool>,
    slots: Arc<Semaphore>,
}

impl Streams {
    /// Streams of the feeds at the URLs of `config`, followed with
    /// `credentials` (the gateway's), ended when `shutdown` turns true.
    pub fn new(
        config: &Config,
        credentials: ServiceCredentials,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<Self> {
        let mut feeds = Vec::new();
        for (service, url) in [
            (ServiceName::Registry, &config.registry_url),
            (ServiceName::Visits, &config.visits_url),
            (ServiceName::Risk, &config.risk_url),
            (ServiceName::Referral, &config.referral_url),
        ] {
            let endpoint = Endpoint::from_shared(url.clone()).map_err(|_| {
                anyhow::anyhow!("LOUYU_{}_URL is not a URL", service.as_str().to_uppercase())
            })?;
            feeds.push((
                service,
                endpoint
                    .connect_timeout(CONNECT_TIMEOUT)
                    .tcp_nodelay(true)
                    .connect_lazy(),
            ));
        }
        Ok(Self {
            feeds,
            credentials,
            key: CursorKey::derive(config.page_token_secret.expose_secret().as_bytes()),
            reads: Reads::new(&crate::rest::louyu_pool()?)?,
            district: format!("districts/{}", config.district),
            shutdown,
            slots: Arc::new(Semaphore::new(MAX_STREAMS)),
        })
    }

    /// The answer to `GET /v1/streams/events`: a 200 `text/event-stream`
    /// that runs until the viewer leaves, signs out or their token
    /// expires, or the gateway stops; or the refusal as a REST error.
    pub(crate) async fn answer(
        self: Arc<Self>,
        inner: Arc<Inner>,
        request: http::Request<Body>,
    ) -> http::Response<Body> {
        let filter = match Filter::parse(request.uri().query()) {
            Ok(filter) => filter,
            Err(refused) => return refused.into_response(),
        };
        let resume = match request.headers().get("last-event-id") {
            None => Cursors::default(),
            Some(id) => match self.key.open(id.to_str().unwrap_or("\u{0}")) {
                Ok(cursors) => cursors,
                Err(error) => {
                    return crate::rest::refusal(
                        http::StatusCode::BAD_REQUEST,
                        Code::InvalidArgument,
                        &StreamError::BadLastEventId(error).to_string(),
                    );
                }
            },
        };
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            return crate::rest::refusal(
                http::StatusCode::SERVICE_UNAVAILABLE,
                Code::Unavailable,
                &StreamError::TooManyStreams { limit: MAX_STREAMS }.to_string(),
            );
        };
        let viewer = Viewer::of(request.headers());
        // The registry verifies the viewer's token, as it does for any
        // REST call: nothing streams to a caller it refuses.
        if let Err(status) = viewer.check(&inner, &self).await {
            return status_response(&status);
        }
        let frames = self.clone().frames(inner, viewer, filter, resume);
        let body = StreamBody::new(frames.map(move |frame| {
            // The slot is held as long as the body lives.
            let _held = &slot;
            Ok::<_, Infallible>(Frame::data(frame))
        }));
        http::Response::builder()
            .status(http::StatusCode::OK)
            .header(http::header::CONTENT_TYPE, "text/event-stream")
            .header(http::header::CACHE_CONTROL, "no-cache")
            .header("x-accel-buffering", "no")
            .body(Body::new(body))
            .expect("a valid response")
    }

    /// The SSE frames of one stream.
    fn frames(
        self: Arc<Self>,
        inner: Arc<Inner>,
        viewer: Viewer,
        filter: Filter,
        resume: Cursors,
    ) -> impl Stream<Item = Bytes> + Send + 'static {
        async_stream::stream! {
            let mut cursors = resume;
            let mut followers: SelectAll<BoxStream<'static, FollowItem>> = SelectAll::new();
            for service in FEEDS.iter().filter(|service| filter.follows(**service)) {
                followers.push(follow(self.clone(), *service, cursors.get(*service).cloned()).boxed());
            }
            let mut shutdown = self.shutdown.clone();
            let hidden: Hidden = Arc::default();
            let viewer = Arc::new(viewer);
            let filter = Arc::new(filter);

            // Wait (a little) until every feed says where it starts, so the
            // first id holds a position in each.
            let mut pending: Vec<ServiceName> =
                FEEDS.iter().copied().filter(|service| filter.follows(*service)).collect();
            let mut early: VecDeque<FollowItem> = VecDeque::new();
            let mut resets: Vec<(ServiceName, String)> = Vec::new();
            let opening = tokio::time::sleep(OPEN_WAIT);
            tokio::pin!(opening);
            while !pending.is_empty() {
                let item = tokio::select! {
                    item = followers.next() => item,
                    _ = &mut opening => None,
                };
                match item {
                    Some(FollowItem::Opened { service, epoch, start, reset }) => {
                        cursors.set(service, Position::new(&epoch, start));
                        if let Some(reason) = reset {
                            resets.push((service, reason));
                        }
                        pending.retain(|waiting| *waiting != service);
                    }
                    Some(FollowItem::Down { service }) => {
                        pending.retain(|waiting| *waiting != service);
                    }
                    Some(event @ FollowItem::Event { .. }) => early.push_back(event),
                    None => break,
                }
            }
            let live: Vec<&str> = FEEDS
                .iter()
                .filter(|service| filter.follows(**service) && cursors.get(**service).is_some())
                .map(|service| service.as_str())
                .collect();
            let unavailable: Vec<&str> = FEEDS
                .iter()
                .filter(|service| filter.follows(**service) && cursors.get(**service).is_none())
                .map(|service| service.as_str())
                .collect();
            yield Bytes::from(format!("retry: {RETRY_MILLIS}\n\n"));
            yield self.frame(
                Some("open"),
                &cursors,
                &json!({"services": live, "unavailable": unavailable}),
            );
            for (service, reason) in resets {
                yield self.frame(Some("reset"), &cursors, &json!({"service": service.as_str(), "reason": reason}));
            }

            let mut heartbeat = tokio::time::interval_at(
                tokio::time::Instant::now() + HEARTBEAT,
                HEARTBEAT,
            );
            let expiry = tokio::time::sleep_until(viewer.expires_at.unwrap_or_else(far_future));
            tokio::pin!(expiry);
            // Each item in feed order: an event's read runs while the next
            // events' reads start, and the items leave in the order they came.
            let mut judging: FuturesOrdered<BoxFuture<'static, Judging>> = FuturesOrdered::new();
            loop {
                let room = judging.len() < READS_IN_FLIGHT;
                let next = if room && let Some(item) = early.pop_front() {
                    Next::Item(item)
                } else {
                    tokio::select! {
                        biased;
                        _ = shutdown.wait_for(|stopping| *stopping) => Next::End("shutdown"),
                        _ = &mut expiry => Next::End("token_expired"),
                        _ = heartbeat.tick() => Next::Heartbeat,
                        Some(judged) = judging.next(), if !judging.is_empty() => Next::Judged(judged),
                        item = followers.next(), if room => item.map_or(Next::End("feeds_ended"), Next::Item),
                    }
                };
                let judged = match next {
                    Next::End(reason) => {
                        yield self.frame(Some("end"), &cursors, &json!({"reason": reason}));
                        break;
                    }
                    Next::Heartbeat => {
                        if let Err(status) = viewer.check(&inner, &self).await
                            && status.code() == Code::Unauthenticated
                        {
                            yield self.frame(Some("end"), &cursors, &json!({"reason": "signed_out"}));
                            break;
                        }
                        yield Bytes::from_static(b": heartbeat\n\n");
                        continue;
                    }
                    Next::Item(item) => {
                        judging.push_back(self.clone().judging(
                            inner.clone(),
                            viewer.clone(),
                            filter.clone(),
                            hidden.clone(),
                            item,
                        ));
                        continue;
                    }
                    Next::Judged(judged) => judged,
                };
                match judged {
                    Judging::Opened { service, epoch, start, reset } => {
                        cursors.set(service, Position::new(&epoch, start));
                        if let Some(reason) = reset {
                            yield self.frame(Some("reset"), &cursors, &json!({"service": service.as_str(), "reason": reason}));
                        }
                    }
                    Judging::Skipped => {}
                    Judging::Event { service, epoch, sequence, judged } => {
                        cursors.set(service, Position::new(&epoch, sequence));
                        match judged {
                            Judged::Visible(data) => yield self.frame(None, &cursors, &data),
                            Judged::Hidden | Judged::Retry => {}
                            Judged::ViewerGone => {
                                yield self.frame(Some("end"), &cursors, &json!({"reason": "signed_out"}));
                                break;
                            }
                        }
                    }
                }
            }
        }
    }

    /// What one item of a feed comes to: an event judged (its read retried
    /// while the owner does not answer: the stream must not pass it), or
    /// the feed's opening as it was.
    fn judging(
        self: Arc<Self>,
        inner: Arc<Inner>,
        viewer: Arc<Viewer>,
        filter: Arc<Filter>,
        hidden: Hidden,
        item: FollowItem,
    ) -> BoxFuture<'static, Judging> {
        async move {
            match item {
                FollowItem::Opened {
                    service,
                    epoch,
                    start,
                    reset,
                } => Judging::Opened {
                    service,
                    epoch,
                    start,
                    reset,
                },
                FollowItem::Down { .. } => Judging::Skipped,
                FollowItem::Event {
                    service,
                    epoch,
                    event,
                } => {
                    let mut backoff = INITIAL_BACKOFF;
                    let judged = loop {
                        match self
                            .judge(&inner, &viewer, &filter, &hidden, service, &event)
                            .await
                        {
                            Judged::Retry => {
                                tokio::time::sleep(backoff).await;
                                backoff = (backoff * 2).min(MAX_BACKOFF);
                            }
                            judged => break judged,
                        }
                    };
                    Judging::Event {
                        service,
                        epoch,
                        sequence: event.sequence,
                        judged,
                    }
                }
            }
        }
        .boxed()
    }

    /// One SSE event: its type (none for a domain event, so a browser's
    /// `onmessage` gets it), the sealed cursor, and its JSON.
    fn frame(&self, kind: Option<&str>, cursors: &Cursors, data: &Json) -> Bytes {
        let mut frame = String::new();
        if let Some(kind) = kind {
            frame.push_str("event: ");
            frame.push_str(kind);
            frame.push('\n');
        }
        frame.push_str("id: ");
        frame.push_str(&self.key.seal(cursors));
        frame.push_str("\ndata: ");
        // serde_json writes no raw newline, so one `data:` line holds it.
        frame.push_str(&data.to_string());
        frame.push_str("\n\n");
        Bytes::from(frame)
    }

    /// Whether `viewer` sees `event` of `service`, and what of it.
    async fn judge(
        &self,
        inner: &Inner,
        viewer: &Viewer,
        filter: &Filter,
        hidden: &Mutex<HashMap<String, Instant>>,
        service: ServiceName,
        event: &Event,
    ) -> Judged {
        if !filter.admits_type(&event.event_type) {
            return Judged::Hidden;
        }
        let Some(read) = self.reads.read_for(service, &event.resource) else {
            return Judged::Hidden;
        };
        let now = Instant::now();
        {
            let mut hidden = hidden
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            hidden.retain(|_, until| *until > now);
            if hidden.contains_key(&read.name) {
                return Judged::Hidden;
            }
        }
        match inner.call(read.rpc, &viewer.headers, &read.request()).await {
            Ok(resource) => {
                let resource = crate::rest::to_json(&resource)
                    .ok()
                    .and_then(|json| serde_json::from_slice::<Json>(&json).ok());
                let Some(resource) = resource else {
                    return Judged::Hidden;
                };
                let occur_time = event
                    .occur_time
                    .as_ref()
                    .map_or(Json::Null, |time| self.reads.timestamp_json(time));
                Judged::Visible(json!({
                    "service": service.as_str(),
                    "eventType": event.event_type,
                    "resourceName": event.resource,
                    "occurTime": occur_time,
                    "resource": resource,
                }))
            }
            Err(status) => match status.code() {
                Code::Unauthenticated => Judged::ViewerGone,
                Code::Unavailable
                | Code::DeadlineExceeded
                | Code::ResourceExhausted
                | Code::Aborted
                | Code::Cancelled => Judged::Retry,
                Code::NotFound | Code::PermissionDenied | Code::InvalidArgument => {
                    hidden
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .insert(read.name, now + HIDDEN_FOR);
                    Judged::Hidden
                }
                code => {
                    tracing::warn!(service = service.as_str(), ?code, event_type = %event.event_type, "a stream's read of an event's resource failed; the event is not relayed");
                    Judged::Hidden
                }
            },
        }
    }
}

/// What decides the stream's next step.
enum Next {
    Item(FollowItem),
    Judged(Judging),
    Heartbeat,
    End(&'static str),
}

/// Resources the viewer was refused, not read again until the instant.
type Hidden = Arc<Mutex<HashMap<String, Instant>>>;

/// A feed's item once its read is done, in the feed's order.
enum Judging {
    Opened {
        service: ServiceName,
        epoch: String,
        start: i64,
        reset: Option<String>,
    },
    Event {
        service: ServiceName,
        epoch: String,
        sequence: i64,
        judged: Judged,
    },
    Skipped,
}

/// What a stream makes of one event.
enum Judged {
    Visible(Json),
    Hidden,
    Retry,
    ViewerGone,
}

fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

/// The viewer of a stream: the headers of their request (their
/// `authorization`, which every read forwards) and when their token
/// expires.
struct Viewer {
    headers: http::HeaderMap,
    expires_at: Option<tokio::time::Instant>,
}

impl Viewer {
    fn of(headers: &http::HeaderMap) -> Self {
        let expires_at = bearer_expiry(headers).map(|expiry| {
            let now = std::time::SystemTime::now();
            let left = expiry.duration_since(now).unwrap_or(Duration::ZERO);
            tokio::time::Instant::now() + left
        });
        Self {
            headers: headers.clone(),
            expires_at,
        }
    }

    /// Asks the registry whether the viewer's credentials still hold
    /// (`GetDistrict`, which every role may call).
    async fn check(&self, inner: &Inner, streams: &Streams) -> Result<(), Status> {
        let read = streams.reads.district_read(&streams.district);
        inner
            .call(read.rpc, &self.headers, &read.request())
            .await
            .map(|_| ())
    }
}

/// The `exp` of the bearer token in `headers`, read without verifying it:
/// it only ends the stream on time; every read the stream makes is
/// verified by the service it goes to.
fn bearer_expiry(headers: &http::HeaderMap) -> Option<std::time::SystemTime> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let payload = token.trim().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Json = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?.as_u64()?;
    Some(std::time::UNIX_EPOCH + Duration::from_secs(exp))
}

/// What `?types=` and `?services=` ask for.
#[derive(Debug, Default)]
struct Filter {
    types: Vec<String>,
    services: Vec<ServiceName>,
}

impl Filter {
    fn parse(query: Option<&str>) -> Result<Self, RestError> {
        let mut filter = Filter::default();
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = crate::rest::routes::percent_decode(key);
            let value = crate::rest::routes::percent_decode(&value.replace('+', " "));
            let bad = |reason: String| RestError::BadQuery {
                parameter: key.clone(),
                reason,
            };
            let items = value
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty());
            match key.as_str() {
                "types" => filter.types.extend(items.map(str::to_owned)),
                "services" => {
                    for item in items {
                        let service = FEEDS
                            .iter()
                            .find(|service| service.as_str() == item)
                            .ok_or_else(|| {
                                bad(format!(
                                    "no service {item:?}: one of registry, visits, risk, referral"
                                ))
                            })?;
                        filter.services.push(*service);
                    }
                }
                _ => return Err(bad("no such parameter: types or services".to_owned())),
            }
        }
        Ok(filter)
    }

    fn follows(&self, service: ServiceName) -> bool {
        self.services.is_empty() || self.services.contains(&service)
    }

    /// A type is named in full (`louyu.visits.v1.DemandRaised`) or by its
    /// message name (`DemandRaised`).
    fn admits_type(&self, event_type: &str) -> bool {
        self.types.is_empty()
            || self.types.iter().any(|wanted| {
                event_type == wanted
                    || event_type
                        .strip_suffix(wanted.as_str())
                        .is_some_and(|package| package.ends_with('.'))
            })
    }
}

/// What following one feed yields to its stream.
enum FollowItem {
    /// The feed opened: its epoch, the sequence it starts after, and, when
    /// the stream's cursor did not fit the feed (restored, or ahead of
    /// it) and it starts from the feed's end instead, why.
    Opened {
        service: ServiceName,
        epoch: String,
        start: i64,
        reset: Option<String>,
    },
    /// The feed could not be reached (it is tried again).
    Down { service: ServiceName },
    /// The next event of the feed.
    Event {
        service: ServiceName,
        epoch: String,
        event: Event,
    },
}

/// Where following a feed starts.
enum Start {
    /// After `sequence`, in the epoch whose prefix the cursor kept (not
    /// yet checked) or that the feed confirmed.
    After {
        sequence: i64,
        epoch_prefix: String,
        confirmed_epoch: Option<String>,
    },
    /// After the feed's last event, for `reset` when the cursor did not
    /// fit.
    End { reset: Option<String> },
}

/// Follows `service`'s feed from `from` (its end when `None`), reconnecting
/// with backoff, forever: the stream drops it when it ends. After each
/// yield the generator resumes only when the stream asks for the next
/// item, so the position it reconnects from is always the last event the
/// stream finished with.
fn follow(
    streams: Arc<Streams>,
    service: ServiceName,
    from: Option<Position>,
) -> impl Stream<Item = FollowItem> + Send + 'static {
    async_stream::stream! {
        let mut start = match from {
            Some(position) => Start::After {
                sequence: position.sequence,
                epoch_prefix: position.epoch,
                confirmed_epoch: None,
            },
            None => Start::End { reset: None },
        };
        let mut backoff = INITIAL_BACKOFF;
        loop {
            let request = match &start {
                Start::After { sequence, confirmed_epoch, .. } => WatchEventsRequest {
                    after_sequence: *sequence,
                    epoch: confirmed_epoch.clone().unwrap_or_default(),
                    ..WatchEventsRequest::default()
                },
                Start::End { .. } => WatchEventsRequest {
                    from_end: true,
                    ..WatchEventsRequest::default()
                },
            };
            let (epoch, first, mut events) = match streams.open_feed(service, request).await {
                Ok(opened) => opened,
                Err(status) if feed_moved(&status) => {
                    start = Start::End { reset: Some(reset_reason(service)) };
                    continue;
                }
                Err(status) => {
                    tracing::debug!(service = service.as_str(), code = ?status.code(), "a stream cannot reach a feed");
                    yield FollowItem::Down { service };
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            let reset = match &start {
                Start::After { epoch_prefix: kept, confirmed_epoch: None, .. }
                    if epoch_prefix(&epoch) != *kept =>
                {
                    // The cursor was taken in another epoch of this feed:
                    // nothing of this stream applies to it.
                    start = Start::End { reset: Some(reset_reason(service)) };
                    continue;
                }
                Start::End { reset } => reset.clone(),
                Start::After { .. } => None,
            };
            backoff = INITIAL_BACKOFF;
            yield FollowItem::Opened { service, epoch: epoch.clone(), start: first, reset };
            let mut sequence = first;
            start = Start::After {
                sequence,
                epoch_prefix: epoch_prefix(&epoch),
                confirmed_epoch: Some(epoch.clone()),
            };
            while let Some(batch) = events.next().await {
                let batch = match batch {
                    Ok(batch) => batch,
                    Err(status) if feed_moved(&status) => {
                        start = Start::End { reset: Some(reset_reason(service)) };
                        break;
                    }
                    Err(_) => break,
                };
                if batch.epoch != epoch {
                    start = Start::End { reset: Some(reset_reason(service)) };
                    break;
                }
                let mut in_order = true;
                for event in batch.events {
                    if event.sequence != sequence + 1 {
                        in_order = false;
                        break;
                    }
                    sequence = event.sequence;
                    start = Start::After {
                        sequence,
                        epoch_prefix: epoch_prefix(&epoch),
                        confirmed_epoch: Some(epoch.clone()),
                    };
                    yield FollowItem::Event { service, epoch: epoch.clone(), event };
                }
                if !in_order {
                    break;
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

fn reset_reason(service: ServiceName) -> String {
    format!(
        "{0} 事件流已重置（其数据库可能已从备份恢复），从当前位置继续 \
         the {0} feed no longer holds this stream's position (restored or replaced): \
         the stream continues from the feed's current end",
        service.as_str()
    )
}

/// Whether a feed refused a position because it is not in it.
fn feed_moved(status: &Status) -> bool {
    status.code() == Code::FailedPrecondition
        && status
            .get_details_error_info()
            .is_some_and(|info| info.reason == EPOCH_CHANGED || info.reason == CURSOR_NOT_IN_FEED)
}

type EventBatches = tonic::Streaming<louyu_proto::common::v1::WatchEventsResponse>;

impl Streams {
    /// Opens `service`'s feed as the gateway: its epoch, the sequence it
    /// starts after, and its batches.
    async fn open_feed(
        &self,
        service: ServiceName,
        request: WatchEventsRequest,
    ) -> Result<(String, i64, EventBatches), Status> {
        let channel = self
            .feeds
            .iter()
            .find(|(feed, _)| *feed == service)
            .map(|(_, channel)| channel.clone())
            .expect("a channel to every feed");
        let credentials = self.credentials.clone();
        let mut client = EventFeedServiceClient::with_interceptor(
            channel,
            move |mut request: tonic::Request<()>| {
                credentials.present(request.metadata_mut())?;
                Ok(request)
            },
        );
        let opened =
            tokio::time::timeout(CONNECT_TIMEOUT * 2, client.watch_events(request.clone()))
                .await
                .map_err(|_| Status::deadline_exceeded("the feed did not open in time"))??;
        let header = |name: &str| {
            opened
                .metadata()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let epoch = header(EPOCH_HEADER).unwrap_or_default();
        let start = header(START_HEADER)
            .and_then(|value| value.parse().ok())
            .unwrap_or(request.after_sequence);
        Ok((epoch, start, opened.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_named_in_full_or_by_message_and_services_by_name() {
        let filter = Filter::parse(Some(
            "types=DemandRaised,louyu.risk.v1.AssessmentChanged&services=visits%2Crisk",
        ))
        .unwrap();
        assert!(filter.admits_type("louyu.visits.v1.DemandRaised"));
        assert!(filter.admits_type("louyu.risk.v1.AssessmentChanged"));
        assert!(!filter.admits_type("louyu.visits.v1.DemandStatusChanged"));
        assert!(!filter.admits_type("louyu.visits.v1.XDemandRaised"));
        assert!(filter.follows(ServiceName::Visits) && filter.follows(ServiceName::Risk));
        assert!(!filter.follows(ServiceName::Registry));
        let everything = Filter::parse(None).unwrap();
        assert!(everything.follows(ServiceName::Referral));
        assert!(everything.admits_type("anything"));
    }

    #[test]
    fn an_unknown_service_or_parameter_is_named() {
        let refused = Filter::parse(Some("services=billing")).unwrap_err();
        assert!(refused.to_string().contains("billing"), "{refused}");
        let refused = Filter::parse(Some("colour=red")).unwrap_err();
        assert!(refused.to_string().contains("colour"), "{refused}");
    }

    #[test]
    fn the_expiry_is_the_bearer_tokens_exp() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"staff:s-1","exp":1900000000}"#);
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            format!("Bearer e30.{payload}.sig").parse().unwrap(),
        );
        assert_eq!(
            bearer_expiry(&headers),
            Some(std::time::UNIX_EPOCH + Duration::from_secs(1_900_000_000))
        );
        headers.insert(http::header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer_expiry(&headers), None);
    }
}
