//! What the risk service publishes on its feed: a change of an
//! enterprise's colour, with the assessment that explains it. The visits
//! service follows it to set each plan's cadence from the colour.

use louyu_kit::feed::NewEvent;
use louyu_proto::common::v1::RiskColour;
use louyu_proto::risk::v1::{Assessment, AssessmentChanged};

/// An enterprise's computed colour changed from `previous`, or the colour
/// the district acts on from `previous_effective` (each unspecified for
/// its first assessment), to those of `assessment`.
pub fn assessment_changed(
    previous: RiskColour,
    previous_effective: RiskColour,
    assessment: &Assessment,
) -> NewEvent {
    NewEvent::new(
        &assessment.enterprise,
        &AssessmentChanged {
            enterprise: assessment.enterprise.clone(),
            previous_colour: previous as i32,
            colour: assessment.colour,
            score: assessment.score,
            assessment: Some(assessment.clone()),
            previous_effective_colour: previous_effective as i32,
            effective_colour: assessment.effective_colour,
        },
    )
}
