//! gRPC handlers: each parses the request, calls the store and replies.

mod cases;
mod notifications;
mod referrals;
mod rules;

use louyu_kit::handler::Reply;
use louyu_kit::page::PageTokens;
use louyu_proto::referral::v1::referral_service_server::ReferralService;
use louyu_proto::referral::v1::*;
use tonic::Request;

use crate::registry::Registry;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct ReferralApi {
    store: Store,
    registry: Registry,
    page_tokens: PageTokens,
}

impl ReferralApi {
    pub fn new(store: Store, registry: Registry, page_tokens: PageTokens) -> Self {
        Self {
            store,
            registry,
            page_tokens,
        }
    }
}

#[tonic::async_trait]
impl ReferralService for ReferralApi {
    async fn create_referral(&self, request: Request<CreateReferralRequest>) -> Reply<Referral> {
        referrals::create(self, request).await
    }

    async fn get_referral(&self, request: Request<GetReferralRequest>) -> Reply<Referral> {
        referrals::get(self, request).await
    }

    async fn list_referrals(
        &self,
        request: Request<ListReferralsRequest>,
    ) -> Reply<ListReferralsResponse> {
        referrals::list(self, request).await
    }

    async fn list_department_referrals(
        &self,
        request: Request<ListDepartmentReferralsRequest>,
    ) -> Reply<ListDepartmentReferralsResponse> {
        referrals::inbox(self, request).await
    }

    async fn accept_referral(&self, request: Request<AcceptReferralRequest>) -> Reply<Referral> {
        referrals::accept(self, request).await
    }

    async fn reject_referral(&self, request: Request<RejectReferralRequest>) -> Reply<Referral> {
        referrals::reject(self, request).await
    }

    async fn record_first_contact(
        &self,
        request: Request<RecordFirstContactRequest>,
    ) -> Reply<Referral> {
        referrals::first_contact(self, request).await
    }

    async fn start_referral(&self, request: Request<StartReferralRequest>) -> Reply<Referral> {
        referrals::start(self, request).await
    }

    async fn complete_referral(
        &self,
        request: Request<CompleteReferralRequest>,
    ) -> Reply<Referral> {
        referrals::complete(self, request).await
    }

    async fn fail_referral(&self, request: Request<FailReferralRequest>) -> Reply<Referral> {
        referrals::fail(self, request).await
    }

    async fn confirm_referral(&self, request: Request<ConfirmReferralRequest>) -> Reply<Referral> {
        referrals::confirm(self, request).await
    }

    async fn cancel_referral(&self, request: Request<CancelReferralRequest>) -> Reply<Referral> {
        referrals::cancel(self, request).await
    }

    async fn reroute_referral(&self, request: Request<RerouteReferralRequest>) -> Reply<Referral> {
        referrals::reroute(self, request).await
    }

    async fn split_referral(&self, request: Request<SplitReferralRequest>) -> Reply<Referral> {
        referrals::split(self, request).await
    }

    async fn suspend_referral(&self, request: Request<SuspendReferralRequest>) -> Reply<Referral> {
        referrals::suspend(self, request).await
    }

    async fn resume_referral(&self, request: Request<ResumeReferralRequest>) -> Reply<Referral> {
        referrals::resume(self, request).await
    }

    async fn extend_referral(&self, request: Request<ExtendReferralRequest>) -> Reply<Referral> {
        referrals::extend(self, request).await
    }

    async fn get_retention_case(
        &self,
        request: Request<GetRetentionCaseRequest>,
    ) -> Reply<RetentionCase> {
        cases::get(self, request).await
    }

    async fn list_retention_cases(
        &self,
        request: Request<ListRetentionCasesRequest>,
    ) -> Reply<ListRetentionCasesResponse> {
        cases::list(self, request).await
    }

    async fn exclude_referral(&self, request: Request<ExcludeReferralRequest>) -> Reply<Referral> {
        referrals::exclude(self, request).await
    }

    async fn compute_scorecard(
        &self,
        request: Request<ComputeScorecardRequest>,
    ) -> Reply<Scorecard> {
        referrals::scorecard(self, request).await
    }

    async fn get_routing_rules(
        &self,
        request: Request<GetRoutingRulesRequest>,
    ) -> Reply<RoutingRules> {
        rules::get(self, request).await
    }

    async fn update_routing_rules(
        &self,
        request: Request<UpdateRoutingRulesRequest>,
    ) -> Reply<RoutingRules> {
        rules::update(self, request).await
    }

    async fn list_notifications(
        &self,
        request: Request<ListNotificationsRequest>,
    ) -> Reply<ListNotificationsResponse> {
        notifications::list(self, request).await
    }

    async fn replay_notification(
        &self,
        request: Request<ReplayNotificationRequest>,
    ) -> Reply<Notification> {
        notifications::replay(self, request).await
    }
}
