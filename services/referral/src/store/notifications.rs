//! The notification outbox (migration 0101). [`enqueue`] writes a
//! notification in the caller's transaction, so it exists exactly when what
//! it announces committed; the delivery job ([`crate::delivery`]) claims due
//! ones under a lease, sends them and records the outcome; admins list them
//! and replay the dead.
//!
//! The lease is what keeps two replicas on one database from sending one
//! notification at once: [`Store::claim_due`] takes it with one conditional
//! `UPDATE … WHERE lease_until < now`, which on PostgreSQL a second replica
//! racing for the same row re-checks after the first committed, and finds
//! false. A replica that stops mid-send leaves the lease to run out; the
//! notification is then sent again, with the same id, which receivers
//! de-duplicate on. Only the lease holder records a failure, so a replica
//! whose lease ran out cannot overwrite the schedule of the one that took
//! over.

use louyu_kit::filter::{self, Comparison, FieldKind, FilterField, SqlQuery, SqlValue};
use louyu_kit::page::PageQuery;
use louyu_kit::time::timestamp_from_micros;
use louyu_proto::referral::v1 as proto;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Call, Mutations, Store};
use crate::domain::notification::{self, AfterFailure, DeliveryState, Kind, Payload};
use crate::error::ReferralError;

const COLUMNS: &str =
    "id, kind, subject, state, attempts, next_attempt_at, last_error, created_at, delivered_at";

/// Writes a notification of `kind` about `subject` (a resource name: the
/// referral, or the retention case) into the outbox, in the caller's
/// transaction; the delivery job sends it once that commits. Returns its
/// id, which is also its delivery id.
///
/// Every kind goes through here. Breach and escalation (the deadline
/// scanner) and retention cases call it in the transaction that records
/// them, the payload addressed to the departments concerned (resource
/// names, the lead first) with a text in both languages and no personal
/// data:
///
/// ```ignore
/// notifications::enqueue(
///     &mut transaction,
///     Kind::Breach,
///     &referral.name,
///     &Payload {
///         departments: vec![referral.lead_department.clone()],
///         text: Text { zh: "超期：…".into(), en: "Overdue: …".into() },
///     },
/// )
/// .await?;
/// ```
pub async fn enqueue(
    connection: &mut AnyConnection,
    kind: Kind,
    subject: &str,
    payload: &Payload,
) -> Result<String, ReferralError> {
    let id = louyu_kit::names::generate_time_ordered_id("n");
    let now = louyu_kit::time::now_micros();
    let body = notification::body(&id, kind, subject, payload, now);
    sqlx::query(
        "INSERT INTO notifications (id, kind, subject, body, state, attempts, next_attempt_at, lease_holder, \
         lease_until, last_error, created_at, delivered_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6, '', 0, '', $6, NULL, $6)",
    )
    .bind(&id)
    .bind(kind.as_str())
    .bind(subject)
    .bind(body)
    .bind(DeliveryState::Pending.number())
    .bind(now)
    .execute(&mut *connection)
    .await?;
    Ok(id)
}

/// A notification a replica holds the lease of, to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: String,
    /// The exact bytes to send and sign.
    pub body: String,
    /// Attempts made before this one.
    pub attempts: u32,
}

impl Store {
    fn notification_name(&self, id: &str) -> String {
        self.names.name("notifications", id)
    }

