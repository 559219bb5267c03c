//! The five colours, from stable to unstable.

use louyu_proto::common::v1::RiskColour;

/// An enterprise's stability, ordered from stable (`Green`) to unstable
/// (`Red`): a worse colour compares greater.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    /// 稳定 Stable.
    Green,
    /// 较稳定 Fairly stable.
    Blue,
    /// 一般 Average.
    Yellow,
    /// 较不稳定 Fairly unstable.
    Orange,
    /// 不稳定 Unstable.
    Red,
}

impl Colour {
    /// Every colour, from stable to unstable.
    pub const ALL: [Colour; 5] = [
        Colour::Green,
        Colour::Blue,
        Colour::Yellow,
        Colour::Orange,
        Colour::Red,
    ];

    /// The name in rules files and on the command line: `green` … `red`.
    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Green => "green",
            Colour::Blue => "blue",
            Colour::Yellow => "yellow",
            Colour::Orange => "orange",
            Colour::Red => "red",
        }
    }

    /// How the district's staff say it, with the colour: `较不稳定（橙）`.
    pub fn chinese_name(self) -> &'static str {
        match self {
            Colour::Green => "稳定（绿）",
            Colour::Blue => "较稳定（蓝）",
            Colour::Yellow => "一般（黄）",
            Colour::Orange => "较不稳定（橙）",
            Colour::Red => "不稳定（红）",
        }
    }

    /// In English: `fairly unstable (orange)`.
    pub fn english_name(self) -> &'static str {
        match self {
            Colour::Green => "stable (green)",
            Colour::Blue => "fairly stable (blue)",
            Colour::Yellow => "average (yellow)",
            Colour::Orange => "fairly unstable (orange)",
            Colour::Red => "unstable (red)",
        }
    }

    pub fn to_proto(self) -> RiskColour {
        match self {
            Colour::Green => RiskColour::Green,
            Colour::Blue => RiskColour::Blue,
            Colour::Yellow => RiskColour::Yellow,
            Colour::Orange => RiskColour::Orange,
            Colour::Red => RiskColour::Red,
        }
    }

    /// `None` for `RISK_COLOUR_UNSPECIFIED` and unknown numbers.
    pub fn from_proto(value: i32) -> Option<Self> {
        match RiskColour::try_from(value).ok()? {
            RiskColour::Unspecified => None,
            RiskColour::Green => Some(Colour::Green),
            RiskColour::Blue => Some(Colour::Blue),
            RiskColour::Yellow => Some(Colour::Yellow),
            RiskColour::Orange => Some(Colour::Orange),
            RiskColour::Red => Some(Colour::Red),
        }
    }
}
