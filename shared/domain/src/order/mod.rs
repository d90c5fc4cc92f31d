//! Orders: what an order holds and what came off its price, as data; its state machine; the
//! split over warehouses. No I/O.
//!
//! ```text
//! unpaid ──pay notify / query──▶ paid ──refunds──▶ (refunded grows up to payable)
//!    │
//!    └──expiry / shopper cancel──▶ closed ──a payment still arrives──▶ case: paid_after_close,
//!                                                                      refunded automatically
//! ```
//!
//! A paid order's goods move on their own track ([`Fulfilment`]), beside its money:
//!
//! ```text
//! unshipped ──a sub-order ships──▶ partly_shipped ──the last ships──▶ shipped
//!     └──────────────(one sub-order)────────────────────────────────▶ shipped
//! shipped ──shopper confirms, or N days pass──▶ received ──refund window passes──▶ completed
//! ```
//!
//! The fields are private: every change is a method below that returns the next order (its
//! version bumped) or says why the state machine refuses it, and the caller writes the next
//! order conditioned on the version it read.

mod allocation;
mod hold;
mod lines;
mod shipping;
mod stored;
mod view;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

pub use self::allocation::{allocate, sub_orders};
pub use self::hold::{Hold, Reservation, points_value};
pub use self::lines::{LineInput, MAX_LINES, MAX_QUANTITY, OrderLine, demand, normalise_lines};
pub use self::shipping::{EXPRESS_COMPANIES, Fulfilment, MAX_PACKAGES, Package, ReceivedBy, Shipment, SubOrder};
pub use self::view::{OrderView, ShopperOrderView};
use crate::address::Address;
use crate::error::DomainError;
use crate::ids::{CouponId, OpenId, OrderNo, RequestId, SkuId, TemplateId, TransactionId, WarehouseId};
use crate::money::Fen;
pub use crate::pricing::{Adjustment, Source};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Unpaid,
    Paid,
    Closed,
}

impl OrderState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unpaid => "unpaid",
            Self::Paid => "paid",
            Self::Closed => "closed",
        }
    }

    /// The moves the state machine allows: an unpaid order is paid or closed, and that is
    /// final (refunds and shipping change a paid order without moving its state).
    pub fn check(self, to: OrderState) -> Result<(), DomainError> {
        match (self, to) {
            (OrderState::Unpaid, OrderState::Paid | OrderState::Closed) => Ok(()),
            _ => Err(DomainError::InvalidTransition { from: self.as_str(), to: to.as_str() }),
        }
    }
}

/// The list an order is in (see [`Order::phase`]); operators filter by it (`?state=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    Unpaid,
    /// Paid and waiting to ship (all or some of it).
    Paid,
    Shipped,
    Received,
    Completed,
    Closed,
}

impl Phase {
    pub const ALL: [Phase; 6] =
        [Phase::Unpaid, Phase::Paid, Phase::Shipped, Phase::Received, Phase::Completed, Phase::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Unpaid => "unpaid",
            Phase::Paid => "paid",
            Phase::Shipped => "shipped",
            Phase::Received => "received",
            Phase::Completed => "completed",
            Phase::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Phase> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Everything an order is. Stored as JSON in the shape [`Order`] serialises to; orders stored
/// before holds and adjustments were data still read ([`stored`]).
#[derive(Debug, Clone, Serialize, PartialEq, serde::Deserialize)]
#[serde(from = "stored::Stored")]
pub struct Order {
    order_no: OrderNo,
    openid: OpenId,
    state: OrderState,
    lines: Vec<OrderLine>,
    gifts: Vec<OrderLine>,
    sub_orders: Vec<SubOrder>,
    subtotal: Fen,
    /// What came off the goods' listed prices, by source, per line.
    adjustments: Vec<Adjustment>,
    /// Delivery, charged once per order (see [`crate::freight`]); part of `payable`.
    freight: Fen,
    payable: Fen,
    /// What the order holds from others until it is paid, closed or refunded.
    holds: Vec<Hold>,
    /// Where the goods go, as it was when the order was placed.
    address: Option<Address>,
    fulfilment: Fulfilment,
    /// When the last sub-order shipped.
    shipped_at: Option<i64>,
    /// When the carrier reported delivery (an operator marks it); WeChat then reminds the
    /// shopper to confirm.
    delivered_at: Option<i64>,
    received_at: Option<i64>,
    received_by: Option<ReceivedBy>,
    /// When the refund window after receipt closed.
    completed_at: Option<i64>,
    /// Held while one process uploads this order's shipping information to WeChat.
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_lease_until: Option<i64>,
    /// Whether the one correction WeChat takes of a payment's shipping information is used.
    corrected: bool,
    request_id: RequestId,
    created_at: i64,
    expires_at: i64,
    prepay_id: Option<String>,
    transaction_id: Option<TransactionId>,
    paid_at: Option<i64>,
    closed_at: Option<i64>,
    /// Refunds requested, in flight or done: never more than `payable` (a conditional write
    /// holds it there).
    refund_reserved: Fen,
    /// Refunds WeChat Pay completed.
    refunded: Fen,
    /// Units of each ordered line (SKU as ordered) covered by refunds.
    returned_units: BTreeMap<SkuId, i64>,
    /// Counters already given back by refunds, so no unit returns twice.
    restocked: Vec<Reservation>,
    /// Set when a payment arrived after the order had closed.
    paid_after_close: bool,
    /// Bumped by every write; whole-order rewrites are conditioned on it.
    version: i64,
}

/// An order as placement decided it (see [`crate::placing::plan`]).
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub order_no: OrderNo,
    pub openid: OpenId,
    pub request_id: RequestId,
    pub lines: Vec<OrderLine>,
    pub gifts: Vec<OrderLine>,
    pub priced: crate::pricing::Priced,
    pub holds: Vec<Hold>,
    pub address: Address,
    pub now: i64,
    pub expires_at: i64,
}

impl Order {
    /// A new unpaid order. Its sub-orders follow from the stock and gifts it holds.
    pub fn placed(n: NewOrder) -> Order {
        let sub_orders = sub_orders(n.holds.iter().filter_map(Hold::reservation));
        Order {
            order_no: n.order_no,
            openid: n.openid,
            state: OrderState::Unpaid,
            lines: n.lines,
            gifts: n.gifts,
            sub_orders,
            subtotal: n.priced.subtotal,
            adjustments: n.priced.adjustments,
            freight: n.priced.freight,
            payable: n.priced.payable,
            holds: n.holds,
            address: Some(n.address),
            fulfilment: Fulfilment::Unshipped,
            shipped_at: None,
            delivered_at: None,
            received_at: None,
            received_by: None,
            completed_at: None,
            upload_lease_until: None,
            corrected: false,
            request_id: n.request_id,
            created_at: n.now,
            expires_at: n.expires_at,
            prepay_id: None,
            transaction_id: None,
            paid_at: None,
            closed_at: None,
            refund_reserved: Fen::ZERO,
            refunded: Fen::ZERO,
            returned_units: BTreeMap::new(),
            restocked: Vec::new(),
            paid_after_close: false,
            version: 1,
        }
    }

