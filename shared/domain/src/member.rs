//! Members: growth value, the level ladder and its perks, the daily check-in. No I/O.
//!
//! Growth: 2 per whole yuan actually paid (after coupons, campaigns and points), credited when
//! a payment is applied and taken back in proportion when money is refunded; +5 for each daily
//! check-in. Every change is a ledger entry keyed by its source, written once.

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::money::Fen;

/// Growth per whole yuan paid.
pub const GROWTH_PER_YUAN: i64 = 2;
/// Growth of one daily check-in.
pub const CHECKIN_GROWTH: i64 = 5;

/// What a level gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Perks {
    /// Orders ship free.
    #[serde(default)]
    pub free_shipping: bool,
    /// Percent off listed prices (the member price), 0 to 30.
    #[serde(default)]
    pub member_discount_pct: u8,
    /// Points earned, in percent of the base (100: ×1).
    #[serde(default = "hundred")]
    pub points_multiplier_pct: u16,
}

fn hundred() -> u16 {
    100
}

impl Default for Perks {
    /// No perk: freight as usual, list prices, ×1 points.
    fn default() -> Self {
        Perks { free_shipping: false, member_discount_pct: 0, points_multiplier_pct: 100 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    pub name: String,
    pub min_growth: i64,
    #[serde(default)]
    pub perks: Perks,
}

/// The operator's ladder, lowest first; the first level starts at 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ladder {
    pub levels: Vec<Level>,
}

impl Default for Ladder {
    /// 普通 0, 白银 1,000, 黄金 5,000 (free shipping), 钻石 20,000 (free shipping, 5% off, ×1.5
    /// points).
    fn default() -> Self {
        let level = |name: &str, min: i64, free: bool, pct: u8, mult: u16| Level {
            name: name.into(),
            min_growth: min,
            perks: Perks { free_shipping: free, member_discount_pct: pct, points_multiplier_pct: mult },
        };
        Ladder {
            levels: vec![
                level("普通", 0, false, 0, 100),
                level("白银", 1_000, false, 0, 100),
                level("黄金", 5_000, true, 0, 120),
                level("钻石", 20_000, true, 5, 150),
            ],
        }
    }
}

impl Ladder {
    pub fn checked(self) -> Result<Ladder, DomainError> {
        if self.levels.is_empty() || self.levels.len() > 10 {
            return Err(DomainError::invalid("levels", "1 to 10 levels"));
        }
        if self.levels[0].min_growth != 0 {
            return Err(DomainError::invalid("levels", "the first level starts at 0 growth"));
        }
        for w in self.levels.windows(2) {
            if w[1].min_growth <= w[0].min_growth {
                return Err(DomainError::invalid("levels", "thresholds rise from level to level"));
            }
        }
        for l in &self.levels {
            if l.name.trim().is_empty() || l.name.chars().count() > 10 {
                return Err(DomainError::invalid("levels", "names are 1 to 10 characters"));
            }
            if l.perks.member_discount_pct > 30 || !(100..=500).contains(&l.perks.points_multiplier_pct) {
                return Err(DomainError::invalid("perks", "member discount 0 to 30%, points multiplier 100 to 500%"));
            }
        }
        Ok(self)
    }

    /// The level `growth` reaches.
    pub fn level_for(&self, growth: i64) -> &Level {
        self.levels.iter().rev().find(|l| growth >= l.min_growth).unwrap_or(&self.levels[0])
    }
}

/// Growth for `paid` fen: 2 per whole yuan.
pub fn growth_for_payment(paid: Fen) -> i64 {
    (paid.fen() / 100).max(0) * GROWTH_PER_YUAN
}

/// A member's standing, kept beside the shopper's profile. Counters move by conditional
/// additions, never by rewriting a read value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Member {
    #[serde(default)]
    pub growth: i64,
    #[serde(default)]
    pub points_available: i64,
    #[serde(default)]
    pub points_frozen: i64,
    /// Points a refund could not take back (they were spent): later earnings settle it.
    #[serde(default)]
    pub points_debt: i64,
    #[serde(default)]
    pub last_checkin_day: Option<String>,
    #[serde(default)]
    pub streak: u32,
    /// The last payment, for recency.
    #[serde(default)]
    pub last_paid_at: Option<i64>,
    /// The RFM segment the daily scoring gave (`domain::rfm::Segment::as_str`).
    #[serde(default)]
    pub segment: Option<String>,
}

