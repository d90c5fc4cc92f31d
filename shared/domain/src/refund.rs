//! Refunds: their record, the state machine, and the rules that price a refund by lines and
//! choose the stock it gives back. No I/O.
//!
//! ```text
//! requested ──approve──▶ processing ──REFUND.SUCCESS──▶ success
//!     │                      │  └────REFUND.CLOSED / refused by WeChat──▶ closed | failed
//!     └──refuse──▶ refused   └────REFUND.ABNORMAL──▶ abnormal ──SUCCESS / CLOSED──▶ …
//! ```

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::ids::{OpenId, OrderNo, OutRefundNo};
use crate::money::Fen;
use crate::operator::Approval;
use crate::order::{Order, Reservation};

/// Who started a refund (or any other change an operator may need to trace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    Shopper,
    Operator,
    /// The shop itself (a late payment's automatic refund).
    System,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Shopper => "shopper",
            Actor::Operator => "operator",
            Actor::System => "system",
        }
    }
}

/// What WeChat Pay tells shoppers about when the money arrives.
pub const ARRIVAL_NOTE: &str = "退款按微信支付规则原路退回：零钱即时到账，银行卡1-3个工作日（T+1起）到账";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    Requested,
    Refused,
    Processing,
    Success,
    Closed,
    Abnormal,
    /// WeChat Pay refused the refund request itself; the reservation was released.
    Failed,
}

impl RefundState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Refused => "refused",
            Self::Processing => "processing",
            Self::Success => "success",
            Self::Closed => "closed",
            Self::Abnormal => "abnormal",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RefundRecord {
    pub out_refund_no: OutRefundNo,
    pub order_no: OrderNo,
    pub openid: OpenId,
    pub amount: Fen,
    /// Ordered lines (SKU as ordered → units) whose unshipped units go back to stock.
    #[serde(default)]
    pub lines: BTreeMap<String, i64>,
    pub reason: String,
    pub state: RefundState,
    pub initiated_by: Actor,
    #[serde(default)]
    pub refund_id: Option<String>,
    #[serde(default)]
    pub wechat_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default)]
    pub success_time: Option<i64>,
    pub arrival_note: String,
    /// The operators who approved it so far (see [`crate::operator::RefundPolicy`]).
    #[serde(default)]
    pub approvals: Vec<Approval>,
    #[serde(default)]
    pub version: i64,
}

impl RefundRecord {
    /// A new refund of `order`: the shop's own (a late payment) starts at once; a shopper's or
    /// an operator's waits for the approvals its amount needs.
    pub fn new(
        out_refund_no: OutRefundNo,
        order: &Order,
        amount: Fen,
        lines: BTreeMap<String, i64>,
        reason: String,
        by: Actor,
        now: i64,
    ) -> Self {
        let state = if by == Actor::System { RefundState::Processing } else { RefundState::Requested };
        RefundRecord {
            out_refund_no,
            order_no: order.order_no.clone(),
            openid: order.openid.clone(),
            amount,
            lines,
            reason,
            state,
            initiated_by: by,
            refund_id: None,
            wechat_error: None,
            created_at: now,
            updated_at: now,
            success_time: None,
            arrival_note: ARRIVAL_NOTE.into(),
            approvals: Vec::new(),
            version: 1,
        }
    }

    /// The same refund in state `to`, if the state machine allows the move.
    pub fn moved(&self, to: RefundState, now: i64) -> Result<RefundRecord, DomainError> {
        self.state.check(to)?;
        let mut next = self.clone();
        next.state = to;
        next.updated_at = now;
        next.version += 1;
        Ok(next)
    }
}

impl RefundState {
    pub const ALL: [RefundState; 7] =
        [Self::Requested, Self::Refused, Self::Processing, Self::Success, Self::Closed, Self::Abnormal, Self::Failed];

    pub fn parse(s: &str) -> Option<RefundState> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Ended: no notify, query or operator moves it again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Success | Self::Closed | Self::Failed | Self::Refused)
    }

    /// The moves the state machine allows. Staying in `requested` records an approval that is
    /// not yet enough; staying in `processing` records what a WeChat call said (its refund id,
    /// or its error) without moving.
    pub fn check(self, to: RefundState) -> Result<(), DomainError> {
        use RefundState::*;
        let allowed = matches!(
            (self, to),
            (Requested, Requested | Processing | Refused)
                | (Processing, Processing | Success | Closed | Failed | Abnormal)
                | (Abnormal, Success | Closed)
        );
        if allowed { Ok(()) } else { Err(DomainError::InvalidTransition { from: self.as_str(), to: to.as_str() }) }
    }
}

