//! gRPC handlers, one file per resource as in `store/`: each parses the
//! request, calls the store and replies.

mod assessments;
mod rules;
mod signals;

use louyu_kit::handler::Reply;
use louyu_kit::page::PageTokens;
use louyu_proto::risk::v1::risk_service_server::RiskService;
use louyu_proto::risk::v1::*;
use tonic::Request;

use crate::store::Store;

#[derive(Debug, Clone)]
pub struct RiskApi {
    store: Store,
    page_tokens: PageTokens,
}

impl RiskApi {
    pub fn new(store: Store, page_tokens: PageTokens) -> Self {
        Self { store, page_tokens }
    }
}

#[tonic::async_trait]
impl RiskService for RiskApi {
    async fn get_assessment(&self, request: Request<GetAssessmentRequest>) -> Reply<Assessment> {
        assessments::get(self, request).await
    }

    async fn list_assessments(
        &self,
        request: Request<ListAssessmentsRequest>,
    ) -> Reply<ListAssessmentsResponse> {
        assessments::list(self, request).await
    }

    async fn list_assessment_changes(
        &self,
        request: Request<ListAssessmentChangesRequest>,
    ) -> Reply<ListAssessmentChangesResponse> {
        assessments::list_changes(self, request).await
    }

    async fn summarize_assessments(
        &self,
        request: Request<SummarizeAssessmentsRequest>,
    ) -> Reply<AssessmentSummary> {
        assessments::summarize(self, request).await
    }

    async fn set_colour_override(
        &self,
        request: Request<SetColourOverrideRequest>,
    ) -> Reply<Assessment> {
        assessments::set_override(self, request).await
    }

    async fn clear_colour_override(
        &self,
        request: Request<ClearColourOverrideRequest>,
    ) -> Reply<Assessment> {
        assessments::clear_override(self, request).await
    }

    async fn record_signal(&self, request: Request<RecordSignalRequest>) -> Reply<Signal> {
        signals::record(self, request).await
    }

    async fn list_signals(
        &self,
        request: Request<ListSignalsRequest>,
    ) -> Reply<ListSignalsResponse> {
        signals::list(self, request).await
    }

    async fn get_rules(&self, request: Request<GetRulesRequest>) -> Reply<Rules> {
        rules::get(self, request).await
    }

    async fn dry_run_rules(
        &self,
        request: Request<DryRunRulesRequest>,
    ) -> Reply<DryRunRulesResponse> {
        rules::dry_run(self, request).await
    }

    async fn activate_rules(
        &self,
        request: Request<ActivateRulesRequest>,
    ) -> Reply<louyu_proto::google::longrunning::Operation> {
        rules::activate(self, request).await
    }
}
