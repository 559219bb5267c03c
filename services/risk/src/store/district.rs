//! The whole district re-assessed at once, as when new rules come into
//! force: a million enterprises in chunks, each chunk read, assessed in
//! memory and written back in a handful of statements.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use louyu_kit::audit::RequestContext;
use louyu_kit::db::{Backend, RowLock, Tx, values_placeholders};
use louyu_kit::feed::NewEvent;
use tokio::task::JoinHandle;

use super::Store;
use super::assessments::{self, Cause, Reassessment, StoredAssessment};
use super::signals;
use crate::domain::{Rules, Signal};
use crate::error::RiskError;

/// Enterprises per chunk of [`Store::rescore_district`]: large enough that
/// the round trips do not count, small enough that a chunk's row locks are
/// held for a fraction of a second.
pub const CHUNK_SIZE: usize = 10_000;

/// How many times a chunk is tried again after PostgreSQL broke a deadlock
/// against it (an event-driven transaction that locked two enterprises in
/// the other order).
const CHUNK_ATTEMPTS: u32 = 3;

/// What a re-assessment of the district did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RescoreSummary {
    /// Enterprises re-assessed.
    pub enterprises: u64,
    /// Of them, those whose computed or effective colour changed (each with
    /// its `AssessmentChanged`).
    pub changed: u64,
    pub duration: Duration,
}

/// Where a chunk ends: after so many rows, or at a key (to do a chunk
/// again over the same range).
enum ChunkEnd {
    Limit(usize),
    Through(String),
}

/// A chunk's rows, locked in its transaction.
struct LockedChunk {
    transaction: Tx,
    current: Vec<StoredAssessment>,
    last_uscc: String,
}

/// A chunk being finished by a task of its own.
struct RunningChunk {
    /// The key its range starts after, and its last key.
    after: String,
    last_uscc: String,
    task: JoinHandle<Result<ChunkDone, RiskError>>,
}

/// One chunk done: how many enterprises, how many changed.
#[derive(Debug, Default)]
struct ChunkDone {
    enterprises: u64,
    changed: u64,
}

impl Store {
    /// Re-assesses every enterprise of the district under `rules` at `now`,
    /// in chunks of [`CHUNK_SIZE`] in key order, calling `progress(done,
    /// total)` after each chunk (`total` counted at the start; enterprises
    /// registered meanwhile may take `done` past it).
    ///
    /// Each chunk is one transaction: its rows are read `FOR UPDATE`, then
    /// their signals and buildings, the chunk is assessed in memory and
    /// written back with one multi-row statement per few thousand rows; its
    /// changes of colour go into the history and their `AssessmentChanged`
    /// events into the outbox in the same transaction. The semantics are
    /// those of [`Store::rescore`]: the effective colour follows a lasting
    /// override, an expired override ends, `next_change_at` is the sooner
    /// of the assessment's and the override's expiry, the building is the
    /// latest active tenancy's.
    ///
    /// Concurrency: the chunk's rows are locked (`FOR UPDATE`, kit's
    /// `Db::row_lock`) before its signals are read, rather than written with
    /// a guarded update. Event-driven scoring (`rescore`) takes the same row
    /// lock, so whichever comes second waits and then reads what the first
    /// committed: a signal recorded meanwhile is either seen by the chunk or
    /// re-assessed after it, and neither write is lost. A guarded update
    /// would need a version on every row and a retry path for the rows it
    /// missed; the lock costs event-driven scoring at most one chunk's time
    /// (a fraction of a second). A deadlock PostgreSQL breaks against a
    /// chunk (a transaction that locked two enterprises in the other order)
    /// is retried. SQLite runs write transactions one at a time.
    ///
    /// The enterprises are the rows of `assessments`: one is written for
    /// every enterprise at its registration and before any assessment.
    ///
    /// Chunks commit one by one: after an error, those committed stay so
    /// (with their events), and a second run re-assesses everything again,
    /// changing only what the first left undone.
    pub async fn rescore_district(
        &self,
        rules: &Rules,
        now: i64,
        progress: impl FnMut(u64, u64),
    ) -> Result<RescoreSummary, RiskError> {
        self.rescore_district_in_chunks(rules, now, CHUNK_SIZE, progress)
            .await
    }

