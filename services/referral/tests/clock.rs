//! Working days and deadlines on a shifted clock. Deadlines survive
//! restarts: a referral's accept deadline runs out while
//! the referral service is down, and the deadline scanner finds the breach
//! at its first pass after the restart, sends it up to the sub-district and,
//! a working day later, to the district, publishing each. A holiday and an
//! adjusted working Saturday are counted, and a suspension moves the due
//! date by the working days suspended. The process's
//! clock is shifted (as `LOUYU_DEV_CLOCK_OFFSET` does), so this binary holds
//! this one test, which runs the two backends one after the other.

#[path = "api/helpers.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;

use futures::StreamExt;
use louyu_kit::config::ServiceName;
use louyu_kit::time::{ClockOffset, micros_from_timestamp, shift_clock};
use louyu_proto::common::v1::WatchEventsRequest;
use louyu_proto::common::v1::event_feed_service_client::EventFeedServiceClient;
use louyu_proto::referral::v1::*;
use louyu_referral::domain::Rules;
use louyu_testkit::TestBackend;
use louyu_testkit::clock::shift_to;
use prost::{Message, Name};

use helpers::*;

async fn a_deadline_that_runs_out_while_the_service_is_down_is_found_after_the_restart(
    backend: TestBackend,
) {
    shift_clock(ClockOffset::default());
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let referral = suite.office_space_referral().await;
    let accept_due = micros_from_timestamp(
        referral
            .clocks
            .as_ref()
            .and_then(|clocks| clocks.accept_due_time.as_ref())
            .expect("an accept deadline"),
    );

    suite.sandbox.stop(ServiceName::Referral).await;
    shift_to(accept_due);
    suite.sandbox.start_again(ServiceName::Referral).await;
    let client = suite.referral.clone();
    let read = || async {
        client
            .clone()
            .get_referral(GetReferralRequest {
                name: referral.name.clone(),
            })
            .await
            .expect("the referral")
            .into_inner()
    };
    eventually("the breach is found after the restart", || async {
        read()
            .await
            .clocks
            .is_some_and(|clocks| clocks.escalation_level == 1)
    })
    .await;
    let breached = read().await;
    let clocks = breached.clocks.as_ref().expect("clocks");
    assert_eq!(clocks.breached, vec!["accept", "first-contact"]);
    let overdue = client
        .clone()
        .list_referrals(ListReferralsRequest {
            parent: DISTRICT.to_owned(),
            filter: "overdue = true".to_owned(),
            ..ListReferralsRequest::default()
        })
        .await
        .expect("overdue referrals")
        .into_inner()
        .referrals;
    assert_eq!(overdue.len(), 1);

    // Still not accepted a working day later: the district.
    let escalation = Rules::default_rules().calendar().extend(accept_due, 1);
    shift_to(escalation);
    eventually("the breach goes up to the district", || async {
        read()
            .await
            .clocks
            .is_some_and(|clocks| clocks.escalation_level == 2)
    })
    .await;
    shift_clock(ClockOffset::default());
    let escalated = read().await;
    let actions: Vec<&str> = escalated
        .history
        .iter()
        .map(|step| step.action.as_str())
        .collect();
    assert_eq!(actions, vec!["dispatch", "breach", "breach", "escalate"]);
    assert!(
        escalated.history[1..]
            .iter()
            .all(|step| step.actor == "system:deadlines")
    );

    // Each was notified: two breaches, one escalation.
    let notified: Vec<i32> = client
        .clone()
        .list_notifications(ListNotificationsRequest {
            parent: DISTRICT.to_owned(),
            filter: format!("subject = \"{}\"", referral.name),
            ..ListNotificationsRequest::default()
        })
        .await
        .expect("the notifications")
        .into_inner()
        .notifications
        .into_iter()
        .map(|notification| notification.kind)
        .collect();
    assert_eq!(
        notified,
        vec![
            NotificationKind::Dispatch as i32,
            NotificationKind::Breach as i32,
            NotificationKind::Breach as i32,
            NotificationKind::Escalation as i32
        ]
    );

    // Each was published on the referral feed.
    let mut feed = EventFeedServiceClient::new(suite.sandbox.client(ServiceName::Referral).await);
    let mut stream = feed
        .watch_events(WatchEventsRequest::default())
        .await
        .expect("the feed")
        .into_inner();
    let mut levels = Vec::new();
    while levels.len() < 3 {
        let batch = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
            .await
            .expect("events within ten seconds")
            .expect("a batch")
            .expect("no error");
        for event in batch.events {
            if event.event_type == ReferralBreached::full_name() {
                let breached =
                    ReferralBreached::decode(event.payload.expect("a payload").value.as_slice())
                        .expect("decodes");
                levels.push((breached.clock, breached.escalation_level));
            }
        }
    }
    assert_eq!(
        levels,
        vec![
            ("accept".to_owned(), 1),
            ("first-contact".to_owned(), 1),
            (String::new(), 2)
        ]
    );
}

