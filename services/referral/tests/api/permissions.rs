//! Who may call what, as the permission table says, for every method the
//! referral service serves.

use louyu_kit::config::ServiceName;
use louyu_kit::permissions::{AUDIT, EVENT_FEED, REFERRAL};
use louyu_testkit::{TestBackend, backend_tests};

use crate::helpers::*;

async fn every_role_is_refused_exactly_the_methods_the_table_denies_it(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let methods = louyu_testkit::permissions::assert_roles_refused_as_the_table_says(
        &suite.sandbox,
        ServiceName::Referral,
        &[REFERRAL, AUDIT, EVENT_FEED],
    )
    .await;
    assert!(methods > 25, "every referral method is covered: {methods}");
}

backend_tests!(every_role_is_refused_exactly_the_methods_the_table_denies_it);
