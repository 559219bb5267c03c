use louyu_kit::config::Config;
use louyu_kit::hosting;
use louyu_kit::identity::ProcessIdentity;
use louyu_kit::server::Shutdown;
use louyu_testkit::backend_tests;
use louyu_testkit::{CapturedLogs, TestBackend, TestDatabase};
use secrecy::SecretString;

/// A deployment on PostgreSQL that forgot `LOUYU_PAGE_TOKEN_SECRET` is
/// warned at start, as the registry warns; the local SQLite run is not.
async fn the_visits_service_warns_at_start_when_a_deployment_signs_page_tokens_with_the_development_key(
    backend: TestBackend,
) {
    louyu_kit::telemetry::init_for_tests();
    let Some(database) = TestDatabase::create(backend).await else {
        return;
    };
    let keys = louyu_testkit::identity::TestKeys::generate();
    let mut config = Config {
        listen: Some("127.0.0.1:0".to_owned()),
        database_url: Some(SecretString::from(database.url().to_owned())),
        // Never called: the registry client connects lazily.
        registry_url: "http://127.0.0.1:9".to_owned(),
        ..Config::default()
    };
    keys.apply_to(&mut config);
    assert!(config.uses_development_page_token_secret());
    let logs = CapturedLogs::start();
    let service = louyu_visits::startup::Visits;
    let server = hosting::bind(&service, &config).await.expect("a listener");
    let identity = ProcessIdentity::from_config(&config).expect("the identity");
    let host = hosting::build(&service, &config, server, &Shutdown::new(), &identity)
        .await
        .expect("the visits service builds");
    drop(host);
    let warned = logs.text().contains("development key");
    match backend {
        TestBackend::Postgres => assert!(warned, "no warning in: {}", logs.text()),
        TestBackend::Sqlite => assert!(!warned, "a local run is warned: {}", logs.text()),
    }
}

backend_tests!(
    the_visits_service_warns_at_start_when_a_deployment_signs_page_tokens_with_the_development_key,
);
