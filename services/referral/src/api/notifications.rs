//! The notification outbox: listed for the district, and a dead
//! notification replayed.

use louyu_kit::handler::{Reply, reply};
use louyu_proto::referral::v1::*;
use tonic::Request;

use super::ReferralApi;
use crate::store::Call;

pub(super) async fn list(
    api: &ReferralApi,
    request: Request<ListNotificationsRequest>,
) -> Reply<ListNotificationsResponse> {
    let body = request.get_ref();
    api.store.names().parse_district("parent", &body.parent)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list_notifications(page).await
    })
    .await
}

pub(super) async fn replay(
    api: &ReferralApi,
    request: Request<ReplayNotificationRequest>,
) -> Reply<Notification> {
    let call = Call::idempotent(&request)?;
    let id = api
        .store
        .names()
        .parse("name", &request.get_ref().name, "notifications")?;
    reply(api.store.replay_notification(&call, &id).await)
}
