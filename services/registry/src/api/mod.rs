//! gRPC handlers, one file per resource as in `store/`: each parses the
//! request into domain types, calls the store and replies. This file holds
//! the service and sends each RPC to its resource's file (mini-redis's
//! `src/cmd/mod.rs`).

mod buildings;
mod contacts;
mod councils;
mod departments;
mod districts;
mod enterprises;
mod import;
mod offerings;
mod resources;
mod staff;
mod tenancies;
mod units;
mod update;

use louyu_kit::handler::Reply;
use louyu_kit::page::PageTokens;
use louyu_proto::registry::v1::registry_service_server::RegistryService;
use louyu_proto::registry::v1::*;
use tonic::Request;

pub use councils::CouncilApi;

use crate::domain::Names;
use crate::store::Store;

/// The district's display name and the store behind the API.
#[derive(Debug, Clone)]
pub struct RegistryApi {
    store: Store,
    district_name: String,
    page_tokens: PageTokens,
}

impl RegistryApi {
    pub fn new(store: Store, district_name: &str, page_tokens: PageTokens) -> Self {
        Self {
            store,
            district_name: district_name.to_owned(),
            page_tokens,
        }
    }

    fn names(&self) -> &Names {
        self.store.names()
    }
}

#[tonic::async_trait]
impl RegistryService for RegistryApi {
    async fn get_district(&self, request: Request<GetDistrictRequest>) -> Reply<District> {
        districts::get_district(self, request)
    }

    async fn create_sub_district(
        &self,
        request: Request<CreateSubDistrictRequest>,
    ) -> Reply<SubDistrict> {
        districts::create_sub_district(self, request).await
    }

    async fn get_sub_district(
        &self,
        request: Request<GetSubDistrictRequest>,
    ) -> Reply<SubDistrict> {
        districts::get_sub_district(self, request).await
    }

    async fn list_sub_districts(
        &self,
        request: Request<ListSubDistrictsRequest>,
    ) -> Reply<ListSubDistrictsResponse> {
        districts::list_sub_districts(self, request).await
    }

    async fn create_building(&self, request: Request<CreateBuildingRequest>) -> Reply<Building> {
        buildings::create(self, request).await
    }

    async fn get_building(&self, request: Request<GetBuildingRequest>) -> Reply<Building> {
        buildings::get(self, request).await
    }

    async fn list_buildings(
        &self,
        request: Request<ListBuildingsRequest>,
    ) -> Reply<ListBuildingsResponse> {
        buildings::list(self, request).await
    }

    async fn update_building(&self, request: Request<UpdateBuildingRequest>) -> Reply<Building> {
        buildings::update(self, request).await
    }

    async fn create_unit(&self, request: Request<CreateUnitRequest>) -> Reply<Unit> {
        units::create(self, request).await
    }

    async fn get_unit(&self, request: Request<GetUnitRequest>) -> Reply<Unit> {
        units::get(self, request).await
    }

    async fn list_units(&self, request: Request<ListUnitsRequest>) -> Reply<ListUnitsResponse> {
        units::list(self, request).await
    }

    async fn update_unit(&self, request: Request<UpdateUnitRequest>) -> Reply<Unit> {
        units::update(self, request).await
    }

    async fn list_vacant_units(
        &self,
        request: Request<ListVacantUnitsRequest>,
    ) -> Reply<ListVacantUnitsResponse> {
        units::list_vacant(self, request).await
    }

    async fn create_enterprise(
        &self,
        request: Request<CreateEnterpriseRequest>,
    ) -> Reply<Enterprise> {
        enterprises::create(self, request).await
    }

    async fn get_enterprise(&self, request: Request<GetEnterpriseRequest>) -> Reply<Enterprise> {
        enterprises::get(self, request).await
    }

    async fn list_enterprises(
        &self,
        request: Request<ListEnterprisesRequest>,
    ) -> Reply<ListEnterprisesResponse> {
        enterprises::list(self, request).await
    }

    async fn update_enterprise(
        &self,
        request: Request<UpdateEnterpriseRequest>,
    ) -> Reply<Enterprise> {
        enterprises::update(self, request).await
    }

