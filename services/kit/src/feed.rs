//! Event feeds: the transactional outbox a service appends its domain events
//! to, the `WatchEvents` stream that serves them, and the consumer that
//! applies another service's feed exactly once.
//!
//! Ordering: [`append`] takes the next sequence number by updating the single
//! row of `event_sequence`, which locks that row until the transaction ends.
//! A second writer waits there until the first commits or rolls back, so
//! sequence numbers are gapless and become visible in order: when a reader
//! sees event `n`, every event before `n` has already committed. A consumer
//! that reads `sequence > cursor` therefore never skips an event, and checks
//! that each event it applies is exactly `cursor + 1`. Writers serialise only
//! from their append to their commit, so services append events last.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};
use louyu_proto::common::v1::event_feed_service_client::EventFeedServiceClient;
use louyu_proto::common::v1::event_feed_service_server::EventFeedService;
use louyu_proto::common::v1::{Event, WatchEventsRequest, WatchEventsResponse};
use sqlx::{AnyConnection, Row};
use tokio::sync::watch;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tracing::Instrument;

use crate::audit::RequestContext;
use crate::db::Db;
use crate::error::InvalidArgument;

/// An event about to be appended.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Full name of the payload message, e.g. `louyu.registry.v1.TenancyEnded`.
    pub event_type: String,
    /// The resource it is about.
    pub resource: String,
    /// The encoded payload message.
    pub payload: Vec<u8>,
}

impl NewEvent {
    /// An event about `resource`, typed by its payload message.
    pub fn new<M: prost::Message + prost::Name>(resource: impl Into<String>, payload: &M) -> Self {
        Self {
            event_type: M::full_name(),
            resource: resource.into(),
            payload: payload.encode_to_vec(),
        }
    }
}

/// Appends an event to the outbox inside the caller's transaction and returns
/// its sequence number. Commit with [`Db::commit_with_events`] so watchers
/// wake at once.
pub async fn append(
    connection: &mut AnyConnection,
    context: &RequestContext,
    event: NewEvent,
) -> sqlx::Result<i64> {
    let sequence: i64 = sqlx::query_scalar(
        "UPDATE event_sequence SET last_sequence = last_sequence + 1 WHERE id = 1 RETURNING last_sequence",
    )
    .fetch_one(&mut *connection)
    .await?;
    sqlx::query(
        "INSERT INTO outbox (sequence, event_id, event_type, resource, payload, traceparent, occurred_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(sequence)
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&event.event_type)
    .bind(&event.resource)
    .bind(event.payload)
    .bind(&context.traceparent)
    .bind(crate::time::now_micros())
    .execute(&mut *connection)
    .await?;
    Ok(sequence)
}

/// Appends many events to the outbox inside the caller's transaction, in
/// order, with one sequence bump and one `INSERT` per few thousand events,
/// where [`append`] takes two statements per event: for bulk work (a district
/// re-assessed at once) whose events would otherwise cost a round trip
/// each. The events get consecutive sequence numbers, so the ordering
/// contract of [`append`] holds. Commit with [`Db::commit_with_events`].
pub async fn append_all(
    connection: &mut AnyConnection,
    context: &RequestContext,
    events: Vec<NewEvent>,
) -> sqlx::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let count = i64::try_from(events.len()).expect("fewer events than i64::MAX");
    let last: i64 = sqlx::query_scalar(
        "UPDATE event_sequence SET last_sequence = last_sequence + $1 WHERE id = 1 RETURNING last_sequence",
    )
    .bind(count)
    .fetch_one(&mut *connection)
    .await?;
    const COLUMNS: usize = 7;
    let rows_per_statement = crate::db::MAX_PARAMETERS_ON_EVERY_BACKEND / COLUMNS;
    let occurred_at = crate::time::now_micros();
    let mut sequence = last - count;
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let batch: Vec<NewEvent> = events.by_ref().take(rows_per_statement).collect();
        let sql = format!(
            "INSERT INTO outbox (sequence, event_id, event_type, resource, payload, traceparent, occurred_at) \
             VALUES {}",
            crate::db::values_placeholders(batch.len(), COLUMNS, 1)
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
        for event in batch {
            sequence += 1;
            insert = insert
                .bind(sequence)
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(event.event_type)
                .bind(event.resource)
                .bind(event.payload)
                .bind(context.traceparent.clone())
                .bind(occurred_at);
        }
        insert.execute(&mut *connection).await?;
    }
    Ok(())
}

