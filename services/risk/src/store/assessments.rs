//! Each enterprise's assessment, re-computed whenever one of its signals
//! changes or time alone changes it, and the history of its colour.

use louyu_kit::db::RowLock;
use louyu_kit::feed::NewEvent;
use louyu_kit::filter::{self, FieldKind, FilterField, SqlQuery, SqlValue};
use louyu_kit::names::last_id;
use louyu_kit::scope::{Reach, ScopeSql, WriteDenied};
use louyu_proto::common::v1::RiskColour;
use louyu_proto::risk::v1 as proto;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Call, Mutations, PageQuery, Store};
use crate::domain::{self, Colour, Rules, Signal, Text};
use crate::error::RiskError;
use crate::events;

/// The Get whose reach tells PERMISSION_DENIED from NOT_FOUND for a write.
const GET_ASSESSMENT: &str = "/louyu.risk.v1.RiskService/GetAssessment";

/// Which assessments a caller's reach covers: by the enterprise's building
/// (kept from the registry's feed) or the enterprise assigned by name.
pub const ASSESSMENTS: ScopeSql = ScopeSql {
    own_assignments: Some(louyu_kit::own_assignments_sql!(
        "assessments.building_id",
        "assessments.uscc"
    )),
    own_sub_district: Some(louyu_kit::own_sub_district_buildings_sql!(
        "assessments.building_id"
    )),
    // Department officers reach the enterprises of the referrals addressed
    // to their department (the referral service's feed says which).
    own_department: Some(louyu_kit::referred_enterprises_sql!("assessments.uscc")),
};

pub(super) const COLUMNS: &str = "uscc, colour, score, rules_version, explanation, building_id, assessed_at, \
     next_change_at, effective_colour, override_colour, override_reason, override_actor, override_set_at, \
     override_expires_at";

/// What caused a re-assessment, as the history records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause(pub Text);

impl Cause {
    /// A signal arrived or changed.
    pub fn signal(signal: &Signal) -> Self {
        let kind = signal.kind.describe();
        Self(if signal.subject.is_empty() {
            kind
        } else {
            Text::new(
                format!("{}（{}）", kind.zh, signal.subject),
                format!("{} ({})", kind.en, signal.subject),
            )
        })
    }

    /// A signal no longer holds (a tenancy ended, a demand was resolved, a
    /// later visit observed otherwise).
    pub fn ended(what: &Text) -> Self {
        Self(Text::new(
            format!("不再{}", what.zh),
            format!("no longer: {}", what.en),
        ))
    }

    /// Time alone: a lease end nearer, a demand open longer, a signal
    /// expired.
    pub fn time() -> Self {
        Self(Text::new("时间推移", "time passing"))
    }

    /// The whole district was re-assessed, as when rules come into force.
    pub fn district_rescored(rules_version: &str) -> Self {
        Self(Text::new(
            format!("全区按规则 {rules_version} 重新评估"),
            format!("the district was re-assessed under rules {rules_version}"),
        ))
    }

    /// The enterprise was registered.
    pub fn registered() -> Self {
        Self(Text::new("企业登记", "the enterprise was registered"))
    }

    /// An admin set the colour by hand.
    pub fn override_set(actor: &str, reason: &str) -> Self {
        Self(Text::new(
            format!("{actor} 人工调整：{reason}"),
            format!("set by hand by {actor}: {reason}"),
        ))
    }

    /// An override ended: at its expiry, or cleared early.
    pub fn override_ended(actor: Option<&str>, reason: &str) -> Self {
        Self(match actor {
            None => Text::new("人工调整到期", "the colour set by hand expired"),
            Some(actor) => Text::new(
                format!("{actor} 取消人工调整：{reason}"),
                format!("{actor} ended the colour set by hand: {reason}"),
            ),
        })
    }
}

/// A colour set by hand, as stored.
#[derive(Debug, Clone)]
pub struct OverrideInput {
    pub colour: Colour,
    pub reason: String,
    pub expires_at: i64,
}

