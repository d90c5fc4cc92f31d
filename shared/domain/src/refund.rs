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
use crate::ids::{OpenId, OrderNo, OutRefundNo, SkuId, TransactionId};
use crate::money::Fen;
use crate::operator::{Approval, Approved};
use crate::order::{Hold, Order, Reservation};

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

/// A refund: private fields, every change a method below that the state machine allows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RefundRecord {
    out_refund_no: OutRefundNo,
    order_no: OrderNo,
    openid: OpenId,
    amount: Fen,
    /// Ordered lines (SKU as ordered → units) whose unshipped units go back to stock.
    #[serde(default)]
    lines: BTreeMap<SkuId, i64>,
    reason: String,
    state: RefundState,
    initiated_by: Actor,
    #[serde(default)]
    refund_id: Option<String>,
    #[serde(default)]
    wechat_error: Option<String>,
    created_at: i64,
    updated_at: i64,
    #[serde(default)]
    success_time: Option<i64>,
    arrival_note: String,
    /// The operators who approved it so far (see [`crate::operator::RefundPolicy`]).
    #[serde(default)]
    approvals: Vec<Approval>,
    /// The operator who asked for it, who may then not approve it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    requested_by: Option<String>,
    /// The one payment a surplus refund sends back whole (an order's own refunds go by the
    /// order number, which WeChat Pay maps to the payment the order kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    of_payment: Option<TransactionId>,
    #[serde(default)]
    version: i64,
}

/// A refund as the shopper who asked for it reads it: not the operators who approved it, the
/// shop's error notes or its version.
#[derive(Debug, Serialize)]
pub struct ShopperRefundView<'a> {
    out_refund_no: &'a OutRefundNo,
    order_no: &'a OrderNo,
    amount: Fen,
    lines: &'a BTreeMap<SkuId, i64>,
    reason: &'a str,
    state: RefundState,
    initiated_by: Actor,
    created_at: i64,
    updated_at: i64,
    success_time: Option<i64>,
    arrival_note: &'a str,
}