/// Reads up to `limit` events after `after_sequence`, in order.
pub async fn read_after(db: &Db, after_sequence: i64, limit: i64) -> sqlx::Result<Vec<Event>> {
    let rows = sqlx::query(
        "SELECT sequence, event_id, event_type, resource, payload, traceparent, occurred_at \
         FROM outbox WHERE sequence > $1 ORDER BY sequence LIMIT $2",
    )
    .bind(after_sequence)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let event_type: String = row.try_get("event_type")?;
            Ok(Event {
                sequence: row.try_get("sequence")?,
                event_id: row.try_get("event_id")?,
                payload: Some(prost_types::Any {
                    type_url: louyu_proto::type_url(&event_type),
                    value: row.try_get("payload")?,
                }),
                event_type,
                resource: row.try_get("resource")?,
                occur_time: Some(crate::time::timestamp_from_micros(
                    row.try_get("occurred_at")?,
                )),
                traceparent: row.try_get("traceparent")?,
            })
        })
        .collect()
}

/// `google.rpc.ErrorInfo` reason: the consumer's cursor belongs to another
/// epoch of the feed.
pub const EPOCH_CHANGED: &str = "FEED_EPOCH_CHANGED";
/// `google.rpc.ErrorInfo` reason: the event the consumer last applied is not
/// at its position in the feed (the feed lost it, or holds another there).
pub const CURSOR_NOT_IN_FEED: &str = "CURSOR_NOT_IN_FEED";
const ERROR_DOMAIN: &str = "louyu.common.v1.EventFeedService";
/// The response header that carries the feed's epoch as the stream opens.
pub const EPOCH_HEADER: &str = "x-louyu-feed-epoch";
/// The response header that carries the sequence the stream starts after:
/// the request's `after_sequence`, or the feed's last event for `from_end`.
pub const START_HEADER: &str = "x-louyu-feed-start";

/// The sequence of the feed's last event; 0 when it has none. Sequences
/// are gapless and commit in order, so every event up to it has committed.
pub async fn last_sequence(db: &Db) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(sequence), 0) FROM outbox")
        .fetch_one(db.pool())
        .await
}

/// Makes the feed's epoch the first time the outbox exists; later calls keep
/// it. Runs after the kit's migrations.
pub async fn ensure_epoch(db: &Db) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO feed_epoch (id, epoch, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(crate::time::now_micros())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The feed's current epoch.
pub async fn current_epoch(db: &Db) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT epoch FROM feed_epoch WHERE id = 1")
        .fetch_one(db.pool())
        .await
}

/// The feed's current epoch and its last sequence number (committed), in
/// one round trip.
async fn current_epoch_and_head(db: &Db) -> sqlx::Result<(String, i64)> {
    let row = sqlx::query(
        "SELECT epoch, (SELECT last_sequence FROM event_sequence WHERE id = 1) AS head \
         FROM feed_epoch WHERE id = 1",
    )
    .fetch_one(db.pool())
    .await?;
    Ok((row.try_get("epoch")?, row.try_get("head")?))
}

/// Starts a new epoch, after the database was restored from a backup: every
/// consumer then stops at its next read instead of skipping the events the
/// restored outbox numbers anew. Returns the new epoch.
pub async fn renew_epoch(db: &Db) -> sqlx::Result<String> {
    let epoch = uuid::Uuid::new_v4().to_string();
    sqlx::query("UPDATE feed_epoch SET epoch = $1, created_at = $2 WHERE id = 1")
        .bind(&epoch)
        .bind(crate::time::now_micros())
        .execute(db.pool())
        .await?;
    Ok(epoch)
}

fn feed_mismatch(reason: &str, message: String, epoch: &str) -> Status {
    Status::with_error_details(
        Code::FailedPrecondition,
        message,
        ErrorDetails::with_error_info(
            reason,
            ERROR_DOMAIN,
            HashMap::from([("feed_epoch".to_owned(), epoch.to_owned())]),
        ),
    )
}