/// An assessment's explanation, as stored (JSON).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
struct Explanation {
    factors: Vec<StoredFactor>,
    #[serde(default)]
    floor: Option<Text>,
    #[serde(default)]
    what_would_change: Vec<Text>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredFactor {
    signal: String,
    kind: String,
    points: i32,
    reason: Text,
}

/// An assessment as stored: one row of `assessments`.
#[derive(Debug, Clone)]
pub(super) struct StoredAssessment {
    pub(super) uscc: String,
    /// The computed colour (0 before the first assessment).
    pub(super) colour: i64,
    /// The colour the district acts on: the override's while it lasts.
    pub(super) effective_colour: i64,
    pub(super) score: i64,
    pub(super) rules_version: String,
    /// [`Explanation`] as JSON.
    pub(super) explanation: String,
    pub(super) building_id: Option<String>,
    pub(super) assessed_at: i64,
    pub(super) next_change_at: Option<i64>,
    pub(super) override_colour: Option<i64>,
    pub(super) override_reason: Option<String>,
    pub(super) override_actor: Option<String>,
    pub(super) override_set_at: Option<i64>,
    pub(super) override_expires_at: Option<i64>,
}

impl StoredAssessment {
    /// Reads a row selected with [`COLUMNS`].
    pub(super) fn from_row(row: &AnyRow) -> Result<Self, RiskError> {
        Ok(Self {
            uscc: row.try_get("uscc")?,
            colour: row.try_get("colour")?,
            effective_colour: row.try_get("effective_colour")?,
            score: row.try_get("score")?,
            rules_version: row.try_get("rules_version")?,
            explanation: row.try_get("explanation")?,
            building_id: row.try_get("building_id")?,
            assessed_at: row.try_get("assessed_at")?,
            next_change_at: row.try_get("next_change_at")?,
            override_colour: row.try_get("override_colour")?,
            override_reason: row.try_get("override_reason")?,
            override_actor: row.try_get("override_actor")?,
            override_set_at: row.try_get("override_set_at")?,
            override_expires_at: row.try_get("override_expires_at")?,
        })
    }

    fn clear_override(&mut self) {
        self.override_colour = None;
        self.override_reason = None;
        self.override_actor = None;
        self.override_set_at = None;
        self.override_expires_at = None;
    }
}

/// One enterprise re-assessed in memory, from its row as it was, its
/// current signals and the building of its latest active tenancy: what
/// [`Store::rescore`] writes for one enterprise and
/// [`Store::rescore_district`] for many at once.
#[derive(Debug, Clone)]
pub(super) struct Reassessment {
    pub(super) previous_colour: i64,
    pub(super) previous_effective: i64,
    /// The row as it is to be written.
    pub(super) assessed: StoredAssessment,
    /// The override had expired by `now`: it ends with this re-assessment.
    pub(super) override_ended: bool,
    /// `assessed.explanation` before it was written as JSON.
    explanation: Explanation,
}

impl Reassessment {
    pub(super) fn decide(
        rules: &Rules,
        mut current: StoredAssessment,
        signals: &[Signal],
        building_id: Option<String>,
        now: i64,
    ) -> Result<Self, RiskError> {
        let previous_colour = current.colour;
        let previous_effective = current.effective_colour;
        // An override lasts until its expiry, then ends by itself here.
        let override_lasts = current
            .override_expires_at
            .filter(|expires_at| *expires_at > now);
        let override_ended = current.override_colour.is_some() && override_lasts.is_none();
        if override_ended {
            current.clear_override();
        }
        let assessment = domain::assess(rules, signals, now);
        let explanation = Explanation {
            factors: assessment
                .factors
                .iter()
                .map(|factor| StoredFactor {
                    signal: factor.signal_id.clone(),
                    kind: factor.kind.as_str().to_owned(),
                    points: factor.points,
                    reason: factor.reason.clone(),
                })
                .collect(),
            floor: assessment.floor.as_ref().map(|(_, reason)| reason.clone()),
            what_would_change: assessment.what_would_change.clone(),
        };
        let colour = i64::from(assessment.colour.to_proto() as i32);
        let effective_colour = match (current.override_colour, override_lasts) {
            (Some(overridden), Some(_)) => overridden,
            _ => colour,
        };
        let next_change_at = match (assessment.next_change_at, override_lasts) {
            (Some(change), Some(expiry)) => Some(change.min(expiry)),
            (change, expiry) => change.or(expiry),
        };
        Ok(Self {
            previous_colour,
            previous_effective,
            assessed: StoredAssessment {
                colour,
                effective_colour,
                score: i64::from(assessment.score),
                rules_version: assessment.rules_version,
                explanation: serde_json::to_string(&explanation)?,
                building_id,
                assessed_at: now,
                next_change_at,
                ..current
            },
            override_ended,
            explanation,
        })
    }