/// How much of what was paid a set of returned lines is worth: each line's amount less its
/// share of the discount, pro rata to the units, rounded down. Orders priced before lines
/// carried their discount share scale the list amount by goods paid / subtotal instead.
pub fn amount_for_lines(order: &Order, lines: &BTreeMap<String, i64>) -> Result<Fen, DomainError> {
    let per_line =
        order.lines.iter().map(|l| l.discount.fen()).sum::<i64>() == order.discount.fen() + order.points_value.fen();
    let mut list = 0i64;
    let mut paid = 0i128;
    for (sku, n) in lines {
        let line = order
            .lines
            .iter()
            .find(|l| &l.sku_id == sku)
            .ok_or_else(|| DomainError::invalid("lines", format!("{sku} is not in this order")))?;
        let already = order.returned_units.get(sku).copied().unwrap_or(0);
        let left = line.quantity.saturating_sub(already).max(0);
        // Shoppers send these numbers: compare, never add, so no value overflows.
        if *n < 1 || *n > left {
            return Err(DomainError::invalid("lines", format!("at most {left} more units of {sku} can be refunded")));
        }
        let amount = line.unit_price.checked_mul(*n).ok_or(DomainError::Overflow)?;
        list = list.checked_add(amount.fen()).ok_or(DomainError::Overflow)?;
        let line_paid = i128::from(line.amount.fen() - line.discount.fen());
        paid += line_paid * i128::from(*n) / i128::from(line.quantity.max(1));
    }
    if order.subtotal.fen() == 0 {
        return Ok(Fen::ZERO);
    }
    let share = if per_line {
        paid
    } else {
        i128::from(list) * i128::from(order.goods_paid().fen()) / i128::from(order.subtotal.fen())
    };
    i64::try_from(share).map(Fen::new).map_err(|_| DomainError::Overflow)
}

/// Counters to give back for a refund's lines: units of unshipped sub-orders, never one that
/// an earlier refund already returned.
pub fn restock_for(order: &Order, lines: &BTreeMap<String, i64>) -> Vec<Reservation> {
    let shipped: HashSet<&str> =
        order.sub_orders.iter().filter(|s| s.shipment.is_some()).map(|s| s.warehouse_id.as_str()).collect();
    let mut units: BTreeMap<String, i64> = BTreeMap::new();
    for (sku, n) in lines {
        match order.lines.iter().find(|l| &l.sku_id == sku) {
            Some(l) if !l.components.is_empty() => {
                for (c, per) in &l.components {
                    *units.entry(c.clone()).or_insert(0) += per * n;
                }
            }
            Some(_) => *units.entry(sku.clone()).or_insert(0) += n,
            None => {}
        }
    }
    let mut out = Vec::new();
    for (sku, mut need) in units {
        for res in order.reservations.iter().filter(|r| r.sku_id == sku && !shipped.contains(r.warehouse_id.as_str())) {
            let done: i64 = order
                .restocked
                .iter()
                .filter(|x| x.sku_id == res.sku_id && x.warehouse_id == res.warehouse_id && x.shard == res.shard)
                .map(|x| x.quantity)
                .sum();
            let take = (res.quantity - done).min(need);
            if take > 0 {
                out.push(Reservation { quantity: take, ..res.clone() });
                need -= take;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refund_lines_from_shoppers_never_overflow() {
        let mut order = crate::order::fixtures::unpaid(1000, 3).paid(&crate::ids::id("T1"), 1).unwrap();
        // A 10% coupon, and one unit already returned.
        order.discount = Fen::new(300);
        order.payable = Fen::new(2700);
        order.returned_units.insert("A".to_string(), 1);
        let of = |n: i64| amount_for_lines(&order, &BTreeMap::from([("A".to_string(), n)]));
        // The coupon's discount is shared: 2 units of 10 yuan on a 10% cheaper order.
        assert_eq!(of(2), Ok(Fen::new(1800)));
        for n in [3, i64::MAX, i64::MIN, 0, -1] {
            assert!(matches!(of(n), Err(DomainError::Invalid { .. })), "{n}");
        }
        assert!(amount_for_lines(&order, &BTreeMap::from([("Z".to_string(), 1)])).is_err());
    }

    #[test]
    fn the_state_machine_allows_only_its_moves() {
        use RefundState::*;
        assert!(Requested.check(Processing).is_ok());
        assert!(Requested.check(Refused).is_ok());
        assert!(Processing.check(Success).is_ok());
        assert!(Abnormal.check(Closed).is_ok());
        for done in [Success, Closed, Failed, Refused] {
            assert!(done.is_final());
            for to in RefundState::ALL {
                assert_eq!(
                    done.check(to),
                    Err(DomainError::InvalidTransition { from: done.as_str(), to: to.as_str() }),
                    "{done:?} → {to:?}"
                );
            }
        }
        assert!(Requested.check(Success).is_err(), "an unapproved refund does not complete");
        assert_eq!(RefundState::parse("abnormal"), Some(Abnormal));
        assert_eq!(RefundState::parse("nope"), None);
    }
}
