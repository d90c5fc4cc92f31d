//! Stock alerts: safety stock from what actually sells, and one alert per episode of stock
//! below it. No I/O.

use serde::{Deserialize, Serialize};

use crate::catalog::safety_stock;
use crate::ids::SkuId;

/// Days of sales the average is taken over.
pub const SALES_WINDOW_DAYS: i64 = 14;

/// Average units sold a day over the window (rounded up, so a SKU that sells at all has a
/// safety stock), from the units sold on each day that had sales.
pub fn daily_sales(units_by_day: &[i64], window_days: i64) -> u32 {
    let total: i64 = units_by_day.iter().copied().filter(|n| *n > 0).sum();
    if total == 0 || window_days < 1 {
        return 0;
    }
    u32::try_from((total + window_days - 1) / window_days).unwrap_or(u32::MAX)
}

/// The safety stock of a SKU: the operator's daily-sales figure when they set one, else the
/// measured average; times replenishment days (the SKU's, else the shop's) and 1.2.
pub fn safety_stock_of(measured_daily: u32, operator_daily: u32, replenish_days: u32, shop_replenish_days: u32) -> i64 {
    let daily = if operator_daily > 0 { operator_daily } else { measured_daily };
    safety_stock(daily, replenish_days_of(replenish_days, shop_replenish_days))
}

/// The replenishment days a SKU is judged by: its own when set (non-zero), else the shop's.
pub fn replenish_days_of(sku_days: u32, shop_days: u32) -> u32 {
    if sku_days > 0 { sku_days } else { shop_days }
}

/// An open alert: stock fell below safety stock and has not recovered since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockAlert {
    pub sku_id: SkuId,
    /// Names this episode (its event is keyed by it: two episodes in one second stay two).
    pub episode: String,
    pub name: String,
    pub available: i64,
    pub safety_stock: i64,
    pub raised_at: i64,
}

/// What to do with a SKU's alert given its stock now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertMove {
    /// Below safety and no open alert: raise one (once per episode).
    Raise,
    /// Back at or above safety with an alert open: the episode ends.
    Clear,
    Nothing,
}

pub fn alert_move(available: i64, safety: i64, open: bool) -> AlertMove {
    match (available < safety, open) {
        (true, false) => AlertMove::Raise,
        (false, true) => AlertMove::Clear,
        _ => AlertMove::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safety_stock_follows_sales() {
        assert_eq!(daily_sales(&[14, 0, 14], 14), 2);
        assert_eq!(daily_sales(&[1], 14), 1, "a SKU that sells has a safety stock");
        assert_eq!(daily_sales(&[], 14), 0);
        assert_eq!(safety_stock_of(2, 0, 5, 7), 12, "2 a day × 5 days × 1.2");
        assert_eq!(safety_stock_of(2, 10, 5, 7), 60, "the operator's figure wins");
        assert_eq!(safety_stock_of(2, 0, 0, 7), 17, "an unset SKU takes the shop's 7 days: 16.8 up to 17");
    }

    #[test]
    fn one_alert_per_episode() {
        assert_eq!(alert_move(3, 12, false), AlertMove::Raise);
        assert_eq!(alert_move(2, 12, true), AlertMove::Nothing, "still low: no second alert");
        assert_eq!(alert_move(12, 12, true), AlertMove::Clear);
        assert_eq!(alert_move(20, 12, false), AlertMove::Nothing);
    }
}
