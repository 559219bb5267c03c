//! What the referral service publishes on its feed: every move of a
//! referral, with the referral after it. The visits service follows it for
//! the demand's status and the departments it concerns; the risk service
//! for the outcome.

use louyu_kit::feed::NewEvent;
use louyu_proto::referral::v1::{Referral, ReferralChanged};

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