    /// The computed or the effective colour changed (or this is the first
    /// assessment): an `AssessmentChanged` is due.
    pub(super) fn changed(&self) -> bool {
        self.previous_colour != self.assessed.colour
            || self.previous_effective != self.assessed.effective_colour
    }

    /// The colour the district acts on changed: the history records it.
    pub(super) fn effective_changed(&self) -> bool {
        self.previous_effective != self.assessed.effective_colour
    }

    /// Why the colour changed: the override's end when it ended, else
    /// `cause`.
    pub(super) fn cause(&self, cause: &Cause) -> Cause {
        if self.override_ended {
            Cause::override_ended(None, "")
        } else {
            cause.clone()
        }
    }
}

/// The instant to assess at: `now`, or just after the latest stored
/// assessment of the rows locked when that is later. A transaction reads its
/// clock before it waits for a row's lock; when another one, with a later
/// clock, committed first, this one comes after it, so that an enterprise's
/// history stays in the order of its changes.
pub(super) fn after_stored<'a>(
    now: i64,
    locked: impl IntoIterator<Item = &'a StoredAssessment>,
) -> i64 {
    locked
        .into_iter()
        .map(|stored| stored.assessed_at)
        .max()
        .filter(|latest| *latest > now)
        .map_or(now, |latest| latest.saturating_add(1))
}

/// A new row of `assessment_changes`, whose id sorts in time order, so the
/// history pages by id.
pub(super) fn change_id(now: i64) -> String {
    format!("{now:020}{}", louyu_kit::names::generate_id("-"))
}

