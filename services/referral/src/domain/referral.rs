//! One referral's record and the moves that change it: which states each
//! move is made from, what it sets, and how the three clocks run. The
//! store loads a [`Record`], [`apply`] changes it, the store writes it
//! back with the [`Step`] it took, in one transaction.

use louyu_proto::common::v1::{DemandCategory, RiskColour};
use louyu_proto::referral::v1::{ReferralState as State, RejectionReason, Resolution};
use louyu_proto::visits::v1::Urgency;
use serde::{Deserialize, Serialize};

use super::calendar::shanghai_date;
use super::rules::Rules;
use super::state::{self, Action};

/// A referral as its moves see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub state: State,
    pub round: u32,
    pub category: DemandCategory,
    pub urgency: Urgency,
    /// The enterprise's colour now (from the risk feed; not stored with
    /// the referral): deadlines may depend on it.
    pub colour: RiskColour,
    /// Department ids, the lead first.
    pub departments: Vec<String>,
    pub clocks: Clocks,
    pub outcome: String,
    pub failure_reason: String,
    pub rejection: Option<RejectionRecord>,
    pub rejection_count: u32,
    pub confirmation: Option<ConfirmationRecord>,
    pub warned: bool,
    pub suspension: Option<SuspensionRecord>,
    pub rules_version: String,
    /// Left out of the scorecard after review.
    pub exclusion: Option<ExclusionRecord>,
    /// Split into parts: the parts are moved instead.
    pub split: bool,
    /// A part of a split referral: the enterprise answers on the whole.
    pub part: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExclusionRecord {
    pub reason: String,
    pub actor: String,
    pub at: i64,
}

/// The three clocks, in microseconds since the epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Clocks {
    pub dispatched_at: Option<i64>,
    pub accept_due: Option<i64>,
    pub first_contact_due: Option<i64>,
    pub complete_due: Option<i64>,
    /// Working days completion is allowed so far, extensions included.
    pub complete_days: u32,
    pub accepted_at: Option<i64>,
    pub first_contact_at: Option<i64>,
    pub completed_at: Option<i64>,
    /// Clocks that ran out unmet: `accept`, `first-contact`, `complete`.
    pub breached: Vec<String>,
    pub escalation_level: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectionRecord {
    pub department: String,
    pub reason: i32,
    pub note: String,
    pub actor: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmationRecord {
    pub resolution: i32,
    pub satisfaction: u8,
    pub note: String,
    pub actor: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspensionRecord {
    pub reason: String,
    pub approver: String,
    pub at: i64,
    /// The state to return to.
    pub from_state: i32,
}

/// A move with what it carries. Text is validated before it gets here.
#[derive(Debug, Clone, PartialEq)]
pub enum Move {
    /// To these department ids, the lead first.
    Dispatch {
        departments: Vec<String>,
        note: String,
    },
    Accept {
        note: String,
    },
    Reject {
        reason: RejectionReason,
        note: String,
    },
    FirstContact {
        note: String,
    },
    Start {
        note: String,
    },
    Complete {
        outcome: String,
    },
    Fail {
        reason: String,
    },
    /// The enterprise's word; confirms or reopens.
    Answer {
        resolution: Resolution,
        satisfaction: u8,
        note: String,
    },
    Cancel {
        reason: String,
    },
    Suspend {
        reason: String,
    },
    Resume {
        note: String,
    },
    Extend {
        working_days: u32,
        reason: String,
    },
    Exclude {
        reason: String,
    },
    /// Into parts the store opens; the whole waits for them.
    Split {
        note: String,
    },
}

/// Who makes a move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acting {
    /// The verified caller, or `system:<job>`.
    pub actor: String,
    /// The department the actor acts for, if any.
    pub department: Option<String>,
    /// Whether the actor speaks for the district (rules on disputes).
    pub district: bool,
}

/// One move taken, as the history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub from: State,
    pub to: State,
    pub action: Action,
    pub actor: String,
    pub department: String,
    pub note: String,
    pub at: i64,
}

