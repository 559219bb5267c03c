//! What the referral service publishes on its feed: every move of a
//! referral, with the referral after it. The visits service follows it for
//! the demand's status and the departments it concerns; the risk service
//! for the outcome.

use louyu_kit::feed::NewEvent;
use louyu_proto::referral::v1::{Referral, ReferralBreached, ReferralChanged};

/// A referral was opened or moved; its last history entry is the move.
pub fn referral_changed(referral: &Referral) -> NewEvent {
    NewEvent::new(
        &referral.name,
        &ReferralChanged {
            referral: Some(referral.clone()),
            transition: referral.history.last().cloned(),
        },
    )
}

/// A clock of `referral` ran out (`clock`: `accept`, `first-contact` or
/// `complete`), or, with `clock` empty, a breach went up to the district.
pub fn referral_breached(referral: &Referral, clock: &str) -> NewEvent {
    NewEvent::new(
        &referral.name,
        &ReferralBreached {
            referral: Some(referral.clone()),
            clock: clock.to_owned(),
            escalation_level: referral
                .clocks
                .as_ref()
                .map_or(0, |clocks| clocks.escalation_level),
        },
    )
}
