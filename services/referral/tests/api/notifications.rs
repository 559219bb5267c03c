//! Notifications over a real webhook: a receiver of the test's own checks
//! every signature and keeps the delivery ids it accepted. A dispatch, a
//! re-routing and a dissatisfied answer each send one notification; a
//! receiver that is down delays them and loses none; two replicas on one
//! database and a restart deliver each once; a notification that runs out
//! of attempts is dead, listed, and replayed under its own id.

use std::time::Duration;

use louyu_kit::config::{Config, ServiceName};
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::referral::v1::*;
use louyu_testkit::identity::{auditor, person_in};
use louyu_testkit::{TestBackend, backend_tests};
use secrecy::SecretString;
use tonic::Code;

use crate::helpers::*;
use crate::receiver::{Answer, Receiver, SECRET};

/// The webhook at `receiver`, retried within milliseconds: a minute of
/// retries in a test's second.
fn webhook(receiver: &Receiver, max_attempts: u32) -> impl Fn(ServiceName, &mut Config) + use<> {
    let url = receiver.url();
    move |name, config| {
        if name == ServiceName::Referral {
            config.referral_webhook_url = url.clone();
            config.referral_webhook_secret = Some(SecretString::from(SECRET));
            config.referral_webhook_max_attempts = max_attempts;
            config.referral_webhook_backoff_base = Duration::from_millis(10);
            config.referral_webhook_backoff_cap = Duration::from_millis(80);
            config.referral_webhook_connect_timeout = Duration::from_secs(1);
            config.referral_webhook_timeout = Duration::from_secs(2);
        }
    }
}

/// Categories the shipped rules route to the suite's two departments: one
/// open demand of each per enterprise.
const ROUTED: [DemandCategory; 5] = [
    DemandCategory::OfficeSpace,
    DemandCategory::Financing,
    DemandCategory::PolicyConsultation,
    DemandCategory::Safety,
    DemandCategory::Legal,
];

async fn notifications(suite: &Suite, filter: &str) -> Vec<Notification> {
    suite
        .referral
        .clone()
        .list_notifications(ListNotificationsRequest {
            parent: DISTRICT.to_owned(),
            page_size: 100,
            filter: filter.to_owned(),
            ..ListNotificationsRequest::default()
        })
        .await
        .expect("list notifications")
        .into_inner()
        .notifications
}

fn notification_state(notification: &Notification) -> NotificationState {
    NotificationState::try_from(notification.state).expect("a known state")
}

/// Raises one demand of each category and waits for each referral; their
/// names.
async fn referrals_of_demands(suite: &mut Suite, categories: &[DemandCategory]) -> Vec<String> {
    let mut names = Vec::new();
    for category in categories {
        let demand = suite
            .raise(*category, "企业诉求 a demand of the enterprise")
            .await;
        names.push(suite.referral_of(&demand.name).await.name);
    }
    names
}

/// Waits until `count` notifications are listed and all of them are
/// DELIVERED; they, by subject.
async fn all_delivered(suite: &Suite, count: usize) -> Vec<Notification> {
    eventually(&format!("{count} notifications are delivered"), || async {
        let listed = notifications(suite, "").await;
        listed.len() == count
            && listed.iter().all(|notification| {
                notification_state(notification) == NotificationState::Delivered
            })
    })
    .await;
    notifications(suite, "").await
}