fn epoch_changed(consumer_epoch: &str, epoch: &str) -> Status {
    feed_mismatch(
        EPOCH_CHANGED,
        format!(
            "事件流已进入新的纪元（其数据库可能已从备份恢复），游标不再适用 \
             the feed is in a new epoch (its database was restored or replaced): \
             a cursor of epoch {consumer_epoch} does not apply to epoch {epoch}"
        ),
        epoch,
    )
}

/// Checks that the consumer's cursor still points into this feed: same
/// epoch, and the event it last applied still at its position.
async fn check_cursor(db: &Db, epoch: &str, request: &WatchEventsRequest) -> Result<(), Status> {
    if !request.epoch.is_empty() && request.epoch != epoch {
        return Err(epoch_changed(&request.epoch, epoch));
    }
    if request.after_sequence == 0 {
        return Ok(());
    }
    let at_cursor: Option<String> =
        sqlx::query_scalar("SELECT event_id FROM outbox WHERE sequence = $1")
            .bind(request.after_sequence)
            .fetch_optional(db.pool())
            .await
            .map_err(|error| crate::error::internal("read the event feed", &error))?;
    match at_cursor {
        None => Err(feed_mismatch(
            CURSOR_NOT_IN_FEED,
            format!(
                "事件流中没有第{0}号事件，消费者已超前（其数据库可能已从备份恢复） \
                 the feed has no event {0}: the consumer is ahead of it (was its database restored?)",
                request.after_sequence
            ),
            epoch,
        )),
        Some(event_id)
            if !request.last_event_id.is_empty() && event_id != request.last_event_id =>
        {
            Err(feed_mismatch(
                CURSOR_NOT_IN_FEED,
                format!(
                    "事件流中第{0}号事件不是消费者已处理的那一个（其数据库可能已从备份恢复） \
                     event {0} in the feed is not the one the consumer applied (was its database restored?)",
                    request.after_sequence
                ),
                epoch,
            ))
        }
        Some(_) => Ok(()),
    }
}

const DEFAULT_BATCH: i64 = 100;
const MAX_BATCH: i64 = 1000;

/// Serves `louyu.common.v1.EventFeedService` from a service's outbox.
#[derive(Debug, Clone)]
pub struct FeedServer {
    db: Db,
    shutdown: watch::Receiver<bool>,
    poll_interval: Duration,
    readers: Option<FeedReaders>,
}

/// Who may follow a feed besides people the permission table lets: Louyu's
/// own services, and the other systems a deployment grants it.
#[derive(Debug, Clone, Default)]
pub struct FeedReaders {
    granted: Vec<String>,
}

impl FeedReaders {
    /// Louyu's own services and `granted` (`LOUYU_FEED_READERS`).
    pub fn new(granted: &[String]) -> Self {
        Self {
            granted: granted.to_vec(),
        }
    }

    /// Whether `caller` may follow the feed. People are judged by the
    /// permission table alone; a system on its own behalf must be one of
    /// Louyu's services or granted.
    pub fn admits(&self, caller: &crate::identity::Caller) -> bool {
        if caller.person().is_some() {
            return true;
        }
        let crate::identity::Principal::System(system) = caller.principal() else {
            return true;
        };
        crate::config::ServiceName::ALL
            .iter()
            .any(|service| service.as_str() == system.name)
            || self.granted.contains(&system.name)
    }
}

impl FeedServer {
    /// `shutdown` turning true ends every open stream, so the server can
    /// drain. `poll_interval` bounds how late a watcher learns of events
    /// committed by another process (another replica on the same PostgreSQL);
    /// events committed by this process wake watchers at once.
    pub fn new(db: Db, shutdown: watch::Receiver<bool>, poll_interval: Duration) -> Self {
        Self {
            db,
            shutdown,
            poll_interval,
            readers: None,
        }
    }

