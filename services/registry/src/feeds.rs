//! What the registry follows: the referral service's feed, for the reach of
//! department officers (the enterprises and buildings of the referrals
//! addressed to their department, `louyu_kit::scope::referred`).

use louyu_proto::common::v1::Event;
use sqlx::AnyConnection;

/// The cursor name of the referral service's feed.
pub const REFERRAL_FEED: &str = "referral";

/// The referral service's feed.
pub struct ReferralEvents;

impl ReferralEvents {
    async fn apply(&self, connection: &mut AnyConnection, event: &Event) -> anyhow::Result<()> {
        louyu_kit::scope::referred::apply(connection, event).await?;
        Ok(())
    }
}

louyu_kit::event_handler!(ReferralEvents);