async fn a_dispatch_sends_one_signed_notification_the_receiver_verifies(backend: TestBackend) {
    let receiver = Receiver::start(Answer::Status(200)).await;
    let Some(mut suite) = spawn_suite_with(backend, webhook(&receiver, 12)).await else {
        return;
    };
    let description = "联系人王五 13900001111 需要扩租 needs more room";
    let demand = suite.raise(DemandCategory::OfficeSpace, description).await;
    let referral = suite.referral_of(&demand.name).await;

    let delivered = all_delivered(&suite, 1).await;
    let ids = receiver.assert_each_accepted_once();
    assert_eq!(
        ids,
        vec![louyu_kit::names::last_id(&delivered[0].name).to_owned()]
    );
    let accepted = &receiver.accepted()[0];
    let body = &accepted.body;
    assert_eq!(body["version"], 1);
    assert_eq!(body["kind"], "dispatch");
    assert_eq!(body["subject"], referral.name.as_str());
    assert_eq!(
        body["departments"],
        serde_json::json!([department(STREET_OFFICE), department(INVESTMENT_OFFICE)])
    );
    assert!(
        body["text"]["zh"]
            .as_str()
            .is_some_and(|text| text.contains("办公用房"))
    );
    assert!(
        body["text"]["en"]
            .as_str()
            .is_some_and(|text| text.contains("office space"))
    );
    assert!(
        body["time"]
            .as_str()
            .is_some_and(|time| time.ends_with("+08:00"))
    );
    let now = louyu_kit::time::now_micros() / 1_000_000;
    assert!(
        (now - accepted.timestamp).abs() < 60,
        "{}",
        accepted.timestamp
    );
    // No personal data: the demand's own words may hold a name or a phone.
    let text = body.to_string();
    assert!(
        !text.contains("13900001111") && !text.contains("王五"),
        "{text}"
    );

    let notification = &delivered[0];
    assert_eq!(notification.subject, referral.name);
    assert_eq!(notification.kind, NotificationKind::Dispatch as i32);
    assert_eq!(notification.attempts, 1);
    assert!(notification.last_error.is_empty());
    assert!(notification.deliver_time.is_some() && notification.next_attempt_time.is_none());
    assert_eq!(receiver.attempts(), 1);
}

backend_tests!(a_dispatch_sends_one_signed_notification_the_receiver_verifies);

async fn a_reroute_and_a_dissatisfied_answer_are_notified(backend: TestBackend) {
    let receiver = Receiver::start(Answer::Status(204)).await;
    let Some(mut suite) = spawn_suite_with(backend, webhook(&receiver, 12)).await else {
        return;
    };
    let referral = suite.office_space_referral().await;
    let name = referral.name.clone();
    suite
        .referral
        .reroute_referral(RerouteReferralRequest {
            name: name.clone(),
            departments: vec![department(INVESTMENT_OFFICE)],
            note: "由投促办牵头 the investment office leads".to_owned(),
            ..RerouteReferralRequest::default()
        })
        .await
        .expect("re-routed");
    let mut lead = suite.officer(INVESTMENT_OFFICE).await;
    lead.accept_referral(AcceptReferralRequest {
        name: name.clone(),
        ..AcceptReferralRequest::default()
    })
    .await
    .expect("accepted");
    lead.complete_referral(CompleteReferralRequest {
        name: name.clone(),
        outcome: "推荐了房源 offered units".to_owned(),
        request_id: String::new(),
    })
    .await
    .expect("completed");
    suite
        .field_worker()
        .await
        .confirm_referral(ConfirmReferralRequest {
            name: name.clone(),
            resolution: Resolution::PartlySolved as i32,
            satisfaction: 2,
            note: "太远 too far".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("reopened");

    let delivered = all_delivered(&suite, 3).await;
    receiver.assert_each_accepted_once();
    let kinds: Vec<i32> = delivered
        .iter()
        .map(|notification| notification.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            NotificationKind::Dispatch as i32,
            NotificationKind::Dispatch as i32,
            NotificationKind::Warning as i32
        ],
        "oldest first"
    );
    let warning = receiver
        .accepted()
        .into_iter()
        .find(|accepted| accepted.body["kind"] == "warning")
        .expect("the warning arrived");
    assert_eq!(warning.body["subject"], name.as_str());
    assert_eq!(
        warning.body["departments"],
        serde_json::json!([department(INVESTMENT_OFFICE)])
    );
    assert!(
        warning.body["text"]["zh"]
            .as_str()
            .is_some_and(|text| text.contains("第2轮"))
    );
    let warnings = notifications(&suite, "kind = WARNING").await;
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].subject, name);
    assert_eq!(notifications(&suite, "kind = \"dispatch\"").await.len(), 2);
}

