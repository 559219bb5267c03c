//! Putting new rules in force (`ActivateRules`): the call puts the rules
//! in force and starts a long-running operation; this job runs it,
//! re-assessing the whole district chunk by chunk under the new rules while
//! event-driven assessment goes on (each chunk locks only its own rows, for
//! one short transaction). Progress is saved after every chunk with the
//! last enterprise done, under a lease the job renews, so an operation
//! interrupted by a restart (or by its replica stopping) is taken up again
//! where it stopped, by one replica only.

use std::time::Duration;

use louyu_kit::operations::{Operations, Stored};
use louyu_proto::risk::v1::{ActivateRulesMetadata, ActivateRulesRequest, ActivateRulesResponse};
use prost::Message;
use tokio::sync::watch;

use crate::domain::Rules;
use crate::error::RiskError;
use crate::store::{Cause, Store};

/// The kind of the operations this job runs.
pub const KIND: &str = "ActivateRules";

/// How long a replica holds an operation without saving progress before
/// another may take it over.
const LEASE: Duration = Duration::from_secs(60);

/// Enterprises re-assessed per chunk (one transaction each).
const CHUNK: usize = 5_000;

/// Runs activations until the stop signal: takes each unfinished one in
/// turn, looking again every `interval`.
pub async fn run(
    store: Store,
    operations: Operations,
    holder: String,
    mut shutdown: watch::Receiver<bool>,
    interval: Duration,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        match operations.claim(KIND, &holder, LEASE).await {
            Ok(Some(operation)) => {
                let id = operation.id.clone();
                if let Err(error) =
                    run_one(&store, &operations, &holder, operation, &shutdown).await
                {
                    // The lease runs out and the operation is taken up again.
                    tracing::warn!(operation = %id, error = %error, "rule activation stopped; it will be resumed");
                }
                continue;
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(error = %error, "cannot look for rule activations to run");
            }
        }
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

async fn run_one(
    store: &Store,
    operations: &Operations,
    holder: &str,
    operation: Stored,
    shutdown: &watch::Receiver<bool>,
) -> Result<(), RiskError> {
    let id = operation.id;
    let request = ActivateRulesRequest::decode(operation.request.as_slice())
        .map_err(|error| RiskError::Corrupt(format!("operation {id}: {error}")))?;
    let rules = match Rules::parse(&request.document) {
        Ok(rules) => rules,
        Err(error) => {
            // Checked when the call came; a document that no longer parses
            // is refused for good rather than retried for ever.
            operations
                .fail(&id, tonic::Code::InvalidArgument, &error.to_string())
                .await?;
            return Ok(());
        }
    };
    let mut progress: ActivateRulesMetadata = operations.metadata(&id).await?.unwrap_or_default();
    tracing::info!(operation = %id, version = rules.version(), resumed_after = %progress.last_enterprise, "re-assessing the district under new rules");
    let cause = Cause::district_rescored(rules.version());
    let now = louyu_kit::time::now_micros();
    loop {
        if *shutdown.borrow() {
            // Stopping: the next start (here or on another replica) takes
            // it up from the progress saved.
            operations.release(&id, holder).await?;
            tracing::info!(operation = %id, done = progress.done, "rule activation paused for the stop");
            return Ok(());
        }
        let Some(chunk) = store
            .rescore_chunk_after(&rules, now, &progress.last_enterprise, CHUNK, &cause)
            .await?
        else {
            break;
        };
        progress.done += i64::try_from(chunk.enterprises).unwrap_or(i64::MAX);
        progress.changed += i64::try_from(chunk.changed).unwrap_or(i64::MAX);
        progress.last_enterprise = chunk.last;
        if !operations.progress(&id, holder, LEASE, &progress).await? {
            tracing::warn!(operation = %id, "another replica took the rule activation over");
            return Ok(());
        }
    }
    let response = ActivateRulesResponse {
        version: progress.version.clone(),
        assessed: progress.done,
        changed: progress.changed,
    };
    operations.succeed(&id, &progress, &response).await?;
    tracing::info!(operation = %id, assessed = progress.done, changed = progress.changed, "rules in force; the district is re-assessed");
    Ok(())
}