    /// Refuses systems that are not among `readers` (kit's server always
    /// sets this; a bare `FeedServer` in a test admits every caller).
    pub fn admitting(mut self, readers: FeedReaders) -> Self {
        self.readers = Some(readers);
        self
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<WatchEventsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl EventFeedService for FeedServer {
    type WatchEventsStream = EventStream;

    async fn watch_events(
        &self,
        request: Request<WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        if let Some(readers) = &self.readers {
            let caller = crate::identity::caller_of(&request)?;
            if !readers.admits(caller) {
                return Err(Status::permission_denied(format!(
                    "该系统未获授权读取此事件流 permission denied: the system {} is not granted this feed (LOUYU_FEED_READERS)",
                    caller.principal().audit_name()
                )));
            }
        }
        let request = request.into_inner();
        if request.after_sequence < 0 {
            return Err(
                InvalidArgument::new("after_sequence", "不能为负数 must not be negative")
                    .into_status(),
            );
        }
        let batch = match i64::from(request.max_batch_size) {
            0 => DEFAULT_BATCH,
            size if size < 0 => {
                return Err(InvalidArgument::new(
                    "max_batch_size",
                    "不能为负数 must not be negative",
                )
                .into_status());
            }
            size => size.min(MAX_BATCH),
        };
        let db = self.db.clone();
        let epoch = current_epoch(&db)
            .await
            .map_err(|error| crate::error::internal("read the feed epoch", &error))?;
        // Watching starts before the end is read, so an event committed in
        // between wakes the stream instead of waiting for the poll.
        let mut committed = db.watch_events();
        let start = if request.from_end {
            if !request.epoch.is_empty() && request.epoch != epoch {
                return Err(epoch_changed(&request.epoch, &epoch));
            }
            last_sequence(&db)
                .await
                .map_err(|error| crate::error::internal("read the event feed", &error))?
        } else {
            check_cursor(&db, &epoch, &request).await?;
            request.after_sequence
        };
        let mut shutdown = self.shutdown.clone();
        let poll_interval = self.poll_interval;
        let mut cursor = start;
        let stream_epoch = epoch.clone();
        let stream = async_stream::try_stream! {
            loop {
                if *shutdown.borrow() {
                    break;
                }
                committed.borrow_and_update();
                let events = read_after(&db, cursor, batch)
                    .await
                    .map_err(|error| crate::error::internal("read the event feed", &error))?;
                // A restore under a running server shows as a new epoch. The
                // epoch is read after the events: an event written after a
                // renewal can only have been read if the renewal committed
                // first, and then this read sees it, so no event of a new
                // epoch leaves under the old one.
                let (current, head_sequence) = current_epoch_and_head(&db)
                    .await
                    .map_err(|error| crate::error::internal("read the feed epoch", &error))?;
                if current != stream_epoch {
                    Err(epoch_changed(&stream_epoch, &current))?;
                }
                if let Some(last) = events.last() {
                    cursor = last.sequence;
                    yield WatchEventsResponse {
                        events,
                        epoch: stream_epoch.clone(),
                        head_sequence,
                    };
                    continue;
                }
                tokio::select! {
                    _ = committed.changed() => {}
                    _ = tokio::time::sleep(poll_interval) => {}
                    _ = shutdown.changed() => {}
                }
            }
        };
        let mut response = Response::new(Box::pin(stream) as Self::WatchEventsStream);
        if let Ok(value) = epoch.parse() {
            response.metadata_mut().insert(EPOCH_HEADER, value);
        }
        if let Ok(value) = start.to_string().parse() {
            response.metadata_mut().insert(START_HEADER, value);
        }
        Ok(response)
    }
}

/// Applies one event inside the consumer's transaction. It must be
/// idempotent in effect; the cursor already makes it run once per event.
pub trait EventHandler: Send + Sync + 'static {
    fn handle<'a>(
        &'a self,
        connection: &'a mut AnyConnection,
        event: &'a Event,
    ) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// Implements [`EventHandler`] for handlers with an inherent
/// `async fn apply(&self, &mut AnyConnection, &Event) -> anyhow::Result<()>`,
/// the shape every service's `feeds.rs` writes them in:
/// `louyu_kit::event_handler!(RegistryEvents, VisitsEvents);`.
#[macro_export]
macro_rules! event_handler {
    ($($handler:ty),+ $(,)?) => {$(
        impl $crate::feed::EventHandler for $handler {
            fn handle<'a>(
                &'a self,
                connection: &'a mut $crate::feed::macro_support::AnyConnection,
                event: &'a $crate::feed::macro_support::Event,
            ) -> $crate::feed::macro_support::BoxFuture<'a, ::anyhow::Result<()>> {
                Box::pin(self.apply(connection, event))
            }
        }
    )+};
}

