//! The permission table as a matrix over real gRPC: every role against
//! every method of a service, refused with PERMISSION_DENIED exactly where
//! `louyu_kit::permissions::RULES` grants the role nothing. (What a granted
//! role then reaches is each service's own scope suite.)

use louyu_kit::config::ServiceName;
use louyu_kit::identity::{Principal, Role, SystemIdentity};
use louyu_kit::permissions::RULES;
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;

use crate::identity::{AuthorizedChannel, TOKEN_DISTRICT, person_in};
use crate::sandbox::Sandbox;

/// Calls `path` with an empty message and returns the status code, or
/// `None` when the call went through. A server-streaming method
/// (`WatchEvents`) is opened and dropped.
pub async fn call_empty(channel: AuthorizedChannel, path: &str) -> Option<Code> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("the channel is ready");
    let path = PathAndQuery::try_from(path.to_owned()).expect("a gRPC path");
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let result = if path.path().ends_with("/WatchEvents") {
        grpc.server_streaming(tonic::Request::new(()), path, codec)
            .await
            .map(|_| ())
    } else {
        grpc.unary(tonic::Request::new(()), path, codec)
            .await
            .map(|_| ())
    };
    result.err().map(|status| status.code())
}

/// One caller of each role, each with what the role needs in its token: a
/// field worker and a sub-district admin of `east`, an officer of
/// `invest`, and, for the system role, Louyu's own risk service (another
/// system reads a feed only when the deployment grants it).
pub fn one_caller_per_role() -> Vec<(Role, Principal)> {
    vec![
        (
            Role::FieldWorker,
            person_in("fw-east", &[Role::FieldWorker], Some("east"), None),
        ),
        (
            Role::SubDistrictAdmin,
            person_in("admin-east", &[Role::SubDistrictAdmin], Some("east"), None),
        ),
        (
            Role::DistrictAdmin,
            person_in("admin-2", &[Role::DistrictAdmin], None, None),
        ),
        (
            Role::DepartmentOfficer,
            person_in(
                "officer-1",
                &[Role::DepartmentOfficer],
                None,
                Some("invest"),
            ),
        ),
        (
            Role::Auditor,
            person_in("auditor-2", &[Role::Auditor], None, None),
        ),
        (
            Role::System,
            Principal::System(SystemIdentity {
                name: "risk".to_owned(),
                district: TOKEN_DISTRICT.to_owned(),
            }),
        ),
    ]
}

/// Calls every method of `rpc_services` served by `service` as each role,
/// and asserts PERMISSION_DENIED exactly where the table grants the role
/// nothing (and neither PERMISSION_DENIED nor UNAUTHENTICATED where it
/// grants something). Returns how many methods were called per role.
pub async fn assert_roles_refused_as_the_table_says(
    sandbox: &Sandbox,
    service: ServiceName,
    rpc_services: &[&str],
) -> usize {
    let rules: Vec<_> = RULES
        .iter()
        .filter(|rule| rpc_services.contains(&rule.service))
        .collect();
    for (role, who) in one_caller_per_role() {
        let channel = sandbox.client_as(service, &who).await;
        for rule in &rules {
            let code = call_empty(channel.clone(), &rule.path()).await;
            if rule.scope_of(role).is_some() {
                assert!(
                    !matches!(code, Some(Code::PermissionDenied | Code::Unauthenticated)),
                    "{role} may call {}: {code:?}",
                    rule.method
                );
            } else {
                assert_eq!(
                    code,
                    Some(Code::PermissionDenied),
                    "{role} may not call {}",
                    rule.method
                );
            }
        }
    }
    rules.len()
}
