//! Promotions the operator runs beside coupons: a tiered full-reduction campaign (满减活动),
//! gifts by threshold (满赠), how campaigns stack with coupons, and which lines a coupon covers.
//! No I/O.

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::money::Fen;

/// One tier: `off_fen` taken off when the goods reach `min_fen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub min_fen: i64,
    pub off_fen: i64,
}

/// 满减: the best tier the goods reach applies, automatically, without a coupon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FullReduction {
    pub name: String,
    pub tiers: Vec<Tier>,
    pub valid_from: i64,
    pub valid_to: i64,
}

/// 满赠: goods of at least `min_fen` (after discounts; of `products` only, when listed) bring
/// one `gift_sku` while gift stock lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdGift {
    pub name: String,
    pub min_fen: i64,
    #[serde(default)]
    pub products: Vec<String>,
    pub gift_sku: String,
    pub valid_from: i64,
    pub valid_to: i64,
}

/// How a campaign and a coupon meet on one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stacking {
    /// Both apply: the campaign first, the coupon on what is left.
    #[default]
    Both,
    /// An order with a coupon gets no campaign.
    Exclusive,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Promotions {
    #[serde(default)]
    pub full_reduction: Option<FullReduction>,
    #[serde(default)]
    pub gifts: Vec<ThresholdGift>,
    #[serde(default)]
    pub stacking: Stacking,
}

/// The lines a coupon covers: listed products, or products of listed categories. No scope
/// covers every line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    #[serde(default)]
    pub products: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
}

impl Scope {
    pub fn covers(&self, product_id: &str, category: &str) -> bool {
        self.products.iter().any(|p| p == product_id) || self.categories.iter().any(|c| c == category)
    }

    pub fn checked(self) -> Result<Scope, DomainError> {
        if self.products.is_empty() && self.categories.is_empty() {
            return Err(DomainError::invalid("scope", "name products or categories, or leave the scope out"));
        }
        if self.products.len() + self.categories.len() > 50 {
            return Err(DomainError::invalid("scope", "at most 50 products and categories"));
        }
        Ok(self)
    }
}

const MAX_FEN: i64 = 5_000_000;

impl FullReduction {
    pub fn active_at(&self, now: i64) -> bool {
        self.valid_from <= now && now <= self.valid_to
    }

    /// What the best tier the goods reach takes off (never more than the goods).
    pub fn off(&self, goods: Fen) -> Fen {
        let best = self.tiers.iter().filter(|t| goods.fen() >= t.min_fen).map(|t| t.off_fen).max().unwrap_or(0);
        Fen::new(best.min(goods.fen()).max(0))
    }
}

impl ThresholdGift {
    pub fn active_at(&self, now: i64) -> bool {
        self.valid_from <= now && now <= self.valid_to
    }
}

impl Promotions {
    pub fn checked(self) -> Result<Promotions, DomainError> {
        if let Some(c) = &self.full_reduction {
            if c.name.trim().is_empty() || c.tiers.is_empty() || c.tiers.len() > 10 {
                return Err(DomainError::invalid("full_reduction", "a name and 1 to 10 tiers"));
            }
            for t in &c.tiers {
                if t.off_fen < 1 || t.off_fen > t.min_fen || t.min_fen > MAX_FEN {
                    return Err(DomainError::invalid(
                        "full_reduction",
                        "each tier takes off 1 fen to its own threshold, thresholds up to 50,000 yuan",
                    ));
                }
            }
            if c.valid_to <= c.valid_from {
                return Err(DomainError::invalid("full_reduction", "valid_to must be after valid_from"));
            }
        }
        if self.gifts.len() > 20 {
            return Err(DomainError::invalid("gifts", "at most 20 gift rules"));
        }
        for g in &self.gifts {
            if g.name.trim().is_empty() || g.gift_sku.trim().is_empty() || g.min_fen < 1 || g.min_fen > MAX_FEN {
                return Err(DomainError::invalid("gifts", "each gift rule has a name, a gift SKU and a threshold"));
            }
            if g.valid_to <= g.valid_from {
                return Err(DomainError::invalid("gifts", "valid_to must be after valid_from"));
            }
        }
        Ok(self)
    }
}

/// Splits `total` over `weights` in proportion, rounding down and handing the remainder out
/// by the largest fractions (ties to the earlier line): the parts add up to `total` exactly
/// and, while `total` ≤ Σ weights, none exceeds its weight.
pub fn allocate(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i64 = weights.iter().sum();
    if sum <= 0 || total <= 0 {
        return vec![0; weights.len()];
    }
    let mut parts: Vec<i64> = Vec::with_capacity(weights.len());
    let mut fractions: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let exact = i128::from(total) * i128::from(*w);
        parts.push(i64::try_from(exact / i128::from(sum)).unwrap_or(0));
        fractions.push((exact % i128::from(sum), i));
    }
    let mut left = total - parts.iter().sum::<i64>();
    fractions.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in fractions {
        if left == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_best_tier_applies() {
        let c = FullReduction {
            name: "双十二".into(),
            tiers: vec![Tier { min_fen: 10_000, off_fen: 1_000 }, Tier { min_fen: 20_000, off_fen: 3_000 }],
            valid_from: 0,
            valid_to: 10,
        };
        assert_eq!(c.off(Fen::new(9_999)), Fen::ZERO);
        assert_eq!(c.off(Fen::new(10_000)), Fen::new(1_000));
        assert_eq!(c.off(Fen::new(25_000)), Fen::new(3_000));
        assert!(c.active_at(10) && !c.active_at(11));
    }

    #[test]
    fn promotions_are_checked() {
        let tier = |min, off| Tier { min_fen: min, off_fen: off };
        let campaign = |tiers| Promotions {
            full_reduction: Some(FullReduction { name: "x".into(), tiers, valid_from: 0, valid_to: 10 }),
            ..Default::default()
        };
        assert!(campaign(vec![tier(100, 10)]).checked().is_ok());
        assert!(campaign(vec![]).checked().is_err(), "no tiers");
        assert!(campaign(vec![tier(100, 101)]).checked().is_err(), "more off than the threshold");
        assert!(campaign(vec![tier(100, 0)]).checked().is_err(), "nothing off");
        let gift = ThresholdGift {
            name: "满99赠".into(),
            min_fen: 0,
            products: vec![],
            gift_sku: "G1".into(),
            valid_from: 0,
            valid_to: 10,
        };
        assert!(Promotions { gifts: vec![gift], ..Default::default() }.checked().is_err(), "no threshold");
        assert!(Scope::default().checked().is_err(), "an empty scope says nothing");
    }

    proptest! {
        #[test]
        fn allocation_adds_up_and_stays_within_each_line(total in 0i64..1_000_000, weights in proptest::collection::vec(0i64..200_000, 1..20)) {
            let sum: i64 = weights.iter().sum();
            let total = total.min(sum);
            let parts = allocate(total, &weights);
            prop_assert_eq!(parts.len(), weights.len());
            if sum > 0 {
                prop_assert_eq!(parts.iter().sum::<i64>(), total);
            }
            for (p, w) in parts.iter().zip(&weights) {
                prop_assert!(*p >= 0 && p <= w);
            }
        }
    }
}