/// One change of a member's growth or points, keyed by its source so it is written once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// e.g. `growth-pay-<order_no>`, `growth-refund-<out_refund_no>`, `checkin-<day>`.
    pub source: String,
    pub growth: i64,
    /// Change of the available points.
    pub points: i64,
    /// Change of the frozen points (earned on an order whose refund window is open).
    #[serde(default)]
    pub frozen: i64,
    pub at: i64,
    pub note: String,
}

/// Points earned by `goods_paid` at a level's multiplier: 1 a whole yuan, times the multiplier.
pub fn points_for_payment(goods_paid: Fen, multiplier_pct: u16) -> i64 {
    (goods_paid.fen() / 100).max(0) * i64::from(multiplier_pct) / 100
}

/// The part of `total` that a refund of `refunded` out of `paid` stands for, rounded down, so
/// refunds of a payment never take back more than it brought.
pub fn share(total: i64, paid: Fen, refunded: Fen) -> i64 {
    if paid.fen() <= 0 || total <= 0 {
        return 0;
    }
    i64::try_from(i128::from(total) * i128::from(refunded.fen().clamp(0, paid.fen())) / i128::from(paid.fen()))
        .unwrap_or(0)
}

/// Check-in rewards: points every day, and extra points on streak days (e.g. every 7th).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckinRewards {
    pub daily_points: i64,
    /// (streak length, extra points): paid when the streak reaches a multiple of the length.
    #[serde(default)]
    pub streak_bonus: Vec<(u32, i64)>,
}

impl Default for CheckinRewards {
    fn default() -> Self {
        CheckinRewards { daily_points: 5, streak_bonus: vec![(7, 20)] }
    }
}

impl CheckinRewards {
    /// Points for a check-in that makes the streak `streak` days long.
    pub fn points(&self, streak: u32) -> i64 {
        let bonus: i64 = self
            .streak_bonus
            .iter()
            .filter(|(every, _)| *every > 0 && streak.is_multiple_of(*every))
            .map(|(_, p)| *p)
            .sum();
        self.daily_points + bonus
    }
}

/// The streak after checking in on `today`, given the last check-in day and streak
/// (days as `yyyy-mm-dd` strings of consecutive Shanghai dates).
pub fn next_streak(last_day: Option<&str>, yesterday: &str, streak: u32) -> u32 {
    if last_day == Some(yesterday) { streak.saturating_add(1) } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_follows_money() {
        assert_eq!(growth_for_payment(Fen::new(12_399)), 246, "123 whole yuan");
        assert_eq!(growth_for_payment(Fen::new(99)), 0);
        assert_eq!(share(growth_for_payment(Fen::new(10_000)), Fen::new(10_000), Fen::new(5_000)), 100);
        assert_eq!(
            share(growth_for_payment(Fen::new(10_000)), Fen::new(10_000), Fen::new(20_000)),
            200,
            "never more than earned"
        );
        let parts = share(growth_for_payment(Fen::new(10_001)), Fen::new(10_001), Fen::new(3_333)) * 3;
        assert!(parts <= growth_for_payment(Fen::new(10_001)));
    }

    #[test]
    fn the_ladder_places_growth() {
        let l = Ladder::default();
        assert_eq!(l.level_for(0).name, "普通");
        assert_eq!(l.level_for(4_999).name, "白银");
        assert_eq!(l.level_for(5_000).name, "黄金");
        assert!(l.level_for(5_000).perks.free_shipping);
        assert_eq!(l.level_for(1_000_000).name, "钻石");
        let mut bad = Ladder::default();
        bad.levels[2].min_growth = 500;
        assert!(bad.checked().is_err(), "thresholds must rise");
        let mut first = Ladder::default();
        first.levels[0].min_growth = 1;
        assert!(first.checked().is_err());
        assert!(Ladder::default().checked().is_ok());
    }

    #[test]
    fn streaks_and_their_rewards() {
        assert_eq!(next_streak(Some("2026-12-01"), "2026-12-01", 6), 7);
        assert_eq!(next_streak(Some("2026-11-29"), "2026-12-01", 6), 1, "a missed day starts over");
        assert_eq!(next_streak(None, "2026-12-01", 0), 1);
        let r = CheckinRewards::default();
        assert_eq!((r.points(6), r.points(7), r.points(14)), (5, 25, 25));
    }
}
