//! The deadline scanner: looks at each referral when its `watch_at` comes
//! (a clock runs out, a breach is due to go up), marks the breach or the
//! escalation and publishes it. The time to look is in the database, so a
//! restart misses nothing: what ran out while the service was down is found
//! at its first pass. Replicas may all scan; the row lock in
//! [`Store::watch`] makes each breach and escalation happen once.

use std::time::Duration;

use tokio::sync::watch;

use crate::store::Store;

/// Referrals looked at per pass.
const BATCH: i64 = 100;

pub async fn run(store: Store, mut shutdown: watch::Receiver<bool>, interval: Duration) {
    loop {
        if let Err(error) = pass(&store).await {
            tracing::warn!(%error, "the deadline scanner failed a pass; it tries again");
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