/// Microseconds of a Shanghai date and hour.
fn shanghai(date: time::Date, hour: u8) -> i64 {
    date.with_hms(hour, 0, 0)
        .expect("a time")
        .assume_offset(time::macros::offset!(+8))
        .unix_timestamp()
        * 1_000_000
}

/// A demand dispatched on Wednesday 30 September 2026, the day before the
/// National Day holiday (1 to 7 October, with Sunday 20 September and
/// Saturday 10 October worked): accepted by the end of Thursday 8 October,
/// completed within five working days by the end of Tuesday 13 October
/// (8, 9, Saturday 10, 12, 13). Suspended from 30 September to Monday 12
/// October, four working days (30 September, 8, 9 and 10 October) pass
/// and completion moves to the end of Monday 19 October.
async fn the_national_day_holiday_and_its_working_saturday_are_counted_and_a_suspension_moves_the_due(
    backend: TestBackend,
) {
    use time::macros::date;
    let end_of = |day: time::Date| shanghai(day.next_day().expect("a day"), 0);
    shift_to(shanghai(date!(2026 - 09 - 30), 10) - 60_000_000);
    let Some(mut suite) = spawn_suite(backend).await else {
        shift_clock(ClockOffset::default());
        return;
    };
    let referral = suite.office_space_referral().await;
    let clocks = referral.clocks.clone().expect("clocks");
    let at = |time: Option<prost_types::Timestamp>| micros_from_timestamp(&time.expect("a time"));
    assert_eq!(at(clocks.accept_due_time), end_of(date!(2026 - 10 - 08)));
    assert_eq!(at(clocks.complete_due_time), end_of(date!(2026 - 10 - 13)));

    let mut admin = suite.street_admin().await;
    suite
        .officer(STREET_OFFICE)
        .await
        .accept_referral(AcceptReferralRequest {
            name: referral.name.clone(),
            ..AcceptReferralRequest::default()
        })
        .await
        .expect("accepted");
    admin
        .suspend_referral(SuspendReferralRequest {
            name: referral.name.clone(),
            reason: "等待业主答复 waiting for the landlord".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("suspended");
    shift_to(shanghai(date!(2026 - 10 - 12), 10) - 60_000_000);
    let resumed = admin
        .resume_referral(ResumeReferralRequest {
            name: referral.name.clone(),
            ..ResumeReferralRequest::default()
        })
        .await
        .expect("resumed")
        .into_inner();
    shift_clock(ClockOffset::default());
    let clocks = resumed.clocks.expect("clocks");
    assert_eq!(at(clocks.complete_due_time), end_of(date!(2026 - 10 - 19)));
    assert_eq!(
        resumed.history.last().map(|step| step.note.as_str()),
        Some("挂起4个工作日 suspended for 4 working days")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deadline_that_runs_out_while_the_service_is_down_is_found_after_the_restart_on_both_backends()
 {
    for backend in [TestBackend::Sqlite, TestBackend::Postgres] {
        a_deadline_that_runs_out_while_the_service_is_down_is_found_after_the_restart(backend)
            .await;
        the_national_day_holiday_and_its_working_saturday_are_counted_and_a_suspension_moves_the_due(
            backend,
        )
        .await;
    }
}
