//! Assessments and the history of their colour.

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::handler::{Reply, reply, required};
use louyu_kit::scope::Reach;
use louyu_kit::uscc::Uscc;
use louyu_proto::risk::v1::*;
use tonic::Request;

use super::RiskApi;
use crate::domain::Colour;
use crate::store::{Call, GroupBy, OverrideInput};

/// The longest an override may last: a year.
const MAX_OVERRIDE_MICROS: i64 = 366 * 86_400_000_000;
/// The longest reason.
const MAX_REASON_CHARS: usize = 500;

/// The enterprise of `districts/{district}/enterprises/{uscc}/assessment`.
fn parse_assessment(api: &RiskApi, name: &str) -> Result<Uscc, InvalidArgument> {
    let enterprise = name.strip_suffix("/assessment").ok_or_else(|| {
        InvalidArgument::new(
            "name",
            "须为 districts/{district}/enterprises/{uscc}/assessment must be districts/{district}/enterprises/{uscc}/assessment",
        )
    })?;
    api.store.names().parse_enterprise("name", enterprise)
}

pub(super) async fn get(
    api: &RiskApi,
    request: Request<GetAssessmentRequest>,
) -> Reply<Assessment> {
    let uscc = parse_assessment(api, &request.get_ref().name)?;
    let reach = Reach::of_request(&request)?;
    reply(api.store.get_assessment(uscc.as_str(), &reach).await)
}

pub(super) async fn list(
    api: &RiskApi,
    request: Request<ListAssessmentsRequest>,
) -> Reply<ListAssessmentsResponse> {
    let body = request.get_ref();
    api.store.names().parse_district("parent", &body.parent)?;
    let reach = Reach::of_request(&request)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list_assessments(page, &reach).await
    })
    .await
}

pub(super) async fn list_changes(
    api: &RiskApi,
    request: Request<ListAssessmentChangesRequest>,
) -> Reply<ListAssessmentChangesResponse> {
    let body = request.get_ref();
    let uscc = api.store.names().parse_enterprise("parent", &body.parent)?;
    let reach = Reach::of_request(&request)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list_changes(uscc.as_str(), page, &reach).await
    })
    .await
}

pub(super) async fn set_override(
    api: &RiskApi,
    request: Request<SetColourOverrideRequest>,
) -> Reply<Assessment> {
    let body = request.get_ref();
    let uscc = parse_assessment(api, &body.name)?;
    let call = Call::idempotent(&request)?;
    let input = parse_override(required("colour_override", body.colour_override.as_ref())?)?;
    reply(api.store.set_override(&call, uscc.as_str(), input).await)
}

pub(super) async fn clear_override(
    api: &RiskApi,
    request: Request<ClearColourOverrideRequest>,
) -> Reply<Assessment> {
    let body = request.get_ref();
    let uscc = parse_assessment(api, &body.name)?;
    let reason = louyu_kit::fields::text("reason", &body.reason, MAX_REASON_CHARS, true)?;
    let call = Call::new(&request)?;
    reply(
        api.store
            .clear_override(&call, uscc.as_str(), &reason)
            .await,
    )
}

fn parse_override(value: &ColourOverride) -> Result<OverrideInput, InvalidArgument> {
    let mut violations = Violations::new();
    let colour = Colour::from_proto(value.colour);
    if colour.is_none() {
        violations.add(
            "colour_override.colour",
            "必须填写颜色 is required: GREEN, BLUE, YELLOW, ORANGE or RED",
        );
    }
    let reason = violations.check(louyu_kit::fields::text(
        "colour_override.reason",
        &value.reason,
        MAX_REASON_CHARS,
        true,
    ));
    let now = louyu_kit::time::now_micros();
    let expires_at = value
        .expire_time
        .as_ref()
        .map(louyu_kit::time::micros_from_timestamp);
    match expires_at {
        None => violations.add(
            "colour_override.expire_time",
            "必须填写到期时间 is required: an override ends by itself",
        ),
        Some(at) if at <= now => violations.add(
            "colour_override.expire_time",
            "须晚于当前时间 must be in the future",
        ),
        Some(at) if at - now > MAX_OVERRIDE_MICROS => violations.add(
            "colour_override.expire_time",
            "最长一年 must be at most a year ahead",
        ),
        Some(_) => {}
    }
    violations.into_result()?;
    Ok(OverrideInput {
        colour: colour.expect("checked above"),
        reason: reason.expect("checked above"),
        expires_at: expires_at.expect("checked above"),
    })
}

pub(super) async fn summarize(
    api: &RiskApi,
    request: Request<SummarizeAssessmentsRequest>,
) -> Reply<AssessmentSummary> {
    let body = request.get_ref();
    api.store.names().parse_district("parent", &body.parent)?;
    let mut violations = Violations::new();
    let group_by = match body.group_by.as_str() {
        "" => Some(GroupBy::Nothing),
        "building" => Some(GroupBy::Building),
        "sub_district" => Some(GroupBy::SubDistrict),
        _ => {
            violations.add(
                "group_by",
                "须为空、building 或 sub_district must be empty, building or sub_district",
            );
            None
        }
    };
    let days = match body.worsened_within_days {
        0 => 7,
        days @ 1..=366 => i64::from(days),
        _ => {
            violations.add(
                "worsened_within_days",
                "须在1到366天之间 must be 1 to 366 days",
            );
            0
        }
    };
    violations.into_result()?;
    let since = louyu_kit::time::now_micros() - days * 86_400_000_000;
    let reach = Reach::of_request(&request)?;
    reply(
        api.store
            .summarize(group_by.expect("checked above"), since, &reach)
            .await,
    )
}
