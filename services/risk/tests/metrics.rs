//! `louyu_enterprises_by_colour`, scraped from the process's `/metrics`
//! over HTTP while real services run: the enterprises by the colour the
//! district acts on (an override while it lasts), all five colours always
//! present. The metrics recorder is the process's, so this binary holds
//! this one test, which runs the two backends one after the other.

#[path = "api/helpers.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;

use std::time::Duration;

use louyu_kit::config::ServiceName;
use louyu_proto::common::v1::RiskColour;
use louyu_proto::risk::v1::{ColourOverride, SetColourOverrideRequest};
use louyu_testkit::TestBackend;
use louyu_testkit::metrics::eventually_reads;

use helpers::*;

/// Waits until the scrape reads exactly `expected` for every colour.
async fn colours_once(expected: [(&str, f64); 5]) {
    eventually_reads("louyu_enterprises_by_colour", "risk", "colour", &expected).await;
}

/// Sets `code`'s colour by hand, for a day.
async fn set_colour(suite: &mut Suite, code: &str, colour: RiskColour) {
    suite
        .risk
        .set_colour_override(SetColourOverrideRequest {
            name: format!("{}/assessment", enterprise_name(code)),
            colour_override: Some(ColourOverride {
                colour: colour as i32,
                reason: "联合走访发现经营困难 a joint visit found the business in trouble"
                    .to_owned(),
                expire_time: Some(louyu_kit::time::timestamp_from_micros(
                    louyu_kit::time::now_micros() + 86_400_000_000,
                )),
                ..ColourOverride::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("the override is set");
}

async fn enterprises_are_counted_by_the_colour_the_district_acts_on(backend: TestBackend) {
    louyu_testkit::metrics::endpoint();
    let Some(mut suite) = spawn_suite_with(backend, |service, config| {
        if service == ServiceName::Risk {
            config.metrics_refresh_interval = Duration::from_millis(100);
        }
    })
    .await
    else {
        return;
    };
    suite.building().await;
    // Two tenants with five years left on their leases: green.
    for (code, unit) in [(uscc(1), "101"), (uscc(2), "201")] {
        suite.tenant(&code, unit, 5 * 365).await;
        suite.assessment_once(&code, RiskColour::Green).await;
    }
    colours_once([
        ("green", 2.0),
        ("blue", 0.0),
        ("yellow", 0.0),
        ("orange", 0.0),
        ("red", 0.0),
    ])
    .await;

    // Set by hand, the colour the district acts on is the one counted.
    set_colour(&mut suite, &uscc(2), RiskColour::Red).await;
    colours_once([
        ("green", 1.0),
        ("blue", 0.0),
        ("yellow", 0.0),
        ("orange", 0.0),
        ("red", 1.0),
    ])
    .await;
    set_colour(&mut suite, &uscc(1), RiskColour::Orange).await;
    colours_once([
        ("green", 0.0),
        ("blue", 0.0),
        ("yellow", 0.0),
        ("orange", 1.0),
        ("red", 1.0),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn enterprises_are_counted_by_colour_on_both_backends() {
    for backend in [TestBackend::Sqlite, TestBackend::Postgres] {
        enterprises_are_counted_by_the_colour_the_district_acts_on(backend).await;
    }
}
