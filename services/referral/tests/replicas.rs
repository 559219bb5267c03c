//! Two replicas of the referral service on one database scan deadlines at
//! the same moment: each breach and escalation happens once. The scanner's
//! step is called from several tasks at once on one store over a real
//! database (on PostgreSQL the transactions overlap; SQLite serialises
//! them).

use louyu_kit::db::Db;
use louyu_kit::names::DistrictNames;
use louyu_kit::page::PageTokens;
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::visits::v1::Urgency;
use louyu_referral::domain::Rules;
use louyu_referral::domain::referral::Acting;
use louyu_referral::store::{DemandFacts, Opened, Store};
use louyu_testkit::{TestBackend, TestDatabase, backend_tests};
use secrecy::SecretString;

const REPLICAS: usize = 8;

async fn a_breach_scanned_by_several_replicas_at_once_is_breached_once(backend: TestBackend) {
    let Some(database) = TestDatabase::create(backend).await else {
        return;
    };
    let db = Db::connect(&database.url).await.expect("connect");
    louyu_kit::hosting::migrate_database(&db, &louyu_referral::startup::Referral)
        .await
        .expect("migrate");
    let store = Store::new(
        db.clone(),
        DistrictNames::new("jingan"),
        PageTokens::new(SecretString::from("test")),
        Rules::default_rules(),
    );
    let facts = DemandFacts {
        demand_id: "dm-1".to_owned(),
        uscc: "91310106MA1G5KT011".to_owned(),
        building_id: "b-1".to_owned(),
        sub_district_id: "nanjingxilu".to_owned(),
        category: DemandCategory::Legal,
        urgency: Urgency::Normal,
        description: "法律咨询 legal advice".to_owned(),
    };
    let acting = Acting {
        actor: "system:test".to_owned(),
        department: None,
        district: true,
    };
    let mut transaction = db.begin_write().await.expect("begin");
    let Opened::New(referral, _) = store
        .open(
            &mut transaction,
            &facts,
            vec!["office".to_owned()],
            &[],
            &acting,
            String::new(),
        )
        .await
        .expect("opened")
    else {
        panic!("a new referral");
    };
    transaction.commit().await.expect("commit");
    let id = louyu_kit::names::last_id(&referral.name).to_owned();
    let accept_due = louyu_kit::time::micros_from_timestamp(
        referral
            .clocks
            .as_ref()
            .and_then(|clocks| clocks.accept_due_time.as_ref())
            .expect("due"),
    );

    // Past the accept and first-contact deadlines: two breaches in all.
    let mut total = 0;
    for at in [
        accept_due + 1,
        Rules::default_rules().calendar().extend(accept_due, 1) + 1,
    ] {
        let tasks: Vec<_> = (0..REPLICAS)
            .map(|_| {
                let store = store.clone();
                let id = id.clone();
                tokio::spawn(async move { store.watch(&id, at).await })
            })
            .collect();
        for task in tasks {
            match task.await.expect("the task") {
                Ok(steps) => total += steps,
                // A replica that lost the race for the row is told to retry;
                // it would find the work done.
                Err(error) => assert!(
                    matches!(error, louyu_referral::error::ReferralError::Database(_)),
                    "{error}"
                ),
            }
        }
    }
    assert_eq!(total, 3, "two breaches and one escalation, each once");
    let due_again = store
        .due_for_watch(i64::MAX / 2, 10)
        .await
        .expect("the next look");
    assert_eq!(due_again, vec![id], "only the completion clock remains");
}

backend_tests!(a_breach_scanned_by_several_replicas_at_once_is_breached_once);
