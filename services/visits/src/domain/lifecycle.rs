//! The demand lifecycle: open → referred → in progress → resolved →
//! confirmed, or withdrawn; a resolved demand the enterprise says is not
//! solved is reopened and moves on like an open one.

use louyu_proto::referral::v1::ReferralState;
use louyu_proto::visits::v1::DemandStatus;

/// Statuses in which a demand still needs work: a new report of the same
/// enterprise and category is linked to such a demand.
pub const OPEN_STATUSES: [DemandStatus; 4] = [
    DemandStatus::Open,
    DemandStatus::Referred,
    DemandStatus::InProgress,
    DemandStatus::Reopened,
];

pub fn is_open(status: DemandStatus) -> bool {
    OPEN_STATUSES.contains(&status)
}

/// Whether a demand may move from `from` to `to`.
pub fn allowed(from: DemandStatus, to: DemandStatus) -> bool {
    use DemandStatus::*;
    matches!(
        (from, to),
        (Open | Reopened, Referred | InProgress | Withdrawn)
            | (Referred, InProgress | Resolved | Withdrawn)
            | (InProgress, Resolved | Withdrawn)
            | (Resolved, Confirmed | Reopened)
    )
}

/// The statuses the referral service drives once a demand is referred:
/// `TransitionDemand` may not set them then.
pub const REFERRAL_STATUSES: [DemandStatus; 5] = [
    DemandStatus::Referred,
    DemandStatus::InProgress,
    DemandStatus::Resolved,
    DemandStatus::Confirmed,
    DemandStatus::Reopened,
];

/// The demand's status while its referral is in `state`; `None` leaves the
/// status as it is (a referral waiting to be routed, or cancelled: the
/// demand was withdrawn, or an admin ended the referral and the demand
/// waits as it was).
pub fn status_for_referral(state: ReferralState) -> Option<DemandStatus> {
    use ReferralState::*;
    match state {
        Requested | Accepted | Rejected | Failed => Some(DemandStatus::Referred),
        InProgress | OnHold => Some(DemandStatus::InProgress),
        Completed => Some(DemandStatus::Resolved),
        Confirmed => Some(DemandStatus::Confirmed),
        Reopened => Some(DemandStatus::Reopened),
        Unspecified | Unrouted | Cancelled => None,
    }
}

/// Whether a demand in status `duplicate` may be merged into one in status
/// `kept`. Both must be open, except that one of them may be `RESOLVED`:
/// that is how an enterprise's "not solved" is recorded when it has raised a
/// new demand of the same category meanwhile, which a reopen would collide
/// with. A resolved `kept` is reopened by the merge; a resolved `duplicate`
/// is withdrawn into the open one.
pub fn may_merge(kept: DemandStatus, duplicate: DemandStatus) -> bool {
    let resolved = DemandStatus::Resolved;
    (is_open(kept) || kept == resolved)
        && (is_open(duplicate) || duplicate == resolved)
        && !(kept == resolved && duplicate == resolved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use DemandStatus::*;

    const ALL: [DemandStatus; 7] = [
        Open, Referred, InProgress, Resolved, Confirmed, Withdrawn, Reopened,
    ];

    #[test]
    fn the_main_path_and_its_exits_are_allowed() {
        for (from, to) in [
            (Open, Referred),
            (Referred, InProgress),
            (InProgress, Resolved),
            (Resolved, Confirmed),
            (Resolved, Reopened),
            (Reopened, Referred),
            (Open, Withdrawn),
            (InProgress, Withdrawn),
        ] {
            assert!(allowed(from, to), "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn finished_demands_never_move_and_nothing_skips_resolution() {
        for to in ALL {
            assert!(!allowed(Confirmed, to), "confirmed -> {to:?}");
            assert!(!allowed(Withdrawn, to), "withdrawn -> {to:?}");
            assert!(!allowed(to, to), "{to:?} -> itself");
        }
        assert!(!allowed(Open, Resolved));
        assert!(!allowed(Open, Confirmed));
        assert!(!allowed(InProgress, Confirmed));
        assert!(!allowed(Resolved, Withdrawn));
        assert!(!allowed(Open, Unspecified));
    }

    #[test]
    fn a_merge_takes_open_demands_and_at_most_one_resolved() {
        assert!(may_merge(Open, InProgress));
        assert!(may_merge(Referred, Resolved));
        assert!(may_merge(Resolved, Reopened));
        assert!(!may_merge(Resolved, Resolved));
        for finished in [Confirmed, Withdrawn] {
            assert!(!may_merge(Open, finished), "{finished:?}");
            assert!(!may_merge(finished, Open), "{finished:?}");
            assert!(!may_merge(Resolved, finished), "{finished:?}");
        }
    }
}