    /// [`Store::rescore_district`] with chunks of `chunk_size` enterprises.
    pub async fn rescore_district_in_chunks(
        &self,
        rules: &Rules,
        now: i64,
        chunk_size: usize,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<RescoreSummary, RiskError> {
        let started = Instant::now();
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM assessments")
            .fetch_one(self.db.pool())
            .await?;
        let total = u64::try_from(total).unwrap_or_default();
        let cause = Cause::district_rescored(rules.version());
        let mut summary = RescoreSummary {
            enterprises: 0,
            changed: 0,
            duration: Duration::ZERO,
        };
        let rules = Arc::new(rules.clone());
        // On PostgreSQL chunks overlap: one is locked and read while those
        // before it are assessed and written, each on a connection of its
        // own, so that the server's writes and this process's work share
        // the cores (on 2 cores, a million enterprises took 34 s with two
        // in flight, 30 s with three). SQLite writes one at a time.
        let in_flight = match self.db.backend() {
            Backend::Postgres => 3,
            Backend::Sqlite => 1,
        };
        let mut running: VecDeque<RunningChunk> = VecDeque::with_capacity(in_flight);
        // The empty string sorts before every key.
        let mut after = String::new();
        loop {
            let end = ChunkEnd::Limit(chunk_size);
            let Some(locked) = self.lock_chunk_retrying(&after, &end).await? else {
                break;
            };
            let chunk_after = std::mem::replace(&mut after, locked.last_uscc.clone());
            let store = self.clone();
            let (chunk_rules, chunk_cause) = (Arc::clone(&rules), cause.clone());
            running.push_back(RunningChunk {
                after: chunk_after,
                last_uscc: locked.last_uscc.clone(),
                task: tokio::spawn(async move {
                    store
                        .finish_chunk(&chunk_rules, locked, now, &chunk_cause)
                        .await
                }),
            });
            while running.len() >= in_flight
                && let Some(chunk) = running.pop_front()
            {
                let done = self.settle_chunk(&rules, now, &cause, chunk).await?;
                summary.enterprises += done.enterprises;
                summary.changed += done.changed;
                progress(summary.enterprises, total.max(summary.enterprises));
            }
        }
        while let Some(chunk) = running.pop_front() {
            let done = self.settle_chunk(&rules, now, &cause, chunk).await?;
            summary.enterprises += done.enterprises;
            summary.changed += done.changed;
            progress(summary.enterprises, total.max(summary.enterprises));
        }
        summary.duration = started.elapsed();
        tracing::info!(
            enterprises = summary.enterprises,
            changed = summary.changed,
            rules_version = rules.version(),
            seconds = summary.duration.as_secs_f64(),
            "re-assessed the district"
        );
        Ok(summary)
    }

    /// Waits for a chunk; one that lost a race PostgreSQL broke for it is
    /// done again over the same range of keys.
    async fn settle_chunk(
        &self,
        rules: &Rules,
        now: i64,
        cause: &Cause,
        chunk: RunningChunk,
    ) -> Result<ChunkDone, RiskError> {
        let mut result = chunk
            .task
            .await
            .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
        let end = ChunkEnd::Through(chunk.last_uscc);
        for attempt in 2..=CHUNK_ATTEMPTS {
            match &result {
                Err(RiskError::Database(error))
                    if louyu_kit::db::is_concurrency_conflict(error) =>
                {
                    tracing::warn!(after = %chunk.after, attempt, "a chunk of the district lost a race; trying it again");
                }
                _ => break,
            }
            result = match self.lock_chunk(&chunk.after, &end).await {
                Ok(Some(locked)) => self.finish_chunk(rules, locked, now, cause).await,
                Ok(None) => Ok(ChunkDone::default()),
                Err(error) => Err(error),
            };
        }
        result
    }

    /// [`Store::lock_chunk`], tried again after a deadlock.
    async fn lock_chunk_retrying(
        &self,
        after: &str,
        end: &ChunkEnd,
    ) -> Result<Option<LockedChunk>, RiskError> {
        let mut attempt = 1;
        loop {
            match self.lock_chunk(after, end).await {
                Err(RiskError::Database(error))
                    if attempt < CHUNK_ATTEMPTS
                        && louyu_kit::db::is_concurrency_conflict(&error) =>
                {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// Begins a chunk's transaction and locks its rows: those after `after`
    /// in key order, up to `end`. `None` when there are none.
    async fn lock_chunk(
        &self,
        after: &str,
        end: &ChunkEnd,
    ) -> Result<Option<LockedChunk>, RiskError> {
        let mut transaction = self.db.begin_write().await?;
        let lock = self.db.row_lock(RowLock::ForUpdate, "assessments");
        let columns = assessments::COLUMNS;
        let query = match end {
            ChunkEnd::Limit(chunk_size) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {columns} FROM assessments WHERE uscc > $1 ORDER BY uscc LIMIT $2{lock}"
            )))
            .bind(after)
            .bind(i64::try_from(*chunk_size).unwrap_or(i64::MAX)),
            ChunkEnd::Through(last) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {columns} FROM assessments WHERE uscc > $1 AND uscc <= $2 ORDER BY uscc{lock}"
            )))
            .bind(after)
            .bind(last.clone()),
        };
        let rows = query.fetch_all(&mut *transaction).await?;
        let current: Vec<StoredAssessment> = rows
            .iter()
            .map(StoredAssessment::from_row)
            .collect::<Result<_, _>>()?;
        let Some(last) = current.last() else {
            transaction.rollback().await?;
            return Ok(None);
        };
        Ok(Some(LockedChunk {
            last_uscc: last.uscc.clone(),
            transaction,
            current,
        }))
    }

    /// Reads a locked chunk's signals and buildings, assesses it, writes it
    /// back with its history and events, and commits.
    async fn finish_chunk(
        &self,
        rules: &Rules,
        locked: LockedChunk,
        now: i64,
        cause: &Cause,
    ) -> Result<ChunkDone, RiskError> {
        let LockedChunk {
            mut transaction,
            current,
            last_uscc,
        } = locked;
        let first_uscc = current
            .first()
            .map(|first| first.uscc.clone())
            .unwrap_or_default();
        // Keys are compared by the database only (its collation orders
        // them), so the chunk's signals and tenancies are those in its
        // range, matched by equal key.
        let signals =
            signals::signals_in_range(&mut transaction, &first_uscc, &last_uscc, current.len())
                .await?;
        // The latest active tenancy of each enterprise: the first of its rows.
        let mut buildings: HashMap<String, String> = HashMap::with_capacity(current.len());
        let tenancies: Vec<(String, String)> = sqlx::query_as(
            "SELECT uscc, building_id FROM tenancies_seen WHERE active = 1 AND uscc >= $1 AND uscc <= $2 \
             ORDER BY uscc, started_at DESC, tenancy_id DESC",
        )
        .bind(&first_uscc)
        .bind(&last_uscc)
        .fetch_all(&mut *transaction)
        .await?;
        for (uscc, building_id) in tenancies {
            buildings.entry(uscc).or_insert(building_id);
        }

        let now = assessments::after_stored(now, &current);
        let reassessments = assess_chunk(rules, current, &signals, &mut buildings, now)?;
        let enterprises = reassessments.len() as u64;
        self.write_chunk(&mut transaction, &reassessments, now, cause)
            .await?;
        let events: Vec<NewEvent> = reassessments
            .iter()
            .filter(|reassessment| reassessment.changed())
            .map(|reassessment| self.change_event(reassessment))
            .collect();
        let changed = events.len() as u64;
        if events.is_empty() {
            transaction.commit().await?;
        } else {
            let context = RequestContext::system("rescore-district");
            louyu_kit::feed::append_all(&mut transaction, &context, events).await?;
            self.db.commit_with_events(transaction).await?;
        }
        Ok(ChunkDone {
            enterprises,
            changed,
        })
    }

    /// Writes a chunk's re-assessments: the overrides that ended, every
    /// row, and the history of the colours that changed, each in
    /// statements of as many rows as the backend's parameter limit allows.
    async fn write_chunk(
        &self,
        connection: &mut sqlx::AnyConnection,
        reassessments: &[Reassessment],
        now: i64,
        cause: &Cause,
    ) -> Result<(), RiskError> {
        let max_parameters = self.db.backend().max_parameters();

        let ended: Vec<&str> = reassessments
            .iter()
            .filter(|reassessment| reassessment.override_ended)
            .map(|reassessment| reassessment.assessed.uscc.as_str())
            .collect();
        for batch in ended.chunks(max_parameters) {
            let sql = format!(
                "UPDATE assessments SET override_colour = NULL, override_reason = NULL, override_actor = NULL, \
                 override_set_at = NULL, override_expires_at = NULL WHERE uscc IN ({})",
                (1..=batch.len())
                    .map(|number| format!("${number}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut update = sqlx::query(sqlx::AssertSqlSafe(sql));
            for uscc in batch {
                update = update.bind(*uscc);
            }
            update.execute(&mut *connection).await?;
        }

        // `rules_version` and `assessed_at` are the same for every row: $1, $2.
        const UPDATE_COLUMNS: usize = 7;
        let rows_per_update = (max_parameters - 2) / UPDATE_COLUMNS;
        for batch in reassessments.chunks(rows_per_update) {
            let sql = format!(
                "WITH v (uscc, colour, effective_colour, score, explanation, building_id, next_change_at) \
                 AS (VALUES {}) \
                 UPDATE assessments SET colour = v.colour, effective_colour = v.effective_colour, \
                 score = v.score, rules_version = $1, explanation = v.explanation, building_id = v.building_id, \
                 assessed_at = $2, next_change_at = v.next_change_at FROM v WHERE assessments.uscc = v.uscc",
                values_placeholders(batch.len(), UPDATE_COLUMNS, 3)
            );
            let rules_version = batch
                .first()
                .map(|reassessment| reassessment.assessed.rules_version.clone())
                .unwrap_or_default();
            let mut update = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(rules_version)
                .bind(now);
            for reassessment in batch {
                let assessed = &reassessment.assessed;
                update = update
                    .bind(assessed.uscc.clone())
                    .bind(assessed.colour)
                    .bind(assessed.effective_colour)
                    .bind(assessed.score)
                    .bind(assessed.explanation.clone())
                    .bind(assessed.building_id.clone())
                    .bind(assessed.next_change_at);
            }
            update.execute(&mut *connection).await?;
        }

        const CHANGE_COLUMNS: usize = 8;
        let changes: Vec<&Reassessment> = reassessments
            .iter()
            .filter(|reassessment| reassessment.effective_changed())
            .collect();
        for batch in changes.chunks(max_parameters / CHANGE_COLUMNS) {
            let sql = format!(
                "INSERT INTO assessment_changes (id, uscc, previous_colour, colour, score, cause_zh, cause_en, \
                 changed_at) VALUES {}",
                values_placeholders(batch.len(), CHANGE_COLUMNS, 1)
            );
            let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
            for reassessment in batch {
                let cause = reassessment.cause(cause);
                insert = insert
                    .bind(assessments::change_id(now))
                    .bind(reassessment.assessed.uscc.clone())
                    .bind(reassessment.previous_effective)
                    .bind(reassessment.assessed.effective_colour)
                    .bind(reassessment.assessed.score)
                    .bind(cause.0.zh)
                    .bind(cause.0.en)
                    .bind(now);
            }
            insert.execute(&mut *connection).await?;
        }
        Ok(())
    }
}

/// Assesses a chunk in memory.
fn assess_chunk(
    rules: &Rules,
    current: Vec<StoredAssessment>,
    signals: &HashMap<String, Vec<Signal>>,
    buildings: &mut HashMap<String, String>,
    now: i64,
) -> Result<Vec<Reassessment>, RiskError> {
    current
        .into_iter()
        .map(|stored| {
            let enterprise_signals = signals
                .get(&stored.uscc)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let building_id = buildings.remove(&stored.uscc);
            Reassessment::decide(rules, stored, enterprise_signals, building_id, now)
        })
        .collect()
}

/// One chunk of a re-assessment driven from outside (rule activation, which
/// saves its progress after each chunk so that it can resume).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkOutcome {
    pub enterprises: u64,
    pub changed: u64,
    /// The last enterprise of the chunk: where the next one starts.
    pub last: String,
}

impl Store {
    /// Re-assesses the next `chunk_size` enterprises after `after` (the
    /// empty string: from the first) under `rules`, in one transaction, as
    /// a chunk of [`Store::rescore_district`] is; `None` when none is left.
    pub async fn rescore_chunk_after(
        &self,
        rules: &Rules,
        now: i64,
        after: &str,
        chunk_size: usize,
        cause: &Cause,
    ) -> Result<Option<ChunkOutcome>, RiskError> {
        let Some(locked) = self
            .lock_chunk_retrying(after, &ChunkEnd::Limit(chunk_size))
            .await?
        else {
            return Ok(None);
        };
        let last = locked.last_uscc.clone();
        let store = self.clone();
        let (chunk_rules, chunk_cause) = (Arc::new(rules.clone()), cause.clone());
        let running = RunningChunk {
            after: after.to_owned(),
            last_uscc: last.clone(),
            task: tokio::spawn(async move {
                store
                    .finish_chunk(&chunk_rules, locked, now, &chunk_cause)
                    .await
            }),
        };
        let done = self.settle_chunk(rules, now, cause, running).await?;
        Ok(Some(ChunkOutcome {
            enterprises: done.enterprises,
            changed: done.changed,
            last,
        }))
    }
}
