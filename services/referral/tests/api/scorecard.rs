//! The scorecard's rates on a known set of referrals: five demands of one
//! enterprise referred to the street office, handled five ways, one of them
//! excluded after review.

use louyu_proto::common::v1::DemandCategory;
use louyu_proto::referral::v1::*;
use louyu_testkit::{TestBackend, backend_tests};
use tonic::Code;

use crate::helpers::*;

async fn handle(lead: &mut Referrals, name: &str, contact: bool, complete: bool) {
    lead.accept_referral(AcceptReferralRequest {
        name: name.to_owned(),
        ..AcceptReferralRequest::default()
    })
    .await
    .expect("accepted");
    if contact {
        lead.record_first_contact(RecordFirstContactRequest {
            name: name.to_owned(),
            ..RecordFirstContactRequest::default()
        })
        .await
        .expect("contacted");
    }
    if complete {
        lead.complete_referral(CompleteReferralRequest {
            name: name.to_owned(),
            outcome: "已办结 done".to_owned(),
            ..CompleteReferralRequest::default()
        })
        .await
        .expect("completed");
    }
}

async fn answer(worker: &mut Referrals, name: &str, resolution: Resolution, satisfaction: i32) {
    worker
        .confirm_referral(ConfirmReferralRequest {
            name: name.to_owned(),
            resolution: resolution as i32,
            satisfaction,
            ..ConfirmReferralRequest::default()
        })
        .await
        .expect("answered");
}

fn period(group_by: &str) -> ComputeScorecardRequest {
    let now = louyu_kit::time::now_micros();
    ComputeScorecardRequest {
        parent: DISTRICT.to_owned(),
        group_by: group_by.to_owned(),
        start_time: Some(louyu_kit::time::timestamp_from_micros(now - 3_600_000_000)),
        end_time: Some(louyu_kit::time::timestamp_from_micros(now + 3_600_000_000)),
    }
}

async fn the_scorecard_of_a_known_set_of_referrals(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    // Every one of these categories goes to the street office by the rules.
    let mut names = Vec::new();
    for category in [
        DemandCategory::PolicyConsultation,
        DemandCategory::Safety,
        DemandCategory::Legal,
        DemandCategory::Other,
        DemandCategory::PropertyFacilities,
    ] {
        let demand = suite.raise(category, "需要帮助 needs help").await;
        let referral = suite.referral_of(&demand.name).await;
        assert_eq!(referral.lead_department, department(STREET_OFFICE));
        names.push(referral.name);
    }
    let mut lead = suite.officer(STREET_OFFICE).await;
    let mut worker = suite.field_worker().await;
    // 1: on time, solved, very satisfied.
    handle(&mut lead, &names[0], true, true).await;
    answer(&mut worker, &names[0], Resolution::Solved, 5).await;
    // 2: on time, only partly solved and dissatisfied: reopened.
    handle(&mut lead, &names[1], true, true).await;
    answer(&mut worker, &names[1], Resolution::PartlySolved, 2).await;
    // 3: sent back.
    lead.reject_referral(RejectReferralRequest {
        name: names[2].clone(),
        reason: RejectionReason::InsufficientInformation as i32,
        note: "信息不全 not enough information".to_owned(),
        request_id: String::new(),
    })
    .await
    .expect("rejected");
    // 4: accepted, the enterprise never contacted.
    handle(&mut lead, &names[3], false, false).await;
    // 5: solved, then excluded after review.
    handle(&mut lead, &names[4], true, true).await;
    answer(&mut worker, &names[4], Resolution::Solved, 4).await;
    let mut admin = suite.referral.clone();
    assert_invalid_field(
        admin
            .exclude_referral(ExcludeReferralRequest {
                name: names[4].clone(),
                ..ExcludeReferralRequest::default()
            })
            .await,
        "reason",
    );
    let excluded = admin
        .exclude_referral(ExcludeReferralRequest {
            name: names[4].clone(),
            reason: "经复核属不合理诉求 unreasonable after review".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("excluded")
        .into_inner();
    assert!(
        excluded
            .exclusion
            .is_some_and(|exclusion| exclusion.reason.contains("review"))
    );

    let scorecard = admin
        .compute_scorecard(period("department"))
        .await
        .expect("the scorecard")
        .into_inner();
    assert_eq!(scorecard.rules_version, "2026-11-default-1");
    assert_eq!(scorecard.lines.len(), 1, "{scorecard:?}");
    let line = &scorecard.lines[0];
    assert_eq!(line.group, department(STREET_OFFICE));
    assert_eq!((line.dispatched, line.assessed, line.excluded), (4, 2, 1));
    assert_eq!(line.response_rate, 0.5, "1 and 2 of 4 in time");
    assert_eq!(line.resolution_rate, 0.5, "1 of 2 assessed solved");
    assert_eq!(line.satisfaction_rate, 0.5, "1 of 2 satisfied");
    assert_eq!(line.reopened_share, 0.5);
    assert_eq!(line.returns, 1);
    assert!(line.median_hours_to_complete.is_some());
    assert!((line.score - 0.5).abs() < 1e-9, "{}", line.score);
    assert_eq!(line.rank, 0, "4 referrals: below the minimum sample of 5");

    let by_street = admin
        .compute_scorecard(period("sub_district"))
        .await
        .expect("by sub-district")
        .into_inner();
    assert_eq!(
        by_street
            .lines
            .iter()
            .map(|line| (line.group.as_str(), line.dispatched, line.returns))
            .collect::<Vec<_>>(),
        vec![(
            format!("{DISTRICT}/subDistricts/nanjingxilu").as_str(),
            4,
            1
        )]
    );

    let mut backwards = period("department");
    std::mem::swap(&mut backwards.start_time, &mut backwards.end_time);
    assert_invalid_field(admin.compute_scorecard(backwards).await, "end_time");
    assert_invalid_field(admin.compute_scorecard(period("floor")).await, "group_by");
    assert_code(
        suite
            .street_admin()
            .await
            .compute_scorecard(period("department"))
            .await,
        Code::PermissionDenied,
    );
}

backend_tests!(the_scorecard_of_a_known_set_of_referrals);