    // ---- reading --------------------------------------------------------------------------

    pub fn order_no(&self) -> &OrderNo {
        &self.order_no
    }

    pub fn openid(&self) -> &OpenId {
        &self.openid
    }

    pub fn state(&self) -> OrderState {
        self.state
    }

    pub fn lines(&self) -> &[OrderLine] {
        &self.lines
    }

    pub fn gifts(&self) -> &[OrderLine] {
        &self.gifts
    }

    pub fn sub_orders(&self) -> &[SubOrder] {
        &self.sub_orders
    }

    pub fn sub_order(&self, warehouse_id: &WarehouseId) -> Option<&SubOrder> {
        self.sub_orders.iter().find(|s| &s.warehouse_id == warehouse_id)
    }

    pub fn subtotal(&self) -> Fen {
        self.subtotal
    }

    pub fn adjustments(&self) -> &[Adjustment] {
        &self.adjustments
    }

    /// What `source` took off the goods.
    pub fn off(&self, source: Source) -> Fen {
        self.adjustments
            .iter()
            .filter(|a| a.source == source)
            .map(Adjustment::total)
            .fold(Fen::ZERO, |a, b| a.checked_add(b).unwrap_or(a))
    }

    /// Everything taken off one line (by its index), by every source.
    pub fn line_off(&self, index: usize) -> Fen {
        Fen::new(self.adjustments.iter().filter_map(|a| a.per_line.get(index)).map(|f| f.fen()).sum())
    }

    pub fn freight(&self) -> Fen {
        self.freight
    }

    pub fn payable(&self) -> Fen {
        self.payable
    }

    pub fn holds(&self) -> &[Hold] {
        &self.holds
    }

    /// The counters the order took units from: its lines' stock and its gifts.
    pub fn reservations(&self) -> impl Iterator<Item = &Reservation> {
        self.holds.iter().filter_map(Hold::reservation)
    }

    /// The coupon the order holds, if any.
    pub fn coupon(&self) -> Option<(&CouponId, &TemplateId)> {
        self.holds.iter().find_map(|h| match h {
            Hold::Coupon { coupon_id, template_id } => Some((coupon_id, template_id)),
            _ => None,
        })
    }

    /// Points the order was paid with.
    pub fn points_used(&self) -> i64 {
        self.holds.iter().map(|h| if let Hold::Points { points } = h { *points } else { 0 }).sum()
    }

    pub fn address(&self) -> Option<&Address> {
        self.address.as_ref()
    }

    pub fn fulfilment(&self) -> Fulfilment {
        self.fulfilment
    }

    pub fn shipped_at(&self) -> Option<i64> {
        self.shipped_at
    }

    pub fn delivered_at(&self) -> Option<i64> {
        self.delivered_at
    }

    pub fn received_at(&self) -> Option<i64> {
        self.received_at
    }

