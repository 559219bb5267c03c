//! Tenancies: an enterprise in a unit, its end, and a move to another unit.

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::handler::{Reply, reply, required};
use louyu_kit::scope::Reach;
use louyu_proto::registry::v1::*;
use tonic::Request;

use super::RegistryApi;
use crate::domain::{Names, fields};
use crate::store::{Call, TenancyInput};

pub(super) async fn create(
    api: &RegistryApi,
    request: Request<CreateTenancyRequest>,
) -> Reply<Tenancy> {
    let body = request.get_ref();
    api.names().parse_district("parent", &body.parent)?;
    let call = Call::idempotent(&request)?;
    let tenancy = required("tenancy", body.tenancy.as_ref())?;
    let input = parse_tenancy(api.names(), tenancy, "tenancy")?;
    reply(api.store.create_tenancy(&call, input).await)
}

pub(super) async fn get(api: &RegistryApi, request: Request<GetTenancyRequest>) -> Reply<Tenancy> {
    let id = api.names().parse_tenancy("name", &request.get_ref().name)?;
    let reach = Reach::of_request(&request)?;
    reply(api.store.get_tenancy(&id, &reach).await)
}

pub(super) async fn list(
    api: &RegistryApi,
    request: Request<ListTenanciesRequest>,
) -> Reply<ListTenanciesResponse> {
    let body = request.get_ref();
    api.names().parse_district("parent", &body.parent)?;
    let reach = Reach::of_request(&request)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list_tenancies(page, &reach).await
    })
    .await
}

pub(super) async fn end(api: &RegistryApi, request: Request<EndTenancyRequest>) -> Reply<Tenancy> {
    let body = request.get_ref();
    let call = Call::idempotent(&request)?;
    let mut violations = Violations::new();
    let id = violations.check(api.names().parse_tenancy("name", &body.name));
    let end_date = violations.check(fields::date("end_date", body.end_date.as_ref()));
    let reason = violations.check(fields::text("reason", &body.reason, 200, false));
    violations.into_result()?;
    reply(
        api.store
            .end_tenancy(
                &call,
                &id.expect("checked"),
                end_date.expect("checked"),
                &reason.unwrap_or_default(),
            )
            .await,
    )
}

pub(super) async fn move_enterprise(
    api: &RegistryApi,
    request: Request<MoveEnterpriseRequest>,
) -> Reply<Tenancy> {
    let body = request.get_ref();
    let call = Call::idempotent(&request)?;
    let mut violations = Violations::new();
    let from = violations.check(
        api.names()
            .parse_tenancy("from_tenancy", &body.from_tenancy),
    );
    let to = violations.check(
        required("to_tenancy", body.to_tenancy.as_ref())
            .and_then(|tenancy| parse_tenancy(api.names(), tenancy, "to_tenancy")),
    );
    let move_date = violations.check(fields::date("move_date", body.move_date.as_ref()));
    violations.into_result()?;
    reply(
        api.store
            .move_enterprise(
                &call,
                &from.expect("checked"),
                to.expect("checked"),
                move_date.expect("checked"),
            )
            .await,
    )
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