/// What [`event_handler!`] names, so that a service needs no more
/// dependencies to use it.
#[doc(hidden)]
pub mod macro_support {
    pub use futures::future::BoxFuture;
    pub use louyu_proto::common::v1::Event;
    pub use sqlx::AnyConnection;
}

/// The gauge of halted consumers, labelled by `feed`.
pub const HALTED_METRIC: &str = "louyu_feed_consumer_halted";

/// Whether a consumer is following its feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedStatus {
    /// Reading, or reconnecting after a passing failure.
    Following,
    /// Stopped because its cursor no longer points into the producer's feed
    /// (the producer's database was restored or replaced); it stays stopped
    /// until an operator resumes it (see docs/architecture.md, "After a
    /// restore"). `reason` says what was found.
    Halted { reason: String },
}

/// Follows another service's feed, applying each event and advancing the
/// cursor in the same transaction.
pub struct Consumer<H> {
    feed: String,
    endpoint: String,
    db: Db,
    handler: H,
    initial_backoff: Duration,
    max_backoff: Duration,
    status: watch::Sender<FeedStatus>,
    credentials: Option<crate::identity::ServiceCredentials>,
    /// The service that consumes, for its spans and metrics.
    consumer: String,
}

#[derive(Debug, thiserror::Error)]
enum ConsumeError {
    #[error("cannot reach the producer")]
    Connect(#[from] tonic::transport::Error),
    #[error("the producer refused the stream")]
    Stream(#[from] Status),
    #[error("the consumer's database failed")]
    Database(#[from] sqlx::Error),
    #[error("event {found} arrived where {expected} was due")]
    OutOfOrder { expected: i64, found: i64 },
    #[error("another consumer advanced the cursor")]
    CursorMoved,
    #[error("the handler failed on event {sequence}")]
    Handler {
        sequence: i64,
        #[source]
        source: anyhow::Error,
    },
    #[error("halted: {0}")]
    Halted(String),
    #[error("the consumer panicked: {0}")]
    Panicked(String),
}

/// A consumer's row in `consumer_cursors`.
#[derive(Debug, Clone)]
struct CursorState {
    last_sequence: i64,
    epoch: String,
    last_event_id: String,
    halted: String,
}

impl<H: EventHandler> Consumer<H> {
    /// `feed` names the cursor (e.g. `registry`); `endpoint` is the
    /// producer's URL (e.g. `http://registry:50051`).
    pub fn new(feed: &str, endpoint: &str, db: Db, handler: H) -> Self {
        let (status, _) = watch::channel(FeedStatus::Following);
        Self {
            feed: feed.to_owned(),
            endpoint: endpoint.to_owned(),
            db,
            handler,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            status,
            credentials: None,
            consumer: String::new(),
        }
    }

    /// Presents `credentials` to the producer (its feed needs a verified
    /// caller). [`crate::hosting::HostBuilder::follow`] gives every consumer
    /// its service's.
    /// The system it presents names the consumer in its spans and its
    /// `louyu_feed_lag_events{consumer}`.
    pub fn presenting(mut self, credentials: crate::identity::ServiceCredentials) -> Self {
        self.consumer = credentials.system_name().to_owned();
        self.credentials = Some(credentials);
        self
    }

    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// The name of the feed it follows (its cursor's name).
    pub fn feed(&self) -> &str {
        &self.feed
    }

    /// Follows the consumer's status, for health and operators.
    pub fn status(&self) -> watch::Receiver<FeedStatus> {
        self.status.subscribe()
    }

    /// Runs until `shutdown` turns true, reconnecting with exponential
    /// backoff whenever the producer is unreachable or a step fails. A
    /// consumer whose cursor no longer points into the feed halts: it logs
    /// why, reports [`FeedStatus::Halted`], and waits for an operator to
    /// resume it ([`resume_from_start`]), checking every `max_backoff`. A
    /// panic while following (a handler's bug) is logged as an error and the
    /// consumer starts again from its cursor after the backoff: the event's
    /// transaction rolled back, so nothing of it was applied.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        self.halted_gauge().set(0.0);
        let mut backoff = self.initial_backoff;
        while !*shutdown.borrow() {
            let following = AssertUnwindSafe(self.follow(&mut backoff)).catch_unwind();
            let outcome = tokio::select! {
                outcome = following => outcome.unwrap_or_else(|panic| {
                    Err(ConsumeError::Panicked(
                        crate::hosting::panic_message(panic.as_ref()).to_owned(),
                    ))
                }),
                _ = shutdown.changed() => break,
            };
            match outcome {
                Err(ConsumeError::Halted(reason)) => {
                    tracing::error!(
                        feed = %self.feed,
                        reason = %reason,
                        "event consumer halted: its cursor no longer points into the producer's feed; \
                         see \"After a restore\" in docs/architecture.md"
                    );
                    self.halted_gauge().set(1.0);
                    self.status.send_replace(FeedStatus::Halted { reason });
                    if !self.wait_until_resumed(&mut shutdown).await {
                        break;
                    }
                    tracing::info!(feed = %self.feed, "event consumer resumed");
                    self.halted_gauge().set(0.0);
                    self.status.send_replace(FeedStatus::Following);
                    backoff = self.initial_backoff;
                    continue;
                }
                Err(error @ ConsumeError::Panicked(_)) => tracing::error!(
                    feed = %self.feed,
                    retry_in_ms = backoff.as_millis() as u64,
                    error = %error,
                    "event consumer panicked; restarting it from its cursor"
                ),
                Err(error) => tracing::warn!(
                    feed = %self.feed,
                    retry_in_ms = backoff.as_millis() as u64,
                    error = %crate::error::ErrorChain(&error),
                    "event consumer interrupted"
                ),
                Ok(()) => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => break,
            }
            backoff = (backoff * 2).min(self.max_backoff);
        }
    }

    /// `louyu_feed_consumer_halted{feed}`: 1 while the consumer is halted,
    /// 0 while it follows.
    fn halted_gauge(&self) -> metrics::Gauge {
        metrics::gauge!(HALTED_METRIC, "feed" => self.feed.clone())
    }

    /// `louyu_feed_lag_events{consumer,feed}`: the events the producer had
    /// when it read the last batch that the consumer has not applied (0 from
    /// a producer that does not send its head).
    fn report_lag(&self, head: i64, cursor: i64) {
        if !crate::metrics::enabled() {
            return;
        }
        metrics::gauge!(
            crate::metrics::FEED_LAG,
            "consumer" => self.consumer.clone(),
            "feed" => self.feed.clone(),
        )
        .set((head - cursor).max(0) as f64);
    }

    /// Waits until the cursor is no longer halted; false when shutdown came
    /// first.
    async fn wait_until_resumed(&self, shutdown: &mut watch::Receiver<bool>) -> bool {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.max_backoff) => {}
                _ = shutdown.changed() => return false,
            }
            match cursor_state(&self.db, &self.feed).await {
                Ok(state) if state.halted.is_empty() => return true,
                Ok(_) => {}
                Err(error) => tracing::warn!(
                    feed = %self.feed,
                    error = %crate::error::ErrorChain(&error),
                    "cannot read the halted consumer's cursor"
                ),
            }
        }
    }

    /// The last sequence applied.
    pub async fn cursor(&self) -> sqlx::Result<i64> {
        cursor_of(&self.db, &self.feed).await
    }

    async fn follow(&self, backoff: &mut Duration) -> Result<(), ConsumeError> {
        let state = cursor_state(&self.db, &self.feed).await?;
        if !state.halted.is_empty() {
            return Err(ConsumeError::Halted(state.halted));
        }
        let mut cursor = state.last_sequence;
        let mut epoch = state.epoch;
        let channel = tonic::transport::Endpoint::from_shared(self.endpoint.clone())?
            .connect()
            .await?;
        let credentials = self.credentials.clone();
        let mut client = EventFeedServiceClient::with_interceptor(
            channel,
            move |mut request: tonic::Request<()>| {
                if let Some(credentials) = &credentials {
                    credentials.present(request.metadata_mut())?;
                }
                Ok(request)
            },
        );
        let opened = client
            .watch_events(WatchEventsRequest {
                after_sequence: cursor,
                max_batch_size: 0,
                epoch: epoch.clone(),
                last_event_id: state.last_event_id,
                from_end: false,
            })
            .await;
        let mut stream = match opened {
            Ok(response) => response.into_inner(),
            Err(status) => return Err(self.halt_if_feed_moved(status).await),
        };
        while let Some(batch) = stream.next().await {
            let batch = match batch {
                Ok(batch) => batch,
                Err(status) => return Err(self.halt_if_feed_moved(status).await),
            };
            if !epoch.is_empty() && batch.epoch != epoch {
                let reason = format!(
                    "the feed moved from epoch {epoch} to epoch {} while the consumer read it",
                    batch.epoch
                );
                return Err(self.halt(reason).await);
            }
            epoch = batch.epoch;
            let head = batch.head_sequence;
            for event in batch.events {
                if event.sequence != cursor + 1 {
                    return Err(ConsumeError::OutOfOrder {
                        expected: cursor + 1,
                        found: event.sequence,
                    });
                }
                self.apply(cursor, &epoch, &event).await?;
                cursor = event.sequence;
                *backoff = self.initial_backoff;
            }
            self.report_lag(head, cursor);
        }
        Ok(())
    }

    /// A producer's refusal that says the cursor is not in its feed halts
    /// the consumer; any other refusal is a passing failure.
    async fn halt_if_feed_moved(&self, status: Status) -> ConsumeError {
        let moved = status.code() == Code::FailedPrecondition
            && status.get_details_error_info().is_some_and(|info| {
                info.reason == EPOCH_CHANGED || info.reason == CURSOR_NOT_IN_FEED
            });
        if moved {
            self.halt(status.message().to_owned()).await
        } else {
            ConsumeError::Stream(status)
        }
    }

    /// Records that the consumer halted, so a restart does not read on.
    async fn halt(&self, reason: String) -> ConsumeError {
        match record_halt(&self.db, &self.feed, &reason).await {
            Ok(()) => ConsumeError::Halted(reason),
            Err(error) => ConsumeError::Database(error),
        }
    }

    async fn apply(&self, cursor: i64, epoch: &str, event: &Event) -> Result<(), ConsumeError> {
        // The work on an event is a trace of its own, linked to the span
        // that wrote the event: that request had answered before this began.
        let span = tracing::info_span!(
            parent: None,
            "consume",
            otel.name = format!("consume {} {}", self.feed, event.event_type),
            otel.kind = "consumer",
            messaging.system = "louyu",
            messaging.operation.type = "process",
            messaging.destination.name = %self.feed,
            messaging.message.id = %event.event_id,
            louyu.service = %self.consumer,
            louyu.event.sequence = event.sequence,
            louyu.event.type = %event.event_type,
        );
        crate::telemetry::link_to_traceparent(&span, &event.traceparent);
        async {
            let mut transaction = self.db.begin_write().await?;
            self.handler
                .handle(&mut transaction, event)
                .await
                .map_err(|source| ConsumeError::Handler {
                    sequence: event.sequence,
                    source,
                })?;
            let advanced = sqlx::query(
                "UPDATE consumer_cursors SET last_sequence = $1, epoch = $2, last_event_id = $3, updated_at = $4 \
                 WHERE feed = $5 AND last_sequence = $6 AND halted = ''",
            )
            .bind(event.sequence)
            .bind(epoch)
            .bind(&event.event_id)
            .bind(crate::time::now_micros())
            .bind(&self.feed)
            .bind(cursor)
            .execute(&mut *transaction)
            .await?;
            if advanced.rows_affected() != 1 {
                return Err(ConsumeError::CursorMoved);
            }
            self.db.commit_with_events(transaction).await?;
            Ok(())
        }
        .instrument(span)
        .await
    }
}