    /// Takes the lease of up to `limit` pending notifications that are due
    /// and that no replica holds, for `holder`, until `lease_until`.
    pub async fn claim_due(
        &self,
        holder: &str,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<Claimed>, ReferralError> {
        let now = louyu_kit::time::now_micros();
        let rows = sqlx::query(
            "UPDATE notifications SET lease_holder = $1, lease_until = $2 \
             WHERE id IN (SELECT id FROM notifications \
                 WHERE state = $3 AND next_attempt_at <= $4 AND lease_until < $4 \
                 ORDER BY next_attempt_at, id LIMIT $5) \
             AND state = $3 AND next_attempt_at <= $4 AND lease_until < $4 \
             RETURNING id, body, attempts",
        )
        .bind(holder)
        .bind(lease_until)
        .bind(DeliveryState::Pending.number())
        .bind(now)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Claimed {
                    id: row.try_get("id")?,
                    body: row.try_get("body")?,
                    attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(0),
                })
            })
            .collect()
    }

    /// When the next pending notification falls due (or its lease runs
    /// out), if any is pending.
    pub async fn next_notification_due(&self) -> Result<Option<i64>, ReferralError> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(CASE WHEN lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END) \
             FROM notifications WHERE state = $1",
        )
        .bind(DeliveryState::Pending.number())
        .fetch_one(self.db.pool())
        .await?)
    }

    /// The webhook accepted `claimed`. Recorded whoever holds the lease
    /// now: it was delivered.
    pub async fn mark_delivered(&self, claimed: &Claimed) -> Result<(), ReferralError> {
        let now = louyu_kit::time::now_micros();
        sqlx::query(
            "UPDATE notifications SET state = $1, attempts = $2, delivered_at = $3, last_error = '', \
             lease_holder = '', lease_until = 0, updated_at = $3 WHERE id = $4 AND state = $5",
        )
        .bind(DeliveryState::Delivered.number())
        .bind(i64::from(claimed.attempts + 1))
        .bind(now)
        .bind(&claimed.id)
        .bind(DeliveryState::Pending.number())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// An attempt of `claimed` failed with `error` (a short status line,
    /// shown to admins): schedule the next one, or give it up, if `holder`
    /// still holds the lease.
    pub async fn mark_failed(
        &self,
        claimed: &Claimed,
        holder: &str,
        error: &str,
        after: AfterFailure,
    ) -> Result<(), ReferralError> {
        let now = louyu_kit::time::now_micros();
        let (state, next_attempt_at) = match after {
            AfterFailure::RetryAfter(wait) => (
                DeliveryState::Pending,
                now.saturating_add(i64::try_from(wait.as_micros()).unwrap_or(i64::MAX)),
            ),
            AfterFailure::GiveUp => (DeliveryState::Dead, now),
        };
        sqlx::query(
            "UPDATE notifications SET state = $1, attempts = $2, next_attempt_at = $3, last_error = $4, \
             lease_holder = '', lease_until = 0, updated_at = $5 \
             WHERE id = $6 AND state = $7 AND lease_holder = $8",
        )
        .bind(state.number())
        .bind(i64::from(claimed.attempts + 1))
        .bind(next_attempt_at)
        .bind(error)
        .bind(now)
        .bind(&claimed.id)
        .bind(DeliveryState::Pending.number())
        .bind(holder)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Lists notifications, oldest first.
    pub async fn list_notifications(
        &self,
        page: &PageQuery,
    ) -> Result<(Vec<proto::Notification>, String), ReferralError> {
        let mut query = SqlQuery::new(&format!("SELECT {COLUMNS} FROM notifications WHERE 1 = 1"));
        filter::push_conditions(&page.comparisons, NOTIFICATION_FILTERS, &mut query)?;
        louyu_kit::page::fetch_page(
            self.db.pool(),
            &self.page_tokens,
            query,
            "id",
            louyu_kit::page::Order::Ascending,
            page,
            |row: &AnyRow| -> Result<(String, proto::Notification), ReferralError> {
                Ok((row.try_get("id")?, self.notification_from_row(row)?))
            },
            |(id, _)| id.clone(),
        )
        .await
        .map(|(rows, next)| {
            (
                rows.into_iter()
                    .map(|(_, notification)| notification)
                    .collect(),
                next,
            )
        })
    }

    /// Puts a dead notification back to pending with its attempts reset
    /// and its id kept (`ReplayNotification`); one in another state is
    /// FAILED_PRECONDITION naming it.
    pub async fn replay_notification(
        &self,
        call: &Call,
        id: &str,
    ) -> Result<proto::Notification, ReferralError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let now = louyu_kit::time::now_micros();
            let replayed = sqlx::query(
                "UPDATE notifications SET state = $1, attempts = 0, next_attempt_at = $2, lease_holder = '', \
                 lease_until = 0, updated_at = $2 WHERE id = $3 AND state = $4",
            )
            .bind(DeliveryState::Pending.number())
            .bind(now)
            .bind(id)
            .bind(DeliveryState::Dead.number())
            .execute(&mut *transaction)
            .await?;
            let notification = self.load_notification(&mut transaction, id).await?;
            if replayed.rows_affected() == 0 {
                let state = DeliveryState::from_number(i64::from(notification.state))
                    .map_or("未知 UNKNOWN", DeliveryState::describe);
                return Err(ReferralError::FailedPrecondition(format!(
                    "{} 当前状态为 {state}，只有已放弃的通知可以重发 is {state}: only a DEAD notification is replayed",
                    notification.name
                )));
            }
            let name = notification.name.clone();
            self.finish(transaction, call, &name, &notification, Vec::new())
                .await?;
            Ok(notification)
        })
        .await
    }

    async fn load_notification(
        &self,
        connection: &mut AnyConnection,
        id: &str,
    ) -> Result<proto::Notification, ReferralError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM notifications WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *connection)
        .await?
        .ok_or_else(|| ReferralError::not_found(self.notification_name(id)))?;
        self.notification_from_row(&row)
    }

    fn notification_from_row(&self, row: &AnyRow) -> Result<proto::Notification, ReferralError> {
        let id: String = row.try_get("id")?;
        let kind: String = row.try_get("kind")?;
        let kind = Kind::parse(&kind)
            .ok_or_else(|| ReferralError::Corrupt(format!("unknown notification kind {kind}")))?;
        let state = DeliveryState::from_number(row.try_get("state")?)
            .ok_or_else(|| ReferralError::Corrupt("unknown notification state".to_owned()))?;
        let delivered_at: Option<i64> = row.try_get("delivered_at")?;
        Ok(proto::Notification {
            name: self.notification_name(&id),
            kind: kind.to_proto() as i32,
            subject: row.try_get("subject")?,
            state: state.to_proto() as i32,
            attempts: i32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(i32::MAX),
            last_error: row.try_get("last_error")?,
            create_time: Some(timestamp_from_micros(row.try_get("created_at")?)),
            deliver_time: delivered_at.map(timestamp_from_micros),
            next_attempt_time: (state == DeliveryState::Pending)
                .then(|| row.try_get("next_attempt_at").map(timestamp_from_micros))
                .transpose()?,
        })
    }
}

