//! The closed loop of a referral: its states, the moves between them, and
//! who may make each. The states are those of FHIR's Task resource as
//! referral systems use them (docs/referral.md has the table).

use louyu_proto::referral::v1::ReferralState as State;

/// A move of a referral. Each is one RPC (or one event the service acts
/// on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Routed (again): by the rules or by hand.
    Dispatch,
    Accept,
    Reject,
    FirstContact,
    Start,
    Complete,
    Fail,
    /// The enterprise's word: solved (or partly, and satisfied).
    Confirm,
    /// The enterprise's word: not solved, or dissatisfied.
    Reopen,
    Cancel,
    Suspend,
    Resume,
    Extend,
    /// A clock ran out unmet (the deadline scanner).
    Breach,
    /// A breach went up to the district (the deadline scanner).
    Escalate,
    /// Left out of the scorecard after review.
    Exclude,
    /// Divided by hand into parts, each with its own departments.
    Split,
}

impl Action {
    /// The name recorded in the history, e.g. `first-contact`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Dispatch => "dispatch",
            Action::Accept => "accept",
            Action::Reject => "reject",
            Action::FirstContact => "first-contact",
            Action::Start => "start",
            Action::Complete => "complete",
            Action::Fail => "fail",
            Action::Confirm => "confirm",
            Action::Reopen => "reopen",
            Action::Cancel => "cancel",
            Action::Suspend => "suspend",
            Action::Resume => "resume",
            Action::Extend => "extend",
            Action::Breach => "breach",
            Action::Escalate => "escalate",
            Action::Exclude => "exclude",
            Action::Split => "split",
        }
    }

    /// The states it may be made from.
    pub fn from_states(self) -> &'static [State] {
        use State::*;
        match self {
            Action::Dispatch => &[Unrouted, Requested, Rejected, Failed],
            Action::Accept | Action::Reject => &[Requested],
            Action::FirstContact => &[Requested, Accepted, InProgress, Reopened],
            Action::Start => &[Accepted, Reopened],
            Action::Complete | Action::Fail => &[Accepted, InProgress, Reopened],
            Action::Confirm | Action::Reopen => &[Completed],
            Action::Cancel => &[
                Unrouted, Requested, Accepted, Rejected, InProgress, OnHold, Completed, Failed,
                Reopened,
            ],
            Action::Suspend => &[Accepted, InProgress, Reopened],
            Action::Resume => &[OnHold],
            Action::Extend => &[Accepted, InProgress, OnHold, Reopened],
            Action::Breach | Action::Escalate => &CLOCKED,
            Action::Split => &[Unrouted, Requested, Rejected, Accepted, InProgress],
            Action::Exclude => &[
                Unrouted, Requested, Accepted, Rejected, InProgress, OnHold, Completed, Failed,
                Confirmed, Reopened, Cancelled,
            ],
        }
    }

    /// The state it leads to; `None` where it leaves the state as it is
    /// (first contact, extension) or returns to the one before (resume).
    pub fn to_state(self) -> Option<State> {
        match self {
            Action::Dispatch => Some(State::Requested),
            Action::Accept => Some(State::Accepted),
            Action::Reject => Some(State::Rejected),
            Action::Start => Some(State::InProgress),
            Action::Complete => Some(State::Completed),
            Action::Fail => Some(State::Failed),
            Action::Confirm => Some(State::Confirmed),
            Action::Reopen => Some(State::Reopened),
            Action::Cancel => Some(State::Cancelled),
            Action::Suspend => Some(State::OnHold),
            Action::Split => Some(State::InProgress),
            Action::FirstContact
            | Action::Resume
            | Action::Extend
            | Action::Breach
            | Action::Escalate
            | Action::Exclude => None,
        }
    }
}

/// The states in which a department's clocks run: not while it waits to be
/// routed, on hold, or for the enterprise's word.
pub const CLOCKED: [State; 4] = [
    State::Requested,
    State::Accepted,
    State::InProgress,
    State::Reopened,
];

