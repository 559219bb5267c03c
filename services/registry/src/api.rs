//! gRPC handlers: parse the request into domain types, call the store, map
//! errors to status.

use louyu_kit::audit::RequestContext;
use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::names::{generate_id, parse_resource_id};
use louyu_kit::page::PageTokens;
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::registry::v1::registry_service_server::RegistryService;
use louyu_proto::registry::v1::*;
use tonic::{Request, Response, Status};

use crate::domain::fields;
use crate::domain::{Names, Uscc};
use crate::error::RegistryError;
use crate::import;
use crate::store::{
    AssignmentInput, BuildingInput, Call, CouncilMemberRecord, DepartmentInput, EnterpriseInput,
    PageQuery, ResourceInput, StaffInput, Store, SubDistrictInput, TenancyInput, UnitInput,
};

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

    fn page(
        &self,
        method: &str,
        parent: &str,
        filter: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<PageQuery, InvalidArgument> {
        PageQuery::parse(
            &self.page_tokens,
            &format!("{method}|{parent}"),
            filter,
            page_size,
            page_token,
        )
    }
}

fn reply<T>(result: Result<T, RegistryError>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

/// For a resource type and its mutable fields: the field list, a test of
/// which fields a patch populates (for updates without a mask), and a merge
/// that copies the fields named in `paths` from a patch into the current
/// value.
macro_rules! mutable_fields {
    ($resource:ty; $($field:ident),* $(,)?) => {
        (
            &[$(stringify!($field)),*] as &[&str],
            |patch: &$resource, path: &str| -> bool {
                match path {
                    $(stringify!($field) => patch_field_populated(&patch.$field),)*
                    _ => false,
                }
            },
            |current: &mut $resource, patch: &$resource, paths: &[String]| {
                for path in paths {
                    match path.as_str() {
                        $(stringify!($field) => current.$field = patch.$field.clone(),)*
                        _ => unreachable!("update paths are checked against the same list"),
                    }
                }
            },
        )
    };
}

fn patch_field_populated<T: Default + PartialEq>(value: &T) -> bool {
    *value != T::default()
}

const IMMUTABLE: &[&str] = &["name", "create_time", "update_time"];

fn parse_sub_district(
    value: &SubDistrict,
    id: String,
) -> Result<SubDistrictInput, InvalidArgument> {
    let mut violations = Violations::new();
    let display_name = violations.check(fields::name(
        "sub_district.display_name",
        &value.display_name,
    ));
    let kind = violations.check(fields::required_enum::<SubDistrictKind>(
        "sub_district.kind",
        value.kind,
    ));
    violations.into_result()?;
    Ok(SubDistrictInput {
        id,
        display_name: display_name.unwrap_or_default(),
        kind: kind.unwrap_or_default(),
    })
}

fn parse_building(names: &Names, value: &Building) -> Result<BuildingInput, InvalidArgument> {
    let mut violations = Violations::new();
    let display_name = violations.check(fields::name("building.display_name", &value.display_name));
    let address = violations.check(fields::multiline_text(
        "building.address",
        &value.address,
        fields::MAX_TEXT_CHARS,
        true,
    ));
    let location = violations.check(fields::location(
        "building.location",
        value.location.as_ref(),
    ));
    let above = violations.check(fields::floors(
        "building.floors_above_ground",
        value.floors_above_ground,
    ));
    let below = violations.check(fields::floors(
        "building.floors_below_ground",
        value.floors_below_ground,
    ));
    let sub_district = if value.managing_sub_district.is_empty() {
        violations.add(
            "building.managing_sub_district",
            "必须填写所属街道 is required: every building has exactly one managing sub-district",
        );
        None
    } else {
        violations.check(names.parse_sub_district(
            "building.managing_sub_district",
            &value.managing_sub_district,
        ))
    };
    let property_manager = violations.check(fields::text(
        "building.property_manager",
        &value.property_manager,
        fields::MAX_NAME_CHARS,
        false,
    ));
    let mut council_members = Vec::new();
    for (index, member) in value.council_members.iter().enumerate() {
        let field = format!("building.council_members[{index}]");
        let contact = match &member.contact {
            Some(contact) => {
                violations.check(fields::contact(&format!("{field}.contact"), contact))
            }
            None => {
                violations.add(format!("{field}.contact"), "必须填写 is required");
                None
            }
        };
        let role = violations.check(fields::text(
            &format!("{field}.role"),
            &member.role,
            50,
            false,
        ));
        let enterprise = if member.enterprise.is_empty() {
            Some(String::new())
        } else {
            violations
                .check(names.parse_enterprise(&format!("{field}.enterprise"), &member.enterprise))
                .map(|uscc| uscc.as_str().to_owned())
        };
        if let (Some(contact), Some(role), Some(enterprise)) = (contact, role, enterprise) {
            council_members.push(CouncilMemberRecord {
                contact,
                role,
                enterprise,
            });
        }
    }
    let building_chief = match &value.building_chief {
        Some(chief) => violations.check(fields::contact("building.building_chief", chief)),
        None => None,
    };
    violations.into_result()?;
    Ok(BuildingInput {
        display_name: display_name.unwrap_or_default(),
        address: address.unwrap_or_default(),
        location: location.flatten(),
        floors_above_ground: above.unwrap_or_default(),
        floors_below_ground: below.unwrap_or_default(),
        managing_sub_district: sub_district.unwrap_or_default(),
        property_manager: property_manager.unwrap_or_default(),
        council_members,
        building_chief,
    })
}

fn parse_unit(value: &Unit) -> Result<UnitInput, InvalidArgument> {
    let mut violations = Violations::new();
    let display_name = violations.check(fields::name("unit.display_name", &value.display_name));
    let floor = violations.check(fields::floor("unit.floor", value.floor));
    let area = violations.check(fields::area(
        "unit.area_square_meters",
        value.area_square_meters,
    ));
    violations.into_result()?;
    Ok(UnitInput {
        display_name: display_name.unwrap_or_default(),
        floor: floor.unwrap_or_default(),
        area: area.unwrap_or_default(),
    })
}

pub(crate) fn parse_enterprise(
    value: &Enterprise,
    prefix: &str,
) -> Result<EnterpriseInput, InvalidArgument> {
    let field = |name: &str| format!("{prefix}.{name}");
    let mut violations = Violations::new();
    let display_name = violations.check(fields::name(&field("display_name"), &value.display_name));
    let industry = violations.check(fields::text(
        &field("industry"),
        &value.industry,
        100,
        false,
    ));
    let headcount = violations.check(fields::count(&field("headcount"), value.headcount));
    let party_members =
        violations.check(fields::count(&field("party_members"), value.party_members));
    if let (Some(headcount), Some(party_members)) = (headcount, party_members)
        && party_members > headcount
        && headcount > 0
    {
        violations.add(
            field("party_members"),
            "党员人数不能多于员工人数 must not exceed the headcount",
        );
    }
    let mut contacts = Vec::new();
    for (index, contact) in value.contacts.iter().enumerate() {
        if let Some(parsed) = violations.check(fields::contact(
            &field(&format!("contacts[{index}]")),
            contact,
        )) {
            contacts.push(parsed);
        }
    }
    let status = if value.status == 0 {
        Some(EnterpriseStatus::Active)
    } else {
        violations.check(fields::required_enum::<EnterpriseStatus>(
            &field("status"),
            value.status,
        ))
    };
    let registered_address = violations.check(fields::multiline_text(
        &field("registered_address"),
        &value.registered_address,
        fields::MAX_TEXT_CHARS,
        false,
    ));
    violations.into_result()?;
    Ok(EnterpriseInput {
        display_name: display_name.unwrap_or_default(),
        industry: industry.unwrap_or_default(),
        headcount: headcount.unwrap_or_default(),
        party_members: party_members.unwrap_or_default(),
        contacts,
        status: status.unwrap_or(EnterpriseStatus::Active),
        registered_address: registered_address.unwrap_or_default(),
    })
}

fn parse_tenancy(
    names: &Names,
    value: &Tenancy,
    prefix: &str,
) -> Result<TenancyInput, InvalidArgument> {
    let field = |name: &str| format!("{prefix}.{name}");
    let mut violations = Violations::new();
    let uscc = violations.check(names.parse_enterprise(&field("enterprise"), &value.enterprise));
    let unit = violations.check(names.parse_unit(&field("unit"), &value.unit));
    let area = if value.area_square_meters == 0.0 {
        None
    } else {
        violations.check(fields::area(
            &field("area_square_meters"),
            value.area_square_meters,
        ))
    };
    let lease_start = violations.check(fields::date(
        &field("lease_start"),
        value.lease_start.as_ref(),
    ));
    let lease_end = violations.check(fields::date(&field("lease_end"), value.lease_end.as_ref()));
    if let (Some(start), Some(end)) = (lease_start, lease_end)
        && end < start
    {
        violations.add(
            field("lease_end"),
            "租约结束日期不能早于开始日期 must not be before lease_start",
        );
    }
    violations.into_result()?;
    let (building_id, unit_id) = unit.unwrap_or_default();
    Ok(TenancyInput {
        uscc: uscc.expect("checked above"),
        building_id,
        unit_id,
        area,
        lease_start: lease_start.expect("checked above"),
        lease_end: lease_end.expect("checked above"),
    })
}

fn parse_staff(names: &Names, value: &Staff) -> Result<StaffInput, InvalidArgument> {
    let mut violations = Violations::new();
    let display_name = violations.check(fields::text(
        "staff.display_name",
        &value.display_name,
        100,
        true,
    ));
    let phone = violations.check(fields::phone("staff.phone", &value.phone));
    let sub_district = if value.sub_district.is_empty() {
        Some(None)
    } else {
        violations
            .check(names.parse_sub_district("staff.sub_district", &value.sub_district))
            .map(Some)
    };
    violations.into_result()?;
    Ok(StaffInput {
        display_name: display_name.unwrap_or_default(),
        phone: phone.unwrap_or_default(),
        sub_district: sub_district.flatten(),
        active: value.active,
    })
}

fn parse_department(names: &Names, value: &Department) -> Result<DepartmentInput, InvalidArgument> {
    let mut violations = Violations::new();
    let display_name =
        violations.check(fields::name("department.display_name", &value.display_name));
    let kind = violations.check(fields::required_enum::<DepartmentKind>(
        "department.kind",
        value.kind,
    ));
    let mut demand_categories = Vec::new();
    for (index, category) in value.demand_categories.iter().enumerate() {
        if let Some(category) = violations.check(fields::required_enum::<DemandCategory>(
            &format!("department.demand_categories[{index}]"),
            *category,
        )) && !demand_categories.contains(&category)
        {
            demand_categories.push(category);
        }
    }
    let mut jurisdiction = Vec::new();
    for (index, sub_district) in value.jurisdiction.iter().enumerate() {
        if let Some(id) = violations.check(
            names.parse_sub_district(&format!("department.jurisdiction[{index}]"), sub_district),
        ) && !jurisdiction.contains(&id)
        {
            jurisdiction.push(id);
        }
    }
    let office_phone = violations.check(fields::phone(
        "department.office_phone",
        &value.office_phone,
    ));
    violations.into_result()?;
    Ok(DepartmentInput {
        display_name: display_name.unwrap_or_default(),
        kind: kind.unwrap_or_default(),
        demand_categories,
        jurisdiction,
        office_phone: office_phone.unwrap_or_default(),
    })
}

fn parse_resource(
    names: &Names,
    value: &BuildingResource,
) -> Result<ResourceInput, InvalidArgument> {
    let mut violations = Violations::new();
    let display_name = violations.check(fields::name(
        "building_resource.display_name",
        &value.display_name,
    ));
    let kind = violations.check(fields::required_enum::<ResourceKind>(
        "building_resource.kind",
        value.kind,
    ));
    let building_id = if value.building.is_empty() {
        Some(None)
    } else {
        violations
            .check(names.parse_building("building_resource.building", &value.building))
            .map(Some)
    };
    let location = match violations.check(fields::location(
        "building_resource.location",
        value.location.as_ref(),
    )) {
        Some(Some(location)) => Some(location),
        Some(None) => {
            violations.add("building_resource.location", "必须填写坐标 is required");
            None
        }
        None => None,
    };
    let address = violations.check(fields::multiline_text(
        "building_resource.address",
        &value.address,
        fields::MAX_TEXT_CHARS,
        false,
    ));
    let opening_hours = violations.check(fields::multiline_text(
        "building_resource.opening_hours",
        &value.opening_hours,
        200,
        false,
    ));
    violations.into_result()?;
    Ok(ResourceInput {
        display_name: display_name.unwrap_or_default(),
        kind: kind.unwrap_or_default(),
        building_id: building_id.flatten(),
        location: location.unwrap_or_default(),
        address: address.unwrap_or_default(),
        opening_hours: opening_hours.unwrap_or_default(),
    })
}

/// An optional caller-chosen id, or a generated one.
fn chosen_or_generated_id(
    field: &str,
    chosen: &str,
    prefix: &str,
) -> Result<String, InvalidArgument> {
    if chosen.is_empty() {
        Ok(generate_id(prefix))
    } else {
        parse_resource_id(field, chosen)
    }
}

#[tonic::async_trait]
impl RegistryService for RegistryApi {
    async fn get_district(
        &self,
        request: Request<GetDistrictRequest>,
    ) -> Result<Response<District>, Status> {
        self.names()
            .parse_district("name", &request.get_ref().name)?;
        Ok(Response::new(District {
            name: self.names().district(),
            display_name: self.district_name.clone(),
        }))
    }

    async fn create_sub_district(
        &self,
        request: Request<CreateSubDistrictRequest>,
    ) -> Result<Response<SubDistrict>, Status> {
        let body = request.get_ref();
        self.names().parse_district("parent", &body.parent)?;
        let call = Call::new(
            &request,
            "CreateSubDistrict",
            &body.request_id,
            &CreateSubDistrictRequest {
                request_id: String::new(),
                ..body.clone()
            },
        )?;
        let mut violations = Violations::new();
        let id = violations.check(parse_resource_id("sub_district_id", &body.sub_district_id));
        let input = match (&body.sub_district, id) {
            (Some(sub_district), Some(id)) => {
                violations.check(parse_sub_district(sub_district, id))
            }
            (None, _) => {
                violations.add("sub_district", "必须填写 is required");
                None
            }
            _ => None,
        };
        violations.into_result()?;
        reply(
            self.store
                .create_sub_district(&call, input.expect("checked above"))
                .await,
        )
    }

    async fn get_sub_district(
        &self,
        request: Request<GetSubDistrictRequest>,
    ) -> Result<Response<SubDistrict>, Status> {
        let id = self
            .names()
            .parse_sub_district("name", &request.get_ref().name)?;
        reply(self.store.get_sub_district(&id).await)
    }

    async fn list_sub_districts(
        &self,
        request: Request<ListSubDistrictsRequest>,
    ) -> Result<Response<ListSubDistrictsResponse>, Status> {
        let body = request.into_inner();
        self.names().parse_district("parent", &body.parent)?;
        let page = self.page(
            "ListSubDistricts",
            &body.parent,
            "",
            body.page_size,
            &body.page_token,
        )?;
        let (sub_districts, next_page_token) = self.store.list_sub_districts(&page).await?;
        Ok(Response::new(ListSubDistrictsResponse {
            sub_districts,
            next_page_token,
        }))
    }

    async fn create_building(
        &self,
        request: Request<CreateBuildingRequest>,
    ) -> Result<Response<Building>, Status> {
        let body = request.get_ref();
        self.names().parse_district("parent", &body.parent)?;
        let call = Call::new(
            &request,
            "CreateBuilding",
            &body.request_id,
            &CreateBuildingRequest {
                request_id: String::new(),
                ..body.clone()
            },
        )?;
        let mut violations = Violations::new();
        let id = violations.check(chosen_or_generated_id(
            "building_id",
            &body.building_id,
            "b",
        ));
        let input = match &body.building {
            Some(building) => violations.check(parse_building(self.names(), building)),
            None => {
                violations.add("building", "必须填写 is required");
                None
            }
        };
        violations.into_result()?;
        let (id, input) = (id.expect("checked above"), input.expect("checked above"));
        reply(self.store.create_building(&call, &id, input).await)
    }

    async fn get_building(
        &self,
        request: Request<GetBuildingRequest>,
    ) -> Result<Response<Building>, Status> {
        let id = self
            .names()
            .parse_building("name", &request.get_ref().name)?;
        reply(self.store.get_building(&id).await)
    }

    async fn list_buildings(
        &self,
        request: Request<ListBuildingsRequest>,
    ) -> Result<Response<ListBuildingsResponse>, Status> {
        let body = request.into_inner();
        self.names().parse_district("parent", &body.parent)?;
        let page = self.page(
            "ListBuildings",
            &body.parent,
            &body.filter,
            body.page_size,
            &body.page_token,
        )?;
        let (buildings, next_page_token) = self.store.list_buildings(&page).await?;
        Ok(Response::new(ListBuildingsResponse {
            buildings,
            next_page_token,
        }))
    }

    async fn update_building(
        &self,
        request: Request<UpdateBuildingRequest>,
    ) -> Result<Response<Building>, Status> {
        let body = request.get_ref();
        let Some(patch) = body.building.clone() else {
            return Err(InvalidArgument::new("building", "必须填写 is required").into());
        };
        let id = self.names().parse_building("building.name", &patch.name)?;
        let (mutable, populated, merge) = mutable_fields!(
            Building;
            display_name, address, location, floors_above_ground, floors_below_ground, managing_sub_district,
            property_manager, council_members, building_chief
        );
        let paths = fields::update_paths(body.update_mask.as_ref(), mutable, IMMUTABLE, |path| {
            populated(&patch, path)
        })?;
        let call = Call::new(&request, "UpdateBuilding", "", body)?;
        let names = self.names().clone();
        reply(
            self.store
                .update_building(&call, &id, move |current: &mut Building| {
                    merge(current, &patch, &paths);
                    Ok((parse_building(&names, current)?, paths))
                })
                .await,
        )
    }

    async fn create_unit(
        &self,
        request: Request<CreateUnitRequest>,
    ) -> Result<Response<Unit>, Status> {
        let body = request.get_ref();
        let building_id = self.names().parse_building("parent", &body.parent)?;
        let call = Call::new(
            &request,
            "CreateUnit",
            &body.request_id,
            &CreateUnitRequest {
                request_id: String::new(),
                ..body.clone()
            },
        )?;
        let mut violations = Violations::new();
        let id = violations.check(parse_resource_id("unit_id", &body.unit_id));
        let input = match &body.unit {
            Some(unit) => violations.check(parse_unit(unit)),
            None => {
                violations.add("unit", "必须填写 is required");
                None
            }
        };
        violations.into_result()?;
        reply(
            self.store
                .create_unit(
                    &call,
                    &building_id,
                    &id.expect("checked"),
                    input.expect("checked"),
                )
                .await,
        )
    }

    async fn get_unit(&self, request: Request<GetUnitRequest>) -> Result<Response<Unit>, Status> {
        let (building_id, id) = self.names().parse_unit("name", &request.get_ref().name)?;
        reply(self.store.get_unit(&building_id, &id).await)
    }

    async fn list_units(
        &self,
        request: Request<ListUnitsRequest>,
    ) -> Result<Response<ListUnitsResponse>, Status> {
        let body = request.into_inner();
        let building_id = self.names().parse_building("parent", &body.parent)?;
        let page = self.page(
            "ListUnits",
            &body.parent,
            &body.filter,
            body.page_size,
            &body.page_token,
        )?;
        let (units, next_page_token) = self.store.list_units(&building_id, &page).await?;
        Ok(Response::new(ListUnitsResponse {
            units,
            next_page_token,
        }))
    }

    async fn update_unit(
        &self,
        request: Request<UpdateUnitRequest>,
    ) -> Result<Response<Unit>, Status> {
        let body = request.get_ref();
        let Some(patch) = body.unit.clone() else {
            return Err(InvalidArgument::new("unit", "必须填写 is required").into());
        };
        let (building_id, id) = self.names().parse_unit("unit.name", &patch.name)?;
        let (mutable, populated, merge) =
            mutable_fields!(Unit; display_name, floor, area_square_meters);
        let immutable = &["name", "current_tenant", "create_time", "update_time"];
        let paths = fields::update_paths(body.update_mask.as_ref(), mutable, immutable, |path| {
            populated(&patch, path)
        })?;
        let call = Call::new(&request, "UpdateUnit", "", body)?;
        reply(
            self.store
                .update_unit(&call, &building_id, &id, move |current: &mut Unit| {
                    merge(current, &patch, &paths);
                    Ok(parse_unit(current)?)
                })
                .await,
        )
    }

    async fn list_vacant_units(
        &self,
        request: Request<ListVacantUnitsRequest>,
    ) -> Result<Response<ListVacantUnitsResponse>, Status> {
        let body = request.into_inner();
        self.names().parse_district("parent", &body.parent)?;
        let page = self.page(
            "ListVacantUnits",
            &body.parent,
            &body.filter,
            body.page_size,
            &body.page_token,
        )?;
        let (units, next_page_token) = self.store.list_vacant_units(&page).await?;
        Ok(Response::new(ListVacantUnitsResponse {
            units,
            next_page_token,
        }))
    }

    async fn create_enterprise(
        &self,
        request: Request<CreateEnterpriseRequest>,
    ) -> Result<Response<Enterprise>, Status> {
        let body = request.get_ref();
        self.names().parse_district("parent", &body.parent)?;
        let call = Call::new(
            &request,
            "CreateEnterprise",
            &body.request_id,
            &CreateEnterpriseRequest {
                request_id: String::new(),
                ..body.clone()
            },
        )?;
        let Some(enterprise) = &body.enterprise else {
            return Err(InvalidArgument::new("enterprise", "必须填写 is required").into());
        };
        let mut violations = Violations::new();
        let uscc = violations.check(Uscc::parse("enterprise.uscc", &enterprise.uscc));
        let input = violations.check(parse_enterprise(enterprise, "enterprise"));
        violations.into_result()?;
        reply(
            self.store
                .create_enterprise(&call, &uscc.expect("checked"), input.expect("checked"))
                .await,
        )
    }

    async fn get_enterprise(
        &self,
        request: Request<GetEnterpriseRequest>,
    ) -> Result<Response<Enterprise>, Status> {
        let uscc = self
            .names()
            .parse_enterprise("name", &request.get_ref().name)?;
        reply(self.store.get_enterprise(&uscc).await)
    }

    async fn list_enterprises(
        &self,
        request: Request<ListEnterprisesRequest>,
    ) -> Result<Response<ListEnterprisesResponse>, Status> {
        let body = request.into_inner();
        self.names().parse_district("parent", &body.parent)?;
        let page = self.page(
            "ListEnterprises",
            &body.parent,
            &body.filter,
            body.page_size,
            &body.page_token,
        )?;
        let (enterprises, next_page_token) = self.store.list_enterprises(&page).await?;
        Ok(Response::new(ListEnterprisesResponse {
            enterprises,
            next_page_token,
        }))
    }

    async fn update_enterprise(
        &self,
        request: Request<UpdateEnterpriseRequest>,
    ) -> Result<Response<Enterprise>, Status> {
        let body = request.get_ref();
        let Some(patch) = body.enterprise.clone() else {
            return Err(InvalidArgument::new("enterprise", "必须填写 is required").into());
        };
        let uscc = self
            .names()
            .parse_enterprise("enterprise.name", &patch.name)?;
        let (mutable, populated, merge) = mutable_fields!(
            Enterprise;
            display_name, industry, headcount, party_members, contacts, status, registered_address
        );
        let immutable = &[
            "name",
            "uscc",
            "occupied_units",
            "create_time",
            "update_time",
        ];
        let paths = fields::update_paths(body.update_mask.as_ref(), mutable, immutable, |path| {
            populated(&patch, path)
        })?;
        if paths.iter().any(|path| path == "status") && patch.status == 0 {
            return Err(InvalidArgument::new("enterprise.status", "必须填写 is required").into());
        }
        let call = Call::new(&request, "UpdateEnterprise", "", body)?;
        reply(
            self.store
                .update_enterprise(&call, &uscc, move |current: &mut Enterprise| {
                    merge(current, &patch, &paths);
                    Ok((parse_enterprise(current, "enterprise")?, paths))
                })
                .await,
        )
    }

    async fn create_tenancy(
        &self,
        request: Request<CreateTenancyRequest>,
    ) -> Result<Response<Tenancy>, Status> {
        let body = request.get_ref();
        self.names().parse_district("parent", &body.parent)?;
        let call = Call::new(
            &request,
            "CreateTenancy",
            &body.request_id,
            &CreateTenancyRequest {
                request_id: String::new(),
                ..body.clone()
            },
        )?;
        let Some(tenancy) = &body.tenancy else {
            return Err(InvalidArgument::new("tenancy", "必须填写 is required").into());
        };
        let input = parse_tenancy(self.names(), tenancy, "tenancy")?;
        reply(self.store.create_tenancy(&call, input).await)
    }

    async fn get_tenancy(
        &self,
        request: Request<GetTenancyRequest>,
    ) -> Result<Response<Tenancy>, Status> {
        let id = self
            .names()
            .parse_tenancy("name", &request.get_ref().name)?;
        reply(self.store.get_tenancy(&id).await)
    }

    async fn list_tenancies(
        &self,
        request: Request<ListTenanciesRequest>,
    ) -> Result<Response<ListTenanciesResponse>, Status> {
        let body = request.into_inner();
        self.names().parse_district("parent", &body.parent)?;
        let page = self.page(
            "ListTenancies",
            &body.parent,
            &body.filter,
            body.page_size,
            &body.page_token,
        )?;
        let (tenancies, next_page_token) = self.store.list_tenancies(&page).await?;
        Ok(Response::new(ListTenanciesResponse {
            tenancies,
            next_page_token,
        }))
    }

    async fn end_tenancy(
        &self,
        request: Request<EndTenancyRequest>,
    ) -> Result<Response<Tenancy>, Status> {
        let body = request.get_ref();
        let call = Call::new(
            &request,
            "EndTenancy",
            &body.request_id,
            &EndTenancyRequest {
                request_id: String::new(),
                ..body.clone()
            },
        )?;
        let mut violations = Violations::new();
        let id = violations.check(self.names().parse_tenancy("name", &body.name));
        let end_date = violations.check(fields::date("end_date", body.end_date.as_ref()));
        let reason = violations.check(fields::text("reason", &body.reason, 200, false));
        violations.into_result()?;
        reply(
            self.store
                .end_tenancy(
                    &call,
                    &id.expect("checked"),
                    end_date.expect("checked"),
                    &reason.unwrap_or_default(),
                )
                .await,
        )
    }

    async fn move_enterprise(
        &self,
        request: Request<MoveEnterpriseRequest>,
    ) -> Result<Response<Tenancy>, Status> {
        let body = request.get_ref();
        let call = Call::new(
            &request,
            "MoveEnterprise",
            &body.request_id,
            &MoveEnterpriseRequest {
                request_id: String::new(),
                ..body.clone()
            },
        )?;
        let mut violations = Violations::new();
        let from = violations.check(
            self.names()
                .parse_tenancy("from_tenancy", &body.from_tenancy),
        );
        let to = match &body.to_tenancy {
            Some(tenancy) => violations.check(parse_tenancy(self.names(), tenancy, "to_tenancy")),
            None => {
                violations.add("to_tenancy", "必须填写 is required");
                None
            }
        };
        let move_date = violations.check(fields::date("move_date", body.move_date.as_ref()));
        violations.into_result()?;
        reply(
            self.store
                .move_enterprise(
                    &call,
                    &from.expect("checked"),
                    to.expect("checked"),
                    move_date.expect("checked"),
                )
                .await,
        )
    }

    async fn create_staff(
        &self,
        request: Request<CreateStaffRequest>,
    ) -> Result<Response<Staff>, Status> {
        let body = request.get_ref();
        self.names().parse_district("parent", &body.parent)?;
        let call = Call::new(
            &request,
            "CreateStaff",
            &body.request_id,
            &CreateStaffRequest {
                request_id: String::new(),
                ..body.clone()
            },
        )?;
        let mut violations = Violations::new();
        let id = violations.check(chosen_or_generated_id("staff_id", &body.staff_id, "s"));
        let input = match &body.staff {
            Some(staff) => violations.check(parse_staff(self.names(), staff)),
            None => {
                violations.add("staff", "必须填写 is required");
                None
            }
        };
        violations.into_result()?;
        reply(
            self.store
                .create_staff(&call, &id.expect("checked"), input.expect("checked"))
                .await,
        )
    }

    async fn get_staff(
        &self,
        request: Request<GetStaffRequest>,
    ) -> Result<Response<Staff>, Status> {
        let id = self.names().parse_staff("name", &request.get_ref().name)?;
        reply(self.store.get_staff(&id).await)
    }

    async fn list_staff(
        &self,
        request: Request<ListStaffRequest>,
    ) -> Result<Response<ListStaffResponse>, Status> {
        let body = request.into_inner();
        self.names().parse_district("parent", &body.parent)?;
        let page = self.page(
            "ListStaff",
            &body.parent,
            &body.filter,
            body.page_size,
            &body.page_token,
        )?;
        let (staff, next_page_token) = self.store.list_staff(&page).await?;
        Ok(Response::new(ListStaffResponse {
            staff,
            next_page_token,
        }))
    }

    async fn update_staff(
        &self,
        request: Request<UpdateStaffRequest>,
    ) -> Result<Response<Staff>, Status> {
        let body = request.get_ref();
        let Some(patch) = body.staff.clone() else {
            return Err(InvalidArgument::new("staff", "必须填写 is required").into());
        };
        let id = self.names().parse_staff("staff.name", &patch.name)?;
        let (mutable, populated, merge) =
            mutable_fields!(Staff; display_name, phone, sub_district, active);
        let paths = fields::update_paths(body.update_mask.as_ref(), mutable, IMMUTABLE, |path| {
            populated(&patch, path)
        })?;
        let call = Call::new(&request, "UpdateStaff", "", body)?;
        let names = self.names().clone();
        reply(
            self.store
                .update_staff(&call, &id, move |current: &mut Staff| {
                    merge(current, &patch, &paths);
                    Ok(parse_staff(&names, current)?)
                })
                .await,
        )
    }

    async fn create_assignment(
        &self,
        request: Request<CreateAssignmentRequest>,
    ) -> Result<Response<Assignment>, Status> {
        let body = request.get_ref();
        let staff_id = self.names().parse_staff("parent", &body.parent)?;
        let call = Call::new(
            &request,
            "CreateAssignment",
            &body.request_id,
            &CreateAssignmentRequest {
                request_id: String::new(),
                ..body.clone()
            },
        )?;
        let Some(assignment) = &body.assignment else {
            return Err(InvalidArgument::new("assignment", "必须填写 is required").into());
        };
        let mut violations = Violations::new();
        let building_id = violations.check(
            self.names()
                .parse_building("assignment.building", &assignment.building),
        );
        let uscc = if assignment.enterprise.is_empty() {
            Some(None)
        } else {
            violations
                .check(
                    self.names()
                        .parse_enterprise("assignment.enterprise", &assignment.enterprise),
                )
                .map(Some)
        };
        let role = violations.check(fields::required_enum::<AssignmentRole>(
            "assignment.role",
            assignment.role,
        ));
        if let (Some(Some(_)), Some(role)) = (&uscc, role)
            && role != AssignmentRole::FieldWorker
        {
            violations.add(
                "assignment.enterprise",
                "只有楼宇老师可按企业分工 only field workers are assigned to enterprises",
            );
        }
        violations.into_result()?;
        let input = AssignmentInput {
            building_id: building_id.expect("checked"),
            uscc: uscc.flatten(),
            role: role.expect("checked"),
        };
        reply(self.store.create_assignment(&call, &staff_id, input).await)
    }

    async fn list_assignments(
        &self,
        request: Request<ListAssignmentsRequest>,
    ) -> Result<Response<ListAssignmentsResponse>, Status> {
        let body = request.into_inner();
        let staff_id = self.names().parse_staff("parent", &body.parent)?;
        let staff_id = (staff_id != "-").then_some(staff_id);
        let page = self.page(
            "ListAssignments",
            &body.parent,
            &body.filter,
            body.page_size,
            &body.page_token,
        )?;
        let (assignments, next_page_token) = self
            .store
            .list_assignments(staff_id.as_deref(), &page)
            .await?;
        Ok(Response::new(ListAssignmentsResponse {
            assignments,
            next_page_token,
        }))
    }

    async fn delete_assignment(
        &self,
        request: Request<DeleteAssignmentRequest>,
    ) -> Result<Response<DeleteAssignmentResponse>, Status> {
        let body = request.get_ref();
        let (staff_id, id) = self.names().parse_assignment("name", &body.name)?;
        let call = Call::new(&request, "DeleteAssignment", "", body)?;
        self.store.delete_assignment(&call, &staff_id, &id).await?;
        Ok(Response::new(DeleteAssignmentResponse {}))
    }

    async fn create_department(
        &self,
        request: Request<CreateDepartmentRequest>,
    ) -> Result<Response<Department>, Status> {
        let body = request.get_ref();
        self.names().parse_district("parent", &body.parent)?;
        let call = Call::new(
            &request,
            "CreateDepartment",
            &body.request_id,
            &CreateDepartmentRequest {
                request_id: String::new(),
                ..body.clone()
            },
        )?;
        let mut violations = Violations::new();
        let id = violations.check(chosen_or_generated_id(
            "department_id",
            &body.department_id,
            "d",
        ));
        let input = match &body.department {
            Some(department) => violations.check(parse_department(self.names(), department)),
            None => {
                violations.add("department", "必须填写 is required");
                None
            }
        };
        violations.into_result()?;
        reply(
            self.store
                .create_department(&call, &id.expect("checked"), input.expect("checked"))
                .await,
        )
    }

    async fn get_department(
        &self,
        request: Request<GetDepartmentRequest>,
    ) -> Result<Response<Department>, Status> {
        let id = self
            .names()
            .parse_department("name", &request.get_ref().name)?;
        reply(self.store.get_department(&id).await)
    }

    async fn list_departments(
        &self,
        request: Request<ListDepartmentsRequest>,
    ) -> Result<Response<ListDepartmentsResponse>, Status> {
        let body = request.into_inner();
        self.names().parse_district("parent", &body.parent)?;
        let page = self.page(
            "ListDepartments",
            &body.parent,
            &body.filter,
            body.page_size,
            &body.page_token,
        )?;
        let (departments, next_page_token) = self.store.list_departments(&page).await?;
        Ok(Response::new(ListDepartmentsResponse {
            departments,
            next_page_token,
        }))
    }

    async fn update_department(
        &self,
        request: Request<UpdateDepartmentRequest>,
    ) -> Result<Response<Department>, Status> {
        let body = request.get_ref();
        let Some(patch) = body.department.clone() else {
            return Err(InvalidArgument::new("department", "必须填写 is required").into());
        };
        let id = self
            .names()
            .parse_department("department.name", &patch.name)?;
        let (mutable, populated, merge) = mutable_fields!(Department; display_name, kind, demand_categories, jurisdiction, office_phone);
        let paths = fields::update_paths(body.update_mask.as_ref(), mutable, IMMUTABLE, |path| {
            populated(&patch, path)
        })?;
        let call = Call::new(&request, "UpdateDepartment", "", body)?;
        let names = self.names().clone();
        reply(
            self.store
                .update_department(&call, &id, move |current: &mut Department| {
                    merge(current, &patch, &paths);
                    Ok(parse_department(&names, current)?)
                })
                .await,
        )
    }

    async fn create_building_resource(
        &self,
        request: Request<CreateBuildingResourceRequest>,
    ) -> Result<Response<BuildingResource>, Status> {
        let body = request.get_ref();
        self.names().parse_district("parent", &body.parent)?;
        let call = Call::new(
            &request,
            "CreateBuildingResource",
            &body.request_id,
            &CreateBuildingResourceRequest {
                request_id: String::new(),
                ..body.clone()
            },
        )?;
        let mut violations = Violations::new();
        let id = violations.check(chosen_or_generated_id(
            "building_resource_id",
            &body.building_resource_id,
            "r",
        ));
        let input = match &body.building_resource {
            Some(resource) => violations.check(parse_resource(self.names(), resource)),
            None => {
                violations.add("building_resource", "必须填写 is required");
                None
            }
        };
        violations.into_result()?;
        reply(
            self.store
                .create_resource(&call, &id.expect("checked"), input.expect("checked"))
                .await,
        )
    }

    async fn list_building_resources(
        &self,
        request: Request<ListBuildingResourcesRequest>,
    ) -> Result<Response<ListBuildingResourcesResponse>, Status> {
        let body = request.into_inner();
        self.names().parse_district("parent", &body.parent)?;
        let page = self.page(
            "ListBuildingResources",
            &body.parent,
            &body.filter,
            body.page_size,
            &body.page_token,
        )?;
        let (building_resources, next_page_token) = self.store.list_resources(&page).await?;
        Ok(Response::new(ListBuildingResourcesResponse {
            building_resources,
            next_page_token,
        }))
    }

    async fn search_nearby_resources(
        &self,
        request: Request<SearchNearbyResourcesRequest>,
    ) -> Result<Response<SearchNearbyResourcesResponse>, Status> {
        let body = request.into_inner();
        let mut violations = Violations::new();
        let building_id = violations.check(self.names().parse_building("building", &body.building));
        let radius = if body.radius_meters == 0.0 {
            500.0
        } else {
            body.radius_meters
        };
        if !radius.is_finite() || radius <= 0.0 || radius > 5000.0 {
            violations.add(
                "radius_meters",
                "半径应在0至5000米之间 must be more than 0 and at most 5000 metres",
            );
        }
        let kind = if body.kind == 0 {
            None
        } else {
            violations.check(fields::required_enum::<ResourceKind>("kind", body.kind))
        };
        violations.into_result()?;
        let results = self
            .store
            .search_nearby_resources(&building_id.expect("checked"), radius, kind)
            .await?;
        Ok(Response::new(SearchNearbyResourcesResponse { results }))
    }

    async fn import_records(
        &self,
        request: Request<ImportRecordsRequest>,
    ) -> Result<Response<ImportRecordsResponse>, Status> {
        let context = RequestContext::from_metadata(request.metadata());
        let body = request.into_inner();
        self.names().parse_district("parent", &body.parent)?;
        let kind = fields::required_enum::<ImportKind>("kind", body.kind)?;
        reply(import::import(&self.store, &context, kind, &body.csv, body.validate_only).await)
    }
}
