//! The delivery job: sends the notification outbox to the webhook. It
//! claims due notifications a few at a time under a lease
//! ([`Store::claim_due`]), POSTs each, and records the outcome: delivered on
//! a 2xx; otherwise tried again after a doubling, capped, jittered wait, and
//! given up as dead after the most attempts, for an admin to replay. A
//! receiver that is down delays notifications and loses none: each waits,
//! pending, until it is accepted or its attempts are spent, and the dead
//! stay listed.
//!
//! It wakes when this process commits (a referral dispatched here), when
//! the next retry falls due, and at least every poll interval (for what
//! another replica wrote). At the stop signal it finishes the attempts in
//! flight (each bounded by the webhook's timeout) and returns, so a graceful
//! restart sends nothing twice; a crash leaves the leases to run out and the
//! next replica sends those notifications again, under the same delivery id.

use std::time::Duration;

use louyu_kit::config::WebhookSettings;
use tokio::sync::watch;

use crate::domain::notification::{AfterFailure, RetryPolicy};
use crate::store::Store;
use crate::store::notifications::Claimed;
use crate::webhook::{Outcome, Webhook};

/// Notifications claimed and sent at once. Each claim is held for at most
/// one attempt, so a lease outlives its attempt however slow the receiver.
const BATCH: i64 = 4;

/// How much longer than an attempt's timeout the lease lasts: room to
/// record the outcome.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// The shortest wait between two looks, so that a notification due but
/// held by another replica is not polled in a tight loop.
const MIN_WAIT: Duration = Duration::from_millis(10);

pub struct Delivery {
    store: Store,
    webhook: Webhook,
    policy: RetryPolicy,
    /// Who holds the leases this process takes: unique per process.
    holder: String,
    lease: Duration,
    poll_interval: Duration,
}

impl Delivery {
    pub fn new(
        store: Store,
        settings: &WebhookSettings,
        holder: String,
        poll_interval: Duration,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            store,
            webhook: Webhook::new(settings)?,
            policy: RetryPolicy {
                max_attempts: settings.max_attempts,
                base: settings.backoff_base,
                cap: settings.backoff_cap,
            },
            holder,
            lease: settings.timeout + LEASE_MARGIN,
            poll_interval,
        })
    }

    /// Delivers until the stop signal.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut committed = self.store.db().watch_events();
        loop {
            if *shutdown.borrow() {
                return;
            }
            committed.borrow_and_update();
            match self.deliver_due().await {
                // A full batch: more may be due at once.
                Ok(claimed) if claimed == BATCH => continue,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(error = %louyu_kit::error::ErrorChain(&error), "cannot deliver notifications; trying again");
                }
            }
            let wait = self.wait().await;
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = committed.changed() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Claims and sends one batch of due notifications; how many it
    /// claimed.
    async fn deliver_due(&self) -> Result<i64, crate::error::ReferralError> {
        let lease_until = louyu_kit::time::now_micros()
            + i64::try_from(self.lease.as_micros()).unwrap_or(i64::MAX / 2);
        let claimed = self
            .store
            .claim_due(&self.holder, lease_until, BATCH)
            .await?;
        let count = i64::try_from(claimed.len()).unwrap_or(BATCH);
        let attempts = claimed
            .iter()
            .map(|notification| self.attempt(notification));
        for recorded in futures::future::join_all(attempts).await {
            recorded?;
        }
        Ok(count)
    }

    async fn attempt(&self, claimed: &Claimed) -> Result<(), crate::error::ReferralError> {
        match self.webhook.post(&claimed.id, &claimed.body).await {
            Outcome::Delivered => {
                tracing::debug!(notification = %claimed.id, attempts = claimed.attempts + 1, "notification delivered");
                self.store.mark_delivered(claimed).await
            }
            Outcome::Failed(error) => {
                let attempts = claimed.attempts + 1;
                let jitter = f64::from(rand::random::<u32>()) / f64::from(u32::MAX);
                let after = self.policy.after_failure(attempts, jitter);
                match after {
                    AfterFailure::RetryAfter(wait) => tracing::info!(
                        notification = %claimed.id,
                        attempts,
                        %error,
                        retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "webhook delivery failed; it will be tried again"
                    ),
                    AfterFailure::GiveUp => tracing::warn!(
                        notification = %claimed.id,
                        attempts,
                        %error,
                        "webhook delivery failed for the last time; the notification is dead until replayed"
                    ),
                }
                self.store
                    .mark_failed(claimed, &self.holder, &error, after)
                    .await
            }
        }
    }

    /// Until the next notification falls due, at most the poll interval.
    async fn wait(&self) -> Duration {
        let next_due = match self.store.next_notification_due().await {
            Ok(next_due) => next_due,
            Err(error) => {
                tracing::warn!(error = %louyu_kit::error::ErrorChain(&error), "cannot read when the next notification is due");
                None
            }
        };
        let Some(next_due) = next_due else {
            return self.poll_interval;
        };
        let until = next_due.saturating_sub(louyu_kit::time::now_micros());
        let until = Duration::from_micros(u64::try_from(until).unwrap_or(0));
        until.clamp(MIN_WAIT, self.poll_interval.max(MIN_WAIT))
    }
}
