//! RFM: members scored on recency (days since the last payment), frequency (paid orders in
//! the last 365 days) and monetary value (paid in the last 365 days) against the operator's
//! thresholds, into the classic eight segments. No I/O.

use serde::{Deserialize, Serialize};

use crate::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Paid within this many days: recent.
    pub recent_days: i64,
    /// At least this many paid orders in 365 days: frequent.
    pub frequent_orders: i64,
    /// At least this much paid in 365 days: valuable.
    pub monetary_fen: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { recent_days: 30, frequent_orders: 2, monetary_fen: 50_000 }
    }
}

impl Thresholds {
    pub fn checked(self) -> Result<Thresholds, DomainError> {
        if !(1..=365).contains(&self.recent_days) || self.frequent_orders < 1 || self.monetary_fen < 1 {
            return Err(DomainError::invalid(
                "thresholds",
                "recent_days 1 to 365, frequent_orders and monetary_fen at least 1",
            ));
        }
        Ok(self)
    }
}

/// How the daily scoring sets its thresholds: fixed by the operator, or the medians of the
/// members who paid in the last 365 days (at least 2 orders count as frequent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Fixed(Thresholds),
    Quantile,
}

impl Default for Mode {
    fn default() -> Self {
        Mode::Fixed(Thresholds::default())
    }
}

/// One member's figures: days since the last payment (none: never), paid orders and paid
/// fen in the last 365 days.
pub type Figures = (Option<i64>, i64, i64);

impl Mode {
    /// The thresholds for this population.
    pub fn thresholds(&self, population: &[Figures]) -> Thresholds {
        match self {
            Mode::Fixed(t) => *t,
            Mode::Quantile => {
                let paying: Vec<&Figures> = population.iter().filter(|(_, n, _)| *n > 0).collect();
                if paying.is_empty() {
                    return Thresholds::default();
                }
                let median = |mut v: Vec<i64>| {
                    v.sort_unstable();
                    v[(v.len() - 1) / 2]
                };
                Thresholds {
                    recent_days: median(paying.iter().map(|f| f.0.unwrap_or(365)).collect()).clamp(1, 365),
                    frequent_orders: median(paying.iter().map(|f| f.1).collect()).max(2),
                    monetary_fen: median(paying.iter().map(|f| f.2).collect()).max(1),
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    ImportantValue,
    ImportantDevelop,
    ImportantKeep,
    ImportantRetain,
    NormalValue,
    NormalDevelop,
    NormalKeep,
    NormalRetain,
}

impl Segment {
    pub const ALL: [Segment; 8] = [
        Self::ImportantValue,
        Self::ImportantDevelop,
        Self::ImportantKeep,
        Self::ImportantRetain,
        Self::NormalValue,
        Self::NormalDevelop,
        Self::NormalKeep,
        Self::NormalRetain,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ImportantValue => "important_value",
            Self::ImportantDevelop => "important_develop",
            Self::ImportantKeep => "important_keep",
            Self::ImportantRetain => "important_retain",
            Self::NormalValue => "normal_value",
            Self::NormalDevelop => "normal_develop",
            Self::NormalKeep => "normal_keep",
            Self::NormalRetain => "normal_retain",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::ImportantValue => "重要价值",
            Self::ImportantDevelop => "重要发展",
            Self::ImportantKeep => "重要保持",
            Self::ImportantRetain => "重要挽留",
            Self::NormalValue => "一般价值",
            Self::NormalDevelop => "一般发展",
            Self::NormalKeep => "一般保持",
            Self::NormalRetain => "一般挽留",
        }
    }

    pub fn parse(s: &str) -> Option<Segment> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The high-value segment operators give dedicated service.
    pub fn high_value(self) -> bool {
        self == Self::ImportantValue
    }
}

/// The segment of a member who last paid `days_since_paid` days ago (none: never), with
/// `orders` paid orders and `paid_fen` paid in the last 365 days.
pub fn segment(days_since_paid: Option<i64>, orders: i64, paid_fen: i64, t: &Thresholds) -> Segment {
    let r = days_since_paid.is_some_and(|d| d <= t.recent_days);
    let f = orders >= t.frequent_orders;
    let m = paid_fen >= t.monetary_fen;
    match (r, f, m) {
        (true, true, true) => Segment::ImportantValue,
        (true, false, true) => Segment::ImportantDevelop,
        (false, true, true) => Segment::ImportantKeep,
        (false, false, true) => Segment::ImportantRetain,
        (true, true, false) => Segment::NormalValue,
        (true, false, false) => Segment::NormalDevelop,
        (false, true, false) => Segment::NormalKeep,
        (false, false, false) => Segment::NormalRetain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eight_segments() {
        let t = Thresholds::default();
        let cases = [
            ((Some(3), 5, 80_000), Segment::ImportantValue),
            ((Some(3), 1, 80_000), Segment::ImportantDevelop),
            ((Some(90), 5, 80_000), Segment::ImportantKeep),
            ((Some(200), 1, 60_000), Segment::ImportantRetain),
            ((Some(30), 2, 1_000), Segment::NormalValue),
            ((Some(1), 1, 100), Segment::NormalDevelop),
            ((Some(31), 3, 100), Segment::NormalKeep),
            ((None, 0, 0), Segment::NormalRetain),
        ];
        for ((d, n, m), want) in cases {
            assert_eq!(segment(d, n, m, &t), want, "{d:?} {n} {m}");
        }
        for s in Segment::ALL {
            assert_eq!(Segment::parse(s.as_str()), Some(s));
        }
        assert!(Thresholds { recent_days: 0, ..t }.checked().is_err());
    }

    #[test]
    fn quantile_thresholds_are_the_payers_medians() {
        let population = [(Some(10), 1, 1_000), (Some(20), 3, 5_000), (Some(40), 5, 9_000), (None, 0, 0)];
        let t = Mode::Quantile.thresholds(&population);
        assert_eq!(t, Thresholds { recent_days: 20, frequent_orders: 3, monetary_fen: 5_000 });
        assert_eq!(Mode::Quantile.thresholds(&[]), Thresholds::default());
        assert_eq!(Mode::Fixed(t).thresholds(&population), t);
    }
}
