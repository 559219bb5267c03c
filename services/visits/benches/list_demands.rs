//! How long a page of 1,000 demands takes to list, with each demand's
//! reports and history.
//!
//! `cargo bench -p louyu-visits --bench list_demands` seeds 1,000 demands,
//! each with two reports and two status changes, and lists them as one page
//! through the store, on SQLite and (when `LOUYU_TEST_POSTGRES_URL` is set)
//! on PostgreSQL. The child rows of a page are read with one query per child
//! table, so the time should not grow by a round trip per demand.

use std::time::{Duration, Instant};

use louyu_kit::db::Db;
use louyu_kit::names::DistrictNames;
use louyu_kit::page::{PageQuery, PageTokens};
use louyu_kit::scope::Reach;
use louyu_testkit::{TestBackend, TestDatabase};
use louyu_visits::store::Store;
use secrecy::SecretString;

const DEMANDS: usize = 1000;
const LISTINGS: u32 = 20;

async fn seed(db: &Db) {
    let mut transaction = db.begin_write().await.expect("begin");
    for index in 0..DEMANDS {
        let id = format!("d-{index:05}");
        sqlx::query(
            "INSERT INTO demands (id, uscc, building_id, sub_district_id, category, description, urgency, status, \
             visit_id, merged_into, flag, created_at, updated_at) \
             VALUES ($1, $2, 'b-1', 'nanjingxilu', 1, '电梯维修', 2, 3, NULL, NULL, '', $3, $3)",
        )
        .bind(&id)
        .bind(format!("uscc-{index:05}"))
        .bind(1_764_230_400_000_000_i64 + index as i64)
        .execute(&mut *transaction)
        .await
        .expect("a demand");
        for report in 0..2 {
            sqlx::query(
                "INSERT INTO demand_reports (id, demand_id, visit_id, description, actor, reported_at) \
                 VALUES ($1, $2, NULL, '电梯经常停运', 'worker-1', $3)",
            )
            .bind(format!("{id}-r{report}"))
            .bind(&id)
            .bind(1_764_230_400_000_000_i64 + report)
            .execute(&mut *transaction)
            .await
            .expect("a report");
            sqlx::query(
                "INSERT INTO demand_status_changes (id, demand_id, from_status, to_status, actor, reason, changed_at) \
                 VALUES ($1, $2, $3, $4, 'worker-1', '', $5)",
            )
            .bind(format!("{id}-s{report}"))
            .bind(&id)
            .bind(1 + report)
            .bind(2 + report)
            .bind(1_764_230_400_000_000_i64 + report)
            .execute(&mut *transaction)
            .await
            .expect("a status change");
        }
    }
    transaction.commit().await.expect("commit");
}

async fn bench(backend: TestBackend) {
    let Some(database) = TestDatabase::create(backend).await else {
        println!("{backend:?}: skipped (set LOUYU_TEST_POSTGRES_URL)");
        return;
    };
    let db = Db::connect(&database.url).await.expect("connect");
    louyu_kit::hosting::migrate_database(&db, &louyu_visits::startup::Visits)
        .await
        .expect("migrate");
    seed(&db).await;
    let tokens = PageTokens::new(SecretString::from("bench"));
    let store = Store::new(db.clone(), DistrictNames::new("jingan"), tokens.clone());
    let page =
        PageQuery::parse(&tokens, "ListDemands|districts/jingan", "", 1000, "").expect("a page");
    let mut total = Duration::ZERO;
    for _ in 0..LISTINGS {
        let started = Instant::now();
        let (demands, _) = store
            .list_demands(&page, &Reach::District)
            .await
            .expect("a page");
        total += started.elapsed();
        assert_eq!(demands.len(), DEMANDS);
        assert!(
            demands
                .iter()
                .all(|demand| demand.reports.len() == 2 && demand.history.len() == 2)
        );
    }
    let mean = total / LISTINGS;
    println!(
        "{backend:?}: a page of {DEMANDS} demands with their reports and history: {:>7.1} ms",
        mean.as_secs_f64() * 1000.0
    );
    db.close().await;
}

#[tokio::main]
async fn main() {
    bench(TestBackend::Sqlite).await;
    bench(TestBackend::Postgres).await;
}