fn state_number(name: &str) -> Option<i32> {
    proto::NotificationState::from_str_name(name)
        .or_else(|| proto::NotificationState::from_str_name(&format!("NOTIFICATION_STATE_{name}")))
        .map(|state| state as i32)
}

/// `kind = DISPATCH`, `kind = NOTIFICATION_KIND_RETENTION_CASE` or
/// `kind = "retention_case"` (as the body writes it).
fn kind_filter(
    comparison: &Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    filter::equality_only(comparison)?;
    let text = comparison.value.as_text().unwrap_or_default();
    let kind = Kind::parse(text).or_else(|| {
        proto::NotificationKind::from_str_name(text)
            .or_else(|| {
                proto::NotificationKind::from_str_name(&format!("NOTIFICATION_KIND_{text}"))
            })
            .and_then(Kind::from_proto)
    });
    let Some(kind) = kind else {
        return Err(louyu_kit::error::InvalidArgument::new(
            "filter",
            "kind 须为 DISPATCH、WARNING、BREACH、ESCALATION 或 RETENTION_CASE \
             must be DISPATCH, WARNING, BREACH, ESCALATION or RETENTION_CASE",
        ));
    };
    query.push(if matches!(comparison.op, filter::Op::Ne) {
        " AND notifications.kind <> "
    } else {
        " AND notifications.kind = "
    });
    query.push_value(SqlValue::Text(kind.as_str().to_owned()));
    Ok(())
}

const NOTIFICATION_FILTERS: &[FilterField] = &[
    FilterField {
        name: "state",
        column: "notifications.state",
        kind: FieldKind::Enum(state_number),
    },
    FilterField {
        name: "kind",
        column: "notifications.kind",
        kind: FieldKind::Custom(kind_filter),
    },
    FilterField {
        name: "subject",
        column: "notifications.subject",
        kind: FieldKind::Text,
    },
];