impl RefundRecord {
    /// The refund as its shopper reads it.
    pub fn shopper_view(&self) -> ShopperRefundView<'_> {
        ShopperRefundView {
            out_refund_no: &self.out_refund_no,
            order_no: &self.order_no,
            amount: self.amount,
            lines: &self.lines,
            reason: &self.reason,
            state: self.state,
            initiated_by: self.initiated_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
            success_time: self.success_time,
            arrival_note: &self.arrival_note,
        }
    }

    /// A new refund of `order`: the shop's own (a late payment) starts at once; a shopper's or
    /// an operator's waits for the approvals its amount needs.
    pub fn new(
        out_refund_no: OutRefundNo,
        order: &Order,
        amount: Fen,
        lines: BTreeMap<SkuId, i64>,
        reason: String,
        by: Actor,
        now: i64,
    ) -> Self {
        let state = if by == Actor::System { RefundState::Processing } else { RefundState::Requested };
        RefundRecord {
            out_refund_no,
            order_no: order.order_no().clone(),
            openid: order.openid().clone(),
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
            requested_by: None,
            of_payment: None,
            version: 1,
        }
    }

    /// Sends back the payment `tid` (the whole of it) rather than part of the order's.
    pub fn of_payment(mut self, tid: TransactionId) -> Self {
        self.of_payment = Some(tid);
        self
    }

    /// The payment this refund sends back whole, when it is not the order's own.
    pub fn payment(&self) -> Option<&TransactionId> {
        self.of_payment.as_ref()
    }

    /// A new refund the operator `id` asked for.
    pub fn requested_by_operator(mut self, id: &str) -> Self {
        self.requested_by = Some(id.to_owned());
        self
    }

    pub fn requested_by(&self) -> Option<&str> {
        self.requested_by.as_deref()
    }

    /// A new refund its requester approved at once: it starts when that is enough.
    pub fn with_first_approval(mut self, approvals: Vec<Approval>, enough: Approved) -> Self {
        self.approvals = approvals;
        if enough == Approved::Yes && self.state == RefundState::Requested {
            self.state = RefundState::Processing;
        }
        self
    }

    pub fn out_refund_no(&self) -> &OutRefundNo {
        &self.out_refund_no
    }

    pub fn order_no(&self) -> &OrderNo {
        &self.order_no
    }

    pub fn openid(&self) -> &OpenId {
        &self.openid
    }

    pub fn amount(&self) -> Fen {
        self.amount
    }

    pub fn lines(&self) -> &BTreeMap<SkuId, i64> {
        &self.lines
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }

    pub fn state(&self) -> RefundState {
        self.state
    }

    /// Whether this refund sends back a payment the order did not keep (it came after the
    /// order closed, or a second time) rather than what the order was paid: the shop's own.
    pub fn returns_surplus(&self) -> bool {
        self.initiated_by == Actor::System
    }

    /// Whether this refund moves the order's refund totals: every refund of what the order
    /// was paid does, and a late payment's, which was reserved on the closed order when it
    /// arrived; a second payment of a paid order was never the order's, so its refund is not.
    pub fn moves_order(&self, order: &Order) -> bool {
        !self.returns_surplus() || order.was_paid_after_close()
    }

    pub fn initiated_by(&self) -> Actor {
        self.initiated_by
    }

    /// WeChat Pay's id of the refund, once a call reached it.
    pub fn refund_id(&self) -> Option<&str> {
        self.refund_id.as_deref()
    }

    pub fn wechat_error(&self) -> Option<&str> {
        self.wechat_error.as_deref()
    }

    pub fn created_at(&self) -> i64 {
        self.created_at
    }

    pub fn updated_at(&self) -> i64 {
        self.updated_at
    }

    pub fn success_time(&self) -> Option<i64> {
        self.success_time
    }

    pub fn approvals(&self) -> &[Approval] {
        &self.approvals
    }

    pub fn version(&self) -> i64 {
        self.version
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

    /// Another approval recorded: the refund starts when the approvals are enough, else it
    /// stays requested.
    pub fn approved(&self, approvals: Vec<Approval>, enough: Approved, now: i64) -> Result<RefundRecord, DomainError> {
        let to = if enough == Approved::Yes { RefundState::Processing } else { RefundState::Requested };
        let mut next = self.moved(to, now)?;
        next.approvals = approvals;
        Ok(next)
    }

    /// WeChat Pay took the refund under `refund_id`.
    pub fn sent(&self, refund_id: String, now: i64) -> Result<RefundRecord, DomainError> {
        let mut next = self.moved(self.state, now)?;
        next.refund_id = Some(refund_id);
        next.wechat_error = None;
        Ok(next)
    }

    /// A call to WeChat Pay failed on the way (`error`); the refund stays as it is, to retry.
    pub fn call_failed(&self, error: String, now: i64) -> Result<RefundRecord, DomainError> {
        let mut next = self.moved(self.state, now)?;
        next.wechat_error = Some(error);
        Ok(next)
    }

    /// WeChat Pay refused the refund itself (`error`): it failed.
    pub fn refused_by_wechat(&self, error: String, now: i64) -> Result<RefundRecord, DomainError> {
        let mut next = self.moved(RefundState::Failed, now)?;
        next.wechat_error = Some(error);
        Ok(next)
    }

    /// WeChat Pay completed it at `at` (its own time).
    pub fn succeeded(&self, at: i64, now: i64) -> Result<RefundRecord, DomainError> {
        let mut next = self.moved(RefundState::Success, now)?;
        next.success_time = Some(at);
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

/// How much of what was paid a set of returned lines is worth: each line's amount less what
/// its adjustments took off it, pro rata to the units, rounded down.
pub fn amount_for_lines(order: &Order, lines: &BTreeMap<SkuId, i64>) -> Result<Fen, DomainError> {
    let mut paid = 0i128;
    for (sku, n) in lines {
        let (index, line) = order
            .lines()
            .iter()
            .enumerate()
            .find(|(_, l)| &l.sku_id == sku)
            .ok_or_else(|| DomainError::invalid("lines", format!("{sku} is not in this order")))?;
        let left = line.quantity.saturating_sub(order.returned(sku)).max(0);
        // Shoppers send these numbers: compare, never add, so no value overflows.
        if *n < 1 || *n > left {
            return Err(DomainError::invalid("lines", format!("at most {left} more units of {sku} can be refunded")));
        }
        let line_paid = i128::from(line.amount.fen() - order.line_off(index).fen());
        paid += line_paid * i128::from(*n) / i128::from(line.quantity.max(1));
    }
    i64::try_from(paid).map(Fen::new).map_err(|_| DomainError::Overflow)
}

/// Counters to give back for a refund's lines: units of unshipped sub-orders that the lines'
/// stock came from, never one that an earlier refund already returned. Gifts stay out.
pub fn restock_for(order: &Order, lines: &BTreeMap<SkuId, i64>) -> Vec<Reservation> {
    let shipped: HashSet<&str> =
        order.sub_orders().iter().filter(|s| s.shipment.is_some()).map(|s| s.warehouse_id.as_str()).collect();
    let mut units: BTreeMap<SkuId, i64> = BTreeMap::new();
    for (sku, n) in lines {
        match order.lines().iter().find(|l| &l.sku_id == sku) {
            Some(l) if !l.components.is_empty() => {
                for (c, per) in &l.components {
                    *units.entry(c.clone()).or_insert(0) += per * n;
                }
            }
            Some(_) => *units.entry(sku.clone()).or_insert(0) += n,
            None => {}
        }
    }
    let stock: Vec<&Reservation> =
        order.holds().iter().filter_map(|h| if let Hold::Stock(r) = h { Some(r) } else { None }).collect();
    let mut out = Vec::new();
    for (sku, mut need) in units {
        for res in stock.iter().filter(|r| r.sku_id == sku && !shipped.contains(r.warehouse_id.as_str())) {
            let done: i64 = order
                .restocked()
                .iter()
                .filter(|x| x.sku_id == res.sku_id && x.warehouse_id == res.warehouse_id && x.shard == res.shard)
                .map(|x| x.quantity)
                .sum();
            let take = (res.quantity - done).min(need);
            if take > 0 {
                out.push(Reservation { quantity: take, ..(*res).clone() });
                need -= take;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::id;
    use crate::order::fixtures;
    use crate::pricing::{Adjustment, Source};

    #[test]
    fn refund_lines_from_shoppers_never_overflow() {
        // A 10% coupon on 3 units of 10 yuan, and one unit already refunded.
        let o = fixtures::adjusted(
            fixtures::unpaid(1000, 3),
            vec![Adjustment { source: Source::Coupon, per_line: vec![Fen::new(300)] }],
        );
        let order =
            o.paid(&id("T1"), 1).unwrap().refund_reserved(Fen::new(900), &BTreeMap::from([(id("A"), 1)])).unwrap();
        let of = |n: i64| amount_for_lines(&order, &BTreeMap::from([(id("A"), n)]));
        // The coupon's discount is shared: 2 units of 10 yuan on a 10% cheaper order.
        assert_eq!(of(2), Ok(Fen::new(1800)));
        for n in [3, i64::MAX, i64::MIN, 0, -1] {
            assert!(matches!(of(n), Err(DomainError::Invalid { .. })), "{n}");
        }
        assert!(amount_for_lines(&order, &BTreeMap::from([(id("Z"), 1)])).is_err());
    }

    #[test]
    fn restock_takes_unshipped_stock_once_and_never_gifts() {
        let paid = fixtures::unpaid(1000, 3).paid(&id("T1"), 1).unwrap();
        let two = BTreeMap::from([(id("A"), 2)]);
        let back = restock_for(&paid, &two);
        assert_eq!(back, vec![Reservation { sku_id: id("A"), warehouse_id: id("SH"), shard: 0, quantity: 2 }]);
        let after = paid.refund_completed(Fen::new(2000), &back).unwrap();
        let three = BTreeMap::from([(id("A"), 3)]);
        assert_eq!(restock_for(&after, &three).iter().map(|r| r.quantity).sum::<i64>(), 1, "never twice");
        let parcel = vec![crate::order::Package { express_company: "SF".into(), tracking_no: "1".into() }];
        let shipped = paid.shipped(&id("SH"), parcel, 2).unwrap();
        assert!(restock_for(&shipped, &two).is_empty(), "shipped units do not come back by a refund");
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
