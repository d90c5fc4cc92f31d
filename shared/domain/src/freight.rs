//! Freight: what delivery costs a shopper. No I/O.
//!
//! Charged once per order, not per warehouse sub-order: which warehouses ship is the shop's
//! choice (the allocation), and a shopper should not pay more because stock happened to sit
//! in two places. The free-shipping threshold compares the goods as paid (after discounts),
//! so a coupon cannot buy free shipping below it; remote provinces add their surcharge even
//! when the base is free. A coupon never touches freight.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::money::Fen;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreightTemplate {
    /// Charged on every order below the threshold.
    pub base_fen: i64,
    /// Orders whose goods come to at least this (after discounts) ship without the base.
    #[serde(default)]
    pub free_over_fen: Option<i64>,
    /// Province (as addresses name it, e.g. `新疆维吾尔自治区`) → surcharge always added.
    #[serde(default)]
    pub remote: BTreeMap<String, i64>,
}

impl Default for FreightTemplate {
    /// Flat 8 yuan, free from 88 yuan of goods.
    fn default() -> Self {
        FreightTemplate { base_fen: 800, free_over_fen: Some(8_800), remote: BTreeMap::new() }
    }
}

/// Why freight may be waived whatever the template says (member perks hook in here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Waiver {
    pub free_shipping: bool,
}

/// The most freight one order may carry: 500 yuan.
const MAX_FREIGHT_FEN: i64 = 50_000;

impl FreightTemplate {
    pub fn checked(self) -> Result<FreightTemplate, DomainError> {
        let fen = |field: &str, v: i64| {
            if (0..=MAX_FREIGHT_FEN).contains(&v) {
                Ok(())
            } else {
                Err(DomainError::invalid(field, format!("0 to {MAX_FREIGHT_FEN} fen")))
            }
        };
        fen("base_fen", self.base_fen)?;
        if let Some(f) = self.free_over_fen
            && f < 1
        {
            return Err(DomainError::invalid("free_over_fen", "at least 1 fen, or absent"));
        }
        if self.remote.len() > 40 {
            return Err(DomainError::invalid("remote", "at most 40 provinces"));
        }
        for (province, surcharge) in &self.remote {
            if province.trim().is_empty() || province.chars().count() > 20 {
                return Err(DomainError::invalid("remote", "province names are 1 to 20 characters"));
            }
            fen("remote", *surcharge)?;
        }
        Ok(self)
    }

    /// Freight of an order whose goods come to `goods` (after discounts), to `province`.
    pub fn freight(&self, goods: Fen, province: &str, waiver: Waiver) -> Fen {
        if waiver.free_shipping {
            return Fen::ZERO;
        }
        let free = self.free_over_fen.is_some_and(|f| goods.fen() >= f);
        let base = if free { 0 } else { self.base_fen };
        let remote = self.remote.get(province).copied().unwrap_or(0);
        Fen::new(base + remote)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_free_over_and_remote() {
        let mut t = FreightTemplate::default();
        t.remote.insert("新疆维吾尔自治区".into(), 1_500);
        let none = Waiver::default();
        assert_eq!(t.freight(Fen::new(8_799), "广东省", none), Fen::new(800));
        assert_eq!(t.freight(Fen::new(8_800), "广东省", none), Fen::ZERO);
        assert_eq!(t.freight(Fen::new(8_800), "新疆维吾尔自治区", none), Fen::new(1_500));
        assert_eq!(t.freight(Fen::new(100), "新疆维吾尔自治区", none), Fen::new(2_300));
        assert_eq!(t.freight(Fen::new(100), "新疆维吾尔自治区", Waiver { free_shipping: true }), Fen::ZERO);
    }

    #[test]
    fn templates_are_checked() {
        let bad = [
            FreightTemplate { base_fen: -1, ..Default::default() },
            FreightTemplate { base_fen: 50_001, ..Default::default() },
            FreightTemplate { free_over_fen: Some(0), ..Default::default() },
            FreightTemplate { remote: BTreeMap::from([(" ".into(), 100)]), ..Default::default() },
            FreightTemplate { remote: BTreeMap::from([("西藏自治区".into(), -5)]), ..Default::default() },
        ];
        for t in bad {
            assert!(t.clone().checked().is_err(), "{t:?}");
        }
        assert!(FreightTemplate::default().checked().is_ok());
    }
}
