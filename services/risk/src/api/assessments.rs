//! Assessments and the history of their colour.

use louyu_kit::error::InvalidArgument;
use louyu_kit::handler::{Reply, reply};
use louyu_kit::scope::Reach;
use louyu_proto::risk::v1::*;
use tonic::Request;

use super::RiskApi;

pub(super) async fn get(
    api: &RiskApi,
    request: Request<GetAssessmentRequest>,
) -> Reply<Assessment> {
    let name = &request.get_ref().name;
    let enterprise = name.strip_suffix("/assessment").ok_or_else(|| {
        InvalidArgument::new(
            "name",
            "须为 districts/{district}/enterprises/{uscc}/assessment must be districts/{district}/enterprises/{uscc}/assessment",
        )
        .into_status()
    })?;
    let uscc = api.store.names().parse_enterprise("name", enterprise)?;
    let reach = Reach::of_request(&request)?;
    reply(api.store.get_assessment(uscc.as_str(), &reach).await)
}

pub(super) async fn list(
    api: &RiskApi,
    request: Request<ListAssessmentsRequest>,
) -> Reply<ListAssessmentsResponse> {
    let body = request.get_ref();
    api.store.names().parse_district("parent", &body.parent)?;
    let reach = Reach::of_request(&request)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list_assessments(page, &reach).await
    })
    .await
}

pub(super) async fn list_changes(
    api: &RiskApi,
    request: Request<ListAssessmentChangesRequest>,
) -> Reply<ListAssessmentChangesResponse> {
    let body = request.get_ref();
    let uscc = api.store.names().parse_enterprise("parent", &body.parent)?;
    let reach = Reach::of_request(&request)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list_changes(uscc.as_str(), page, &reach).await
    })
    .await
}
