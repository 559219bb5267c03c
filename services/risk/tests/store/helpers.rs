//! A fresh risk database for each test, a store over it, and rows seeded by
//! SQL.

use louyu_kit::db::{Db, NullableDouble};
use louyu_kit::names::DistrictNames;
use louyu_kit::page::PageTokens;
use louyu_risk::domain::{Rules, SignalKind};
use louyu_risk::store::Store;
use louyu_testkit::{TestBackend, TestDatabase};
use secrecy::SecretString;

pub const MICROS_PER_DAY: i64 = 86_400_000_000;
/// The instant every test assesses at (late 2026).
pub const NOW: i64 = 1_796_054_400_000_000;

/// A store over a fresh, migrated database. Keep the database as long as
/// the store.
pub async fn fresh_store(backend: TestBackend) -> Option<(TestDatabase, Store)> {
    let database = TestDatabase::create(backend).await?;
    let db = Db::connect(&database.url).await.expect("connect");
    louyu_kit::hosting::migrate_database(&db, &louyu_risk::startup::Risk)
        .await
        .expect("migrate");
    let store = Store::new(
        db,
        DistrictNames::new("jingan"),
        PageTokens::new(SecretString::from("test")),
        Rules::default_rules(),
    );
    Some((database, store))
}

/// The code of enterprise `index`.
pub fn uscc_of(index: usize) -> String {
    format!("91310106{index:010}")
}

/// A small deterministic generator, so that two databases seeded alike hold
/// the same rows.
struct Numbers(u64);

impl Numbers {
    fn next(&mut self, below: u64) -> u64 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (mixed ^ (mixed >> 31)) % below
    }

    fn days(&mut self, below: u64) -> i64 {
        self.next(below) as i64 * MICROS_PER_DAY + self.next(MICROS_PER_DAY as u64) as i64
    }
}

/// Seeds `count` enterprises of every sort: never assessed or assessed
/// before in any colour; no signal or up to five of any kind, fresh or old,
/// with and without a value, some expired; no tenancy, one, or several with
/// ended ones; a colour set by hand that lasts or that has expired.
pub async fn seed_district(store: &Store, count: usize) {
    let mut numbers = Numbers(7);
    let mut transaction = store.db().begin_write().await.expect("begin");
    for index in 0..count {
        let uscc = uscc_of(index);
        let previous = numbers.next(6) as i64;
        let (override_colour, override_expires_at) = match index % 7 {
            1 => (
                Some(1 + numbers.next(5) as i64),
                Some(NOW + numbers.days(30) + 1),
            ),
            2 => (
                Some(1 + numbers.next(5) as i64),
                Some(NOW - numbers.days(30)),
            ),
            _ => (None, None),
        };
        sqlx::query(
            "INSERT INTO assessments (uscc, colour, effective_colour, score, rules_version, explanation, \
             building_id, assessed_at, next_change_at, override_colour, override_reason, override_actor, \
             override_set_at, override_expires_at) \
             VALUES ($1, $2, $3, 0, 'earlier', '{\"factors\":[]}', NULL, $4, NULL, $5, $6, $7, $8, $9)",
        )
        .bind(&uscc)
        .bind(previous)
        .bind(override_colour.unwrap_or(previous))
        .bind(NOW - MICROS_PER_DAY)
        .bind(override_colour)
        .bind(override_colour.map(|_| "seen on a visit".to_owned()))
        .bind(override_colour.map(|_| "staff-1".to_owned()))
        .bind(override_colour.map(|_| NOW - 40 * MICROS_PER_DAY))
        .bind(override_expires_at)
        .execute(&mut *transaction)
        .await
        .expect("an assessment");
        for signal in 0..numbers.next(6) {
            let kind = SignalKind::ALL[numbers.next(SignalKind::ALL.len() as u64) as usize];
            let value = match (kind, numbers.next(3)) {
                (_, 0) => None,
                (SignalKind::LowSatisfaction, _) => Some(1.0 + numbers.next(5) as f64),
                (SignalKind::OpenDemand, _) => Some(1.0 + numbers.next(4) as f64),
                _ => Some(numbers.next(100) as f64 / 100.0),
            };
            let expires_at = match numbers.next(5) {
                0 => Some(NOW - numbers.days(10)),
                1 => Some(NOW + numbers.days(100) + 1),
                _ => None,
            };
            let due_at = (kind == SignalKind::LeaseEnding)
                .then(|| NOW - 30 * MICROS_PER_DAY + numbers.days(800));
            sqlx::query(
                "INSERT INTO signals (uscc, topic, id, kind, source, observed_at, value, expires_at, due_at, \
                 subject, recorded_at) VALUES ($1, $2, $3, $4, 'test', $5, $6, $7, $8, '', $9)",
            )
            .bind(&uscc)
            .bind(format!("topic/{signal}"))
            .bind(format!("s-{index}-{signal}"))
            .bind(kind.as_str())
            .bind(NOW - numbers.days(400))
            .bind(NullableDouble(value))
            .bind(expires_at)
            .bind(due_at)
            .bind(NOW)
            .execute(&mut *transaction)
            .await
            .expect("a signal");
        }
        for tenancy in 0..numbers.next(4) {
            sqlx::query(
                "INSERT INTO tenancies_seen (tenancy_id, uscc, building_id, active, started_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(format!("t-{index}-{tenancy}"))
            .bind(&uscc)
            .bind(format!("b-{}", numbers.next(20)))
            .bind(i64::from(numbers.next(3) > 0))
            .bind(NOW - numbers.days(3) * 100)
            .execute(&mut *transaction)
            .await
            .expect("a tenancy");
        }
    }
    transaction.commit().await.expect("commit");
}

/// An assessment's columns but its override: uscc, colour, effective colour,
/// score, rules version, explanation, building, assessed at, next change at.
type AssessmentColumns = (
    String,
    i64,
    i64,
    i64,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
);

/// An override's columns: colour, reason, actor, set at, expires at.
type OverrideColumns = (
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// Every assessment row, by key, with every column.
pub async fn assessments(store: &Store) -> Vec<(AssessmentColumns, OverrideColumns)> {
    let rows: Vec<AssessmentColumns> =
        sqlx::query_as(
            "SELECT uscc, colour, effective_colour, score, rules_version, explanation, building_id, assessed_at, \
             next_change_at FROM assessments ORDER BY uscc",
        )
        .fetch_all(store.db().pool())
        .await
        .expect("assessments");
    let overrides: Vec<OverrideColumns> =
        sqlx::query_as(
            "SELECT override_colour, override_reason, override_actor, override_set_at, override_expires_at \
             FROM assessments ORDER BY uscc",
        )
        .fetch_all(store.db().pool())
        .await
        .expect("overrides");
    rows.into_iter().zip(overrides).collect()
}

/// Every change of colour in the history: enterprise, from, to, score,
/// cause, time; sorted.
pub async fn history(store: &Store) -> Vec<(String, i64, i64, i64, String, String, i64)> {
    let mut changes: Vec<(String, i64, i64, i64, String, String, i64)> = sqlx::query_as(
        "SELECT uscc, previous_colour, colour, score, cause_zh, cause_en, changed_at FROM assessment_changes",
    )
    .fetch_all(store.db().pool())
    .await
    .expect("history");
    changes.sort();
    changes
}

/// Every event in the outbox, in order: its resource and payload.
pub async fn outbox(store: &Store) -> Vec<(i64, String, String, Vec<u8>)> {
    sqlx::query_as("SELECT sequence, event_type, resource, payload FROM outbox ORDER BY sequence")
        .fetch_all(store.db().pool())
        .await
        .expect("outbox")
}
