//! Returns of goods (退货退款): the shopper asks, an operator approves and gives the return
//! address, the shopper sends the parcel, the operator confirms it arrived, and the money goes
//! back through the refund path; returned units go back to stock only when an operator
//! marks them sellable. No I/O.
//!
//! ```text
//! requested ──approve (return address)──▶ approved ──shopper sends (tracking)──▶ sent
//!     │                                      │                                    │
//!     └──refuse──▶ refused                    └──RETURN_SEND_DAYS pass──▶ lapsed    │
//! sent ──operator confirms receipt──▶ received (the refund is created with it) ──sellable──▶ restocked
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::address::Address;
use crate::ids::{OpenId, OrderNo, OutRefundNo, SkuId, WarehouseId};
use crate::order::{Fulfilment, Order, OrderState, Package};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnState {
    Requested,
    Approved,
    Refused,
    Sent,
    Lapsed,
    Received,
    Restocked,
}

impl ReturnState {
    pub const ALL: [ReturnState; 7] =
        [Self::Requested, Self::Approved, Self::Refused, Self::Sent, Self::Lapsed, Self::Received, Self::Restocked];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Refused => "refused",
            Self::Sent => "sent",
            Self::Lapsed => "lapsed",
            Self::Received => "received",
            Self::Restocked => "restocked",
        }
    }

    pub fn parse(s: &str) -> Option<ReturnState> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    fn check(self, to: ReturnState) -> Result<(), DomainError> {
        use ReturnState::*;
        let ok = matches!(
            (self, to),
            (Requested, Approved | Refused) | (Approved, Sent | Lapsed) | (Sent, Received) | (Received, Restocked)
        );
        if ok { Ok(()) } else { Err(DomainError::InvalidTransition { from: self.as_str(), to: to.as_str() }) }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnRecord {
    pub id: String,
    pub order_no: OrderNo,
    pub openid: OpenId,
    /// Ordered SKU → units coming back.
    pub lines: BTreeMap<SkuId, i64>,
    pub reason: String,
    pub state: ReturnState,
    #[serde(default)]
    pub return_address: Option<Address>,
    #[serde(default)]
    pub parcel: Option<Package>,
    /// The refund created when the goods arrived.
    #[serde(default)]
    pub out_refund_no: Option<OutRefundNo>,
    /// Stock-bearing SKU → units put back as sellable, and where.
    #[serde(default)]
    pub restocked: Vec<(SkuId, WarehouseId, i64)>,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the state last changed, which the lapse step counts from.
    pub state_since: i64,
    pub version: i64,
}

/// A return as its shopper reads it (not their openid nor the record's version).
#[derive(Debug, Serialize)]
pub struct ShopperReturnView<'a> {
    id: &'a str,
    order_no: &'a OrderNo,
    lines: &'a BTreeMap<SkuId, i64>,
    reason: &'a str,
    state: ReturnState,
    return_address: Option<&'a Address>,
    parcel: Option<&'a Package>,
    out_refund_no: Option<&'a OutRefundNo>,
    created_at: i64,
    updated_at: i64,
}