backend_tests!(a_reroute_and_a_dissatisfied_answer_are_notified);

async fn a_webhook_receiver_down_for_a_minute_gets_every_notification_once_afterwards(
    backend: TestBackend,
) {
    let receiver = Receiver::start(Answer::HangUp).await;
    let Some(mut suite) = spawn_suite_with(backend, webhook(&receiver, 1_000)).await else {
        return;
    };
    let referrals = referrals_of_demands(&mut suite, &ROUTED).await;
    // Down: nobody answers, then it answers 503 while it starts.
    eventually(
        "every notification was tried while the receiver hangs up",
        || async {
            let listed = notifications(&suite, "state = PENDING").await;
            listed.len() == ROUTED.len()
                && listed.iter().all(|notification| notification.attempts >= 2)
        },
    )
    .await;
    receiver.answer(Answer::Status(503));
    eventually(
        "every notification was refused with 503 a few times",
        || async {
            let listed = notifications(&suite, "state = PENDING").await;
            listed.len() == ROUTED.len()
                && listed.iter().all(|notification| {
                    receiver.attempts_of(louyu_kit::names::last_id(&notification.name)) >= 3
                        && notification.last_error == "HTTP 503"
                        && notification.next_attempt_time.is_some()
                })
        },
    )
    .await;
    assert!(receiver.accepted().is_empty());

    receiver.answer(Answer::Status(200));
    let delivered = all_delivered(&suite, ROUTED.len()).await;
    let mut ids = receiver.assert_each_accepted_once();
    let mut expected: Vec<String> = delivered
        .iter()
        .map(|notification| louyu_kit::names::last_id(&notification.name).to_owned())
        .collect();
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected, "every notification, each once");
    let mut subjects: Vec<String> = delivered
        .iter()
        .map(|notification| notification.subject.clone())
        .collect();
    let mut referrals = referrals;
    subjects.sort();
    referrals.sort();
    assert_eq!(subjects, referrals);
    assert!(
        delivered
            .iter()
            .all(|notification| notification.attempts > 3)
    );
}

backend_tests!(a_webhook_receiver_down_for_a_minute_gets_every_notification_once_afterwards);

async fn two_replicas_on_one_database_deliver_each_notification_once(backend: TestBackend) {
    let receiver = Receiver::start(Answer::Status(503)).await;
    // Slow to answer, so that a second sender of one notification would
    // arrive while the first is being answered.
    receiver.take(Duration::from_millis(30));
    let Some(mut suite) = spawn_suite_with(backend, webhook(&receiver, 1_000)).await else {
        return;
    };
    let replica = suite.sandbox.start_replica(ServiceName::Referral).await;
    referrals_of_demands(&mut suite, &ROUTED).await;
    // Both replicas retry the same notifications while the receiver is
    // down, racing for every lease.
    eventually("every notification was tried a few times", || async {
        let listed = notifications(&suite, "").await;
        listed.len() == ROUTED.len()
            && listed.iter().all(|notification| {
                receiver.attempts_of(louyu_kit::names::last_id(&notification.name)) >= 3
            })
    })
    .await;
    receiver.answer(Answer::Status(200));
    all_delivered(&suite, ROUTED.len()).await;
    assert_eq!(receiver.assert_each_accepted_once().len(), ROUTED.len());
    replica.stop().await;
}

backend_tests!(two_replicas_on_one_database_deliver_each_notification_once);