    async fn create_tenancy(&self, request: Request<CreateTenancyRequest>) -> Reply<Tenancy> {
        tenancies::create(self, request).await
    }

    async fn get_tenancy(&self, request: Request<GetTenancyRequest>) -> Reply<Tenancy> {
        tenancies::get(self, request).await
    }

    async fn list_tenancies(
        &self,
        request: Request<ListTenanciesRequest>,
    ) -> Reply<ListTenanciesResponse> {
        tenancies::list(self, request).await
    }

    async fn end_tenancy(&self, request: Request<EndTenancyRequest>) -> Reply<Tenancy> {
        tenancies::end(self, request).await
    }

    async fn move_enterprise(&self, request: Request<MoveEnterpriseRequest>) -> Reply<Tenancy> {
        tenancies::move_enterprise(self, request).await
    }

    async fn create_staff(&self, request: Request<CreateStaffRequest>) -> Reply<Staff> {
        staff::create(self, request).await
    }

    async fn get_staff(&self, request: Request<GetStaffRequest>) -> Reply<Staff> {
        staff::get(self, request).await
    }

    async fn list_staff(&self, request: Request<ListStaffRequest>) -> Reply<ListStaffResponse> {
        staff::list(self, request).await
    }

    async fn update_staff(&self, request: Request<UpdateStaffRequest>) -> Reply<Staff> {
        staff::update(self, request).await
    }

    async fn create_assignment(
        &self,
        request: Request<CreateAssignmentRequest>,
    ) -> Reply<Assignment> {
        staff::create_assignment(self, request).await
    }

    async fn list_assignments(
        &self,
        request: Request<ListAssignmentsRequest>,
    ) -> Reply<ListAssignmentsResponse> {
        staff::list_assignments(self, request).await
    }

    async fn delete_assignment(
        &self,
        request: Request<DeleteAssignmentRequest>,
    ) -> Reply<DeleteAssignmentResponse> {
        staff::delete_assignment(self, request).await
    }

    async fn create_department(
        &self,
        request: Request<CreateDepartmentRequest>,
    ) -> Reply<Department> {
        departments::create(self, request).await
    }

    async fn get_department(&self, request: Request<GetDepartmentRequest>) -> Reply<Department> {
        departments::get(self, request).await
    }

    async fn list_departments(
        &self,
        request: Request<ListDepartmentsRequest>,
    ) -> Reply<ListDepartmentsResponse> {
        departments::list(self, request).await
    }

    async fn update_department(
        &self,
        request: Request<UpdateDepartmentRequest>,
    ) -> Reply<Department> {
        departments::update(self, request).await
    }

    async fn create_building_resource(
        &self,
        request: Request<CreateBuildingResourceRequest>,
    ) -> Reply<BuildingResource> {
        resources::create(self, request).await
    }

    async fn list_building_resources(
        &self,
        request: Request<ListBuildingResourcesRequest>,
    ) -> Reply<ListBuildingResourcesResponse> {
        resources::list(self, request).await
    }

    async fn search_nearby_resources(
        &self,
        request: Request<SearchNearbyResourcesRequest>,
    ) -> Reply<SearchNearbyResourcesResponse> {
        resources::search_nearby(self, request).await
    }

    async fn create_offering(&self, request: Request<CreateOfferingRequest>) -> Reply<Offering> {
        offerings::create(self, request).await
    }

    async fn get_offering(&self, request: Request<GetOfferingRequest>) -> Reply<Offering> {
        offerings::get(self, request).await
    }

    async fn list_offerings(
        &self,
        request: Request<ListOfferingsRequest>,
    ) -> Reply<ListOfferingsResponse> {
        offerings::list(self, request).await
    }

    async fn update_offering(&self, request: Request<UpdateOfferingRequest>) -> Reply<Offering> {
        offerings::update(self, request).await
    }

    async fn delete_offering(
        &self,
        request: Request<DeleteOfferingRequest>,
    ) -> Reply<DeleteOfferingResponse> {
        offerings::delete(self, request).await
    }

    async fn import_records(
        &self,
        request: Request<ImportRecordsRequest>,
    ) -> Reply<ImportRecordsResponse> {
        import::import_records(self, request).await
    }
}
