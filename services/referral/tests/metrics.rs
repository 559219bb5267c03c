//! `louyu_referrals_overdue`, scraped from the process's `/metrics` over
//! HTTP while real services run: referrals past a deadline are counted by
//! their lead department, from the database on the process's clock, and a
//! department whose last one is resolved reads 0. The clock and the
//! metrics recorder are the process's, so this binary holds this one test,
//! which runs the two backends one after the other.

#[path = "api/helpers.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;

use std::time::Duration;

use louyu_kit::config::ServiceName;
use louyu_kit::time::{ClockOffset, micros_from_timestamp, shift_clock};
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::referral::v1::*;
use louyu_testkit::TestBackend;
use louyu_testkit::clock::shift_to;
use louyu_testkit::metrics::{eventually_reads, scrape, value};

use helpers::*;

/// The department's overdue referrals as the scrape reads them; `None`
/// while it has no series.
async fn overdue(department: &str) -> Option<f64> {
    value(
        &scrape().await,
        "louyu_referrals_overdue",
        &[("service", "referral"), ("department", department)],
    )
}

/// Waits until the scrape reads `expected` for each department.
async fn overdue_once(expected: &[(&str, f64)]) {
    eventually_reads(
        "louyu_referrals_overdue",
        "referral",
        "department",
        expected,
    )
    .await;
}

async fn referrals_past_a_deadline_are_counted_by_lead_department_and_fall_to_zero(
    backend: TestBackend,
) {
    shift_clock(ClockOffset::default());
    louyu_testkit::metrics::endpoint();
    let Some(mut suite) = spawn_suite_with(backend, |service, config| {
        if service == ServiceName::Referral {
            config.metrics_refresh_interval = Duration::from_millis(100);
        }
    })
    .await
    else {
        return;
    };
    // The street office leads office space and policy questions (the
    // investment office is the second department of office space); the
    // investment office leads financing.
    let mut referrals = Vec::new();
    for (category, description) in [
        (
            DemandCategory::OfficeSpace,
            "需要扩租至400平方米 needs 400 m²",
        ),
        (
            DemandCategory::PolicyConsultation,
            "咨询租金补贴政策 asks about rent subsidies",
        ),
        (
            DemandCategory::Financing,
            "需要流动资金贷款 needs a working-capital loan",
        ),
    ] {
        let demand = suite.raise(category, description).await;
        referrals.push(suite.referral_of(&demand.name).await);
    }
    let financing = referrals.pop().expect("the financing referral");
    assert_eq!(financing.lead_department, department(INVESTMENT_OFFICE));
    assert!(
        referrals[0]
            .departments
            .iter()
            .any(|referred| referred.department == department(INVESTMENT_OFFICE) && !referred.lead),
        "the investment office also has the office-space referral: {:?}",
        referrals[0].departments
    );
    // Open, nothing overdue yet: both departments read 0.
    overdue_once(&[(STREET_OFFICE, 0.0), (INVESTMENT_OFFICE, 0.0)]).await;

    // Past every accept deadline (the first-contact ones come no later).
    let latest_accept_due = referrals
        .iter()
        .chain([&financing])
        .map(|referral| {
            micros_from_timestamp(
                referral
                    .clocks
                    .as_ref()
                    .and_then(|clocks| clocks.accept_due_time.as_ref())
                    .expect("an accept deadline"),
            )
        })
        .max()
        .expect("three referrals");
    shift_to(latest_accept_due);
    overdue_once(&[(STREET_OFFICE, 2.0), (INVESTMENT_OFFICE, 1.0)]).await;
    assert_eq!(
        overdue(INVESTMENT_OFFICE).await,
        Some(1.0),
        "the office-space referral counts for its lead only"
    );

    // The investment office takes up its referral and completes it: its
    // count falls to 0, and reads 0 rather than keeping its last value.
    let mut investment = suite.officer(INVESTMENT_OFFICE).await;
    investment
        .accept_referral(AcceptReferralRequest {
            name: financing.name.clone(),
            ..AcceptReferralRequest::default()
        })
        .await
        .expect("accepted");
    investment
        .complete_referral(CompleteReferralRequest {
            name: financing.name.clone(),
            outcome: "已对接银行授信 a bank credit line was arranged".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("completed");
    overdue_once(&[(STREET_OFFICE, 2.0), (INVESTMENT_OFFICE, 0.0)]).await;
    shift_clock(ClockOffset::default());
}

#[tokio::test(flavor = "multi_thread")]
async fn referrals_past_a_deadline_are_counted_by_lead_department_on_both_backends() {
    for backend in [TestBackend::Sqlite, TestBackend::Postgres] {
        referrals_past_a_deadline_are_counted_by_lead_department_and_fall_to_zero(backend).await;
    }
}
