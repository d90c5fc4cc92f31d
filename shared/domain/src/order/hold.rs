//! What an order holds from others while it lives: stock and gifts taken from their
//! counters, the shopper's coupon, points spent, and its share of the shopper's limits on
//! unpaid orders. Each is a [`Hold`], taken in the transaction that places the order and given
//! back, kind by kind, by `store::repo::holds` when the order is paid, closes or is refunded.
//! A new kind of hold is one variant here; the compiler then asks for its arms there.

use serde::{Deserialize, Serialize};

use crate::ids::{CouponId, SkuId, TemplateId, WarehouseId};
use crate::money::Fen;

/// Units of a stock-bearing SKU taken from one counter (warehouse and shard).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reservation {
    pub sku_id: SkuId,
    pub warehouse_id: WarehouseId,
    pub shard: u8,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Hold {
    /// Units an ordered line needs, from one counter; they leave with the goods.
    Stock(Reservation),
    /// A gift's unit, from one counter; a gift that ran out is left out rather than refused.
    Gift(Reservation),
    /// The shopper's coupon, locked to the order until it is paid (then used) or closes.
    Coupon { coupon_id: CouponId, template_id: TemplateId },
    /// Points paid with: spent at placement, back if the order closes unpaid.
    Points { points: i64 },
    /// One of the shopper's unpaid-order places (`MAX_OPEN_ORDERS`), until paid or closed.
    OpenOrder,
    /// Units of one ordered SKU against the shopper's holding limit (`MAX_HELD_UNITS`).
    HeldUnits { sku_id: SkuId, units: i64 },
}

impl Hold {
    /// The reservation of a stock or gift hold.
    pub fn reservation(&self) -> Option<&Reservation> {
        match self {
            Hold::Stock(r) | Hold::Gift(r) => Some(r),
            Hold::Coupon { .. } | Hold::Points { .. } | Hold::OpenOrder | Hold::HeldUnits { .. } => None,
        }
    }
}

/// The value of points at checkout: 100 points are 1 yuan.
pub fn points_value(points: i64) -> Fen {
    Fen::new(points * 100 / crate::pricing::POINTS_PER_YUAN)
}