impl Store {
    /// Re-assesses an enterprise inside the caller's transaction, at `now`,
    /// and returns the event that announces a change of colour (or the
    /// first assessment), if any. Concurrent re-assessments of one
    /// enterprise queue on its row.
    pub async fn rescore(
        &self,
        connection: &mut AnyConnection,
        uscc: &str,
        now: i64,
        cause: &Cause,
    ) -> Result<Option<NewEvent>, RiskError> {
        sqlx::query(
            "INSERT INTO assessments (uscc, colour, effective_colour, score, rules_version, explanation, building_id, \
             assessed_at, next_change_at) VALUES ($1, 0, 0, 0, '', '{}', NULL, 0, NULL) ON CONFLICT (uscc) DO NOTHING",
        )
        .bind(uscc)
        .execute(&mut *connection)
        .await?;
        let lock = self.db.row_lock(RowLock::ForUpdate, "assessments");
        let current = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM assessments WHERE uscc = $1{lock}"
        )))
        .bind(uscc)
        .fetch_one(&mut *connection)
        .await?;
        let current = StoredAssessment::from_row(&current)?;
        let now = after_stored(now, [&current]);
        let signals = self.signals_of(connection, uscc).await?;
        let building_id: Option<String> = sqlx::query_scalar(
            "SELECT building_id FROM tenancies_seen WHERE uscc = $1 AND active = 1 \
             ORDER BY started_at DESC, tenancy_id DESC LIMIT 1",
        )
        .bind(uscc)
        .fetch_optional(&mut *connection)
        .await?;
        let rules = self.rules_in_force(connection).await?;
        let reassessment = Reassessment::decide(&rules, current, &signals, building_id, now)?;
        let assessed = &reassessment.assessed;
        if reassessment.override_ended {
            sqlx::query(
                "UPDATE assessments SET override_colour = NULL, override_reason = NULL, override_actor = NULL, \
                 override_set_at = NULL, override_expires_at = NULL WHERE uscc = $1",
            )
            .bind(uscc)
            .execute(&mut *connection)
            .await?;
        }
        sqlx::query(
            "UPDATE assessments SET colour = $1, effective_colour = $2, score = $3, rules_version = $4, \
             explanation = $5, building_id = $6, assessed_at = $7, next_change_at = $8 WHERE uscc = $9",
        )
        .bind(assessed.colour)
        .bind(assessed.effective_colour)
        .bind(assessed.score)
        .bind(&assessed.rules_version)
        .bind(&assessed.explanation)
        .bind(assessed.building_id.clone())
        .bind(now)
        .bind(assessed.next_change_at)
        .bind(uscc)
        .execute(&mut *connection)
        .await?;
        if !reassessment.changed() {
            return Ok(None);
        }
        if reassessment.effective_changed() {
            let cause = reassessment.cause(cause);
            sqlx::query(
                "INSERT INTO assessment_changes (id, uscc, previous_colour, colour, score, cause_zh, cause_en, \
                 changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(change_id(now))
            .bind(uscc)
            .bind(reassessment.previous_effective)
            .bind(assessed.effective_colour)
            .bind(assessed.score)
            .bind(&cause.0.zh)
            .bind(&cause.0.en)
            .bind(now)
            .execute(&mut *connection)
            .await?;
        }
        tracing::info!(
            enterprise = %self.names.enterprise(uscc),
            from = reassessment.previous_effective,
            to = assessed.effective_colour,
            computed = assessed.colour,
            "assessment changed colour"
        );
        Ok(Some(self.change_event(&reassessment)))
    }

    /// The `AssessmentChanged` that announces a re-assessment.
    pub(super) fn change_event(&self, reassessment: &Reassessment) -> NewEvent {
        let assessed = self
            .assessment_with_explanation(&reassessment.assessed, reassessment.explanation.clone());
        events::assessment_changed(
            colour_of(reassessment.previous_colour),
            colour_of(reassessment.previous_effective),
            &assessed,
        )
    }

    /// Sets an enterprise's colour by hand (`SetColourOverride`): within
    /// the call's reach, audited, re-assessed at once.
    pub async fn set_override(
        &self,
        call: &Call,
        uscc: &str,
        input: OverrideInput,
    ) -> Result<proto::Assessment, RiskError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.check_assessment_write(&mut transaction, call, uscc).await?;
            let now = louyu_kit::time::now_micros();
            let actor = call.context.actor.clone();
            // An enterprise the registry's feed has not brought yet has no
            // assessment to set a colour beside: refused as missing, never
            // accepted and lost.
            let set = sqlx::query(
                "UPDATE assessments SET override_colour = $1, override_reason = $2, override_actor = $3, \
                 override_set_at = $4, override_expires_at = $5 WHERE uscc = $6 AND colour <> 0",
            )
            .bind(i64::from(input.colour.to_proto() as i32))
            .bind(&input.reason)
            .bind(&actor)
            .bind(now)
            .bind(input.expires_at)
            .bind(uscc)
            .execute(&mut *transaction)
            .await?;
            if set.rows_affected() == 0 {
                return Err(RiskError::not_found(self.assessment_name(uscc)));
            }
            let cause = Cause::override_set(&actor, &input.reason);
            self.reassess_and_answer(transaction, call, uscc, now, &cause)
                .await
        })
        .await
    }

    /// Ends an override early (`ClearColourOverride`).
    pub async fn clear_override(
        &self,
        call: &Call,
        uscc: &str,
        reason: &str,
    ) -> Result<proto::Assessment, RiskError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.check_assessment_write(&mut transaction, call, uscc).await?;
            let now = louyu_kit::time::now_micros();
            let cleared = sqlx::query(
                "UPDATE assessments SET override_colour = NULL, override_reason = NULL, override_actor = NULL, \
                 override_set_at = NULL, override_expires_at = NULL WHERE uscc = $1 AND override_colour IS NOT NULL",
            )
            .bind(uscc)
            .execute(&mut *transaction)
            .await?;
            if cleared.rows_affected() == 0 {
                return Err(RiskError::FailedPrecondition(format!(
                    "没有人工调整的颜色 {} has no colour set by hand",
                    self.assessment_name(uscc)
                )));
            }
            let cause = Cause::override_ended(Some(&call.context.actor), reason);
            self.reassess_and_answer(transaction, call, uscc, now, &cause)
                .await
        })
        .await
    }

    /// Ends a change to an override: re-assesses the enterprise with
    /// `cause`, commits with the call's key, audit record and events, and
    /// answers with the assessment.
    async fn reassess_and_answer(
        &self,
        mut transaction: louyu_kit::db::Tx,
        call: &Call,
        uscc: &str,
        now: i64,
        cause: &Cause,
    ) -> Result<proto::Assessment, RiskError> {
        let events: Vec<NewEvent> = self
            .rescore(&mut transaction, uscc, now, cause)
            .await?
            .into_iter()
            .collect();
        let row = self.assessment_row(&mut transaction, uscc).await?;
        let assessment = self.assessment_from_row(&row)?;
        let name = assessment.name.clone();
        self.finish(transaction, call, &name, &assessment, events)
            .await?;
        Ok(assessment)
    }

    /// For a write to an enterprise's assessment: nothing when it is within
    /// the call's reach (its row then locked); PERMISSION_DENIED when the
    /// caller may only read it; NOT_FOUND, as for an enterprise never
    /// assessed, otherwise.
    async fn check_assessment_write(
        &self,
        connection: &mut AnyConnection,
        call: &Call,
        uscc: &str,
    ) -> Result<(), RiskError> {
        let lock = self.db.row_lock(RowLock::ForUpdate, "assessments");
        let judged = louyu_kit::scope::judge_write(connection, call, GET_ASSESSMENT, |reach| {
            let mut query = assessment_within("1", uscc, reach);
            query.push(&lock);
            query
        })
        .await?;
        judged.map_err(|denied| match denied {
            WriteDenied::PermissionDenied => RiskError::PermissionDenied(format!(
                "{} 不在您可更改的范围内 is outside what you may change",
                self.assessment_name(uscc)
            )),
            WriteDenied::NotFound => RiskError::not_found(self.assessment_name(uscc)),
        })
    }

    async fn assessment_row(
        &self,
        connection: &mut AnyConnection,
        uscc: &str,
    ) -> Result<AnyRow, RiskError> {
        Ok(sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM assessments WHERE uscc = $1"
        )))
        .bind(uscc)
        .fetch_one(&mut *connection)
        .await?)
    }

    /// The enterprises whose assessment time alone has changed by `now`,
    /// soonest first, at most `limit`.
    pub async fn due_for_rescore(&self, now: i64, limit: i64) -> Result<Vec<String>, RiskError> {
        Ok(sqlx::query_scalar(
            "SELECT uscc FROM assessments WHERE next_change_at IS NOT NULL AND next_change_at <= $1 \
             ORDER BY next_change_at, uscc LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?)
    }

    /// Re-assesses one enterprise whose time has come, in a transaction of
    /// its own. A replica that got there first leaves nothing to do: the
    /// row no longer is due once locked.
    pub async fn rescore_due(&self, uscc: &str, now: i64) -> Result<bool, RiskError> {
        let mut transaction = self.db.begin_write().await?;
        let lock = self.db.row_lock(RowLock::ForUpdate, "assessments");
        let due: Option<Option<i64>> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT next_change_at FROM assessments WHERE uscc = $1{lock}"
        )))
        .bind(uscc)
        .fetch_optional(&mut *transaction)
        .await?;
        if !matches!(due, Some(Some(at)) if at <= now) {
            return Ok(false);
        }
        let event = self
            .rescore(&mut transaction, uscc, now, &Cause::time())
            .await?;
        if let Some(event) = event {
            let context = louyu_kit::audit::RequestContext::system("rescore");
            louyu_kit::feed::append(&mut transaction, &context, event).await?;
            self.db.commit_with_events(transaction).await?;
        } else {
            transaction.commit().await?;
        }
        Ok(true)
    }

    pub async fn get_assessment(
        &self,
        uscc: &str,
        reach: &Reach,
    ) -> Result<proto::Assessment, RiskError> {
        let row = assessment_within(COLUMNS, uscc, reach)
            .build()
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| RiskError::not_found(self.assessment_name(uscc)))?;
        self.assessment_from_row(&row)
    }

    pub async fn list_assessments(
        &self,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<proto::Assessment>, String), RiskError> {
        let mut query = SqlQuery::new(&format!(
            "SELECT {COLUMNS} FROM assessments WHERE colour <> 0"
        ));
        reach.push_condition(&mut query, &ASSESSMENTS);
        filter::push_conditions(&page.comparisons, ASSESSMENT_FILTERS, &mut query)?;
        self.list_page(
            query,
            "uscc",
            page,
            |row| self.assessment_from_row(row),
            |item| last_id(&item.enterprise).to_owned(),
        )
        .await
    }

    /// The changes of an enterprise's colour, oldest first.
    pub async fn list_changes(
        &self,
        uscc: &str,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<proto::AssessmentChange>, String), RiskError> {
        self.check_assessment_read(uscc, reach).await?;
        let mut query = SqlQuery::new(
            "SELECT id, uscc, previous_colour, colour, score, cause_zh, cause_en, changed_at \
             FROM assessment_changes WHERE uscc = ",
        );
        query.push_value(SqlValue::Text(uscc.to_owned()));
        self.list_page(
            query,
            "id",
            page,
            |row| {
                let key: String = row.try_get("id")?;
                Ok((
                    key,
                    proto::AssessmentChange {
                        enterprise: self.names.enterprise(uscc),
                        previous_colour: row.try_get::<i64, _>("previous_colour")? as i32,
                        colour: row.try_get::<i64, _>("colour")? as i32,
                        score: row.try_get::<i64, _>("score")? as i32,
                        cause: Some(proto::LocalizedText {
                            zh: row.try_get("cause_zh")?,
                            en: row.try_get("cause_en")?,
                        }),
                        change_time: Some(louyu_kit::time::timestamp_from_micros(
                            row.try_get("changed_at")?,
                        )),
                    },
                ))
            },
            |(key, _)| key.clone(),
        )
        .await
        .map(|(items, next)| (items.into_iter().map(|(_, change)| change).collect(), next))
    }

    fn assessment_name(&self, uscc: &str) -> String {
        format!("{}/assessment", self.names.enterprise(uscc))
    }

    fn assessment_from_row(&self, row: &AnyRow) -> Result<proto::Assessment, RiskError> {
        self.assessment_to_proto(&StoredAssessment::from_row(row)?)
    }

    fn assessment_to_proto(
        &self,
        stored: &StoredAssessment,
    ) -> Result<proto::Assessment, RiskError> {
        let explanation: Explanation = serde_json::from_str(&stored.explanation)?;
        Ok(self.assessment_with_explanation(stored, explanation))
    }

    /// The assessment in `stored`, whose explanation is `explanation`.
    fn assessment_with_explanation(
        &self,
        stored: &StoredAssessment,
        explanation: Explanation,
    ) -> proto::Assessment {
        let uscc = &stored.uscc;
        let colour_override = stored.override_colour.map(|colour| proto::ColourOverride {
            colour: colour as i32,
            reason: stored.override_reason.clone().unwrap_or_default(),
            expire_time: stored
                .override_expires_at
                .map(louyu_kit::time::timestamp_from_micros),
            actor: stored.override_actor.clone().unwrap_or_default(),
            create_time: stored
                .override_set_at
                .map(louyu_kit::time::timestamp_from_micros),
        });
        let text = |text: Text| proto::LocalizedText {
            zh: text.zh,
            en: text.en,
        };
        proto::Assessment {
            name: self.assessment_name(uscc),
            enterprise: self.names.enterprise(uscc),
            colour: stored.colour as i32,
            score: stored.score as i32,
            rules_version: stored.rules_version.clone(),
            factors: explanation
                .factors
                .into_iter()
                .map(|factor| proto::Factor {
                    signal: format!("{}/signals/{}", self.names.enterprise(uscc), factor.signal),
                    kind: factor.kind,
                    points: factor.points,
                    reason: Some(text(factor.reason)),
                })
                .collect(),
            floor_reason: explanation.floor.map(text),
            what_would_change: explanation
                .what_would_change
                .into_iter()
                .map(text)
                .collect(),
            assess_time: Some(louyu_kit::time::timestamp_from_micros(stored.assessed_at)),
            next_change_time: stored
                .next_change_at
                .map(louyu_kit::time::timestamp_from_micros),
            building: stored
                .building_id
                .as_ref()
                .map(|id| self.names.building(id))
                .unwrap_or_default(),
            colour_override,
            effective_colour: stored.effective_colour as i32,
        }
    }
}

