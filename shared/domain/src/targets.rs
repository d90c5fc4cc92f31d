//! The seed's business targets that operators are told about when missed: the points
//! redemption rate kept within 7–12% and the coupon redemption rate (used / claimed) at 65% or
//! more. A miss opens an episode, told once; the episode ends when the rate is back.

use serde::{Deserialize, Serialize};

use crate::member::REDEMPTION_BAND;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Points spent over points earned, over the months of the daily points report.
    PointsRedemption,
    /// Coupons used over coupons claimed, over every template.
    CouponRedemption,
}

/// Coupons claimed before the coupon redemption rate says anything (a handful of claims
/// makes any rate).
pub const COUPON_SAMPLE: i64 = 20;

/// The seed's coupon redemption target, in per mille.
pub const COUPON_TARGET_PERMILLE: i64 = 650;

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::PointsRedemption => "points_redemption",
            Metric::CouponRedemption => "coupon_redemption",
        }
    }

    /// Whether `permille` misses the target.
    pub fn missed(self, permille: i64) -> bool {
        match self {
            Metric::PointsRedemption => {
                let (lo, hi) = REDEMPTION_BAND;
                let pct = permille as f64 / 10.0;
                pct < lo || pct > hi
            }
            Metric::CouponRedemption => permille < COUPON_TARGET_PERMILLE,
        }
    }

    /// The target as operators read it.
    pub fn target(self) -> String {
        match self {
            Metric::PointsRedemption => format!("{}%–{}%", REDEMPTION_BAND.0, REDEMPTION_BAND.1),
            Metric::CouponRedemption => format!("≥ {}%", COUPON_TARGET_PERMILLE / 10),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Metric::PointsRedemption => "积分兑换率",
            Metric::CouponRedemption => "优惠券核销率",
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An open episode of a missed target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetAlert {
    pub metric: Metric,
    pub episode: String,
    pub value_permille: i64,
    pub raised_at: i64,
}

/// What a new reading does to the metric's episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetMove {
    Raise,
    Clear,
    Nothing,
}

pub fn target_move(metric: Metric, permille: Option<i64>, open: bool) -> TargetMove {
    match permille {
        // No reading (nothing earned, too few claims): the episode stays as it is.
        None => TargetMove::Nothing,
        Some(v) if metric.missed(v) && !open => TargetMove::Raise,
        Some(v) if !metric.missed(v) && open => TargetMove::Clear,
        Some(_) => TargetMove::Nothing,
    }
}

/// Used over claimed in per mille, when enough coupons were claimed to say.
pub fn coupon_permille(claimed: i64, used: i64) -> Option<i64> {
    (claimed >= COUPON_SAMPLE).then(|| used.clamp(0, claimed) * 1_000 / claimed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_target_is_missed_outside_its_band_once_per_episode() {
        let p = Metric::PointsRedemption;
        assert!(p.missed(69) && !p.missed(70) && !p.missed(120) && p.missed(121));
        let c = Metric::CouponRedemption;
        assert!(c.missed(649) && !c.missed(650));
        assert_eq!(target_move(c, Some(400), false), TargetMove::Raise);
        assert_eq!(target_move(c, Some(400), true), TargetMove::Nothing, "once per episode");
        assert_eq!(target_move(c, Some(700), true), TargetMove::Clear);
        assert_eq!(target_move(c, None, true), TargetMove::Nothing);
        assert_eq!(coupon_permille(19, 0), None, "too few claims say nothing");
        assert_eq!(coupon_permille(20, 13), Some(650));
    }
}
