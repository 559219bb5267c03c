//! Retention cases, read within the caller's reach.

use louyu_kit::handler::{Reply, reply};
use louyu_kit::scope::Reach;
use louyu_proto::referral::v1::*;
use tonic::Request;

use super::ReferralApi;

pub(super) async fn get(
    api: &ReferralApi,
    request: Request<GetRetentionCaseRequest>,
) -> Reply<RetentionCase> {
    let id = api
        .store
        .names()
        .parse("name", &request.get_ref().name, "retentionCases")?;
    let reach = Reach::of_request(&request)?;
    reply(api.store.get_case(&id, &reach).await)
}

pub(super) async fn list(
    api: &ReferralApi,
    request: Request<ListRetentionCasesRequest>,
) -> Reply<ListRetentionCasesResponse> {
    let body = request.get_ref();
    api.store.names().parse_district("parent", &body.parent)?;
    let reach = Reach::of_request(&request)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list_cases(page, &reach).await
    })
    .await
}
