//! Who may call, over real gRPC on both databases: every bad token and a
//! forged `x-louyu-actor` refused as UNAUTHENTICATED with a message naming
//! the cause, health and reflection open to anyone, a key rotated in the
//! JWKS file accepted without a restart, and an auditor refused a write.

use std::time::{Duration, SystemTime};

use louyu_kit::identity::{
    JwkSet, KeyAlgorithm, Person, Principal, Role, TokenOptions, generate_development_keys,
    mint_token, mint_token_at,
};
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::registry::v1::*;
use louyu_testkit::backend_tests;
use louyu_testkit::identity::{auditor, district_admin};
use louyu_testkit::{TestBackend, assert_code};
use tonic::Request;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

use crate::helpers::*;

/// `GetDistrict` with exactly the metadata given, on a channel without a
/// token of its own.
async fn get_district_with(
    app: &TestApp,
    metadata: &[(&'static str, String)],
) -> Result<District, tonic::Status> {
    let mut request = Request::new(GetDistrictRequest {
        name: DISTRICT.to_owned(),
    });
    for (key, value) in metadata {
        request
            .metadata_mut()
            .insert(*key, value.parse().expect("ASCII metadata"));
    }
    RegistryServiceClient::new(app.channel.clone())
        .get_district(request)
        .await
        .map(tonic::Response::into_inner)
}

fn bearer(token: &str) -> Vec<(&'static str, String)> {
    vec![("authorization", format!("Bearer {token}"))]
}

/// Asserts UNAUTHENTICATED with a message that contains `cause`.
fn assert_refused(result: Result<District, tonic::Status>, cause: &str) {
    let status = assert_code(result, tonic::Code::Unauthenticated);
    assert!(
        status.message().contains(cause),
        "the message names {cause:?}: {status:?}"
    );
}

async fn every_bad_token_is_refused_as_unauthenticated_naming_the_cause(backend: TestBackend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let keys = app.sandbox().keys();
    let key = &keys.keys.signing_key;
    let admin = district_admin();
    assert!(
        get_district_with(&app, &bearer(&keys.token(&admin)))
            .await
            .is_ok(),
        "a good token is accepted"
    );

    assert_refused(get_district_with(&app, &[]).await, "no token");
    let long_ago = SystemTime::now() - Duration::from_secs(2 * 60 * 60);
    let expired = mint_token_at(key, &admin, &TokenOptions::default(), long_ago).unwrap();
    assert_refused(get_district_with(&app, &bearer(&expired)).await, "expired");
    let tomorrow = SystemTime::now() + Duration::from_secs(24 * 60 * 60);
    let early = mint_token_at(key, &admin, &TokenOptions::default(), tomorrow).unwrap();
    assert_refused(
        get_district_with(&app, &bearer(&early)).await,
        "not yet valid",
    );
    let impostor = generate_development_keys(KeyAlgorithm::EdDsa)
        .unwrap()
        .signing_key
        .with_kid(key.kid());
    let forged = mint_token(&impostor, &admin, &TokenOptions::default()).unwrap();
    assert_refused(get_district_with(&app, &bearer(&forged)).await, "signature");
    let other_issuer = TokenOptions {
        issuer: "someone-else".to_owned(),
        ..TokenOptions::default()
    };
    let token = mint_token(key, &admin, &other_issuer).unwrap();
    assert_refused(get_district_with(&app, &bearer(&token)).await, "issuer");
    let other_audience = TokenOptions {
        audience: "another-app".to_owned(),
        ..TokenOptions::default()
    };
    let token = mint_token(key, &admin, &other_audience).unwrap();
    assert_refused(get_district_with(&app, &bearer(&token)).await, "audience");
    let xuhui_admin = Principal::Person(Person {
        staff_id: "admin-1".to_owned(),
        roles: vec![Role::DistrictAdmin],
        district: "xuhui".to_owned(),
        sub_district: None,
        department: None,
    });
    assert_refused(
        get_district_with(&app, &bearer(&keys.token(&xuhui_admin))).await,
        "another district",
    );
    assert_refused(
        get_district_with(&app, &[("x-louyu-actor", "admin-1".to_owned())]).await,
        "x-louyu-actor",
    );

    // Health and reflection need no token.
    let health = HealthClient::new(app.channel.clone())
        .check(HealthCheckRequest::default())
        .await
        .expect("health answers without a token")
        .into_inner();
    assert_eq!(health.status, ServingStatus::Serving as i32);
    let development = HealthClient::new(app.channel.clone())
        .check(HealthCheckRequest {
            service: louyu_kit::server::DEVELOPMENT_IDENTITY_HEALTH_NAME.to_owned(),
        })
        .await;
    assert_code(development, tonic::Code::NotFound);
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::{ServerReflectionRequest, server_reflection_response};
    let mut reflection = ServerReflectionClient::new(app.channel.clone())
        .server_reflection_info(tokio_stream::iter([ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        }]))
        .await
        .expect("reflection answers without a token")
        .into_inner();
    let listed = reflection.message().await.unwrap().unwrap();
    assert!(matches!(
        listed.message_response,
        Some(server_reflection_response::MessageResponse::ListServicesResponse(_))
    ));
}

async fn a_key_added_to_the_jwks_file_is_accepted_without_a_restart(backend: TestBackend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let keys = app.sandbox().keys();
    let rotated = generate_development_keys(KeyAlgorithm::Es256).unwrap();
    let token = mint_token(
        &rotated.signing_key,
        &district_admin(),
        &TokenOptions::default(),
    )
    .unwrap();
    assert_refused(get_district_with(&app, &bearer(&token)).await, "kid");

    let both = JwkSet {
        keys: vec![
            keys.keys.signing_key.public_jwk().clone(),
            rotated.signing_key.public_jwk().clone(),
        ],
    };
    std::fs::write(&keys.jwks_file, both.to_json()).unwrap();
    get_district_with(&app, &bearer(&token))
        .await
        .expect("the new key's token is accepted by the running registry");
}

async fn an_auditor_may_read_but_a_write_is_permission_denied(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let channel = app
        .sandbox()
        .client_as(louyu_kit::config::ServiceName::Registry, &auditor())
        .await;
    let mut as_auditor = RegistryServiceClient::new(channel);
    as_auditor
        .get_district(GetDistrictRequest {
            name: DISTRICT.to_owned(),
        })
        .await
        .expect("an auditor reads");
    let refused = as_auditor
        .create_sub_district(louyu_testkit::fixtures::create_street_request())
        .await;
    let status = assert_code(refused, tonic::Code::PermissionDenied);
    assert!(status.message().contains("CreateSubDistrict"), "{status:?}");
    // Nothing was written, and the district admin of the default client is
    // refused the audit trail, which only auditors read.
    let records = app
        .audit
        .list_audit_records(louyu_proto::common::v1::ListAuditRecordsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(records.audit_records.is_empty());
    let mut admin_audit = louyu_proto::common::v1::audit_service_client::AuditServiceClient::new(
        app.authorized.clone(),
    );
    assert_code(
        admin_audit
            .list_audit_records(louyu_proto::common::v1::ListAuditRecordsRequest::default())
            .await,
        tonic::Code::PermissionDenied,
    );
    app.create_sub_district("jingansi").await;
}

backend_tests!(
    every_bad_token_is_refused_as_unauthenticated_naming_the_cause,
    a_key_added_to_the_jwks_file_is_accepted_without_a_restart,
    an_auditor_may_read_but_a_write_is_permission_denied,
);
