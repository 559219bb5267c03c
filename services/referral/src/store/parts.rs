//! Referrals split by hand into parts (FHIR subtasks): each part is a
//! referral of its own, sent to its own departments with its own clocks,
//! naming the whole in `part_of`. The whole keeps the demand: its
//! departments are the union of its parts', it completes (or fails) when
//! every part is done, the enterprise answers on it, and a "not solved"
//! reopens its completed parts; cancelling it cancels its open parts.

use louyu_kit::feed::NewEvent;
use louyu_proto::referral::v1::{self as proto, ReferralState as State};
use sqlx::{AnyConnection, Row};

use super::referrals::{Opened, acting_of, record_from_row};
use super::{Call, DemandFacts, Mutations, Store};
use crate::domain::Rules;
use crate::domain::referral::{self, Acting, Move};
use crate::domain::state::Action;
use crate::error::ReferralError;
use crate::events;

/// One part as a request gives it: department ids (the lead first) and
/// what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInput {
    pub departments: Vec<String>,
    pub description: String,
}

impl Store {
    /// Splits a whole into `parts` (`SplitReferral`): the whole moves to
    /// in progress and opens each part, in one transaction with the audit
    /// record and every event.
    pub async fn split(
        &self,
        call: &Call,
        id: &str,
        parts: Vec<PartInput>,
        note: String,
    ) -> Result<proto::Referral, ReferralError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.judge_move(&mut transaction, call, id).await?;
            let acting = acting_of(call);
            let (_, mut changed) = self
                .move_in(
                    &mut transaction,
                    id,
                    Move::Split { note: note.clone() },
                    &acting,
                )
                .await?;
            let facts = self.facts_of_referral(id).await?;
            for (index, part) in parts.into_iter().enumerate() {
                let facts = DemandFacts {
                    description: part.description,
                    ..facts.clone()
                };
                // Named after the whole, in the request's order: the first
                // part's lead leads the whole.
                let part_id = format!("{id}-p{:02}", index + 1);
                if let Opened::New(_, event) = self
                    .open_part(
                        &mut transaction,
                        &part_id,
                        &facts,
                        part.departments,
                        &[],
                        &acting,
                        note.clone(),
                        Some(id),
                    )
                    .await?
                {
                    changed.push(event);
                }
            }
            let (rules, _) = self.rules_in_force(&mut transaction).await?;
            let now = louyu_kit::time::now_micros();
            changed.extend(
                self.after_part_of(&mut transaction, id, &rules, now)
                    .await?,
            );
            let whole = self.load(&mut transaction, id).await?;
            let name = whole.name.clone();
            self.finish(transaction, call, &name, &whole, changed)
                .await?;
            Ok(whole)
        })
        .await
    }

    /// After a part moved: the whole of `part_id` takes its parts'
    /// departments and concludes when they are all done.
    pub(super) async fn after_part(
        &self,
        connection: &mut AnyConnection,
        part_id: &str,
        rules: &Rules,
        now: i64,
    ) -> Result<Vec<NewEvent>, ReferralError> {
        let whole: String = sqlx::query_scalar("SELECT part_of FROM referrals WHERE id = $1")
            .bind(part_id)
            .fetch_one(&mut *connection)
            .await?;
        self.after_part_of(connection, &whole, rules, now).await
    }

    /// The whole `whole_id` after its parts moved (see [`Store::after_part`]).
    async fn after_part_of(
        &self,
        connection: &mut AnyConnection,
        whole_id: &str,
        rules: &Rules,
        now: i64,
    ) -> Result<Vec<NewEvent>, ReferralError> {
        let row = self.lock(connection, whole_id).await?;
        let mut whole = record_from_row(&row)?;
        whole.departments = self.departments_of(connection, whole_id).await?;
        let rows = sqlx::query(
            "SELECT id, state, outcome, failure_reason FROM referrals WHERE part_of = $1 ORDER BY id",
        )
        .bind(whole_id)
        .fetch_all(&mut *connection)
        .await?;
        let mut parts = Vec::with_capacity(rows.len());
        let mut departments: Vec<String> = Vec::new();
        for part in &rows {
            let id: String = part.try_get("id")?;
            for department in self.departments_of(connection, &id).await? {
                if !departments.contains(&department) {
                    departments.push(department);
                }
            }
            parts.push((
                State::try_from(part.try_get::<i64, _>("state")? as i32)
                    .unwrap_or(State::Unspecified),
                part.try_get::<String, _>("outcome")?,
                part.try_get::<String, _>("failure_reason")?,
            ));
        }
        let regrouped = departments != whole.departments;
        whole.departments = departments;
        let step = referral::conclude(&mut whole, &parts, now);
        if step.is_none() && !regrouped {
            return Ok(Vec::new());
        }
        self.save(
            connection,
            whole_id,
            &whole,
            rules,
            step.as_slice(),
            regrouped,
        )
        .await?;
        let referral = self.load(connection, whole_id).await?;
        Ok(vec![events::referral_changed(&referral)])
    }

    /// After a split whole moved: a "not solved" reopens its completed
    /// parts; a cancellation cancels its open parts.
    pub(super) async fn after_whole(
        &self,
        connection: &mut AnyConnection,
        whole_id: &str,
        action: Action,
        rules: &Rules,
        now: i64,
        acting: &Acting,
    ) -> Result<Vec<NewEvent>, ReferralError> {
        if !matches!(action, Action::Reopen | Action::Cancel) {
            return Ok(Vec::new());
        }
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM referrals WHERE part_of = $1 ORDER BY id")
                .bind(whole_id)
                .fetch_all(&mut *connection)
                .await?;
        let mut changed = Vec::new();
        for id in ids {
            let row = self.lock(connection, &id).await?;
            let mut part = record_from_row(&row)?;
            part.departments = self.departments_of(connection, &id).await?;
            let step = match action {
                Action::Reopen => referral::reopen_part(&mut part, rules, now),
                _ => referral::apply(
                    &mut part,
                    Move::Cancel {
                        reason: "总单已撤销 the whole was cancelled".to_owned(),
                    },
                    rules,
                    now,
                    acting,
                )
                .ok(),
            };
            let Some(step) = step else {
                continue;
            };
            self.save(
                connection,
                &id,
                &part,
                rules,
                std::slice::from_ref(&step),
                false,
            )
            .await?;
            let referral = self.load(connection, &id).await?;
            changed.push(events::referral_changed(&referral));
        }
        Ok(changed)
    }
}
