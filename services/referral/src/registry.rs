//! What the referral service asks the registry: the department directory,
//! to route a demand. It asks as itself (a system caller, granted district
//! reads of the directory, which holds no personal data), also while
//! following a feed, so an unreachable registry delays the referral (the
//! feed retries) and never loses it.

use std::time::Duration;

use louyu_kit::identity::{PeerInterceptor, ServiceCredentials};
use louyu_kit::names::last_id;
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::registry::v1::*;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::domain::DirectoryEntry;
use crate::error::ReferralError;

#[derive(Debug, Clone)]
pub struct Registry {
    client: RegistryServiceClient<InterceptedService<Channel, PeerInterceptor>>,
    district: String,
}

impl Registry {
    /// Connects lazily: the service starts even when the registry is down.
    pub fn connect_lazy(
        url: &str,
        district: &str,
        credentials: ServiceCredentials,
    ) -> anyhow::Result<Self> {
        let channel = Endpoint::from_shared(url.to_owned())?
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .connect_lazy();
        Ok(Self {
            client: RegistryServiceClient::with_interceptor(
                channel,
                PeerInterceptor::new(credentials),
            ),
            district: format!("districts/{district}"),
        })
    }

    /// The whole department directory, every page.
    pub async fn directory(&self) -> Result<Vec<DirectoryEntry>, ReferralError> {
        let mut entries = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .client
                .clone()
                .list_departments(ListDepartmentsRequest {
                    parent: self.district.clone(),
                    page_size: 1000,
                    page_token,
                    filter: String::new(),
                })
                .await
                .map_err(classify)?
                .into_inner();
            entries.extend(page.departments.into_iter().map(|department| {
                DirectoryEntry {
                    id: last_id(&department.name).to_owned(),
                    kind: DepartmentKind::try_from(department.kind)
                        .unwrap_or(DepartmentKind::Unspecified),
                    categories: department
                        .demand_categories
                        .iter()
                        .filter_map(|number| DemandCategory::try_from(*number).ok())
                        .collect(),
                    jurisdiction: department
                        .jurisdiction
                        .iter()
                        .map(|name| last_id(name).to_owned())
                        .collect(),
                }
            }));
            if page.next_page_token.is_empty() {
                return Ok(entries);
            }
            page_token = page.next_page_token;
        }
    }
}

fn classify(status: tonic::Status) -> ReferralError {
    if louyu_kit::error::peer_unavailable(&status) {
        ReferralError::RegistryUnavailable(status)
    } else {
        ReferralError::Registry(status)
    }
}
