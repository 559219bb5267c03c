//! The current signals of each enterprise: one per topic.

use louyu_kit::db::NullableDouble;
use louyu_kit::filter::{SqlQuery, SqlValue};
use louyu_kit::mutation::Mutations;
use louyu_kit::scope::Reach;
use louyu_proto::risk::v1 as proto;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::assessments::{Cause, assessment_within};
use super::{Call, PageQuery, Store};
use crate::domain::{Signal, SignalKind};
use crate::error::RiskError;

pub(super) const COLUMNS: &str =
    "uscc, topic, id, kind, source, observed_at, value, expires_at, due_at, subject";

impl Store {
    /// Makes `signal` the enterprise's current signal of `topic`. Returns
    /// whether anything changed: the same signal again changes nothing.
    pub async fn put_signal(
        &self,
        connection: &mut AnyConnection,
        uscc: &str,
        topic: &str,
        signal: &Signal,
    ) -> Result<bool, RiskError> {
        let current: Option<String> =
            sqlx::query_scalar("SELECT id FROM signals WHERE uscc = $1 AND topic = $2")
                .bind(uscc)
                .bind(topic)
                .fetch_optional(&mut *connection)
                .await?;
        if current.as_deref() == Some(signal.id.as_str()) {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO signals (uscc, topic, id, kind, source, observed_at, value, expires_at, due_at, subject, \
             recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (uscc, topic) DO UPDATE SET id = excluded.id, kind = excluded.kind, \
             source = excluded.source, observed_at = excluded.observed_at, value = excluded.value, \
             expires_at = excluded.expires_at, due_at = excluded.due_at, subject = excluded.subject, \
             recorded_at = excluded.recorded_at",
        )
        .bind(uscc)
        .bind(topic)
        .bind(&signal.id)
        .bind(signal.kind.as_str())
        .bind(&signal.source)
        .bind(signal.observed_at)
        .bind(NullableDouble(signal.value))
        .bind(signal.expires_at)
        .bind(signal.due_at)
        .bind(&signal.subject)
        .bind(louyu_kit::time::now_micros())
        .execute(&mut *connection)
        .await?;
        Ok(true)
    }

    /// Removes the enterprise's signal of `topic`; whether there was one.
    pub async fn remove_signal(
        &self,
        connection: &mut AnyConnection,
        uscc: &str,
        topic: &str,
    ) -> Result<bool, RiskError> {
        let removed = sqlx::query("DELETE FROM signals WHERE uscc = $1 AND topic = $2")
            .bind(uscc)
            .bind(topic)
            .execute(&mut *connection)
            .await?;
        Ok(removed.rows_affected() > 0)
    }

    /// Every current signal of an enterprise.
    pub(super) async fn signals_of(
        &self,
        connection: &mut AnyConnection,
        uscc: &str,
    ) -> Result<Vec<Signal>, RiskError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM signals WHERE uscc = $1 ORDER BY topic"
        )))
        .bind(uscc)
        .fetch_all(&mut *connection)
        .await?;
        rows.iter().map(signal_from_row).collect()
    }

    /// Records a signal from another system (`RecordSignal`), under a topic
    /// of its own, and re-assesses the enterprise in the same transaction.
    pub async fn record_signal(
        &self,
        call: &Call,
        uscc: &str,
        signal: Signal,
    ) -> Result<proto::Signal, RiskError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let known = sqlx::query("SELECT 1 FROM enterprises_seen WHERE uscc = $1")
                .bind(uscc)
                .fetch_optional(&mut *transaction)
                .await?;
            if known.is_none() {
                return Err(RiskError::not_found(self.names.enterprise(uscc)));
            }
            let topic = format!("signal/{}", signal.id);
            self.put_signal(&mut transaction, uscc, &topic, &signal)
                .await?;
            let cause = Cause::signal(&signal);
            let mut events = Vec::new();
            if let Some(event) = self
                .rescore(
                    &mut transaction,
                    uscc,
                    louyu_kit::time::now_micros(),
                    &cause,
                )
                .await?
            {
                events.push(event);
            }
            let recorded = self.signal_to_proto(uscc, &signal);
            let name = recorded.name.clone();
            self.finish(transaction, call, &name, &recorded, events)
                .await?;
            Ok(recorded)
        })
        .await
    }

    /// The current signals of an enterprise within `reach`, by topic.
    pub async fn list_signals(
        &self,
        uscc: &str,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<proto::Signal>, String), RiskError> {
        self.check_assessment_read(uscc, reach).await?;
        let mut query = SqlQuery::new(&format!("SELECT {COLUMNS} FROM signals WHERE uscc = "));
        query.push_value(SqlValue::Text(uscc.to_owned()));
        self.list_page(
            query,
            "topic",
            page,
            |row| {
                let topic: String = row.try_get("topic")?;
                Ok((topic, self.signal_to_proto(uscc, &signal_from_row(row)?)))
            },
            |(topic, _)| topic.clone(),
        )
        .await
        .map(|(items, next)| (items.into_iter().map(|(_, signal)| signal).collect(), next))
    }

    /// NOT_FOUND unless the enterprise's assessment is within `reach`.
    pub(super) async fn check_assessment_read(
        &self,
        uscc: &str,
        reach: &Reach,
    ) -> Result<(), RiskError> {
        match assessment_within("1", uscc, reach)
            .build()
            .fetch_optional(self.db.pool())
            .await?
        {
            Some(_) => Ok(()),
            None => Err(RiskError::not_found(self.names.enterprise(uscc))),
        }
    }

    pub(super) fn signal_to_proto(&self, uscc: &str, signal: &Signal) -> proto::Signal {
        let timestamp = louyu_kit::time::timestamp_from_micros;
        proto::Signal {
            name: format!("{}/signals/{}", self.names.enterprise(uscc), signal.id),
            kind: signal.kind.as_str().to_owned(),
            source: signal.source.clone(),
            observe_time: Some(timestamp(signal.observed_at)),
            value: signal.value,
            expire_time: signal.expires_at.map(timestamp),
            due_time: signal.due_at.map(timestamp),
            subject: signal.subject.clone(),
        }
    }
}