/// Why a move was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not from this state.
    State { action: Action, state: State },
    /// The request's field is wrong for this referral.
    Field {
        field: &'static str,
        message: String,
    },
    /// Only the district may make it (a dispute over responsibility).
    DistrictOnly(String),
    /// Not on a split whole, or not on a part.
    Parts(String),
}

impl Record {
    /// A new referral of a demand, dispatched to `departments` (lead first)
    /// or, with none, waiting to be routed by hand.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        category: DemandCategory,
        urgency: Urgency,
        colour: RiskColour,
        departments: Vec<String>,
        rules: &Rules,
        now: i64,
        acting: &Acting,
        note: String,
    ) -> (Record, Step) {
        let mut record = Record {
            state: State::Unrouted,
            round: 1,
            category,
            urgency,
            colour,
            departments: Vec::new(),
            clocks: Clocks::default(),
            outcome: String::new(),
            failure_reason: String::new(),
            rejection: None,
            rejection_count: 0,
            confirmation: None,
            warned: false,
            suspension: None,
            rules_version: rules.version().to_owned(),
            exclusion: None,
            split: false,
            part: false,
        };
        let to = if departments.is_empty() {
            State::Unrouted
        } else {
            record.dispatch(departments, rules, now);
            State::Requested
        };
        record.state = to;
        let step = Step {
            from: State::Unspecified,
            to,
            action: Action::Dispatch,
            actor: acting.actor.clone(),
            department: String::new(),
            note,
            at: now,
        };
        (record, step)
    }

    pub fn lead(&self) -> Option<&str> {
        self.departments.first().map(String::as_str)
    }

    fn dispatch(&mut self, departments: Vec<String>, rules: &Rules, now: i64) {
        let days = rules.days_for(self.category, self.urgency, self.colour);
        let calendar = rules.calendar();
        self.departments = departments;
        self.rules_version = rules.version().to_owned();
        self.clocks = Clocks {
            dispatched_at: Some(now),
            accept_due: Some(calendar.due_after(now, days.accept)),
            first_contact_due: Some(calendar.due_after(now, days.first_contact)),
            complete_due: Some(calendar.due_after(now, days.complete)),
            complete_days: days.complete,
            ..Clocks::default()
        };
        self.rejection = None;
    }
}

