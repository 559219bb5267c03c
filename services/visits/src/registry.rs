//! What the visits service asks the registry while serving a request: does
//! this building, member of staff or enterprise exist, who are a building's
//! tenants, what does a worker cover. Calls carry the trace context and the
//! visits service's own identity, with the person it serves (kit's
//! `PeerInterceptor`), and fail fast, so an unreachable registry turns into
//! UNAVAILABLE, not a hang.
//!
//! The registry judges each call as the person served, so its answers never
//! reach further than that person could: a building or tenancy out of their
//! reach is NOT_FOUND or missing from a list. A system caller (e.g. a
//! hotline raising a demand) has no person to forward, so visits asks as
//! itself, and the registry grants the system role district reads of
//! buildings, enterprises and tenancies for that. Who covers what is not
//! asked here per call: visits keeps it from the registry's feed
//! (`store::scope`).

use louyu_kit::identity::ServiceCredentials;
use louyu_kit::peer::RegistryClient;
use louyu_proto::registry::v1::*;
use tonic::Code;

use crate::error::VisitsError;

#[derive(Debug, Clone)]
pub struct Registry {
    client: RegistryClient,
    district: String,
}

impl Registry {
    /// Connects lazily: the service starts even when the registry is down.
    pub fn connect_lazy(
        url: &str,
        district: &str,
        credentials: ServiceCredentials,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            client: louyu_kit::peer::registry_client(url, credentials)?,
            district: format!("districts/{district}"),
        })
    }

    pub async fn building(&self, name: &str) -> Result<Option<Building>, VisitsError> {
        found(
            self.client
                .clone()
                .get_building(GetBuildingRequest {
                    name: name.to_owned(),
                    ..Default::default()
                })
                .await,
        )
    }

    pub async fn staff(&self, name: &str) -> Result<Option<Staff>, VisitsError> {
        found(
            self.client
                .clone()
                .get_staff(GetStaffRequest {
                    name: name.to_owned(),
                })
                .await,
        )
    }

    /// The active tenancies matching a filter (`building = …` or
    /// `enterprise = …`), every page.
    pub async fn active_tenancies(&self, filter: &str) -> Result<Vec<Tenancy>, VisitsError> {
        let mut tenancies = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .client
                .clone()
                .list_tenancies(ListTenanciesRequest {
                    parent: self.district.clone(),
                    page_size: 1000,
                    page_token,
                    filter: format!("{filter} AND state = ACTIVE"),
                })
                .await
                .map_err(classify)?
                .into_inner();
            tenancies.extend(page.tenancies);
            if page.next_page_token.is_empty() {
                return Ok(tenancies);
            }
            page_token = page.next_page_token;
        }
    }

    /// Every assignment of a member of staff.
    pub async fn assignments(&self, staff: &str) -> Result<Vec<Assignment>, VisitsError> {
        let mut assignments = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .client
                .clone()
                .list_assignments(ListAssignmentsRequest {
                    parent: staff.to_owned(),
                    page_size: 1000,
                    page_token,
                    filter: String::new(),
                })
                .await
                .map_err(classify)?
                .into_inner();
            assignments.extend(page.assignments);
            if page.next_page_token.is_empty() {
                return Ok(assignments);
            }
            page_token = page.next_page_token;
        }
    }
}

fn found<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Result<Option<T>, VisitsError> {
    match result {
        Ok(response) => Ok(Some(response.into_inner())),
        Err(status) if status.code() == Code::NotFound => Ok(None),
        Err(status) => Err(classify(status)),
    }
}

/// Errors worth retrying become UNAVAILABLE for our caller; the rest are
/// bugs between the two services.
fn classify(status: tonic::Status) -> VisitsError {
    if louyu_kit::error::peer_unavailable(&status) {
        VisitsError::RegistryUnavailable(status)
    } else {
        VisitsError::Registry(status)
    }
}
