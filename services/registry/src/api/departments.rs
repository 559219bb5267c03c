//! The department directory: which department handles which demands where.

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::handler::{Reply, reply, required};
use louyu_kit::names::chosen_or_generated_id;
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::registry::v1::*;
use tonic::Request;

use super::RegistryApi;
use super::update::{IMMUTABLE, Update, mutable_fields};
use crate::domain::{Names, fields};
use crate::store::{Call, DepartmentInput};

pub(super) async fn create(
    api: &RegistryApi,
    request: Request<CreateDepartmentRequest>,
) -> Reply<Department> {
    let body = request.get_ref();
    api.names().parse_district("parent", &body.parent)?;
    let call = Call::idempotent(&request)?;
    let mut violations = Violations::new();
    let id = violations.check(chosen_or_generated_id(
        "department_id",
        &body.department_id,
        "d",
    ));
    let input = violations.check(
        required("department", body.department.as_ref())
            .and_then(|department| parse_department(api.names(), department)),
    );
    violations.into_result()?;
    reply(
        api.store
            .create_department(&call, &id.expect("checked"), input.expect("checked"))
            .await,
    )
}

pub(super) async fn get(
    api: &RegistryApi,
    request: Request<GetDepartmentRequest>,
) -> Reply<Department> {
    let id = api
        .names()
        .parse_department("name", &request.get_ref().name)?;
    reply(api.store.get_department(&id).await)
}

pub(super) async fn list(
    api: &RegistryApi,
    request: Request<ListDepartmentsRequest>,
) -> Reply<ListDepartmentsResponse> {
    let body = request.get_ref();
    api.names().parse_district("parent", &body.parent)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list_departments(page).await
    })
    .await
}

pub(super) async fn update(
    api: &RegistryApi,
    request: Request<UpdateDepartmentRequest>,
) -> Reply<Department> {
    let body = request.get_ref();
    let patch = required("department", body.department.as_ref())?;
    let id = api
        .names()
        .parse_department("department.name", &patch.name)?;
    let mutable = mutable_fields!(
        Department;
        display_name, kind, demand_categories, jurisdiction, office_phone
    );
    let update = Update::parse(body.update_mask.as_ref(), mutable, IMMUTABLE, patch)?;
    let call = Call::new(&request)?;
    let names = api.names().clone();
    reply(
        api.store
            .update_department(&call, &id, move |current: &mut Department| {
                update.apply(current);
                Ok(parse_department(&names, current)?)
            })
            .await,
    )
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
