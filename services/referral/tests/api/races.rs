//! Concurrent moves of one referral, on PostgreSQL as on SQLite: of
//! officers accepting and rejecting at once exactly one move is made, and
//! the others are told the state it left.

use louyu_proto::referral::v1::*;
use louyu_testkit::{TestBackend, backend_tests, race, tally};
use tonic::Code;

use crate::helpers::*;

const RACERS: usize = 8;

async fn of_moves_made_at_once_exactly_one_is_made(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let referral = suite.office_space_referral().await;
    let lead = suite.officer(STREET_OFFICE).await;
    let results = race(RACERS, |index| {
        let mut lead = lead.clone();
        let name = referral.name.clone();
        async move {
            if index % 2 == 0 {
                lead.accept_referral(AcceptReferralRequest {
                    name,
                    note: String::new(),
                    request_id: String::new(),
                })
                .await
            } else {
                lead.reject_referral(RejectReferralRequest {
                    name,
                    reason: RejectionReason::InsufficientInformation as i32,
                    note: "缺少面积需求 no area given".to_owned(),
                    request_id: String::new(),
                })
                .await
            }
            .map(tonic::Response::into_inner)
        }
    })
    .await;
    assert_eq!(tally(&results, &[Code::FailedPrecondition]), 1);
    let after = suite
        .referral
        .get_referral(GetReferralRequest {
            name: referral.name.clone(),
        })
        .await
        .expect("the referral")
        .into_inner();
    assert_eq!(after.history.len(), 2, "one move besides the dispatch");
    assert!(matches!(
        state(&after),
        ReferralState::Accepted | ReferralState::Rejected
    ));
}

backend_tests!(of_moves_made_at_once_exactly_one_is_made);