/// The signals of every enterprise keyed from `first` to `last`, by
/// enterprise: one query for a chunk of the district. Keys are compared by
/// the database only (its collation orders them), so the range is the
/// database's and the grouping by equal key.
pub(super) async fn signals_in_range(
    connection: &mut AnyConnection,
    first: &str,
    last: &str,
    expected: usize,
) -> Result<std::collections::HashMap<String, Vec<Signal>>, RiskError> {
    let mut signals: std::collections::HashMap<String, Vec<Signal>> =
        std::collections::HashMap::with_capacity(expected);
    for row in sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM signals WHERE uscc >= $1 AND uscc <= $2 ORDER BY uscc, topic"
    )))
    .bind(first)
    .bind(last)
    .fetch_all(&mut *connection)
    .await?
    .iter()
    {
        let uscc: String = row.try_get("uscc")?;
        signals.entry(uscc).or_default().push(signal_from_row(row)?);
    }
    Ok(signals)
}

pub(super) fn signal_from_row(row: &AnyRow) -> Result<Signal, RiskError> {
    let kind: String = row.try_get("kind")?;
    Ok(Signal {
        id: row.try_get("id")?,
        kind: kind
            .parse::<SignalKind>()
            .map_err(|error| RiskError::Corrupt(error.to_string()))?,
        source: row.try_get("source")?,
        observed_at: row.try_get("observed_at")?,
        value: row.try_get("value")?,
        expires_at: row.try_get("expires_at")?,
        due_at: row.try_get("due_at")?,
        subject: row.try_get("subject")?,
    })
}
