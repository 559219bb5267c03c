//! Time alone changes a colour: a lease end comes nearer, a demand stays
//! open, a signal expires. Each assessment keeps when it will next change
//! with no new signal (`next_change_at`); this job re-assesses every
//! enterprise whose time has come, so it survives restarts (the times are
//! in the database) and two replicas share it (each enterprise is
//! re-assessed under its row lock, and one that is no longer due is
//! skipped).
//!
//! At its first round and then every `metrics_refresh_interval`, while
//! metrics are on, it also counts the enterprises by colour into
//! `louyu_enterprises_by_colour`, from the database: every replica reports
//! the district's count, right after a restart too.

use std::time::Duration;

use louyu_kit::config::ServiceName;
use louyu_kit::metrics::{ENTERPRISES_BY_COLOUR, Refresh};
use tokio::sync::watch;

use crate::store::Store;

/// How many due enterprises one round takes.
const BATCH: i64 = 500;

/// Re-assesses due enterprises every `interval` until the stop signal,
/// and counts the colours every `metrics_refresh`.
pub async fn run(
    store: Store,
    mut shutdown: watch::Receiver<bool>,
    interval: Duration,
    metrics_refresh: Duration,
) {
    let mut refresh = Refresh::every(metrics_refresh);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let full = match round(&store).await {
            Ok(done) => done as i64 == BATCH,
            Err(error) => {
                tracing::warn!(error = %error, "re-assessing due enterprises failed; retrying");
                false
            }
        };
        if refresh.due()
            && let Err(error) = count_colours(&store).await
        {
            tracing::warn!(error = %error, "counting enterprises by colour failed; counted again later");
        }
        if full {
            continue;
        }
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// Sets `louyu_enterprises_by_colour` from the database.
async fn count_colours(store: &Store) -> Result<(), crate::error::RiskError> {
    let counts: Vec<(String, u64)> = store
        .count_by_colour()
        .await?
        .into_iter()
        .map(|(colour, count)| (colour.as_str().to_owned(), count))
        .collect();
    louyu_kit::metrics::set_counts(
        ENTERPRISES_BY_COLOUR,
        ServiceName::Risk.as_str(),
        "colour",
        &counts,
    );
    Ok(())
}

/// One round: the enterprises due by now, soonest first.
async fn round(store: &Store) -> Result<usize, crate::error::RiskError> {
    let now = louyu_kit::time::now_micros();
    let due = store.due_for_rescore(now, BATCH).await?;
    for uscc in &due {
        store.rescore_due(uscc, now).await?;
    }
    if !due.is_empty() {
        tracing::info!(
            count = due.len(),
            "re-assessed enterprises whose time had come"
        );
    }
    Ok(due.len())
}