/// The moves a split whole no longer takes: its parts are moved instead.
pub fn part_work(action: Action) -> bool {
    matches!(
        action,
        Action::Dispatch
            | Action::Accept
            | Action::Reject
            | Action::FirstContact
            | Action::Start
            | Action::Complete
            | Action::Fail
            | Action::Suspend
            | Action::Resume
            | Action::Extend
            | Action::Split
    )
}

/// Whether a referral in `state` is still being worked on.
pub fn is_open(state: State) -> bool {
    !matches!(
        state,
        State::Confirmed | State::Cancelled | State::Unspecified
    )
}

/// The FHIR Task status code of a state, and its business status.
pub fn fhir(state: State) -> (&'static str, &'static str) {
    match state {
        State::Unspecified | State::Unrouted => ("draft", ""),
        State::Requested => ("requested", ""),
        State::Accepted => ("accepted", ""),
        State::Rejected => ("rejected", ""),
        State::InProgress => ("in-progress", ""),
        State::OnHold => ("on-hold", ""),
        State::Completed => ("completed", "awaiting-confirmation"),
        State::Failed => ("failed", ""),
        State::Confirmed => ("completed", "confirmed"),
        State::Reopened => ("in-progress", "reopened"),
        State::Cancelled => ("cancelled", ""),
    }
}

/// The state's name in messages: `已受理 ACCEPTED`.
pub fn describe(state: State) -> String {
    let chinese = match state {
        State::Unspecified => "未知",
        State::Unrouted => "待分拨",
        State::Requested => "已派单",
        State::Accepted => "已受理",
        State::Rejected => "已退回",
        State::InProgress => "办理中",
        State::OnHold => "已挂起",
        State::Completed => "已办结",
        State::Failed => "未能解决",
        State::Confirmed => "已确认",
        State::Reopened => "重新办理",
        State::Cancelled => "已撤销",
    };
    format!(
        "{chinese} {}",
        state.as_str_name().trim_start_matches("REFERRAL_STATE_")
    )
}

/// Whether the enterprise's answer confirms the referral or reopens it:
/// not solved, or satisfaction 1 or 2, reopens.
pub fn answer_reopens(not_solved: bool, satisfaction: u8) -> bool {
    not_solved || satisfaction <= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Action; 17] = [
        Action::Dispatch,
        Action::Accept,
        Action::Reject,
        Action::FirstContact,
        Action::Start,
        Action::Complete,
        Action::Fail,
        Action::Confirm,
        Action::Reopen,
        Action::Cancel,
        Action::Suspend,
        Action::Resume,
        Action::Extend,
        Action::Breach,
        Action::Escalate,
        Action::Exclude,
        Action::Split,
    ];

    #[test]
    fn nothing_moves_a_confirmed_or_cancelled_referral() {
        for action in ALL.into_iter().filter(|action| *action != Action::Exclude) {
            for state in [State::Confirmed, State::Cancelled] {
                assert!(
                    !action.from_states().contains(&state),
                    "{} from {}",
                    action.as_str(),
                    describe(state)
                );
            }
        }
    }

    #[test]
    fn a_rejected_referral_only_goes_back_for_routing_is_split_or_is_cancelled() {
        // Excluding from the scorecard is no move of the loop.
        let from_rejected: Vec<&str> = ALL
            .iter()
            .filter(|action| **action != Action::Exclude)
            .filter(|action| action.from_states().contains(&State::Rejected))
            .map(|action| action.as_str())
            .collect();
        assert_eq!(from_rejected, vec!["dispatch", "cancel", "split"]);
    }

    #[test]
    fn every_state_has_a_fhir_code() {
        assert_eq!(fhir(State::OnHold).0, "on-hold");
        assert_eq!(fhir(State::Confirmed), ("completed", "confirmed"));
        assert_eq!(fhir(State::Reopened), ("in-progress", "reopened"));
        assert_eq!(describe(State::InProgress), "办理中 IN_PROGRESS");
    }

    #[test]
    fn not_solved_or_dissatisfied_reopens() {
        assert!(answer_reopens(true, 5));
        assert!(answer_reopens(false, 2));
        assert!(!answer_reopens(false, 3));
    }
}