/// A consumer's cursor row, created at 0 the first time.
async fn cursor_state(db: &Db, feed: &str) -> sqlx::Result<CursorState> {
    sqlx::query(
        "INSERT INTO consumer_cursors (feed, last_sequence, updated_at) VALUES ($1, 0, $2) \
         ON CONFLICT (feed) DO NOTHING",
    )
    .bind(feed)
    .bind(crate::time::now_micros())
    .execute(db.pool())
    .await?;
    let row = sqlx::query(
        "SELECT last_sequence, epoch, last_event_id, halted FROM consumer_cursors WHERE feed = $1",
    )
    .bind(feed)
    .fetch_one(db.pool())
    .await?;
    Ok(CursorState {
        last_sequence: row.try_get("last_sequence")?,
        epoch: row.try_get("epoch")?,
        last_event_id: row.try_get("last_event_id")?,
        halted: row.try_get("halted")?,
    })
}

/// The last sequence a consumer applied from `feed`, creating the cursor at 0
/// the first time.
pub async fn cursor_of(db: &Db, feed: &str) -> sqlx::Result<i64> {
    Ok(cursor_state(db, feed).await?.last_sequence)
}

/// Records that the consumer of `feed` halted and why: it reads nothing
/// more, across restarts, until [`resume_from_start`].
pub async fn record_halt(db: &Db, feed: &str, reason: &str) -> sqlx::Result<()> {
    cursor_state(db, feed).await?;
    sqlx::query("UPDATE consumer_cursors SET halted = $1, updated_at = $2 WHERE feed = $3")
        .bind(reason)
        .bind(crate::time::now_micros())
        .bind(feed)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Why the consumer of `feed` halted, or `None` while it follows.
pub async fn halted_reason(db: &Db, feed: &str) -> sqlx::Result<Option<String>> {
    let state = cursor_state(db, feed).await?;
    Ok((!state.halted.is_empty()).then_some(state.halted))
}

/// What [`resume_from_start`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resumed {
    /// It was halted, and now reads the feed again from the start.
    FromStart,
    /// It follows the feed and was not halted: nothing changed.
    NotHalted,
    /// This database holds no consumer of that feed (a misspelt feed, or
    /// the wrong service's database): nothing changed.
    NoSuchConsumer,
}