    pub fn received_by(&self) -> Option<ReceivedBy> {
        self.received_by
    }

    pub fn completed_at(&self) -> Option<i64> {
        self.completed_at
    }

    pub fn upload_lease_until(&self) -> Option<i64> {
        self.upload_lease_until
    }

    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    pub fn created_at(&self) -> i64 {
        self.created_at
    }

    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    pub fn prepay_id(&self) -> Option<&str> {
        self.prepay_id.as_deref()
    }

    pub fn transaction_id(&self) -> Option<&TransactionId> {
        self.transaction_id.as_ref()
    }

    pub fn paid_at(&self) -> Option<i64> {
        self.paid_at
    }

    pub fn closed_at(&self) -> Option<i64> {
        self.closed_at
    }

    /// What refunds requested, in flight or done have reserved.
    pub fn reserved_for_refunds(&self) -> Fen {
        self.refund_reserved
    }

    pub fn refunded(&self) -> Fen {
        self.refunded
    }

    /// Units of the ordered line `sku` covered by refunds so far.
    pub fn returned(&self, sku: &SkuId) -> i64 {
        self.returned_units.get(sku).copied().unwrap_or(0)
    }

    pub fn returned_units(&self) -> &BTreeMap<SkuId, i64> {
        &self.returned_units
    }

    pub fn restocked(&self) -> &[Reservation] {
        &self.restocked
    }

    /// Whether a payment arrived after the order had closed.
    pub fn was_paid_after_close(&self) -> bool {
        self.paid_after_close
    }

    pub fn version(&self) -> i64 {
        self.version
    }

    /// Whether refunds gave back all that was paid.
    pub fn fully_refunded(&self) -> bool {
        self.refunded >= self.payable
    }

    /// The list an order is in and the time it is sorted by there: unpaid ones by expiry
    /// (for the closer), shipped ones by shipping and received ones by receipt (for the
    /// jobs that confirm and complete them when their time comes), the rest by creation.
    pub fn phase(&self) -> (Phase, i64) {
        match (self.state, self.fulfilment) {
            (OrderState::Unpaid, _) => (Phase::Unpaid, self.expires_at),
            (OrderState::Closed, _) => (Phase::Closed, self.created_at),
            (OrderState::Paid, Fulfilment::Shipped) => (Phase::Shipped, self.shipped_at.unwrap_or(self.created_at)),
            (OrderState::Paid, Fulfilment::Received) => (Phase::Received, self.received_at.unwrap_or(self.created_at)),
            (OrderState::Paid, Fulfilment::Completed) => {
                (Phase::Completed, self.completed_at.unwrap_or(self.created_at))
            }
            (OrderState::Paid, Fulfilment::Unshipped | Fulfilment::PartlyShipped) => (Phase::Paid, self.created_at),
        }
    }

    /// What was paid for the goods: the payable without freight.
    pub fn goods_paid(&self) -> Fen {
        self.payable.checked_sub(self.freight).unwrap_or(Fen::ZERO)
    }

    pub fn refundable(&self) -> Fen {
        // refund_reserved never exceeds payable (a conditional write holds it there).
        self.payable.checked_sub(self.refund_reserved).unwrap_or(Fen::ZERO)
    }

    pub fn shipped_units(&self) -> HashMap<SkuId, i64> {
        let mut m = HashMap::new();
        for s in self.sub_orders.iter().filter(|s| s.shipment.is_some()) {
            for (sku, n) in &s.items {
                *m.entry(sku.clone()).or_insert(0) += n;
            }
        }
        m
    }

    /// The order as shoppers and operators read it.
    pub fn view(&self) -> OrderView<'_> {
        OrderView::of(self, false)
    }

