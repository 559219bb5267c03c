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

use std::pin::Pin;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use louyu_proto::common::v1::event_feed_service_client::EventFeedServiceClient;
use louyu_proto::common::v1::event_feed_service_server::EventFeedService;
use louyu_proto::common::v1::{Event, WatchEventsRequest, WatchEventsResponse};
use sqlx::{AnyConnection, Row};
use tokio::sync::watch;
use tonic::{Request, Response, Status};
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

const DEFAULT_BATCH: i64 = 100;
const MAX_BATCH: i64 = 1000;

/// Serves `louyu.common.v1.EventFeedService` from a service's outbox.
#[derive(Debug, Clone)]
pub struct FeedServer {
    db: Db,
    shutdown: watch::Receiver<bool>,
    poll_interval: Duration,
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
        }
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
        let mut shutdown = self.shutdown.clone();
        let poll_interval = self.poll_interval;
        let mut committed = db.watch_events();
        let mut cursor = request.after_sequence;
        let stream = async_stream::try_stream! {
            loop {
                if *shutdown.borrow() {
                    break;
                }
                committed.borrow_and_update();
                let events = read_after(&db, cursor, batch)
                    .await
                    .map_err(|error| crate::error::internal("read the event feed", &error))?;
                if let Some(last) = events.last() {
                    cursor = last.sequence;
                    yield WatchEventsResponse { events };
                    continue;
                }
                tokio::select! {
                    _ = committed.changed() => {}
                    _ = tokio::time::sleep(poll_interval) => {}
                    _ = shutdown.changed() => {}
                }
            }
        };
        Ok(Response::new(Box::pin(stream)))
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

/// Follows another service's feed, applying each event and advancing the
/// cursor in the same transaction.
pub struct Consumer<H> {
    feed: String,
    endpoint: String,
    db: Db,
    handler: H,
    initial_backoff: Duration,
    max_backoff: Duration,
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
}

impl<H: EventHandler> Consumer<H> {
    /// `feed` names the cursor (e.g. `registry`); `endpoint` is the
    /// producer's URL (e.g. `http://registry:50051`).
    pub fn new(feed: &str, endpoint: &str, db: Db, handler: H) -> Self {
        Self {
            feed: feed.to_owned(),
            endpoint: endpoint.to_owned(),
            db,
            handler,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }

    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// Runs until `shutdown` turns true, reconnecting with exponential
    /// backoff whenever the producer is unreachable or a step fails.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = self.initial_backoff;
        while !*shutdown.borrow() {
            let outcome = tokio::select! {
                outcome = self.follow(&mut backoff) => outcome,
                _ = shutdown.changed() => break,
            };
            if let Err(error) = outcome {
                tracing::warn!(
                    feed = %self.feed,
                    retry_in_ms = backoff.as_millis() as u64,
                    error = %crate::error::ErrorChain(&error),
                    "event consumer interrupted"
                );
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => break,
            }
            backoff = (backoff * 2).min(self.max_backoff);
        }
    }

    /// The last sequence applied.
    pub async fn cursor(&self) -> sqlx::Result<i64> {
        cursor_of(&self.db, &self.feed).await
    }

    async fn follow(&self, backoff: &mut Duration) -> Result<(), ConsumeError> {
        let mut cursor = self.cursor().await?;
        let mut client = EventFeedServiceClient::connect(self.endpoint.clone()).await?;
        let mut stream = client
            .watch_events(WatchEventsRequest {
                after_sequence: cursor,
                max_batch_size: 0,
            })
            .await?
            .into_inner();
        while let Some(batch) = stream.next().await {
            for event in batch?.events {
                if event.sequence != cursor + 1 {
                    return Err(ConsumeError::OutOfOrder {
                        expected: cursor + 1,
                        found: event.sequence,
                    });
                }
                self.apply(cursor, &event).await?;
                cursor = event.sequence;
                *backoff = self.initial_backoff;
            }
        }
        Ok(())
    }

    async fn apply(&self, cursor: i64, event: &Event) -> Result<(), ConsumeError> {
        let span = tracing::info_span!(
            "apply event",
            feed = %self.feed,
            sequence = event.sequence,
            event_type = %event.event_type
        );
        crate::telemetry::set_parent_from_traceparent(&span, &event.traceparent);
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
                "UPDATE consumer_cursors SET last_sequence = $1, updated_at = $2 \
                 WHERE feed = $3 AND last_sequence = $4",
            )
            .bind(event.sequence)
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

/// The last sequence a consumer applied from `feed`, creating the cursor at 0
/// the first time.
pub async fn cursor_of(db: &Db, feed: &str) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO consumer_cursors (feed, last_sequence, updated_at) VALUES ($1, 0, $2) \
         ON CONFLICT (feed) DO NOTHING",
    )
    .bind(feed)
    .bind(crate::time::now_micros())
    .execute(db.pool())
    .await?;
    sqlx::query_scalar("SELECT last_sequence FROM consumer_cursors WHERE feed = $1")
        .bind(feed)
        .fetch_one(db.pool())
        .await
}
