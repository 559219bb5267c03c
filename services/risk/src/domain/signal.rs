//! What is known about an enterprise that bears on its stability: a
//! signal, with its kind, where it came from, when, an optional value and
//! an optional expiry.
//!
//! The store keeps one current signal per enterprise and *topic*: a later
//! visit's observation of relocation intent replaces the earlier one, a
//! tenancy's lease-end signal goes when the tenancy ends, a demand's goes
//! when it is resolved. An assessment is a function of the current signals
//! and the time alone.

use std::fmt;
use std::str::FromStr;

use super::Text;

/// Every kind of signal. The names (`as_str`) are those of rules files and
/// of `RecordSignal`; numbers are never stored.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// Registry: an active tenancy, whose lease ends at [`Signal::due_at`];
    /// it counts more as the date nears.
    LeaseEnding,
    /// Registry: the enterprise moved out or was deregistered.
    MovedOut,
    /// Registry: the registered headcount fell; the value is the share lost
    /// (0.2 for a fifth).
    HeadcountDrop,
    /// Visits: the enterprise is considering relocating.
    RelocationConsidering,
    /// Visits: the enterprise has decided to relocate.
    RelocationDecided,
    /// Visits: it needs more room than its building can offer.
    ExpansionUnmet,
    /// Visits: its business is declining.
    BusinessDeclining,
    /// Visits: its headcount is declining.
    HeadcountDeclining,
    /// Visits: low satisfaction with the district's service; the value is
    /// the satisfaction observed, 1 (worst) to 5.
    LowSatisfaction,
    /// Visits: a demand is open, since [`Signal::observed_at`]; the value is
    /// its urgency, 1 (low) to 4 (critical). It counts more the longer it
    /// stays open.
    OpenDemand,
    /// Referral: a demand was resolved (lowers the score).
    ReferralResolved,
    /// Referral: a referral was rejected, failed or went overdue.
    ReferralFailed,
    /// Another system: tax revenue fell; the value is the share lost.
    TaxRevenueDrop,
    /// Another system: social-insurance headcount fell; the value is the
    /// share lost.
    SocialInsuranceDrop,
    /// Another system: a court case against the enterprise.
    CourtCase,
    /// Another system: its credit rating was lowered.
    CreditDowngrade,
}

impl SignalKind {
    pub const ALL: [SignalKind; 16] = [
        SignalKind::LeaseEnding,
        SignalKind::MovedOut,
        SignalKind::HeadcountDrop,
        SignalKind::RelocationConsidering,
        SignalKind::RelocationDecided,
        SignalKind::ExpansionUnmet,
        SignalKind::BusinessDeclining,
        SignalKind::HeadcountDeclining,
        SignalKind::LowSatisfaction,
        SignalKind::OpenDemand,
        SignalKind::ReferralResolved,
        SignalKind::ReferralFailed,
        SignalKind::TaxRevenueDrop,
        SignalKind::SocialInsuranceDrop,
        SignalKind::CourtCase,
        SignalKind::CreditDowngrade,
    ];

    /// The kinds other government systems may record (`RecordSignal`);
    /// the rest come from Louyu's own feeds.
    pub const RECORDABLE: [SignalKind; 4] = [
        SignalKind::TaxRevenueDrop,
        SignalKind::SocialInsuranceDrop,
        SignalKind::CourtCase,
        SignalKind::CreditDowngrade,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::LeaseEnding => "lease_ending",
            SignalKind::MovedOut => "moved_out",
            SignalKind::HeadcountDrop => "headcount_drop",
            SignalKind::RelocationConsidering => "relocation_considering",
            SignalKind::RelocationDecided => "relocation_decided",
            SignalKind::ExpansionUnmet => "expansion_unmet",
            SignalKind::BusinessDeclining => "business_declining",
            SignalKind::HeadcountDeclining => "headcount_declining",
            SignalKind::LowSatisfaction => "low_satisfaction",
            SignalKind::OpenDemand => "open_demand",
            SignalKind::ReferralResolved => "referral_resolved",
            SignalKind::ReferralFailed => "referral_failed",
            SignalKind::TaxRevenueDrop => "tax_revenue_drop",
            SignalKind::SocialInsuranceDrop => "social_insurance_drop",
            SignalKind::CourtCase => "court_case",
            SignalKind::CreditDowngrade => "credit_downgrade",
        }
    }

    /// What the kind means, for explanations and docs.
    pub fn describe(self) -> Text {
        let (zh, en) = match self {
            SignalKind::LeaseEnding => ("租约即将到期", "the lease is ending"),
            SignalKind::MovedOut => (
                "企业已迁出或注销",
                "the enterprise moved out or was deregistered",
            ),
            SignalKind::HeadcountDrop => ("登记人数减少", "the registered headcount fell"),
            SignalKind::RelocationConsidering => ("有迁出意向", "considering relocating"),
            SignalKind::RelocationDecided => ("已决定迁出", "decided to relocate"),
            SignalKind::ExpansionUnmet => (
                "扩租需求本楼宇无法满足",
                "needs more room than the building offers",
            ),
            SignalKind::BusinessDeclining => ("经营下滑", "business declining"),
            SignalKind::HeadcountDeclining => ("人员减少", "headcount declining"),
            SignalKind::LowSatisfaction => ("满意度低", "low satisfaction"),
            SignalKind::OpenDemand => ("诉求未解决", "a demand is open"),
            SignalKind::ReferralResolved => ("诉求已解决", "a demand was resolved"),
            SignalKind::ReferralFailed => {
                ("诉求办理受阻", "a referral was rejected, failed or overdue")
            }
            SignalKind::TaxRevenueDrop => ("税收下降", "tax revenue fell"),
            SignalKind::SocialInsuranceDrop => ("社保人数下降", "social-insurance headcount fell"),
            SignalKind::CourtCase => ("涉诉", "a court case"),
            SignalKind::CreditDowngrade => ("信用等级下调", "credit rating lowered"),
        };
        Text::new(zh, en)
    }
}

impl fmt::Display for SignalKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A signal kind name that is not one of [`SignalKind::ALL`]; the message
/// names those that exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("未知的信号类型 unknown signal kind '{name}'; the kinds are: {known}")]
pub struct UnknownSignalKind {
    pub name: String,
    pub known: String,
}

impl FromStr for SignalKind {
    type Err = UnknownSignalKind;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        SignalKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| UnknownSignalKind {
                name: text.to_owned(),
                known: SignalKind::ALL
                    .iter()
                    .map(|kind| kind.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// One current signal about one enterprise. Times are microseconds since
/// the Unix epoch, as everywhere in Louyu's stores.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Signal {
    /// Unique: the event or request it came from, so that the same signal
    /// delivered twice is one signal.
    pub id: String,
    pub kind: SignalKind,
    /// Who said so: `registry`, `visits`, `referral`, or the recording
    /// system's name (`system:hotline-12345`).
    pub source: String,
    /// When it was observed (for an open demand: when it was raised).
    pub observed_at: i64,
    /// The kind's value, where it has one (see [`SignalKind`]).
    pub value: Option<f64>,
    /// When it stops counting, if ever.
    pub expires_at: Option<i64>,
    /// For [`SignalKind::LeaseEnding`]: when the lease ends.
    pub due_at: Option<i64>,
    /// What it is about, for explanations: a tenancy, a demand, a visit
    /// (`districts/jingan/tenancies/t-1`), or empty.
    pub subject: String,
}
