//! Retention cases: what a change of an enterprise's colour (the one the
//! district acts on) does to its case. Orange or red opens one, or updates
//! the open one; green or blue closes it; yellow keeps it as it is, with
//! its colour.

use louyu_proto::common::v1::RiskColour;

/// What to do with an enterprise's case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseChange {
    /// Open a case for orange or red.
    Open,
    /// The open case takes the new colour; `respond`: with the colour's
    /// response and a new due time (orange to red, red to orange).
    Update {
        respond: bool,
    },
    /// Close the open case: the enterprise is green or blue again.
    Close,
    Nothing,
}

/// What `colour` does to an enterprise whose open case (if any) is of
/// `open`.
pub fn change(open: Option<RiskColour>, colour: RiskColour) -> CaseChange {
    let alarming = matches!(colour, RiskColour::Orange | RiskColour::Red);
    match open {
        None if alarming => CaseChange::Open,
        None => CaseChange::Nothing,
        Some(current) if current == colour => CaseChange::Nothing,
        Some(_) if alarming => CaseChange::Update { respond: true },
        Some(_) if colour == RiskColour::Yellow => CaseChange::Update { respond: false },
        Some(_) if matches!(colour, RiskColour::Green | RiskColour::Blue) => CaseChange::Close,
        Some(_) => CaseChange::Nothing,
    }
}

/// The reason a case closes, in Chinese and English.
pub fn close_reason(colour: RiskColour) -> String {
    let (zh, en) = match colour {
        RiskColour::Green => ("绿色（稳定）", "green (stable)"),
        _ => ("蓝色（较稳定）", "blue (fairly stable)"),
    };
    format!("企业颜色降为{zh} the enterprise is {en} again")
}

#[cfg(test)]
mod tests {
    use super::*;
    use RiskColour::*;

    #[test]
    fn orange_opens_red_updates_yellow_keeps_and_green_closes() {
        assert_eq!(change(None, Orange), CaseChange::Open);
        assert_eq!(change(None, Yellow), CaseChange::Nothing);
        assert_eq!(
            change(Some(Orange), Red),
            CaseChange::Update { respond: true }
        );
        assert_eq!(change(Some(Red), Red), CaseChange::Nothing);
        assert_eq!(
            change(Some(Red), Yellow),
            CaseChange::Update { respond: false }
        );
        assert_eq!(change(Some(Yellow), Green), CaseChange::Close);
        assert_eq!(change(Some(Red), Blue), CaseChange::Close);
    }
}
