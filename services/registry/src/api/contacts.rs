//! What a read shows of contact details: unmasked, and recorded in the
//! audit trail, for the roles that call on enterprises; masked for everyone
//! else (see `louyu_kit::permissions::sees_contacts`).

use louyu_kit::audit::RequestContext;
use louyu_kit::identity::caller_of;
use louyu_kit::permissions::sees_contacts;
use louyu_proto::registry::v1::{Building, Enterprise};
use tonic::{Request, Status};

use super::RegistryApi;
use crate::domain::contacts;

/// How one read treats the contact details it returns.
pub(super) struct Disclosure {
    /// Who reads, when they see contacts unmasked; `None`: masked.
    reader: Option<RequestContext>,
    method: &'static str,
}

impl Disclosure {
    pub fn of<T>(request: &Request<T>, method: &'static str) -> Result<Self, Status> {
        let caller = caller_of(request)?;
        Ok(Self {
            reader: sees_contacts(caller).then(|| RequestContext::of_caller(caller)),
            method,
        })
    }

    /// Masks the enterprises' contacts, or records that the reader saw them.
    pub async fn enterprises(
        &self,
        api: &RegistryApi,
        enterprises: &mut [Enterprise],
    ) -> Result<(), Status> {
        let Some(reader) = &self.reader else {
            enterprises.iter_mut().for_each(contacts::mask_enterprise);
            return Ok(());
        };
        let disclosed: Vec<&str> = enterprises
            .iter()
            .filter(|enterprise| contacts::enterprise_has_contacts(enterprise))
            .map(|enterprise| enterprise.name.as_str())
            .collect();
        self.record(api, reader, &disclosed).await
    }

    /// Masks the buildings' council and chief contacts, or records that the
    /// reader saw them.
    pub async fn buildings(
        &self,
        api: &RegistryApi,
        buildings: &mut [Building],
    ) -> Result<(), Status> {
        let Some(reader) = &self.reader else {
            buildings.iter_mut().for_each(contacts::mask_building);
            return Ok(());
        };
        let disclosed: Vec<&str> = buildings
            .iter()
            .filter(|building| contacts::building_has_contacts(building))
            .map(|building| building.name.as_str())
            .collect();
        self.record(api, reader, &disclosed).await
    }

    async fn record(
        &self,
        api: &RegistryApi,
        reader: &RequestContext,
        disclosed: &[&str],
    ) -> Result<(), Status> {
        if disclosed.is_empty() {
            return Ok(());
        }
        api.store
            .record_disclosures(reader, self.method, disclosed)
            .await
            .map_err(louyu_kit::error::into_status)
    }
}
