//! What the referral service asks the registry: the department directory,
//! to route a demand, and for an office-space demand the enterprise's
//! leased area and the vacant units with more room, nearest first. It asks as itself (a system caller, granted district
//! reads of the directory, which holds no personal data), also while
//! following a feed, so an unreachable registry delays the referral (the
//! feed retries) and never loses it.

use louyu_kit::identity::ServiceCredentials;
use louyu_kit::names::last_id;
use louyu_kit::peer::RegistryClient;
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::registry::v1::*;

use crate::domain::DirectoryEntry;
use crate::error::ReferralError;
use crate::store::OfferedUnitRecord;

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

    /// `districts/{district}`.
    pub fn district(&self) -> &str {
        &self.district
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

impl Registry {
    /// The area an enterprise leases now, in square metres: the sum of its
    /// active tenancies.
    pub async fn leased_area(&self, uscc: &str) -> Result<f64, ReferralError> {
        let mut area = 0.0;
        let mut page_token = String::new();
        loop {
            let page = self
                .client
                .clone()
                .list_tenancies(ListTenanciesRequest {
                    parent: self.district.clone(),
                    page_size: 1000,
                    page_token,
                    filter: format!(
                        "enterprise = \"{}/enterprises/{uscc}\" AND state = ACTIVE",
                        self.district
                    ),
                })
                .await
                .map_err(classify)?
                .into_inner();
            area += page
                .tenancies
                .iter()
                .map(|tenancy| tenancy.area_square_meters)
                .sum::<f64>();
            if page.next_page_token.is_empty() {
                return Ok(area);
            }
            page_token = page.next_page_token;
        }
    }

    /// At most `limit` of the district's vacant units larger than
    /// `more_than` square metres, nearest to `building` first; by name when
    /// the building has no location to measure from.
    pub async fn vacant_units_near(
        &self,
        building: &str,
        more_than: f64,
        limit: i32,
    ) -> Result<Vec<OfferedUnitRecord>, ReferralError> {
        let request = |near_building: String| ListVacantUnitsRequest {
            parent: self.district.clone(),
            page_size: limit,
            page_token: String::new(),
            filter: format!("area_square_meters > {more_than}"),
            near_building,
        };
        let answer = match self
            .client
            .clone()
            .list_vacant_units(request(building.to_owned()))
            .await
        {
            Err(status) if status.code() == tonic::Code::InvalidArgument => {
                self.client
                    .clone()
                    .list_vacant_units(request(String::new()))
                    .await
            }
            other => other,
        }
        .map_err(classify)?
        .into_inner();
        Ok(answer
            .vacant_units
            .into_iter()
            .filter_map(|vacant| {
                let unit = vacant.unit?;
                Some(OfferedUnitRecord {
                    unit: unit.name,
                    area_square_meters: unit.area_square_meters,
                    distance_meters: vacant.distance_meters,
                })
            })
            .collect())
    }
}

fn classify(status: tonic::Status) -> ReferralError {
    if louyu_kit::error::peer_unavailable(&status) {
        ReferralError::RegistryUnavailable(status)
    } else {
        ReferralError::Registry(status)
    }
}
