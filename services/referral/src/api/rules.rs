//! The routing rules, deadlines and calendar in force.

use louyu_kit::error::InvalidArgument;
use louyu_kit::handler::{Reply, reply, required};
use louyu_proto::referral::v1::*;
use tonic::Request;

use super::ReferralApi;
use crate::domain::Rules;
use crate::store::Call;

/// The longest document accepted.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

fn check_name(api: &ReferralApi, field: &str, name: &str) -> Result<(), InvalidArgument> {
    let expected = api.store.routing_rules_name();
    if name == expected {
        Ok(())
    } else {
        Err(InvalidArgument::new(
            field,
            format!("应为 must be {expected}"),
        ))
    }
}

pub(super) async fn get(
    api: &ReferralApi,
    request: Request<GetRoutingRulesRequest>,
) -> Reply<RoutingRules> {
    check_name(api, "name", &request.get_ref().name)?;
    reply(api.store.routing_rules().await)
}

pub(super) async fn update(
    api: &ReferralApi,
    request: Request<UpdateRoutingRulesRequest>,
) -> Reply<RoutingRules> {
    let call = Call::idempotent(&request)?;
    let body = request.get_ref();
    let rules = required("routing_rules", body.routing_rules.as_ref())?;
    check_name(api, "routing_rules.name", &rules.name)?;
    if rules.document.len() > MAX_DOCUMENT_BYTES {
        return Err(InvalidArgument::new(
            "routing_rules.document",
            format!("最长 {MAX_DOCUMENT_BYTES} 字节 at most {MAX_DOCUMENT_BYTES} bytes"),
        )
        .into());
    }
    let parsed = Rules::parse(&rules.document)
        .map_err(|error| InvalidArgument::new("routing_rules.document", error.to_string()))?;
    reply(
        api.store
            .put_rules_in_force(&call, parsed, rules.document.clone())
            .await,
    )
}
