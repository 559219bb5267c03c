//! A service calling another over real gRPC: it presents its own system
//! token and forwards the person it serves, and the callee verifies both
//! and sees the system acting for the person (what its audit trail
//! records). Two kit servers stand in for visits and the registry.

use louyu_kit::config::Config;
use louyu_kit::hosting::HostBuilder;
use louyu_kit::identity::{PeerInterceptor, ProcessIdentity, caller_of};
use louyu_kit::server::{GrpcServer, Readiness, Shutdown};
use louyu_proto::common::v1::audit_service_client::AuditServiceClient;
use louyu_proto::common::v1::audit_service_server::{AuditService, AuditServiceServer};
use louyu_proto::common::v1::{AuditRecord, ListAuditRecordsRequest, ListAuditRecordsResponse};
use louyu_testkit::identity::{AuthorizedChannel, Bearer, TestKeys, auditor};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

/// Answers with one record: its own verified caller, and (as its
/// `request_id`) the trace context it runs under.
struct Callee;

#[tonic::async_trait]
impl AuditService for Callee {
    async fn list_audit_records(
        &self,
        request: Request<ListAuditRecordsRequest>,
    ) -> Result<Response<ListAuditRecordsResponse>, Status> {
        let actor = caller_of(&request)?.audit_actor();
        Ok(Response::new(ListAuditRecordsResponse {
            audit_records: vec![AuditRecord {
                actor,
                request_id: louyu_kit::telemetry::current_traceparent(),
                ..AuditRecord::default()
            }],
            next_page_token: String::new(),
        }))
    }
}

/// Answers with its own caller, then what the callee saw when asked.
struct Front {
    callee: AuditServiceClient<InterceptedService<Channel, PeerInterceptor>>,
}

#[tonic::async_trait]
impl AuditService for Front {
    async fn list_audit_records(
        &self,
        request: Request<ListAuditRecordsRequest>,
    ) -> Result<Response<ListAuditRecordsResponse>, Status> {
        let own = caller_of(&request)?.audit_actor();
        let mut seen = self
            .callee
            .clone()
            .list_audit_records(ListAuditRecordsRequest::default())
            .await?
            .into_inner()
            .audit_records;
        seen.insert(
            0,
            AuditRecord {
                actor: own,
                request_id: louyu_kit::telemetry::current_traceparent(),
                ..AuditRecord::default()
            },
        );
        Ok(Response::new(ListAuditRecordsResponse {
            audit_records: seen,
            next_page_token: String::new(),
        }))
    }
}

/// Serves `service` on port 0 under kit's server; returns its URL.
async fn serve<S>(
    label: &'static str,
    service: AuditServiceServer<S>,
    identity: &ProcessIdentity,
    shutdown: &Shutdown,
) -> String
where
    S: AuditService,
{
    let server = GrpcServer::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", server.local_addr());
    let settings = louyu_testkit::sandbox::test_config().server_settings();
    let host = HostBuilder::new(label, server, settings, shutdown, identity)
        .add_service(service)
        .build();
    tokio::spawn(host.run(Readiness::ready()));
    url
}

/// The callee and the front (`front`, calling the callee) on port 0, in one
/// process with `identity`; returns the front's address.
async fn start_pair(identity: &ProcessIdentity, shutdown: &Shutdown) -> String {
    let callee_url = serve(
        "callee",
        AuditServiceServer::new(Callee),
        identity,
        shutdown,
    )
    .await;
    let channel = Endpoint::from_shared(callee_url).unwrap().connect_lazy();
    let front = Front {
        callee: AuditServiceClient::with_interceptor(
            channel,
            PeerInterceptor::new(identity.credentials("front")),
        ),
    };
    serve("front", AuditServiceServer::new(front), identity, shutdown).await
}

async fn actors_seen(client: &mut AuditServiceClient<AuthorizedChannel>) -> Vec<String> {
    client
        .list_audit_records(ListAuditRecordsRequest::default())
        .await
        .expect("both servers accept")
        .into_inner()
        .audit_records
        .into_iter()
        .map(|record| record.actor)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_calling_another_presents_itself_and_forwards_the_person_it_serves() {
    louyu_kit::telemetry::init_for_tests();
    let keys = TestKeys::generate();
    let mut config = Config::default();
    keys.apply_to(&mut config);
    let identity = ProcessIdentity::from_config(&config).unwrap();
    let shutdown = Shutdown::new();
    let front_url = start_pair(&identity, &shutdown).await;

    let channel = Endpoint::from_shared(front_url).unwrap().connect_lazy();
    let mut client = AuditServiceClient::new(AuthorizedChannel::new(
        channel,
        Bearer::new(&keys.token(&auditor())),
    ));
    assert_eq!(
        actors_seen(&mut client).await,
        ["staff:auditor-1", "system:front for staff:auditor-1"],
        "the callee verified the front's token and the person's"
    );
    shutdown.trigger();
}

/// The trace id of a W3C `traceparent`: `00-<trace id>-<span id>-<flags>`.
fn trace_id(traceparent: &str) -> &str {
    traceparent.split('-').nth(1).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_trace_crosses_each_hop_with_a_span_of_its_own() {
    louyu_kit::telemetry::init_for_tests();
    let keys = TestKeys::generate();
    let mut config = Config::default();
    keys.apply_to(&mut config);
    let identity = ProcessIdentity::from_config(&config).unwrap();
    let shutdown = Shutdown::new();
    let front_url = start_pair(&identity, &shutdown).await;

    let channel = Endpoint::from_shared(front_url).unwrap().connect_lazy();
    let mut client = AuditServiceClient::new(AuthorizedChannel::new(
        channel,
        Bearer::new(&keys.token(&auditor())),
    ));
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut request = Request::new(ListAuditRecordsRequest::default());
    request
        .metadata_mut()
        .insert("traceparent", traceparent.parse().unwrap());
    let seen: Vec<String> = client
        .list_audit_records(request)
        .await
        .expect("both servers accept")
        .into_inner()
        .audit_records
        .into_iter()
        .map(|record| record.request_id)
        .collect();
    assert_eq!(seen.len(), 2);
    for (hop, context) in seen.iter().enumerate() {
        assert_eq!(
            trace_id(context),
            trace_id(traceparent),
            "hop {hop} runs in the caller's trace: {seen:?}"
        );
    }
    assert_ne!(seen[0], traceparent, "the front's span is its own");
    assert_ne!(seen[1], seen[0], "the callee's span is its own");
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_development_identity_the_service_acts_for_the_unverified_person() {
    louyu_kit::telemetry::init_for_tests();
    let keys = TestKeys::generate();
    let mut config = Config {
        dev_identity: true,
        ..Config::default()
    };
    keys.apply_to(&mut config);
    let identity = ProcessIdentity::from_config(&config).unwrap();
    let shutdown = Shutdown::new();
    let front_url = start_pair(&identity, &shutdown).await;

    let channel = Endpoint::from_shared(front_url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut request = Request::new(ListAuditRecordsRequest::default());
    request
        .metadata_mut()
        .insert("x-louyu-actor", "s-009".parse().unwrap());
    request
        .metadata_mut()
        .insert("x-louyu-roles", "auditor".parse().unwrap());
    let actors: Vec<String> = AuditServiceClient::new(channel)
        .list_audit_records(request)
        .await
        .expect("both servers accept")
        .into_inner()
        .audit_records
        .into_iter()
        .map(|record| record.actor)
        .collect();
    assert_eq!(
        actors,
        [
            "staff:s-009 (unverified)",
            "system:front for staff:s-009 (unverified)"
        ]
    );
    shutdown.trigger();
}