    /// The order as its shopper reads it (see [`ShopperOrderView`]).
    pub fn shopper_view(&self) -> ShopperOrderView<'_> {
        ShopperOrderView::of(self)
    }

    /// The order as a list shows it: where it goes, not who lives there.
    pub fn view_masked(&self) -> OrderView<'_> {
        OrderView::of(self, true)
    }

    // ---- changes --------------------------------------------------------------------------

    fn next(&self) -> Order {
        let mut o = self.clone();
        o.version += 1;
        o
    }

    /// unpaid → paid by the WeChat Pay transaction `transaction_id`.
    pub fn paid(&self, transaction_id: &TransactionId, paid_at: i64) -> Result<Order, DomainError> {
        self.state.check(OrderState::Paid)?;
        let mut o = self.next();
        o.state = OrderState::Paid;
        o.transaction_id = Some(transaction_id.clone());
        o.paid_at = Some(paid_at);
        Ok(o)
    }

    /// unpaid → closed (expired or cancelled); what it holds goes back with it.
    pub fn closed(&self, now: i64) -> Result<Order, DomainError> {
        self.state.check(OrderState::Closed)?;
        let mut o = self.next();
        o.state = OrderState::Closed;
        o.closed_at = Some(now);
        Ok(o)
    }

    /// A closed order was paid anyway: it stays closed, and the whole payment is reserved
    /// for the refund that sends it back.
    pub fn paid_after_close(&self, transaction_id: &TransactionId, amount: Fen) -> Result<Order, DomainError> {
        if self.state != OrderState::Closed {
            return Err(DomainError::InvalidTransition { from: self.state.as_str(), to: "paid_after_close" });
        }
        let mut o = self.next();
        o.paid_after_close = true;
        o.transaction_id = Some(transaction_id.clone());
        o.refund_reserved = o.refund_reserved.checked_add(amount).ok_or(DomainError::Overflow)?;
        Ok(o)
    }

    /// Reserves `amount` (and the units of `lines`) for a new refund of a paid order.
    pub fn refund_reserved(&self, amount: Fen, lines: &BTreeMap<SkuId, i64>) -> Result<Order, DomainError> {
        if self.state != OrderState::Paid {
            return Err(DomainError::InvalidTransition { from: self.state.as_str(), to: "refunding" });
        }
        if amount <= Fen::ZERO {
            return Err(DomainError::invalid("amount_fen", "nothing left to refund"));
        }
        if amount > self.refundable() {
            return Err(DomainError::RefundExceedsPaid { refundable: self.refundable() });
        }
        let mut o = self.next();
        o.refund_reserved = o.refund_reserved.checked_add(amount).ok_or(DomainError::Overflow)?;
        for (sku, n) in lines {
            let units = o.returned_units.entry(sku.clone()).or_insert(0);
            *units = units.checked_add(*n).ok_or(DomainError::Overflow)?;
        }
        Ok(o)
    }

    /// Gives back what a refund that did not happen had reserved.
    pub fn refund_released(&self, amount: Fen, lines: &BTreeMap<SkuId, i64>) -> Result<Order, DomainError> {
        let mut o = self.next();
        o.refund_reserved =
            o.refund_reserved.checked_sub(amount).filter(|f| *f >= Fen::ZERO).ok_or(DomainError::Overflow)?;
        for (sku, n) in lines {
            if let Some(v) = o.returned_units.get_mut(sku) {
                *v = (*v - n).max(0);
            }
        }
        Ok(o)
    }

    /// A refund completed: its amount counts as refunded, and `restocked` counters are noted
    /// so no unit returns twice.
    pub fn refund_completed(&self, amount: Fen, restocked: &[Reservation]) -> Result<Order, DomainError> {
        let mut o = self.next();
        o.refunded = o.refunded.checked_add(amount).ok_or(DomainError::Overflow)?;
        o.restocked.extend(restocked.iter().cloned());
        Ok(o)
    }

    /// One warehouse's sub-order leaves in `packages`; the order is shipped when its last
    /// sub-order is.
    pub fn shipped(&self, warehouse_id: &WarehouseId, packages: Vec<Package>, now: i64) -> Result<Order, DomainError> {
        if self.state != OrderState::Paid {
            return Err(DomainError::NotShippable { reason: "only paid orders ship" });
        }
        if self.refund_reserved == self.payable {
            return Err(DomainError::NotShippable { reason: "this order is fully refunded" });
        }
        if packages.is_empty() || packages.len() > MAX_PACKAGES {
            return Err(DomainError::invalid("packages", format!("1 to {MAX_PACKAGES} packages")));
        }
        let mut o = self.next();
        let sub =
            o.sub_orders.iter_mut().find(|s| &s.warehouse_id == warehouse_id).ok_or(DomainError::NoSuchSubOrder)?;
        if sub.shipment.is_some() {
            return Err(DomainError::AlreadyShipped);
        }
        sub.shipment = Some(Shipment { packages, shipped_at: now, uploaded_at: None });
        let parcels: usize = o.sub_orders.iter().filter_map(|s| s.shipment.as_ref()).map(|s| s.packages.len()).sum();
        if parcels > MAX_PACKAGES {
            // WeChat takes at most 15 parcels per payment.
            return Err(DomainError::invalid("packages", format!("at most {MAX_PACKAGES} packages per order")));
        }
        if o.sub_orders.iter().all(|s| s.shipment.is_some()) {
            o.fulfilment = Fulfilment::Shipped;
            o.shipped_at = Some(now);
        } else {
            o.fulfilment = Fulfilment::PartlyShipped;
        }
        Ok(o)
    }

    /// WeChat accepted the shipping information of `warehouse_id`'s sub-order.
    pub fn shipment_uploaded(&self, warehouse_id: &WarehouseId, now: i64) -> Result<Order, DomainError> {
        let mut o = self.next();
        let sub =
            o.sub_orders.iter_mut().find(|s| &s.warehouse_id == warehouse_id).ok_or(DomainError::NoSuchSubOrder)?;
        let shipment = sub.shipment.as_mut().ok_or(DomainError::NotShippable { reason: "not shipped yet" })?;
        shipment.uploaded_at.get_or_insert(now);
        Ok(o)
    }

    /// An operator corrects a shipped sub-order's parcels (a mistyped tracking number) before
    /// the shopper confirms receipt. Before WeChat has the shipment it is only a local change;
    /// after, it is sent again, which WeChat takes once per payment.
    pub fn shipment_corrected(&self, warehouse_id: &WarehouseId, packages: Vec<Package>) -> Result<Order, DomainError> {
        if self.state != OrderState::Paid || self.received_at.is_some() {
            return Err(DomainError::NotShippable { reason: "only a paid order not yet received is corrected" });
        }
        if packages.is_empty() || packages.len() > MAX_PACKAGES {
            return Err(DomainError::invalid("packages", format!("1 to {MAX_PACKAGES} packages")));
        }
        let mut o = self.next();
        let corrected = self.corrected;
        let sub =
            o.sub_orders.iter_mut().find(|s| &s.warehouse_id == warehouse_id).ok_or(DomainError::NoSuchSubOrder)?;
        let shipment = sub.shipment.as_mut().ok_or(DomainError::NotShippable { reason: "not shipped yet" })?;
        if shipment.uploaded_at.is_some() {
            if corrected {
                return Err(DomainError::CorrectionUsed);
            }
            o.corrected = true;
        }
        shipment.packages = packages;
        shipment.uploaded_at = None;
        let parcels: usize = o.sub_orders.iter().filter_map(|s| s.shipment.as_ref()).map(|s| s.packages.len()).sum();
        if parcels > MAX_PACKAGES {
            return Err(DomainError::invalid("packages", format!("at most {MAX_PACKAGES} packages per order")));
        }
        Ok(o)
    }

    pub fn correction_used(&self) -> bool {
        self.corrected
    }

    /// One process takes the order's shipping upload until `until`.
    pub fn upload_leased(&self, until: i64) -> Order {
        let mut o = self.next();
        o.upload_lease_until = Some(until);
        o
    }

    /// The upload lease ends.
    pub fn upload_released(&self) -> Order {
        let mut o = self.next();
        o.upload_lease_until = None;
        o
    }

    /// The carrier reported the goods delivered.
    pub fn delivered(&self, now: i64) -> Result<Order, DomainError> {
        if self.fulfilment != Fulfilment::Shipped {
            return Err(DomainError::InvalidTransition { from: self.fulfilment.as_str(), to: "delivered" });
        }
        if self.delivered_at.is_some() {
            return Err(DomainError::InvalidTransition { from: "delivered", to: "delivered" });
        }
        let mut o = self.next();
        o.delivered_at = Some(now);
        Ok(o)
    }

    /// shipped → received, by the shopper or, after the window, by the shop.
    pub fn received(&self, by: ReceivedBy, now: i64) -> Result<Order, DomainError> {
        if self.fulfilment != Fulfilment::Shipped {
            return Err(DomainError::InvalidTransition { from: self.fulfilment.as_str(), to: "received" });
        }
        let mut o = self.next();
        o.fulfilment = Fulfilment::Received;
        o.received_at = Some(now);
        o.received_by = Some(by);
        Ok(o)
    }

    /// received → completed: the refund window has passed.
    pub fn completed(&self, now: i64) -> Result<Order, DomainError> {
        if self.fulfilment != Fulfilment::Received {
            return Err(DomainError::InvalidTransition { from: self.fulfilment.as_str(), to: "completed" });
        }
        let mut o = self.next();
        o.fulfilment = Fulfilment::Completed;
        o.completed_at = Some(now);
        Ok(o)
    }
}

