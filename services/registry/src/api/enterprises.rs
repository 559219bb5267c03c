//! Enterprises.

use louyu_kit::error::{InvalidArgument, Violations, into_status};
use louyu_kit::handler::{Reply, reply, required};
use louyu_kit::scope::Reach;
use louyu_proto::registry::v1::*;
use tonic::{Request, Response};

use super::RegistryApi;
use super::contacts::Disclosure;
use super::update::{Update, mutable_fields};
use crate::domain::{Uscc, fields};
use crate::store::{Call, EnterpriseInput};

pub(super) async fn create(
    api: &RegistryApi,
    request: Request<CreateEnterpriseRequest>,
) -> Reply<Enterprise> {
    let body = request.get_ref();
    api.names().parse_district("parent", &body.parent)?;
    let call = Call::idempotent(&request)?;
    let enterprise = required("enterprise", body.enterprise.as_ref())?;
    let mut violations = Violations::new();
    let uscc = violations.check(Uscc::parse("enterprise.uscc", &enterprise.uscc));
    let input = violations.check(parse_enterprise(enterprise, "enterprise"));
    violations.into_result()?;
    reply(
        api.store
            .create_enterprise(&call, &uscc.expect("checked"), input.expect("checked"))
            .await,
    )
}

pub(super) async fn get(
    api: &RegistryApi,
    request: Request<GetEnterpriseRequest>,
) -> Reply<Enterprise> {
    let uscc = api
        .names()
        .parse_enterprise("name", &request.get_ref().name)?;
    let reach = Reach::of_request(&request)?;
    let disclosure = Disclosure::of(&request, "GetEnterprise")?;
    let mut enterprise = api
        .store
        .get_enterprise(&uscc, &reach)
        .await
        .map_err(into_status)?;
    disclosure
        .enterprises(api, std::slice::from_mut(&mut enterprise))
        .await?;
    Ok(Response::new(enterprise))
}

pub(super) async fn list(
    api: &RegistryApi,
    request: Request<ListEnterprisesRequest>,
) -> Reply<ListEnterprisesResponse> {
    let body = request.get_ref();
    api.names().parse_district("parent", &body.parent)?;
    let reach = Reach::of_request(&request)?;
    let disclosure = Disclosure::of(&request, "ListEnterprises")?;
    let mut response: Response<ListEnterprisesResponse> =
        louyu_kit::handler::list(&api.page_tokens, body, async |page| {
            api.store.list_enterprises(page, &reach).await
        })
        .await?;
    disclosure
        .enterprises(api, &mut response.get_mut().enterprises)
        .await?;
    Ok(response)
}

pub(super) async fn update(
    api: &RegistryApi,
    request: Request<UpdateEnterpriseRequest>,
) -> Reply<Enterprise> {
    let body = request.get_ref();
    let patch = required("enterprise", body.enterprise.as_ref())?;
    let uscc = api
        .names()
        .parse_enterprise("enterprise.name", &patch.name)?;
    let mutable = mutable_fields!(
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
    let update = Update::parse(body.update_mask.as_ref(), mutable, immutable, patch)?;
    if update.changes("status") && patch.status == 0 {
        return Err(InvalidArgument::new("enterprise.status", "必须填写 is required").into());
    }
    let call = Call::new(&request)?;
    reply(
        api.store
            .update_enterprise(&call, &uscc, move |current: &mut Enterprise| {
                update.apply(current);
                Ok((parse_enterprise(current, "enterprise")?, update.paths))
            })
            .await,
    )
}

fn parse_enterprise(value: &Enterprise, prefix: &str) -> Result<EnterpriseInput, InvalidArgument> {
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