/// Makes `movement` on `record`, or says why not.
pub fn apply(
    record: &mut Record,
    movement: Move,
    rules: &Rules,
    now: i64,
    acting: &Acting,
) -> Result<Step, Refusal> {
    let action = match &movement {
        Move::Dispatch { .. } => Action::Dispatch,
        Move::Accept { .. } => Action::Accept,
        Move::Reject { .. } => Action::Reject,
        Move::FirstContact { .. } => Action::FirstContact,
        Move::Start { .. } => Action::Start,
        Move::Complete { .. } => Action::Complete,
        Move::Fail { .. } => Action::Fail,
        Move::Answer {
            resolution,
            satisfaction,
            ..
        } => {
            if state::answer_reopens(*resolution == Resolution::NotSolved, *satisfaction) {
                Action::Reopen
            } else {
                Action::Confirm
            }
        }
        Move::Cancel { .. } => Action::Cancel,
        Move::Suspend { .. } => Action::Suspend,
        Move::Resume { .. } => Action::Resume,
        Move::Extend { .. } => Action::Extend,
        Move::Exclude { .. } => Action::Exclude,
        Move::Split { .. } => Action::Split,
    };
    if record.split && state::part_work(action) {
        return Err(Refusal::Parts(
            "已拆分，请办理各子单 it is split: its parts are moved instead".to_owned(),
        ));
    }
    if record.part && matches!(action, Action::Confirm | Action::Reopen | Action::Split) {
        return Err(Refusal::Parts(
            "这是子单，企业评价记在总单上 it is a part: the enterprise answers on the whole"
                .to_owned(),
        ));
    }
    let from = record.state;
    if !action.from_states().contains(&from) {
        return Err(Refusal::State {
            action,
            state: from,
        });
    }
    let calendar = rules.calendar();
    let department = acting
        .department
        .clone()
        .filter(|department| record.departments.contains(department))
        .or_else(|| record.lead().map(str::to_owned))
        .unwrap_or_default();
    let mut to = action.to_state().unwrap_or(from);
    let note = match movement {
        Move::Dispatch { departments, note } => {
            let disputed = record.rejection.as_ref().is_some_and(|rejection| {
                rejection.reason == RejectionReason::NotResponsible as i32
            });
            if from == State::Rejected && disputed && !acting.district {
                return Err(Refusal::DistrictOnly(
                    "退回理由为非本部门职责，由区里裁定 the department said it is not responsible: \
                     the district rules on the dispute"
                        .to_owned(),
                ));
            }
            if departments.is_empty() {
                return Err(Refusal::Field {
                    field: "departments",
                    message: "按规则找不到部门，请指定部门 the rules match no department; name the departments"
                        .to_owned(),
                });
            }
            record.dispatch(departments, rules, now);
            note
        }
        Move::Accept { note } => {
            record.clocks.accepted_at = Some(now);
            note
        }
        Move::Reject { reason, note } => {
            record.rejection = Some(RejectionRecord {
                department: department.clone(),
                reason: reason as i32,
                note: note.clone(),
                actor: acting.actor.clone(),
                at: now,
            });
            record.rejection_count += 1;
            note
        }
        Move::FirstContact { note } => {
            if let Some(at) = record.clocks.first_contact_at {
                return Err(Refusal::Field {
                    field: "name",
                    message: format!(
                        "已于{}记录先行联系 first contact was recorded already, at {}",
                        louyu_kit::time::shanghai_time(at),
                        louyu_kit::time::shanghai_time(at)
                    ),
                });
            }
            record.clocks.first_contact_at = Some(now);
            note
        }
        Move::Start { note } => note,
        Move::Complete { outcome } => {
            record.clocks.completed_at = Some(now);
            record.outcome = outcome.clone();
            outcome
        }
        Move::Fail { reason } => {
            record.failure_reason = reason.clone();
            reason
        }
        Move::Answer {
            resolution,
            satisfaction,
            note,
        } => {
            record.confirmation = Some(ConfirmationRecord {
                resolution: resolution as i32,
                satisfaction,
                note: note.clone(),
                actor: acting.actor.clone(),
                at: now,
            });
            if action == Action::Reopen {
                // 预警: a second round, due within the rules' days.
                record.warned = true;
                record.round += 1;
                record.clocks.completed_at = None;
                record.clocks.complete_due =
                    Some(calendar.due_after(now, rules.second_round_days()));
                record.clocks.complete_days = rules.second_round_days();
                record.clocks.breached.retain(|clock| clock != "complete");
                if record.split {
                    // Its parts run the second round's clocks.
                    record.clocks = Clocks::default();
                }
            }
            note
        }
        Move::Cancel { reason } => reason,
        Move::Suspend { reason } => {
            record.suspension = Some(SuspensionRecord {
                reason: reason.clone(),
                approver: acting.actor.clone(),
                at: now,
                from_state: from as i32,
            });
            reason
        }
        Move::Resume { note } => {
            let suspension = record
                .suspension
                .take()
                .expect("a referral on hold has its suspension");
            let suspended =
                calendar.working_days_between(shanghai_date(suspension.at), shanghai_date(now));
            let clocks = &mut record.clocks;
            let unmet = [
                (&mut clocks.accept_due, clocks.accepted_at.is_some()),
                (
                    &mut clocks.first_contact_due,
                    clocks.first_contact_at.is_some(),
                ),
                (&mut clocks.complete_due, clocks.completed_at.is_some()),
            ];
            for (due, met) in unmet {
                if !met && let Some(at) = due {
                    *due = Some(calendar.extend(*at, suspended));
                }
            }
            to = State::try_from(suspension.from_state).unwrap_or(State::InProgress);
            if note.is_empty() {
                format!("挂起{suspended}个工作日 suspended for {suspended} working days")
            } else {
                note
            }
        }
        Move::Extend {
            working_days,
            reason,
        } => {
            let allowed = rules.max_complete_days();
            if record.clocks.complete_days + working_days > allowed {
                return Err(Refusal::Field {
                    field: "working_days",
                    message: format!(
                        "办结时限连同延期最多{allowed}个工作日，已有{} at most {allowed} working days in all; {} already",
                        record.clocks.complete_days, record.clocks.complete_days
                    ),
                });
            }
            if let Some(due) = record.clocks.complete_due {
                record.clocks.complete_due = Some(calendar.extend(due, working_days));
            }
            record.clocks.complete_days += working_days;
            reason
        }
        Move::Split { note } => {
            // The parts run the clocks now.
            record.split = true;
            record.clocks = Clocks::default();
            note
        }
        Move::Exclude { reason } => {
            if record.exclusion.is_some() {
                return Err(Refusal::Field {
                    field: "name",
                    message: "已排除出考评 is excluded from the scorecard already".to_owned(),
                });
            }
            record.exclusion = Some(ExclusionRecord {
                reason: reason.clone(),
                actor: acting.actor.clone(),
                at: now,
            });
            reason
        }
    };
    record.state = to;
    Ok(Step {
        from,
        to,
        action,
        actor: acting.actor.clone(),
        department,
        note,
        at: now,
    })
}