/// Order numbers: the Shanghai date and time, then random digits; 6-32 characters of
/// [0-9A-Za-z], as WeChat Pay's out_trade_no wants, and sortable by time. `random` comes
/// from the caller, so this stays free of I/O.
pub fn new_order_no(now: i64, random: u128) -> OrderNo {
    let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]");
    let stamp = crate::clock::shanghai(now).format(&fmt).unwrap_or_default();
    let r = random % 10u128.pow(10);
    // 14 digits of time and 10 random ones: always a valid order number.
    OrderNo(format!("{stamp}{r:010}"))
}

/// Orders for the tests of this crate.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::catalog::SkuKind;
    use crate::ids::id;

    /// An unpaid order of `quantity` units of SKU `A` at `unit` each, in warehouse `SH`.
    pub(crate) fn unpaid(unit: i64, quantity: i64) -> Order {
        let line = OrderLine {
            sku_id: id("A"),
            product_id: id("P"),
            name: "A".into(),
            kind: SkuKind::Main,
            unit_price: Fen::new(unit),
            quantity,
            amount: Fen::new(unit * quantity),
            components: vec![],
        };
        let reservation = Reservation { sku_id: id("A"), warehouse_id: id("SH"), shard: 0, quantity };
        let priced = crate::pricing::Priced::unadjusted(std::slice::from_ref(&line));
        let mut o = Order::placed(NewOrder {
            order_no: id("N00001"),
            openid: id("o00001"),
            request_id: id("req00001"),
            lines: vec![line],
            gifts: vec![],
            priced,
            holds: vec![Hold::Stock(reservation), Hold::OpenOrder],
            address: crate::address::sample(),
            now: 0,
            expires_at: 10,
        });
        o.address = None;
        o
    }

    /// `o` with `adjustments` taken off its lines (and its payable), as pricing would.
    pub(crate) fn adjusted(mut o: Order, adjustments: Vec<Adjustment>) -> Order {
        let off: i64 = adjustments.iter().map(|a| a.total().fen()).sum();
        o.payable = Fen::new(o.subtotal.fen() + o.freight.fen() - off);
        o.adjustments = adjustments;
        o
    }

    /// `o` with `lines` instead of its own (and a subtotal and payable to match).
    pub(crate) fn with_lines(mut o: Order, lines: Vec<OrderLine>) -> Order {
        o.subtotal = Fen::new(lines.iter().map(|l| l.amount.fen()).sum());
        o.payable = o.subtotal;
        o.lines = lines;
        o
    }

    pub(crate) fn with_freight(mut o: Order, freight: Fen) -> Order {
        o.payable = Fen::new(o.payable.fen() - o.freight.fen() + freight.fen());
        o.freight = freight;
        o
    }

    /// `o` paid partly with `points` (the points adjustment is the caller's).
    pub(crate) fn with_points(mut o: Order, points: i64) -> Order {
        o.holds.retain(|h| !matches!(h, Hold::Points { .. }));
        if points > 0 {
            o.holds.push(Hold::Points { points });
        }
        o
    }

    pub(crate) fn add_sub_order(mut o: Order, warehouse: &str) -> Order {
        o.sub_orders.push(SubOrder { warehouse_id: id(warehouse), items: BTreeMap::new(), shipment: None });
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::StockLevel;
    use crate::ids::{Quantity, id};
    use proptest::prelude::*;

    fn lv(wh: &str, shard: u8, n: i64) -> StockLevel {
        StockLevel { warehouse_id: id(wh), shard, available: n }
    }

    fn d(pairs: &[(&str, i64)]) -> BTreeMap<SkuId, i64> {
        pairs.iter().map(|(s, n)| (id(s), *n)).collect()
    }

    fn stock(entries: Vec<(&str, Vec<StockLevel>)>) -> HashMap<SkuId, Vec<StockLevel>> {
        entries.into_iter().map(|(s, l)| (id(s), l)).collect()
    }

    #[test]
    fn one_warehouse_when_one_holds_everything() {
        let stock =
            stock(vec![("A", vec![lv("SH", 0, 5), lv("GZ", 0, 9)]), ("B", vec![lv("SH", 0, 1), lv("GZ", 0, 3)])]);
        let r = allocate(&d(&[("A", 2), ("B", 2)]), &stock, 0).unwrap();
        assert!(r.iter().all(|x| x.warehouse_id == "GZ"), "{r:?}");
        assert_eq!(sub_orders(&r).len(), 1);
    }

    #[test]
    fn split_over_the_fewest_warehouses() {
        let stock = stock(vec![("A", vec![lv("SH", 0, 5)]), ("B", vec![lv("GZ", 0, 3), lv("BJ", 0, 3)])]);
        let r = allocate(&d(&[("A", 2), ("B", 3)]), &stock, 0).unwrap();
        let subs = sub_orders(&r);
        assert_eq!(subs.len(), 2, "{subs:?}");
        assert_eq!(r.iter().map(|x| x.quantity).sum::<i64>(), 5);
    }

    #[test]
    fn shortage_names_the_sku() {
        let s = stock(vec![("A", vec![lv("SH", 0, 1), lv("GZ", 0, 1)])]);
        assert_eq!(allocate(&d(&[("A", 3)]), &s, 0), Err(id("A")));
        assert_eq!(allocate(&d(&[("Z", 1)]), &HashMap::new(), 0), Err(id("Z")));
    }

    #[test]
    fn shards_are_used_fullest_first() {
        let s = stock(vec![("A", vec![lv("SH", 0, 1), lv("SH", 1, 4)])]);
        let r = allocate(&d(&[("A", 3)]), &s, 0).unwrap();
        assert_eq!(r, vec![Reservation { sku_id: id("A"), warehouse_id: id("SH"), shard: 1, quantity: 3 }]);
        // No shard holds 6 alone: the fullest first, then the next.
        let s = stock(vec![("A", vec![lv("SH", 0, 3), lv("SH", 1, 4), lv("SH", 2, 1)])]);
        let r = allocate(&d(&[("A", 6)]), &s, 7).unwrap();
        let taken: Vec<(u8, i64)> = r.iter().map(|x| (x.shard, x.quantity)).collect();
        assert_eq!(taken, vec![(0, 2), (1, 4)]);
    }

    #[test]
    fn concurrent_orders_spread_over_the_shards_that_can_serve_them() {
        // Eight shards of 100: orders that read the same counts at the same moment must not
        // all pick one counter.
        let s = stock(vec![("A", (0..8).map(|s| lv("SH", s, 100)).collect::<Vec<_>>())]);
        let picked: std::collections::BTreeSet<u8> =
            (0..64u64).map(|spread| allocate(&d(&[("A", 1)]), &s, spread).unwrap()[0].shard).collect();
        assert_eq!(picked.len(), 8, "{picked:?}");
        // A shard too small for the need is never picked alone.
        let s = stock(vec![("A", vec![lv("SH", 0, 1), lv("SH", 1, 5), lv("SH", 2, 5)])]);
        for spread in 0..10 {
            let r = allocate(&d(&[("A", 2)]), &s, spread).unwrap();
            assert_eq!(r.len(), 1);
            assert!(r[0].shard != 0 && r[0].quantity == 2, "{r:?}");
        }
    }

    #[test]
    fn lines_are_merged_and_bounded() {
        let l = |s: &str, q| LineInput { sku_id: id(s), quantity: Quantity::parse(q).unwrap() };
        assert_eq!(normalise_lines(&[l("A", 1), l("A", 2), l("B", 1)]).unwrap(), vec![(id("A"), 3), (id("B"), 1)]);
        assert!(normalise_lines(&[]).is_err());
        for bad in [0, -1, 100, i64::MAX, i64::MIN] {
            assert!(Quantity::parse(bad).is_err(), "{bad}");
        }
        assert!(normalise_lines(&[l("A", 60), l("A", 60)]).is_err());
        let many: Vec<_> = (0..21).map(|i| l(&format!("S{i}"), 1)).collect();
        assert!(normalise_lines(&many).is_err());
    }

    fn unpaid(payable: i64) -> Order {
        fixtures::unpaid(payable, 1)
    }

    #[test]
    fn the_order_state_machine_refuses_what_it_must() {
        let o = unpaid(500);
        let paid = o.paid(&id("T1"), 5).unwrap();
        assert_eq!((paid.state(), paid.version()), (OrderState::Paid, 2));
        assert!(matches!(paid.paid(&id("T2"), 6), Err(DomainError::InvalidTransition { .. })), "paid once");
        assert!(matches!(paid.closed(6), Err(DomainError::InvalidTransition { .. })), "a paid order is not closed");
        let closed = o.closed(11).unwrap();
        assert!(closed.paid(&id("T1"), 12).is_err(), "a closed order is not paid");
        let late = closed.paid_after_close(&id("T1"), Fen::new(500)).unwrap();
        assert_eq!(
            (late.state(), late.reserved_for_refunds(), late.was_paid_after_close()),
            (OrderState::Closed, Fen::new(500), true)
        );
        assert!(paid.paid_after_close(&id("T9"), Fen::new(1)).is_err());
    }

    #[test]
    fn refunds_never_exceed_what_was_paid() {
        let paid = unpaid(500).paid(&id("T1"), 5).unwrap();
        let lines = BTreeMap::from([(id("A"), 1)]);
        let r = paid.refund_reserved(Fen::new(300), &lines).unwrap();
        assert_eq!((r.reserved_for_refunds(), r.returned(&id("A"))), (Fen::new(300), 1));
        assert_eq!(
            r.refund_reserved(Fen::new(201), &BTreeMap::new()).unwrap_err(),
            DomainError::RefundExceedsPaid { refundable: Fen::new(200) }
        );
        assert!(r.refund_reserved(Fen::ZERO, &BTreeMap::new()).is_err());
        assert!(unpaid(500).refund_reserved(Fen::new(1), &BTreeMap::new()).is_err(), "only a paid order refunds");
        let back = r.refund_released(Fen::new(300), &lines).unwrap();
        assert_eq!((back.reserved_for_refunds(), back.returned(&id("A"))), (Fen::ZERO, 0));
        assert!(back.refund_released(Fen::new(1), &BTreeMap::new()).is_err(), "never below zero");
        let done = r.refund_completed(Fen::new(300), &[]).unwrap();
        assert_eq!(done.refunded(), Fen::new(300));
    }

    #[test]
    fn each_sub_order_ships_once() {
        let paid = unpaid(500).paid(&id("T1"), 5).unwrap();
        let ship = || vec![Package { express_company: "SF".into(), tracking_no: "1".into() }];
        let (sh, gz) = (id("SH"), id("GZ"));
        let shipped = paid.shipped(&sh, ship(), 9).unwrap();
        assert_eq!((shipped.fulfilment(), shipped.shipped_at()), (Fulfilment::Shipped, Some(9)));
        assert_eq!(shipped.shipped(&sh, ship(), 10).unwrap_err(), DomainError::AlreadyShipped);
        assert_eq!(paid.shipped(&gz, ship(), 9).unwrap_err(), DomainError::NoSuchSubOrder);
        assert!(matches!(unpaid(500).shipped(&sh, ship(), 9), Err(DomainError::NotShippable { .. })));
        let refunded = paid.refund_reserved(Fen::new(500), &BTreeMap::new()).unwrap();
        assert!(matches!(refunded.shipped(&sh, ship(), 9), Err(DomainError::NotShippable { .. })));

        // Corrections: free before WeChat has the shipment, once after it.
        let fix = |t: &str| vec![Package { express_company: "ZTO".into(), tracking_no: t.into() }];
        let local = shipped.shipment_corrected(&sh, fix("2")).unwrap();
        assert!(!local.correction_used(), "WeChat had nothing yet");
        let up = local.shipment_uploaded(&sh, 10).unwrap();
        let once = up.shipment_corrected(&sh, fix("3")).unwrap();
        assert!(once.correction_used());
        assert!(once.sub_order(&sh).unwrap().shipment.as_ref().unwrap().uploaded_at.is_none(), "to be sent again");
        let again = once.shipment_uploaded(&sh, 11).unwrap();
        assert_eq!(again.shipment_corrected(&sh, fix("4")).unwrap_err(), DomainError::CorrectionUsed);
        assert!(matches!(paid.shipment_corrected(&sh, fix("5")), Err(DomainError::NotShippable { .. })));
        assert!(matches!(paid.shipped(&sh, vec![], 9), Err(DomainError::Invalid { .. })), "no parcel");
        let sixteen = (0..16).map(|i| Package { express_company: "SF".into(), tracking_no: i.to_string() }).collect();
        assert!(matches!(paid.shipped(&sh, sixteen, 9), Err(DomainError::Invalid { .. })), "WeChat takes 15");
    }

    /// shipped → received → completed, each once and in order; a partly shipped order is
    /// not received.
    #[test]
    fn fulfilment_moves_in_order() {
        let paid = fixtures::add_sub_order(unpaid(500).paid(&id("T1"), 5).unwrap(), "BJ");
        let parcel = || vec![Package { express_company: "YTO".into(), tracking_no: "Y1".into() }];
        let partly = paid.shipped(&id("SH"), parcel(), 10).unwrap();
        assert_eq!((partly.fulfilment(), partly.shipped_at()), (Fulfilment::PartlyShipped, None));
        assert_eq!(partly.phase().0, Phase::Paid, "still to ship");
        assert!(partly.received(ReceivedBy::Shopper, 11).is_err());
        assert!(partly.delivered(11).is_err());
        let all = partly.shipped(&id("BJ"), parcel(), 20).unwrap();
        assert_eq!((all.fulfilment(), all.phase()), (Fulfilment::Shipped, (Phase::Shipped, 20)));
        assert!(all.completed(30).is_err(), "not received yet");
        let delivered = all.delivered(25).unwrap();
        assert!(delivered.delivered(26).is_err(), "delivered once");
        let got = delivered.received(ReceivedBy::Auto, 30).unwrap();
        assert_eq!((got.phase(), got.received_by()), ((Phase::Received, 30), Some(ReceivedBy::Auto)));
        assert!(got.received(ReceivedBy::Shopper, 31).is_err(), "received once");
        let done = got.completed(40).unwrap();
        assert_eq!(done.phase(), (Phase::Completed, 40));
        assert!(done.completed(41).is_err());
        let uploaded = all.shipment_uploaded(&id("SH"), 21).unwrap();
        assert_eq!(uploaded.sub_orders()[0].shipment.as_ref().unwrap().uploaded_at, Some(21));
    }

    #[test]
    fn phases_name_themselves() {
        for p in Phase::ALL {
            assert_eq!(Phase::parse(p.as_str()), Some(p));
        }
        assert_eq!(Phase::parse("lost"), None);
    }

    #[test]
    fn order_numbers_fit_wechat() {
        let n = new_order_no(1_764_000_000, u128::MAX);
        assert_eq!(n.len(), 24);
        assert!(n.starts_with("20251125"));
        assert!(n.bytes().all(|b| b.is_ascii_digit()));
    }

    proptest! {
        #[test]
        fn allocation_covers_demand_exactly_within_stock(
            a in proptest::collection::vec(0i64..20, 3),
            b in proptest::collection::vec(0i64..20, 3),
            need_a in 1i64..30, need_b in 1i64..30, spread in proptest::num::u64::ANY,
        ) {
            let whs = ["W1", "W2", "W3"];
            let stock = stock(vec![
                ("A", whs.iter().zip(&a).map(|(w, n)| lv(w, 0, *n)).collect::<Vec<_>>()),
                ("B", whs.iter().zip(&b).map(|(w, n)| lv(w, 0, *n)).collect::<Vec<_>>()),
            ]);
            let demand = d(&[("A", need_a), ("B", need_b)]);
            match allocate(&demand, &stock, spread) {
                Ok(r) => {
                    for (sku, need) in &demand {
                        prop_assert_eq!(r.iter().filter(|x| &x.sku_id == sku).map(|x| x.quantity).sum::<i64>(), *need);
                    }
                    for x in &r {
                        let have = stock[&x.sku_id].iter().find(|l| l.warehouse_id == x.warehouse_id).unwrap().available;
                        prop_assert!(x.quantity > 0 && x.quantity <= have);
                    }
                }
                Err(sku) => {
                    let total: i64 = stock[&sku].iter().map(|l| l.available).sum();
                    prop_assert!(total < demand[&sku]);
                }
            }
        }
    }
}
