//! How fast the whole district is re-assessed (`Store::rescore_district`),
//! as when new rules come into force.
//!
//! `LOUYU_TEST_POSTGRES_URL=postgres://… cargo bench -p louyu-risk --bench rescore_district`
//! seeds a fresh PostgreSQL database with `LOUYU_BENCH_ENTERPRISES`
//! enterprises (default 1,000,000), each assessed green under earlier rules,
//! with a realistic mix of signals: most have a lease ending within five
//! years, a fifth an observation from a visit, a few an open demand or a
//! record from another system, some a colour set by hand. Seeding is plain
//! SQL (`INSERT … SELECT generate_series`) and is not measured. It then
//! re-assesses the district twice: the first run changes every colour the
//! signals move off green (history rows and events included), the second,
//! with nothing new, changes none. It prints enterprises per second and the
//! seconds of each run. Without `LOUYU_TEST_POSTGRES_URL` it says so and
//! exits with status 2.

use std::time::Instant;

use louyu_kit::db::Db;
use louyu_kit::names::DistrictNames;
use louyu_kit::page::PageTokens;
use louyu_risk::domain::Rules;
use louyu_risk::store::Store;
use louyu_testkit::{TestBackend, TestDatabase};
use secrecy::SecretString;

const DEFAULT_ENTERPRISES: u64 = 1_000_000;

/// The statements that seed `$1` enterprises at `$2` (now, in µs); `i` is
/// the enterprise's number, and its digits pick its mix of signals.
const SEED: &[&str] = &[
    // Every enterprise assessed green before, a tenth with no tenancy.
    "INSERT INTO assessments (uscc, colour, effective_colour, score, rules_version, explanation, building_id, \
     assessed_at, next_change_at) \
     SELECT '913101060' || lpad(i::text, 9, '0'), 1, 1, 0, 'earlier', '{\"factors\":[]}', NULL, $2 - 86400000000, NULL \
     FROM generate_series(1, $1) AS i",
    "INSERT INTO tenancies_seen (tenancy_id, uscc, building_id, active, started_at) \
     SELECT 't-' || i, '913101060' || lpad(i::text, 9, '0'), 'b-' || (i % 400), 1, $2 - 1000 * 86400000000 \
     FROM generate_series(1, $1) AS i WHERE i % 10 <> 0",
    // Nine in ten: a lease ending some day within the next five years.
    "INSERT INTO signals (uscc, topic, id, kind, source, observed_at, value, expires_at, due_at, subject, recorded_at) \
     SELECT '913101060' || lpad(i::text, 9, '0'), 'tenancy/t-' || i, 't-' || i, 'lease_ending', 'registry', \
     $2 - 1000 * 86400000000, NULL, NULL, $2 + ((i * 7919) % 1826) * 86400000000, 'districts/jingan/tenancies/t-' || i, $2 \
     FROM generate_series(1, $1) AS i WHERE i % 10 <> 0",
    // One in five: an observation from a visit, up to 200 days old.
    "INSERT INTO signals (uscc, topic, id, kind, source, observed_at, value, expires_at, due_at, subject, recorded_at) \
     SELECT '913101060' || lpad(i::text, 9, '0'), 'visit/observation', 'v-' || i, \
     (ARRAY['relocation_considering', 'expansion_unmet', 'business_declining', 'headcount_declining', \
     'low_satisfaction', 'relocation_decided'])[1 + (i / 5) % 6], 'visits', $2 - ((i * 31) % 200) * 86400000000, \
     CASE WHEN (i / 5) % 6 = 4 THEN 1 + (i % 3) ELSE NULL END, NULL, NULL, 'districts/jingan/visits/v-' || i, $2 \
     FROM generate_series(1, $1) AS i WHERE i % 5 = 1",
    // One in twenty: an open demand, raised up to 120 days ago.
    "INSERT INTO signals (uscc, topic, id, kind, source, observed_at, value, expires_at, due_at, subject, recorded_at) \
     SELECT '913101060' || lpad(i::text, 9, '0'), 'demand/d-' || i, 'd-' || i, 'open_demand', 'visits', \
     $2 - ((i * 13) % 120) * 86400000000, 1 + (i % 4), NULL, NULL, 'districts/jingan/demands/d-' || i, $2 \
     FROM generate_series(1, $1) AS i WHERE i % 20 = 3",
    // One in thirty: a record from another system.
    "INSERT INTO signals (uscc, topic, id, kind, source, observed_at, value, expires_at, due_at, subject, recorded_at) \
     SELECT '913101060' || lpad(i::text, 9, '0'), 'signal/s-' || i, 's-' || i, \
     (ARRAY['court_case', 'tax_revenue_drop', 'credit_downgrade', 'social_insurance_drop'])[1 + (i / 30) % 4], \
     'system:court', $2 - ((i * 17) % 400) * 86400000000, \
     CASE WHEN (i / 30) % 4 IN (1, 3) THEN 0.05 * (1 + i % 10) ELSE NULL END, \
     CASE WHEN i % 7 = 0 THEN $2 - 86400000000 ELSE NULL END, NULL, '', $2 \
     FROM generate_series(1, $1) AS i WHERE i % 30 = 7",
    // One in a hundred: a colour set by hand, half of them expired.
    "UPDATE assessments SET override_colour = 4, effective_colour = 4, override_reason = 'seen on a visit', \
     override_actor = 'staff-1', override_set_at = $2 - 10 * 86400000000, \
     override_expires_at = $2 + CASE WHEN substr(uscc, 17, 1) IN ('0', '1', '2', '3', '4') THEN -86400000000 \
     ELSE 30 * 86400000000 END WHERE $1 > 0 AND substr(uscc, 18, 1) = '9' AND substr(uscc, 16, 1) = '5'",
    "ANALYZE assessments",
    "ANALYZE signals",
    "ANALYZE tenancies_seen",
];