/// What a split whole becomes when its parts (states, outcomes, failure
/// reasons) are all done: completed, with their outcomes, when at least one
/// completed; failed when none did; `None` while one is still open, or when
/// the whole is not waiting for its parts.
pub fn conclude(whole: &mut Record, parts: &[(State, String, String)], now: i64) -> Option<Step> {
    if !whole.split || !matches!(whole.state, State::InProgress | State::Reopened) {
        return None;
    }
    let done = |state: State| {
        matches!(
            state,
            State::Completed | State::Confirmed | State::Cancelled | State::Failed
        )
    };
    if parts.is_empty() || !parts.iter().all(|(state, _, _)| done(*state)) {
        return None;
    }
    let completed = parts
        .iter()
        .any(|(state, _, _)| matches!(state, State::Completed | State::Confirmed));
    let from = whole.state;
    let (action, to, note) = if completed {
        let outcome = parts
            .iter()
            .filter(|(state, _, _)| matches!(state, State::Completed | State::Confirmed))
            .map(|(_, outcome, _)| outcome.as_str())
            .collect::<Vec<_>>()
            .join("；");
        whole.clocks.completed_at = Some(now);
        whole.outcome = outcome.clone();
        (Action::Complete, State::Completed, outcome)
    } else {
        let reasons = parts
            .iter()
            .filter(|(state, _, _)| *state == State::Failed)
            .map(|(_, _, reason)| reason.as_str())
            .collect::<Vec<_>>()
            .join("；");
        whole.failure_reason = reasons.clone();
        (Action::Fail, State::Failed, reasons)
    };
    whole.state = to;
    Some(Step {
        from,
        to,
        action,
        actor: "system:parts".to_owned(),
        department: whole.lead().unwrap_or_default().to_owned(),
        note,
        at: now,
    })
}

/// A completed part of a whole the enterprise said is not solved: a second
/// round for it, due as the rules' second round.
pub fn reopen_part(part: &mut Record, rules: &Rules, now: i64) -> Option<Step> {
    if part.state != State::Completed {
        return None;
    }
    let from = part.state;
    part.state = State::Reopened;
    part.round += 1;
    part.warned = true;
    part.clocks.completed_at = None;
    part.clocks.complete_due = Some(rules.calendar().due_after(now, rules.second_round_days()));
    part.clocks.complete_days = rules.second_round_days();
    part.clocks.breached.retain(|clock| clock != "complete");
    Some(Step {
        from,
        to: State::Reopened,
        action: Action::Reopen,
        actor: "system:parts".to_owned(),
        department: part.lead().unwrap_or_default().to_owned(),
        note: "企业表示未解决，总单重新办理 the enterprise says the whole is not solved".to_owned(),
        at: now,
    })
}