async fn a_notification_that_runs_out_of_attempts_is_dead_listed_and_replayed_with_its_id(
    backend: TestBackend,
) {
    let receiver = Receiver::start(Answer::Status(503)).await;
    let Some(mut suite) = spawn_suite_with(backend, webhook(&receiver, 3)).await else {
        return;
    };
    let referral = suite.office_space_referral().await;
    eventually("the notification is dead", || async {
        notifications(&suite, "state = DEAD").await.len() == 1
    })
    .await;
    let dead = notifications(&suite, "state = DEAD AND kind = DISPATCH")
        .await
        .remove(0);
    assert_eq!(dead.subject, referral.name);
    assert_eq!(dead.attempts, 3);
    assert_eq!(dead.last_error, "HTTP 503");
    assert!(dead.next_attempt_time.is_none() && dead.deliver_time.is_none());
    let id = louyu_kit::names::last_id(&dead.name).to_owned();
    assert_eq!(receiver.attempts_of(&id), 3, "no attempt after the last");
    assert!(notifications(&suite, "state = PENDING").await.is_empty());
    assert!(notifications(&suite, "kind = BREACH").await.is_empty());

    // Auditors see the dead letters and cannot replay them; a department
    // does not see them at all.
    let mut auditor = suite.referral_as(&auditor()).await;
    let listed = auditor
        .list_notifications(ListNotificationsRequest {
            parent: DISTRICT.to_owned(),
            filter: "state = DEAD".to_owned(),
            ..ListNotificationsRequest::default()
        })
        .await
        .expect("auditors read the outbox")
        .into_inner();
    assert_eq!(listed.notifications, vec![dead.clone()]);
    let replay = ReplayNotificationRequest {
        name: dead.name.clone(),
        request_id: String::new(),
    };
    assert_code(
        auditor.replay_notification(replay.clone()).await,
        Code::PermissionDenied,
    );
    let mut officer = suite
        .referral_as(&person_in(
            "officer",
            &[louyu_kit::identity::Role::DepartmentOfficer],
            None,
            Some(STREET_OFFICE),
        ))
        .await;
    assert_code(
        officer
            .list_notifications(ListNotificationsRequest {
                parent: DISTRICT.to_owned(),
                ..ListNotificationsRequest::default()
            })
            .await,
        Code::PermissionDenied,
    );

    receiver.answer(Answer::Status(200));
    let replayed = suite
        .referral
        .replay_notification(replay.clone())
        .await
        .expect("a dead notification is replayed")
        .into_inner();
    assert_eq!(replayed.name, dead.name, "the same delivery id");
    assert_eq!(replayed.attempts, 0);
    assert_eq!(notification_state(&replayed), NotificationState::Pending);
    let delivered = all_delivered(&suite, 1).await;
    assert_eq!(delivered[0].attempts, 1);
    assert_eq!(receiver.assert_each_accepted_once(), vec![id]);

    let refused = assert_code(
        suite.referral.replay_notification(replay).await,
        Code::FailedPrecondition,
    );
    assert!(refused.message().contains("DELIVERED"), "{refused:?}");
    assert_code(
        suite
            .referral
            .replay_notification(ReplayNotificationRequest {
                name: format!("{DISTRICT}/notifications/n-nothing"),
                request_id: String::new(),
            })
            .await,
        Code::NotFound,
    );
    assert_invalid_field(
        suite
            .referral
            .list_notifications(ListNotificationsRequest {
                parent: DISTRICT.to_owned(),
                filter: "kind = SOMETHING".to_owned(),
                ..ListNotificationsRequest::default()
            })
            .await,
        "filter",
    );
}

backend_tests!(a_notification_that_runs_out_of_attempts_is_dead_listed_and_replayed_with_its_id);

