//! gRPC handlers, one file per resource as in `store/`: each parses the
//! request, asks the registry where it names registry resources, calls the
//! store and replies. This file holds the service and sends each RPC to its
//! resource's file (mini-redis's `src/cmd/mod.rs`).

mod demands;
mod plans;
mod visits;

use louyu_kit::handler::Reply;
use louyu_kit::names::DistrictNames;
use louyu_kit::page::PageTokens;
use louyu_proto::visits::v1::visits_service_server::VisitsService;
use louyu_proto::visits::v1::*;
use tonic::Request;

use crate::registry::Registry;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct VisitsApi {
    store: Store,
    registry: Registry,
    page_tokens: PageTokens,
}

impl VisitsApi {
    pub fn new(store: Store, registry: Registry, page_tokens: PageTokens) -> Self {
        Self {
            store,
            registry,
            page_tokens,
        }
    }

    fn names(&self) -> &DistrictNames {
        self.store.names()
    }
}

#[tonic::async_trait]
impl VisitsService for VisitsApi {
    async fn submit_visit(
        &self,
        request: Request<SubmitVisitRequest>,
    ) -> Reply<SubmitVisitResponse> {
        visits::submit(self, request).await
    }

    async fn get_visit(&self, request: Request<GetVisitRequest>) -> Reply<Visit> {
        visits::get(self, request).await
    }

    async fn list_visits(&self, request: Request<ListVisitsRequest>) -> Reply<ListVisitsResponse> {
        visits::list(self, request).await
    }

    async fn create_demand(
        &self,
        request: Request<CreateDemandRequest>,
    ) -> Reply<CreateDemandResponse> {
        demands::create(self, request).await
    }

    async fn get_demand(&self, request: Request<GetDemandRequest>) -> Reply<Demand> {
        demands::get(self, request).await
    }

    async fn list_demands(
        &self,
        request: Request<ListDemandsRequest>,
    ) -> Reply<ListDemandsResponse> {
        demands::list(self, request).await
    }

    async fn transition_demand(&self, request: Request<TransitionDemandRequest>) -> Reply<Demand> {
        demands::transition(self, request).await
    }

    async fn merge_demands(&self, request: Request<MergeDemandsRequest>) -> Reply<Demand> {
        demands::merge(self, request).await
    }

    async fn count_demands(
        &self,
        request: Request<CountDemandsRequest>,
    ) -> Reply<CountDemandsResponse> {
        demands::count(self, request).await
    }

    async fn list_due_visits(
        &self,
        request: Request<ListDueVisitsRequest>,
    ) -> Reply<ListDueVisitsResponse> {
        plans::list_due_visits(self, request).await
    }

    async fn get_visit_plan(&self, request: Request<GetVisitPlanRequest>) -> Reply<VisitPlan> {
        plans::get(self, request).await
    }

    async fn get_cadence_policy(
        &self,
        request: Request<GetCadencePolicyRequest>,
    ) -> Reply<CadencePolicy> {
        plans::get_cadence_policy(self, request).await
    }

    async fn update_cadence_policy(
        &self,
        request: Request<UpdateCadencePolicyRequest>,
    ) -> Reply<CadencePolicy> {
        plans::update_cadence_policy(self, request).await
    }
}
