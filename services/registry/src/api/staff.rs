//! Staff, and their assignments to buildings and enterprises.

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::handler::{Reply, reply, required};
use louyu_kit::names::chosen_or_generated_id;
use louyu_kit::scope::Reach;
use louyu_proto::registry::v1::*;
use tonic::{Request, Response};

use super::RegistryApi;
use super::update::{IMMUTABLE, Update, mutable_fields};
use crate::domain::{Names, fields};
use crate::store::{AssignmentInput, Call, StaffInput};

pub(super) async fn create(
    api: &RegistryApi,
    request: Request<CreateStaffRequest>,
) -> Reply<Staff> {
    let body = request.get_ref();
    api.names().parse_district("parent", &body.parent)?;
    let call = Call::idempotent(&request)?;
    let mut violations = Violations::new();
    let id = violations.check(chosen_or_generated_id("staff_id", &body.staff_id, "s"));
    let input = violations.check(
        required("staff", body.staff.as_ref()).and_then(|staff| parse_staff(api.names(), staff)),
    );
    violations.into_result()?;
    reply(
        api.store
            .create_staff(&call, &id.expect("checked"), input.expect("checked"))
            .await,
    )
}

pub(super) async fn get(api: &RegistryApi, request: Request<GetStaffRequest>) -> Reply<Staff> {
    let id = api.names().parse_staff("name", &request.get_ref().name)?;
    let reach = Reach::of_request(&request)?;
    reply(api.store.get_staff(&id, &reach).await)
}

pub(super) async fn list(
    api: &RegistryApi,
    request: Request<ListStaffRequest>,
) -> Reply<ListStaffResponse> {
    let body = request.get_ref();
    api.names().parse_district("parent", &body.parent)?;
    let reach = Reach::of_request(&request)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list_staff(page, &reach).await
    })
    .await
}

pub(super) async fn update(
    api: &RegistryApi,
    request: Request<UpdateStaffRequest>,
) -> Reply<Staff> {
    let body = request.get_ref();
    let patch = required("staff", body.staff.as_ref())?;
    let id = api.names().parse_staff("staff.name", &patch.name)?;
    let mutable = mutable_fields!(Staff; display_name, phone, sub_district, active);
    let update = Update::parse(body.update_mask.as_ref(), mutable, IMMUTABLE, patch)?;
    let call = Call::new(&request)?;
    let names = api.names().clone();
    reply(
        api.store
            .update_staff(&call, &id, move |current: &mut Staff| {
                update.apply(current);
                Ok(parse_staff(&names, current)?)
            })
            .await,
    )
}

pub(super) async fn create_assignment(
    api: &RegistryApi,
    request: Request<CreateAssignmentRequest>,
) -> Reply<Assignment> {
    let body = request.get_ref();
    let staff_id = api.names().parse_staff("parent", &body.parent)?;
    let call = Call::idempotent(&request)?;
    let assignment = required("assignment", body.assignment.as_ref())?;
    let input = parse_assignment(api.names(), assignment)?;
    reply(api.store.create_assignment(&call, &staff_id, input).await)
}

pub(super) async fn list_assignments(
    api: &RegistryApi,
    request: Request<ListAssignmentsRequest>,
) -> Reply<ListAssignmentsResponse> {
    let body = request.get_ref();
    let parent_id = api.names().parse_staff("parent", &body.parent)?;
    // `staff/-` lists the assignments of every member of staff (AIP-159).
    let staff_id = (parent_id != "-").then_some(parent_id);
    let reach = Reach::of_request(&request)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store
            .list_assignments(staff_id.as_deref(), page, &reach)
            .await
    })
    .await
}

pub(super) async fn delete_assignment(
    api: &RegistryApi,
    request: Request<DeleteAssignmentRequest>,
) -> Reply<DeleteAssignmentResponse> {
    let body = request.get_ref();
    let (staff_id, id) = api.names().parse_assignment("name", &body.name)?;
    let call = Call::new(&request)?;
    api.store.delete_assignment(&call, &staff_id, &id).await?;
    Ok(Response::new(DeleteAssignmentResponse {}))
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

fn parse_assignment(names: &Names, value: &Assignment) -> Result<AssignmentInput, InvalidArgument> {
    let mut violations = Violations::new();
    let building_id =
        violations.check(names.parse_building("assignment.building", &value.building));
    let uscc = if value.enterprise.is_empty() {
        Some(None)
    } else {
        violations
            .check(names.parse_enterprise("assignment.enterprise", &value.enterprise))
            .map(Some)
    };
    let role = violations.check(fields::required_enum::<AssignmentRole>(
        "assignment.role",
        value.role,
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
    Ok(AssignmentInput {
        building_id: building_id.expect("checked"),
        uscc: uscc.flatten(),
        role: role.expect("checked"),
    })
}