/// The clocks as the deadline scanner sees them: name, due, met, and
/// whether it runs in the record's state (accepting only while requested;
/// none on hold, unrouted, rejected, failed, or awaiting the enterprise).
fn clocks_of(record: &Record) -> [(&'static str, Option<i64>, bool, bool); 3] {
    let clocked = state::CLOCKED.contains(&record.state);
    let clocks = &record.clocks;
    [
        (
            "accept",
            clocks.accept_due,
            clocks.accepted_at.is_some(),
            record.state == State::Requested,
        ),
        (
            "first-contact",
            clocks.first_contact_due,
            clocks.first_contact_at.is_some(),
            clocked,
        ),
        (
            "complete",
            clocks.complete_due,
            clocks.completed_at.is_some(),
            clocked,
        ),
    ]
}

/// What the deadline scanner does to `record` at `now`: a running clock
/// past its due, unmet and not breached yet, is breached, which goes up to
/// the sub-district (level 1); a breached clock still unmet a working day
/// after its due goes up to the district (level 2). One step per breach and
/// one for an escalation, each with the clock it concerns (empty for an
/// escalation); none when nothing is due.
pub fn watch(record: &mut Record, rules: &Rules, now: i64) -> Vec<(Step, &'static str)> {
    let calendar = rules.calendar();
    let mut steps = Vec::new();
    let department = record.lead().unwrap_or_default().to_owned();
    let step = |action: Action, note: String| Step {
        from: record.state,
        to: record.state,
        action,
        actor: "system:deadlines".to_owned(),
        department: department.clone(),
        note,
        at: now,
    };
    let mut breached = Vec::new();
    let mut escalate = false;
    for (clock, due, met, running) in clocks_of(record) {
        let Some(due) = due else { continue };
        if met || !running || due > now {
            continue;
        }
        if !record.clocks.breached.iter().any(|name| name == clock) {
            breached.push((clock, due));
        } else if record.clocks.escalation_level < 2 && calendar.extend(due, 1) <= now {
            escalate = true;
        }
    }
    for (clock, due) in breached {
        record.clocks.breached.push(clock.to_owned());
        record.clocks.escalation_level = record.clocks.escalation_level.max(1);
        let due = super::calendar::due_text(due);
        steps.push((
            step(
                Action::Breach,
                format!("{clock} 时限已过（{due}），报街道 the {clock} deadline passed ({due}): up to the sub-district"),
            ),
            clock,
        ));
    }
    if escalate {
        record.clocks.escalation_level = 2;
        steps.push((
            step(
                Action::Escalate,
                "超时一个工作日仍未办，报区里 still unmet a working day past its deadline: up to the district"
                    .to_owned(),
            ),
            "",
        ));
    }
    steps
}

/// When the deadline scanner should next look at `record`: the soonest due
/// of a running clock not yet breached, or, below level 2, the soonest
/// escalation of a breached one; `None` when only a move can change
/// anything.
pub fn next_watch(record: &Record, rules: &Rules) -> Option<i64> {
    let calendar = rules.calendar();
    clocks_of(record)
        .into_iter()
        .filter_map(|(clock, due, met, running)| {
            let due = due?;
            if met || !running {
                return None;
            }
            if !record.clocks.breached.iter().any(|name| name == clock) {
                Some(due)
            } else if record.clocks.escalation_level < 2 {
                Some(calendar.extend(due, 1))
            } else {
                None
            }
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::end_of_day;
    use time::macros::date;

    fn acting(department: Option<&str>) -> Acting {
        Acting {
            actor: "staff/s-9".to_owned(),
            department: department.map(str::to_owned),
            district: false,
        }
    }

    /// Friday 27 November 2026, 15:00 Shanghai.
    const FRIDAY_AFTERNOON: i64 = 1_795_762_800_000_000;

    fn opened() -> Record {
        let rules = Rules::default_rules();
        Record::open(
            DemandCategory::OfficeSpace,
            Urgency::Normal,
            RiskColour::Yellow,
            vec!["office".to_owned(), "investment".to_owned()],
            &rules,
            FRIDAY_AFTERNOON,
            &acting(None),
            String::new(),
        )
        .0
    }

    #[test]
    fn dispatch_starts_three_clocks_in_working_days() {
        let record = opened();
        assert_eq!(record.state, State::Requested);
        assert_eq!(record.lead(), Some("office"));
        assert_eq!(
            record.clocks.accept_due,
            Some(end_of_day(date!(2026 - 11 - 30)))
        );
        // Five working days from Friday: Mon 30 Nov … Fri 4 Dec.
        assert_eq!(
            record.clocks.complete_due,
            Some(end_of_day(date!(2026 - 12 - 04)))
        );
    }

    #[test]
    fn an_illegal_move_names_the_state() {
        let mut record = opened();
        let refusal = apply(
            &mut record,
            Move::Complete {
                outcome: "done".into(),
            },
            &Rules::default_rules(),
            FRIDAY_AFTERNOON,
            &acting(Some("office")),
        )
        .unwrap_err();
        assert_eq!(
            refusal,
            Refusal::State {
                action: Action::Complete,
                state: State::Requested
            }
        );
    }

    #[test]
    fn a_dissatisfied_answer_reopens_a_second_round_due_in_three_working_days() {
        let rules = Rules::default_rules();
        let mut record = opened();
        let department = acting(Some("office"));
        for movement in [
            Move::Accept {
                note: String::new(),
            },
            Move::Complete {
                outcome: "found a unit".into(),
            },
        ] {
            apply(&mut record, movement, &rules, FRIDAY_AFTERNOON, &department).unwrap();
        }
        let step = apply(
            &mut record,
            Move::Answer {
                resolution: Resolution::PartlySolved,
                satisfaction: 2,
                note: "too far".into(),
            },
            &rules,
            FRIDAY_AFTERNOON,
            &acting(None),
        )
        .unwrap();
        assert_eq!((step.action, step.to), (Action::Reopen, State::Reopened));
        assert!(record.warned);
        assert_eq!(record.round, 2);
        assert_eq!(
            record.clocks.complete_due,
            Some(end_of_day(date!(2026 - 12 - 02)))
        );
    }

    #[test]
    fn a_suspension_moves_the_unmet_dues_by_the_working_days_suspended() {
        let rules = Rules::default_rules();
        let mut record = opened();
        let department = acting(Some("office"));
        apply(
            &mut record,
            Move::Accept {
                note: String::new(),
            },
            &rules,
            FRIDAY_AFTERNOON,
            &department,
        )
        .unwrap();
        let accept_due = record.clocks.accept_due;
        apply(
            &mut record,
            Move::Suspend {
                reason: "waiting for the landlord".into(),
            },
            &rules,
            FRIDAY_AFTERNOON,
            &acting(None),
        )
        .unwrap();
        // Resumed the next Tuesday: Friday and Monday were suspended.
        let tuesday = FRIDAY_AFTERNOON + 4 * 86_400_000_000;
        let step = apply(
            &mut record,
            Move::Resume {
                note: String::new(),
            },
            &rules,
            tuesday,
            &acting(None),
        )
        .unwrap();
        assert_eq!(step.to, State::Accepted);
        assert_eq!(record.clocks.accept_due, accept_due, "met already");
        assert_eq!(
            record.clocks.complete_due,
            Some(end_of_day(date!(2026 - 12 - 08))),
            "4 December moved by two working days"
        );
    }

    #[test]
    fn a_dispute_over_responsibility_is_the_districts_to_reroute() {
        let rules = Rules::default_rules();
        let mut record = opened();
        apply(
            &mut record,
            Move::Reject {
                reason: RejectionReason::NotResponsible,
                note: "not ours".into(),
            },
            &rules,
            FRIDAY_AFTERNOON,
            &acting(Some("office")),
        )
        .unwrap();
        assert_eq!(record.rejection_count, 1);
        let reroute = Move::Dispatch {
            departments: vec!["investment".into()],
            note: "the investment office leads".into(),
        };
        assert!(matches!(
            apply(
                &mut record,
                reroute.clone(),
                &rules,
                FRIDAY_AFTERNOON,
                &acting(None)
            ),
            Err(Refusal::DistrictOnly(_))
        ));
        let district = Acting {
            district: true,
            ..acting(None)
        };
        apply(&mut record, reroute, &rules, FRIDAY_AFTERNOON, &district).unwrap();
        assert_eq!(record.state, State::Requested);
        assert_eq!(record.lead(), Some("investment"));
        assert!(record.rejection.is_none());
    }

    #[test]
    fn a_clock_run_out_is_breached_once_then_escalated_a_working_day_later() {
        let rules = Rules::default_rules();
        let mut record = opened();
        let accept_due = record.clocks.accept_due.unwrap();
        assert_eq!(next_watch(&record, &rules), Some(accept_due));
        assert!(watch(&mut record, &rules, accept_due - 1).is_empty());
        // Just past the end of Monday: accept and first contact ran out.
        let steps = watch(&mut record, &rules, accept_due + 1);
        let actions: Vec<(&str, &str)> = steps
            .iter()
            .map(|(step, clock)| (step.action.as_str(), *clock))
            .collect();
        assert_eq!(
            actions,
            vec![("breach", "accept"), ("breach", "first-contact")]
        );
        assert_eq!(record.clocks.breached, vec!["accept", "first-contact"]);
        assert_eq!(record.clocks.escalation_level, 1);
        assert!(
            watch(&mut record, &rules, accept_due + 2).is_empty(),
            "once"
        );
        // A working day later (end of Tuesday 1 December): the district.
        let escalation = end_of_day(date!(2026 - 12 - 01));
        assert_eq!(next_watch(&record, &rules), Some(escalation));
        let steps = watch(&mut record, &rules, escalation);
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].0.action, Action::Escalate);
        assert_eq!(record.clocks.escalation_level, 2);
        // Only completion can still run out.
        assert_eq!(next_watch(&record, &rules), record.clocks.complete_due);
    }

    #[test]
    fn no_clock_runs_on_hold() {
        let rules = Rules::default_rules();
        let mut record = opened();
        let admin = acting(None);
        apply(
            &mut record,
            Move::Accept {
                note: String::new(),
            },
            &rules,
            FRIDAY_AFTERNOON,
            &admin,
        )
        .unwrap();
        apply(
            &mut record,
            Move::Suspend {
                reason: "waiting".into(),
            },
            &rules,
            FRIDAY_AFTERNOON,
            &admin,
        )
        .unwrap();
        assert_eq!(next_watch(&record, &rules), None);
        assert!(watch(&mut record, &rules, i64::MAX / 2).is_empty());
    }

    #[test]
    fn extensions_stop_at_the_most_the_rules_allow() {
        let rules = Rules::default_rules();
        let mut record = opened();
        let admin = acting(None);
        apply(
            &mut record,
            Move::Accept {
                note: String::new(),
            },
            &rules,
            FRIDAY_AFTERNOON,
            &admin,
        )
        .unwrap();
        apply(
            &mut record,
            Move::Extend {
                working_days: 10,
                reason: "complex".into(),
            },
            &rules,
            FRIDAY_AFTERNOON,
            &admin,
        )
        .unwrap();
        assert_eq!(record.clocks.complete_days, 15);
        assert!(matches!(
            apply(
                &mut record,
                Move::Extend {
                    working_days: 1,
                    reason: "more".into()
                },
                &rules,
                FRIDAY_AFTERNOON,
                &admin
            ),
            Err(Refusal::Field {
                field: "working_days",
                ..
            })
        ));
    }
}
