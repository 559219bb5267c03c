//! The district's rules: the ones in force, what new ones would do, and
//! putting new ones in force.

use louyu_kit::error::InvalidArgument;
use louyu_kit::handler::{Reply, reply};
use louyu_proto::google::longrunning::Operation;
use louyu_proto::risk::v1::*;
use tonic::{Request, Response};

use super::RiskApi;
use crate::domain;
use crate::store::Call;

/// Checks `districts/{district}/rules`.
fn parse_rules_name(api: &RiskApi, name: &str) -> Result<(), InvalidArgument> {
    let district = name.strip_suffix("/rules").unwrap_or_default();
    api.store
        .names()
        .parse_district("name", district)
        .map_err(|_| {
            InvalidArgument::new(
                "name",
                "须为 districts/{district}/rules must be districts/{district}/rules",
            )
        })
}

/// A rules document, parsed: a refusal names the key at fault.
fn parse_document(document: &str) -> Result<domain::Rules, InvalidArgument> {
    domain::Rules::parse(document).map_err(|error| {
        let key = error.field();
        let field = if key.is_empty() {
            "document".to_owned()
        } else {
            format!("document.{key}")
        };
        InvalidArgument::new(field, error.to_string())
    })
}

pub(super) async fn get(api: &RiskApi, request: Request<GetRulesRequest>) -> Reply<Rules> {
    let name = request.get_ref().name.clone();
    parse_rules_name(api, &name)?;
    let rules = api
        .store
        .current_rules()
        .await
        .map_err(louyu_kit::error::into_status)?;
    Ok(Response::new(Rules {
        name,
        version: rules.version().to_owned(),
        document: rules.to_toml(),
    }))
}

pub(super) async fn dry_run(
    api: &RiskApi,
    request: Request<DryRunRulesRequest>,
) -> Reply<DryRunRulesResponse> {
    let body = request.get_ref();
    parse_rules_name(api, &body.name)?;
    let rules = parse_document(&body.document)?;
    reply(
        api.store
            .dry_run(&rules, louyu_kit::time::now_micros())
            .await,
    )
}

pub(super) async fn activate(
    api: &RiskApi,
    request: Request<ActivateRulesRequest>,
) -> Reply<Operation> {
    let body = request.get_ref();
    parse_rules_name(api, &body.name)?;
    let rules = parse_document(&body.document)?;
    let call = Call::idempotent(&request)?;
    reply(api.store.activate_rules(&call, &rules, body.clone()).await)
}
