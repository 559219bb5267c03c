//! The deadline scanner: looks at each referral when its `watch_at` comes
//! (a clock runs out, a breach is due to go up), marks the breach or the
//! escalation and publishes it. The time to look is in the database, so a
//! restart misses nothing: what ran out while the service was down is found
//! at its first pass. Replicas may all scan; the row lock in
//! [`Store::watch`] makes each breach and escalation happen once.
//!
//! After its first pass and then every `metrics_refresh_interval`, while
//! metrics are on, it also counts the referrals past a deadline by
//! department into `louyu_referrals_overdue`, from the database: every
//! replica reports the same, right after a restart too.

use std::time::Duration;

use louyu_kit::config::ServiceName;
use louyu_kit::metrics::{REFERRALS_OVERDUE, Refresh};
use tokio::sync::watch;

use crate::store::Store;

/// Referrals looked at per pass.
const BATCH: i64 = 100;

pub async fn run(
    store: Store,
    mut shutdown: watch::Receiver<bool>,
    interval: Duration,
    metrics_refresh: Duration,
) {
    let mut refresh = Refresh::every(metrics_refresh);
    loop {
        if let Err(error) = pass(&store).await {
            tracing::warn!(%error, "the deadline scanner failed a pass; it tries again");
        }
        if refresh.due()
            && let Err(error) = count_overdue(&store).await
        {
            tracing::warn!(%error, "counting overdue referrals failed; counted again later");
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(interval) => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Sets `louyu_referrals_overdue` from the database, on the process's clock.
async fn count_overdue(store: &Store) -> Result<(), crate::error::ReferralError> {
    let counts = store.count_overdue(louyu_kit::time::now_micros()).await?;
    louyu_kit::metrics::set_counts(
        REFERRALS_OVERDUE,
        ServiceName::Referral.as_str(),
        "department",
        &counts,
    );
    Ok(())
}

/// One pass: every referral due by now, in batches.
async fn pass(store: &Store) -> Result<(), crate::error::ReferralError> {
    loop {
        let now = louyu_kit::time::now_micros();
        let due = store.due_for_watch(now, BATCH).await?;
        let mut taken = 0;
        for id in &due {
            let steps = store.watch(id, now).await?;
            taken += steps;
            if steps > 0 {
                tracing::info!(referral = %id, steps, "deadline breached or escalated");
            }
        }
        if (due.len() as i64) < BATCH || taken == 0 {
            return Ok(());
        }
    }
}
