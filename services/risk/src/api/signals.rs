//! Signals: those other government systems record, and the current ones of
//! an enterprise.

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::handler::{Reply, reply, required};
use louyu_kit::identity::caller_of;
use louyu_kit::scope::Reach;
use louyu_proto::risk::v1::*;
use tonic::Request;

use super::RiskApi;
use crate::domain::{self, SignalKind};
use crate::store::Call;

/// The longest a subject may be.
const MAX_SUBJECT_CHARS: usize = 200;

pub(super) async fn record(api: &RiskApi, request: Request<RecordSignalRequest>) -> Reply<Signal> {
    let body = request.get_ref();
    let uscc = api.store.names().parse_enterprise("parent", &body.parent)?;
    let call = Call::idempotent(&request)?;
    let source = caller_of(&request)?.principal().audit_name();
    let signal = parse_signal(required("signal", body.signal.as_ref())?, source)?;
    reply(api.store.record_signal(&call, uscc.as_str(), signal).await)
}

pub(super) async fn list(
    api: &RiskApi,
    request: Request<ListSignalsRequest>,
) -> Reply<ListSignalsResponse> {
    let body = request.get_ref();
    let uscc = api.store.names().parse_enterprise("parent", &body.parent)?;
    let reach = Reach::of_request(&request)?;
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list_signals(uscc.as_str(), page, &reach).await
    })
    .await
}

/// A signal another system records: one of the recordable kinds, a value
/// where the kind needs one, an expiry after the observation.
fn parse_signal(signal: &Signal, source: String) -> Result<domain::Signal, InvalidArgument> {
    let mut violations = Violations::new();
    let recordable = || {
        SignalKind::RECORDABLE
            .iter()
            .map(|kind| kind.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let kind = if signal.kind.is_empty() {
        violations.add(
            "signal.kind",
            format!("必须填写 is required: one of {}", recordable()),
        );
        None
    } else {
        match signal.kind.parse::<SignalKind>() {
            Ok(kind) if SignalKind::RECORDABLE.contains(&kind) => Some(kind),
            Ok(kind) => {
                violations.add(
                    "signal.kind",
                    format!(
                        "{kind} 由楼宇系统自身的事件产生 comes from Louyu's own feeds; systems record one of {}",
                        recordable()
                    ),
                );
                None
            }
            Err(unknown) => {
                violations.add("signal.kind", unknown.to_string());
                None
            }
        }
    };
    let now = louyu_kit::time::now_micros();
    let observed_at = signal
        .observe_time
        .as_ref()
        .map(louyu_kit::time::micros_from_timestamp)
        .unwrap_or(now);
    if observed_at > now + 60_000_000 {
        violations.add(
            "signal.observe_time",
            "不能晚于当前时间 must not be in the future",
        );
    }
    let expires_at = signal
        .expire_time
        .as_ref()
        .map(louyu_kit::time::micros_from_timestamp);
    if expires_at.is_some_and(|expires_at| expires_at <= observed_at) {
        violations.add(
            "signal.expire_time",
            "须晚于观测时间 must be after observe_time",
        );
    }
    let share = matches!(
        kind,
        Some(SignalKind::TaxRevenueDrop | SignalKind::SocialInsuranceDrop)
    );
    match (share, signal.value) {
        (true, Some(value)) if value > 0.0 && value <= 1.0 => {}
        (true, _) => violations.add(
            "signal.value",
            "须为下降比例，大于0且不超过1（如0.3表示下降30%） must be the share lost, above 0 and at most 1 (0.3 for 30%)",
        ),
        (false, Some(_)) => violations.add(
            "signal.value",
            "此类信号没有取值 this kind takes no value",
        ),
        (false, None) => {}
    }
    let subject = violations.check(louyu_kit::fields::text(
        "signal.subject",
        &signal.subject,
        MAX_SUBJECT_CHARS,
        false,
    ));
    if signal.due_time.is_some() {
        violations.add(
            "signal.due_time",
            "仅租约信号有到期时间 only lease signals have a due time",
        );
    }
    violations.into_result()?;
    Ok(domain::Signal {
        id: louyu_kit::names::generate_id("s"),
        kind: kind.expect("checked above"),
        source,
        observed_at,
        value: signal.value,
        expires_at,
        due_at: None,
        subject: subject.unwrap_or_default(),
    })
}