/// `SELECT <columns>` of an enterprise's assessment when it has been
/// assessed and lies within `reach`.
pub(super) fn assessment_within(columns: &str, uscc: &str, reach: &Reach) -> SqlQuery {
    let mut query = SqlQuery::new(&format!(
        "SELECT {columns} FROM assessments WHERE colour <> 0 AND uscc = "
    ));
    query.push_value(SqlValue::Text(uscc.to_owned()));
    reach.push_condition(&mut query, &ASSESSMENTS);
    query
}

fn colour_of(stored: i64) -> RiskColour {
    i32::try_from(stored)
        .ok()
        .and_then(|number| RiskColour::try_from(number).ok())
        .unwrap_or(RiskColour::Unspecified)
}

fn colour_number(value: &str) -> Option<i32> {
    louyu_kit::fields::enum_number("RISK_COLOUR_", value, |name| {
        RiskColour::from_str_name(name).map(|colour| colour as i32)
    })
    .filter(|number| Colour::from_proto(*number).is_some())
}

/// A colour compared with any operator (`colour >= ORANGE`: orange and
/// red), colours being ordered from green to red.
fn push_colour_condition(
    column: &'static str,
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    let number = match &comparison.value {
        filter::Literal::Word(word) | filter::Literal::Text(word) => colour_number(word),
        filter::Literal::Number(_) => None,
    }
    .ok_or_else(|| {
        louyu_kit::error::InvalidArgument::new(
            "filter",
            format!(
                "{} 须为颜色 must be a colour: GREEN, BLUE, YELLOW, ORANGE or RED",
                comparison.field
            ),
        )
    })?;
    // The colour's number, compared as an integer column is.
    let as_number = filter::Comparison {
        field: "colour".to_owned(),
        op: comparison.op,
        value: filter::Literal::Number(f64::from(number)),
    };
    filter::push_conditions(
        &[as_number],
        &[FilterField {
            name: "colour",
            column,
            kind: FieldKind::Integer,
        }],
        query,
    )
}

fn colour_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    push_colour_condition("assessments.colour", comparison, query)
}

fn effective_colour_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    push_colour_condition("assessments.effective_colour", comparison, query)
}

fn building_filter(
    comparison: &filter::Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    filter::push_resource_id_condition(comparison, "assessments.building_id", query)
}

const ASSESSMENT_FILTERS: &[FilterField] = &[
    FilterField {
        name: "colour",
        column: "colour",
        kind: FieldKind::Custom(colour_filter),
    },
    FilterField {
        name: "effective_colour",
        column: "effective_colour",
        kind: FieldKind::Custom(effective_colour_filter),
    },
    FilterField {
        name: "building",
        column: "building_id",
        kind: FieldKind::Custom(building_filter),
    },
];