/// Resumes a halted consumer from the start of the producer's current
/// epoch: it applies the whole feed again, which changes nothing that was
/// already applied (every handler is idempotent) and applies what the old
/// cursor had skipped. A running consumer picks this up within its
/// `max_backoff`.
pub async fn resume_from_start(db: &Db, feed: &str) -> sqlx::Result<Resumed> {
    let resumed = sqlx::query(
        "UPDATE consumer_cursors SET last_sequence = 0, epoch = '', last_event_id = '', halted = '', \
         updated_at = $1 WHERE feed = $2 AND halted <> ''",
    )
    .bind(crate::time::now_micros())
    .bind(feed)
    .execute(db.pool())
    .await?;
    if resumed.rows_affected() == 1 {
        return Ok(Resumed::FromStart);
    }
    let known: Option<i64> =
        sqlx::query_scalar("SELECT last_sequence FROM consumer_cursors WHERE feed = $1")
            .bind(feed)
            .fetch_optional(db.pool())
            .await?;
    Ok(match known {
        Some(_) => Resumed::NotHalted,
        None => Resumed::NoSuchConsumer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Caller, Provenance, SystemIdentity};

    fn system(name: &str) -> Caller {
        Caller::from_system(
            SystemIdentity {
                name: name.into(),
                district: "jingan".into(),
            },
            None,
            Provenance::Verified,
        )
    }

    /// The gateway follows every feed for the live screen as itself: the
    /// permission table lets a system call `WatchEvents`, and the feed admits
    /// the gateway as one of Louyu's services, with no grant to configure.
    #[test]
    fn the_gateway_follows_every_feed_as_itself_and_other_systems_need_a_grant() {
        let gateway = system("gateway");
        assert!(
            crate::permissions::authorize(
                &gateway,
                "/louyu.common.v1.EventFeedService/WatchEvents"
            )
            .is_ok()
        );
        let readers = FeedReaders::new(&[]);
        assert!(readers.admits(&gateway));
        assert!(!readers.admits(&system("hotline-12345")));
        assert!(FeedReaders::new(&["hotline-12345".to_owned()]).admits(&system("hotline-12345")));
    }
}