async fn seed(db: &Db, enterprises: u64, now: i64) {
    for statement in SEED {
        let mut query = sqlx::query(*statement);
        if statement.contains("$1") {
            query = query.bind(i64::try_from(enterprises).expect("a count"));
        }
        if statement.contains("$2") {
            query = query.bind(now);
        }
        query
            .execute(db.pool())
            .await
            .unwrap_or_else(|error| panic!("seed: {error}\n{statement}"));
    }
}

#[tokio::main]
async fn main() {
    if louyu_testkit::postgres_server_url().is_none() {
        eprintln!(
            "rescore_district needs PostgreSQL: set LOUYU_TEST_POSTGRES_URL, e.g. \
             LOUYU_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres"
        );
        std::process::exit(2);
    }
    let enterprises: u64 = match std::env::var("LOUYU_BENCH_ENTERPRISES") {
        Ok(text) => text
            .parse()
            .expect("LOUYU_BENCH_ENTERPRISES is a whole number"),
        Err(_) => DEFAULT_ENTERPRISES,
    };
    let database = TestDatabase::create(TestBackend::Postgres)
        .await
        .expect("a PostgreSQL database");
    let db = Db::connect(&database.url).await.expect("connect");
    louyu_kit::hosting::migrate_database(&db, &louyu_risk::startup::Risk)
        .await
        .expect("migrate");
    let now = louyu_kit::time::now_micros();
    let seeding = Instant::now();
    seed(&db, enterprises, now).await;
    let signals: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signals")
        .fetch_one(db.pool())
        .await
        .expect("a count");
    println!(
        "seeded {enterprises} enterprises with {signals} signals in {:.1} s (not measured)",
        seeding.elapsed().as_secs_f64()
    );
    let store = Store::new(
        db.clone(),
        DistrictNames::new("jingan"),
        PageTokens::new(SecretString::from("bench")),
        Rules::default_rules(),
    );
    let rules = Rules::default_rules();
    for (run, what) in ["first, under new rules", "second, nothing new"]
        .into_iter()
        .enumerate()
    {
        let at = now + run as i64 * 1_000_000;
        let mut reported = 0;
        let summary = store
            .rescore_district(&rules, at, |done, total| {
                if done * 10 / total.max(1) > reported {
                    reported = done * 10 / total.max(1);
                    eprint!("\r{done}/{total}");
                }
            })
            .await
            .expect("the district re-assessed");
        eprintln!();
        let seconds = summary.duration.as_secs_f64();
        println!(
            "rescore_district ({what}): {} enterprises in {seconds:.2} s, {:.0} enterprises/s, {} changed colour",
            summary.enterprises,
            summary.enterprises as f64 / seconds,
            summary.changed
        );
        assert_eq!(summary.enterprises, enterprises);
    }
    db.close().await;
}