async fn a_notification_left_leased_by_a_stopped_sender_is_sent_again_under_its_id_once_the_lease_ends(
    backend: TestBackend,
) {
    let receiver = Receiver::start(Answer::Status(503)).await;
    let database = std::sync::Mutex::new(None);
    let configure_webhook = webhook(&receiver, 1_000);
    let Some(mut suite) = spawn_suite_with(backend, |name, config| {
        configure_webhook(name, config);
        if name == ServiceName::Referral {
            *database.lock().expect("not poisoned") = config.database_url.clone();
        }
    })
    .await
    else {
        return;
    };
    let url = database
        .into_inner()
        .expect("not poisoned")
        .expect("the referral service has a database");
    let db = louyu_kit::db::Db::connect(&url)
        .await
        .expect("the referral database");
    let referral = suite.office_space_referral().await;
    let pending = notifications(&suite, "state = PENDING").await.remove(0);
    assert_eq!(pending.subject, referral.name);
    let id = louyu_kit::names::last_id(&pending.name).to_owned();
    eventually("the receiver refused it once", || async {
        receiver.attempts_of(&id) >= 1
    })
    .await;

    // Another replica takes the lease and stops mid-send: it holds the
    // notification, due now, for another second, and never records an
    // outcome. The lease is taken only while nobody holds it, as a replica
    // would.
    let lease = Duration::from_secs(1);
    let lease_until = loop {
        let now = louyu_kit::time::now_micros();
        let until = now + i64::try_from(lease.as_micros()).expect("a second");
        let taken = sqlx::query(
            "UPDATE notifications SET lease_holder = 'referral-stopped', lease_until = $1, next_attempt_at = $2 \
             WHERE id = $3 AND state = 1 AND lease_until < $2",
        )
        .bind(until)
        .bind(now)
        .bind(&id)
        .execute(db.pool())
        .await
        .expect("take the lease");
        if taken.rows_affected() == 1 {
            break until;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let refused_before = receiver.attempts_of(&id);
    receiver.answer(Answer::Status(200));

    all_delivered(&suite, 1).await;
    assert_eq!(receiver.assert_each_accepted_once(), vec![id.clone()]);
    let arrivals = receiver.arrivals_of(&id);
    assert!(
        arrivals[refused_before..]
            .iter()
            .all(|arrival| *arrival >= lease_until),
        "nothing was sent while the lease held: {arrivals:?}, lease until {lease_until}"
    );
    db.close().await;
}

backend_tests!(
    a_notification_left_leased_by_a_stopped_sender_is_sent_again_under_its_id_once_the_lease_ends
);

async fn a_restart_delivers_the_notifications_left_pending(backend: TestBackend) {
    let receiver = Receiver::start(Answer::Status(503)).await;
    let Some(mut suite) = spawn_suite_with(backend, webhook(&receiver, 1_000)).await else {
        return;
    };
    let categories = &ROUTED[..2];
    referrals_of_demands(&mut suite, categories).await;
    eventually("both notifications were refused", || async {
        let listed = notifications(&suite, "state = PENDING").await;
        listed.len() == categories.len()
            && listed.iter().all(|notification| notification.attempts >= 1)
    })
    .await;
    suite.sandbox.stop(ServiceName::Referral).await;
    let attempts_while_stopped = receiver.attempts();
    receiver.answer(Answer::Status(200));
    assert_eq!(
        receiver.attempts(),
        attempts_while_stopped,
        "nothing is sent while stopped"
    );

    suite.sandbox.start_again(ServiceName::Referral).await;
    suite.referral = louyu_proto::referral::v1::referral_service_client::ReferralServiceClient::new(
        suite.sandbox.client(ServiceName::Referral).await,
    );
    all_delivered(&suite, categories.len()).await;
    assert_eq!(receiver.assert_each_accepted_once().len(), categories.len());
}

backend_tests!(a_restart_delivers_the_notifications_left_pending);

async fn without_a_webhook_notifications_are_kept_pending(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let referral = suite.office_space_referral().await;
    let pending = notifications(&suite, "state = PENDING").await;
    assert_eq!(pending.len(), 1, "written with the dispatch");
    assert_eq!(pending[0].subject, referral.name);
    assert_eq!(pending[0].attempts, 0);
    assert!(pending[0].next_attempt_time.is_some());
}

backend_tests!(without_a_webhook_notifications_are_kept_pending);