impl ReturnRecord {
    /// The return as its shopper reads it.
    pub fn shopper_view(&self) -> ShopperReturnView<'_> {
        ShopperReturnView {
            id: &self.id,
            order_no: &self.order_no,
            lines: &self.lines,
            reason: &self.reason,
            state: self.state,
            return_address: self.return_address.as_ref(),
            parcel: self.parcel.as_ref(),
            out_refund_no: self.out_refund_no.as_ref(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// A return request for `lines` of `order`: only shipped goods of a paid order whose
    /// refund window is open, never more units than were ordered and not yet refunded.
    /// A new return of `lines` of `order`, whose returns so far are `others`: units already
    /// on their way back in one of those (asked for, approved, sent) cannot come back twice.
    pub fn new(
        id: String,
        order: &Order,
        others: &[ReturnRecord],
        lines: BTreeMap<SkuId, i64>,
        reason: String,
        now: i64,
    ) -> Result<ReturnRecord, DomainError> {
        if order.state() != OrderState::Paid {
            return Err(DomainError::NotReturnable { reason: "only a paid order's goods come back" });
        }
        match order.fulfilment() {
            Fulfilment::Unshipped => {
                return Err(DomainError::NotReturnable { reason: "nothing shipped yet: ask for a refund instead" });
            }
            Fulfilment::Completed => {
                return Err(DomainError::NotReturnable { reason: "the order completed; its return window closed" });
            }
            _ => {}
        }
        if lines.is_empty() {
            return Err(DomainError::invalid("lines", "name the lines and units coming back"));
        }
        for (sku, n) in &lines {
            let line = order
                .lines()
                .iter()
                .find(|l| &l.sku_id == sku)
                .ok_or_else(|| DomainError::invalid("lines", format!("{sku} is not in this order")))?;
            let in_flight: i64 = others
                .iter()
                .filter(|r| matches!(r.state, ReturnState::Requested | ReturnState::Approved | ReturnState::Sent))
                .filter_map(|r| r.lines.get(sku))
                .sum();
            let left = line.quantity - order.returned(sku) - in_flight;
            if *n < 1 || *n > left {
                return Err(DomainError::invalid("lines", format!("at most {left} units of {sku} can come back")));
            }
        }
        Ok(ReturnRecord {
            id,
            order_no: order.order_no().clone(),
            openid: order.openid().clone(),
            lines,
            reason: reason.chars().take(200).collect(),
            state: ReturnState::Requested,
            return_address: None,
            parcel: None,
            out_refund_no: None,
            restocked: Vec::new(),
            created_at: now,
            updated_at: now,
            state_since: now,
            version: 1,
        })
    }

    fn moved(&self, to: ReturnState, now: i64) -> Result<ReturnRecord, DomainError> {
        self.state.check(to)?;
        let mut r = self.clone();
        r.state = to;
        r.updated_at = now;
        r.state_since = now;
        r.version += 1;
        Ok(r)
    }

    pub fn approved(&self, return_address: Address, now: i64) -> Result<ReturnRecord, DomainError> {
        let mut r = self.moved(ReturnState::Approved, now)?;
        r.return_address = Some(return_address.checked()?);
        Ok(r)
    }

    pub fn refused(&self, now: i64) -> Result<ReturnRecord, DomainError> {
        self.moved(ReturnState::Refused, now)
    }

    pub fn sent(&self, parcel: Package, now: i64) -> Result<ReturnRecord, DomainError> {
        let mut r = self.moved(ReturnState::Sent, now)?;
        r.parcel = Some(parcel);
        Ok(r)
    }

    pub fn lapsed(&self, now: i64) -> Result<ReturnRecord, DomainError> {
        self.moved(ReturnState::Lapsed, now)
    }

    pub fn received(&self, out_refund_no: OutRefundNo, now: i64) -> Result<ReturnRecord, DomainError> {
        let mut r = self.moved(ReturnState::Received, now)?;
        r.out_refund_no = Some(out_refund_no);
        Ok(r)
    }

    /// The units to put back: each returned line's stock-bearing SKUs (a bundle's
    /// components), into the warehouse that shipped them.
    pub fn restock_plan(&self, order: &Order) -> Vec<(SkuId, WarehouseId, i64)> {
        let mut out = Vec::new();
        for (sku, n) in &self.lines {
            let Some(line) = order.lines().iter().find(|l| &l.sku_id == sku) else { continue };
            let parts: Vec<(SkuId, i64)> = if line.components.is_empty() {
                vec![(sku.clone(), *n)]
            } else {
                line.components.iter().map(|(c, per)| (c.clone(), per * n)).collect()
            };
            for (stock_sku, units) in parts {
                // Every stock-bearing SKU of a line sits in one of the order's sub-orders.
                if let Some(s) = order.sub_orders().iter().find(|s| s.items.contains_key(&stock_sku)) {
                    out.push((stock_sku, s.warehouse_id.clone(), units));
                }
            }
        }
        out
    }

    pub fn restocked(&self, plan: Vec<(SkuId, WarehouseId, i64)>, now: i64) -> Result<ReturnRecord, DomainError> {
        let mut r = self.moved(ReturnState::Restocked, now)?;
        r.restocked = plan;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::id;
    use crate::order::fixtures::unpaid;

    fn addr() -> Address {
        Address {
            name: "退货仓".into(),
            phone: "021-12345678".into(),
            province: "上海市".into(),
            city: "上海市".into(),
            district: "浦东新区".into(),
            detail: "仓库路1号".into(),
            postal_code: None,
        }
    }

    #[test]
    fn returns_move_in_order_and_only_for_shipped_goods() {
        let paid = unpaid(500, 3).paid(&id("T1"), 5).unwrap();
        let lines = BTreeMap::from([(id("A"), 2)]);
        assert!(ReturnRecord::new("R1".into(), &paid, &[], lines.clone(), String::new(), 6).is_err(), "not shipped");
        let parcel = Package { express_company: "SF".into(), tracking_no: "1".into() };
        let shipped = paid.shipped(&id("SH"), vec![parcel.clone()], 7).unwrap();
        assert!(
            ReturnRecord::new("R1".into(), &shipped, &[], BTreeMap::from([(id("A"), 4)]), String::new(), 8).is_err()
        );
        assert!(
            ReturnRecord::new("R1".into(), &shipped, &[], BTreeMap::from([(id("Z"), 1)]), String::new(), 8).is_err()
        );
        let r = ReturnRecord::new("R1".into(), &shipped, &[], lines, "坏了".into(), 8).unwrap();
        assert!(r.sent(parcel.clone(), 9).is_err(), "not approved yet");
        let a = r.approved(addr(), 9).unwrap();
        assert!(a.approved(addr(), 10).is_err() && a.refused(10).is_err());
        let s = a.sent(parcel, 11).unwrap();
        assert!(s.lapsed(12).is_err(), "a sent parcel does not lapse");
        let got = s.received(id("RN1"), 13).unwrap();
        assert_eq!(got.restock_plan(&shipped), vec![(id("A"), id("SH"), 2)]);
        let done = got.restocked(got.restock_plan(&shipped), 14).unwrap();
        assert!(done.restocked(vec![], 15).is_err(), "restocked once");
        let received = shipped.received(crate::order::ReceivedBy::Shopper, 20).unwrap().completed(30).unwrap();
        let late = ReturnRecord::new("R2".into(), &received, &[], BTreeMap::from([(id("A"), 1)]), String::new(), 31);
        assert!(matches!(late, Err(DomainError::NotReturnable { .. })), "after the window");
    }
}
