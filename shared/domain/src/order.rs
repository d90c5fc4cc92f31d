//! Orders: their shape, pricing, the split over warehouses, and the state machine. No I/O.
//!
//! ```text
//! unpaid ──pay notify / query──▶ paid ──refunds──▶ (refunded_fen grows up to payable)
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

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::catalog::{SkuKind, StockLevel};
use super::money::Fen;
use crate::address::Address;
use crate::error::DomainError;
use crate::ids::{CouponId, OpenId, OrderNo, Quantity, RequestId, SkuId, TransactionId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// One priced line as the shopper ordered it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderLine {
    pub sku_id: String,
    pub product_id: String,
    pub name: String,
    pub kind: SkuKind,
    pub unit_price: Fen,
    pub quantity: i64,
    pub amount: Fen,
    /// This line's share of the order's discount (campaign and coupon); a refund of the line
    /// gives back its amount less this, pro rata.
    #[serde(default)]
    pub discount: Fen,
    /// For a bundle: the stock-bearing SKUs one unit is made of.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<(String, i64)>,
}

/// Units of a stock-bearing SKU taken from one counter (warehouse and shard).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reservation {
    pub sku_id: String,
    pub warehouse_id: String,
    pub shard: u8,
    pub quantity: i64,
}

/// Express companies by the delivery id WeChat's shipping information takes (its
/// `get_delivery_list`), with their names. A code outside this list is refused when shipping.
pub const EXPRESS_COMPANIES: &[(&str, &str)] = &[
    ("SF", "顺丰速运"),
    ("JD", "京东物流"),
    ("EMS", "中国邮政速递物流"),
    ("YTO", "圆通速递"),
    ("ZTO", "中通快递"),
    ("STO", "申通快递"),
    ("YD", "韵达快递"),
    ("JTSD", "极兔速递"),
    ("DBL", "德邦快递"),
    ("HTKY", "百世快递"),
    ("YZPY", "邮政快递包裹"),
];

impl Package {
    /// A parcel the shop can report: a known express company and a tracking number of 1 to
    /// 128 letters, digits or `-`.
    pub fn checked(express_company: &str, tracking_no: &str) -> Result<Package, DomainError> {
        let company = express_company.trim().to_ascii_uppercase();
        if !EXPRESS_COMPANIES.iter().any(|(code, _)| *code == company) {
            return Err(DomainError::invalid(
                "express_company",
                format!("not a known express company code ({express_company:?}); use e.g. SF, YTO, ZTO, JD"),
            ));
        }
        let t = tracking_no.trim();
        if t.is_empty() || t.len() > 128 || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(DomainError::invalid("tracking_no", "1 to 128 letters, digits or '-'"));
        }
        Ok(Package { express_company: company, tracking_no: t.to_owned() })
    }
}

/// One parcel: the express company's WeChat delivery id (`SF`, `YTO`, …) and its number.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Package {
    pub express_company: String,
    pub tracking_no: String,
}

/// A sub-order as it left its warehouse: one or more parcels.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Shipment {
    pub packages: Vec<Package>,
    pub shipped_at: i64,
    /// When WeChat accepted this shipment's information (小程序发货信息管理).
    #[serde(default)]
    pub uploaded_at: Option<i64>,
}

/// Where a paid order's goods are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fulfilment {
    #[default]
    Unshipped,
    PartlyShipped,
    Shipped,
    Received,
    Completed,
}

impl Fulfilment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unshipped => "unshipped",
            Self::PartlyShipped => "partly_shipped",
            Self::Shipped => "shipped",
            Self::Received => "received",
            Self::Completed => "completed",
        }
    }
}

/// Who confirmed receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceivedBy {
    Shopper,
    /// Nobody confirmed within the window; the shop did.
    Auto,
}

/// What one warehouse ships: a sub-order of the parent order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubOrder {
    pub warehouse_id: String,
    /// Stock-bearing SKU → units.
    pub items: BTreeMap<String, i64>,
    #[serde(default)]
    pub shipment: Option<Shipment>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Order {
    pub order_no: OrderNo,
    pub openid: OpenId,
    pub state: OrderState,
    pub lines: Vec<OrderLine>,
    #[serde(default)]
    pub gifts: Vec<OrderLine>,
    pub sub_orders: Vec<SubOrder>,
    pub reservations: Vec<Reservation>,
    pub subtotal: Fen,
    /// Everything taken off the goods (member price, campaign and coupon).
    pub discount: Fen,
    /// The member price's part of `discount`.
    #[serde(default)]
    pub member_discount: Fen,
    /// The full-reduction campaign's part of `discount`.
    #[serde(default)]
    pub campaign_discount: Fen,
    /// Points spent on the goods, and what they were worth (not part of `discount`).
    #[serde(default)]
    pub points_used: i64,
    #[serde(default)]
    pub points_value: Fen,
    /// Delivery, charged once per order (see [`crate::freight`]); part of `payable`.
    #[serde(default)]
    pub freight: Fen,
    pub payable: Fen,
    /// Where the goods go, as it was when the order was placed.
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub fulfilment: Fulfilment,
    /// When the last sub-order shipped.
    #[serde(default)]
    pub shipped_at: Option<i64>,
    /// When the carrier reported delivery (an operator marks it); WeChat then reminds the
    /// shopper to confirm.
    #[serde(default)]
    pub delivered_at: Option<i64>,
    #[serde(default)]
    pub received_at: Option<i64>,
    #[serde(default)]
    pub received_by: Option<ReceivedBy>,
    /// When the refund window after receipt closed.
    #[serde(default)]
    pub completed_at: Option<i64>,
    /// Held while one process uploads this order's shipping information to WeChat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_lease_until: Option<i64>,
    #[serde(default)]
    pub coupon_id: Option<CouponId>,
    #[serde(default)]
    pub coupon_template: Option<String>,
    pub request_id: RequestId,
    pub created_at: i64,
    pub expires_at: i64,
    #[serde(default)]
    pub prepay_id: Option<String>,
    #[serde(default)]
    pub transaction_id: Option<TransactionId>,
    #[serde(default)]
    pub paid_at: Option<i64>,
    #[serde(default)]
    pub closed_at: Option<i64>,
    /// Refunds requested, in flight or done, in fen: never more than `payable` (a
    /// conditional write holds it there).
    #[serde(default)]
    pub refund_reserved: Fen,
    /// Refunds WeChat Pay completed, in fen.
    #[serde(default)]
    pub refunded: Fen,
    /// Units of each ordered line (SKU as ordered) covered by refunds.
    #[serde(default)]
    pub returned_units: BTreeMap<String, i64>,
    /// Counters already given back by refunds, so no unit returns twice.
    #[serde(default)]
    pub restocked: Vec<Reservation>,
    /// Set when a payment arrived after the order had closed.
    #[serde(default)]
    pub paid_after_close: bool,
    /// Whether the order counts against its shopper's limits on unpaid orders (set at
    /// placement; orders placed before the limits existed do not).
    #[serde(default)]
    pub holds: bool,
    /// Bumped by every write; whole-order rewrites are conditioned on it.
    #[serde(default)]
    pub version: i64,
}

impl OrderState {
    /// The moves the state machine allows: an unpaid order is paid or closed, and that is
    /// final (refunds and shipping change a paid order without moving its state).
    pub fn check(self, to: OrderState) -> Result<(), DomainError> {
        match (self, to) {
            (OrderState::Unpaid, OrderState::Paid | OrderState::Closed) => Ok(()),
            _ => Err(DomainError::InvalidTransition { from: self.as_str(), to: to.as_str() }),
        }
    }
}

/// Every change below returns the next order (version bumped) or says why not; the caller
/// writes it conditioned on the version it read.
impl Order {
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

    /// unpaid → closed (expired or cancelled); stock and coupon go back with it.
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
    pub fn refund_reserved(&self, amount: Fen, lines: &BTreeMap<String, i64>) -> Result<Order, DomainError> {
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
    pub fn refund_released(&self, amount: Fen, lines: &BTreeMap<String, i64>) -> Result<Order, DomainError> {
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
    pub fn shipped(&self, warehouse_id: &str, packages: Vec<Package>, now: i64) -> Result<Order, DomainError> {
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
            o.sub_orders.iter_mut().find(|s| s.warehouse_id == warehouse_id).ok_or(DomainError::NoSuchSubOrder)?;
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
    pub fn shipment_uploaded(&self, warehouse_id: &str, now: i64) -> Result<Order, DomainError> {
        let mut o = self.next();
        let sub =
            o.sub_orders.iter_mut().find(|s| s.warehouse_id == warehouse_id).ok_or(DomainError::NoSuchSubOrder)?;
        let shipment = sub.shipment.as_mut().ok_or(DomainError::NotShippable { reason: "not shipped yet" })?;
        shipment.uploaded_at.get_or_insert(now);
        Ok(o)
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

    /// The list an order is in and the time it is sorted by there: unpaid ones by expiry
    /// (for the closer), shipped ones by shipping and received ones by receipt (for the
    /// jobs that confirm and complete them when their time comes), the rest by creation.
    pub fn phase(&self) -> (&'static str, i64) {
        match (self.state, self.fulfilment) {
            (OrderState::Unpaid, _) => ("unpaid", self.expires_at),
            (OrderState::Closed, _) => ("closed", self.created_at),
            (OrderState::Paid, Fulfilment::Shipped) => ("shipped", self.shipped_at.unwrap_or(self.created_at)),
            (OrderState::Paid, Fulfilment::Received) => ("received", self.received_at.unwrap_or(self.created_at)),
            (OrderState::Paid, Fulfilment::Completed) => ("completed", self.completed_at.unwrap_or(self.created_at)),
            (OrderState::Paid, Fulfilment::Unshipped | Fulfilment::PartlyShipped) => ("paid", self.created_at),
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

    pub fn shipped_units(&self) -> HashMap<String, i64> {
        let mut m = HashMap::new();
        for s in self.sub_orders.iter().filter(|s| s.shipment.is_some()) {
            for (sku, n) in &s.items {
                *m.entry(sku.clone()).or_insert(0) += n;
            }
        }
        m
    }
}

/// Most distinct lines an order may carry (each can touch several counters, and one
/// transaction holds at most 100 writes).
pub const MAX_LINES: usize = 20;
pub const MAX_QUANTITY: i64 = 99;
/// WeChat's shipping information takes at most 15 parcels per payment.
pub const MAX_PACKAGES: usize = 15;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    pub sku_id: SkuId,
    pub quantity: Quantity,
}

/// Merges repeated SKUs and checks counts.
pub fn normalise_lines(items: &[LineInput]) -> Result<Vec<(String, i64)>, DomainError> {
    if items.is_empty() {
        return Err(DomainError::invalid("items", "an order needs at least one item"));
    }
    let mut merged: BTreeMap<String, i64> = BTreeMap::new();
    for it in items {
        // Both are parsed already; only the sum of repeated lines is left to check.
        let q = merged.entry(it.sku_id.to_string()).or_insert(0);
        *q += it.quantity.get();
        if *q > MAX_QUANTITY {
            return Err(DomainError::invalid(
                "items",
                format!("quantity of {} must be 1 to {MAX_QUANTITY}", it.sku_id),
            ));
        }
    }
    if merged.len() > MAX_LINES {
        return Err(DomainError::invalid("items", format!("at most {MAX_LINES} different SKUs per order")));
    }
    Ok(merged.into_iter().collect())
}

pub use crate::pricing::{Priced, price};

/// Chooses counters for `demand` (stock-bearing SKU → units) from `stock` (SKU → counters):
/// one warehouse holding everything if any (the fullest such), else the fewest warehouses,
/// greedily taking the one that covers most of what is left. Err names a SKU that cannot
/// be covered.
///
/// Within a warehouse a SKU's stock may be split over shards so that a flash sale's writes
/// spread over DynamoDB partitions. Shoppers placing at the same moment read the same counts,
/// so a rule like "the fullest shard" would send them all to one counter and their
/// transactions would conflict; instead, among the shards that can cover the need alone,
/// `spread` (any number that differs between orders, e.g. from the order number) picks one.
/// Only a need no single shard covers takes the fullest shards first.
pub fn allocate(
    demand: &BTreeMap<String, i64>,
    stock: &HashMap<String, Vec<StockLevel>>,
    spread: u64,
) -> Result<Vec<Reservation>, String> {
    // warehouse → sku → counters (shard, available), fullest first
    let mut by_wh: BTreeMap<String, HashMap<String, Vec<(u8, i64)>>> = BTreeMap::new();
    for (sku, levels) in stock {
        for l in levels.iter().filter(|l| l.available > 0) {
            by_wh
                .entry(l.warehouse_id.clone())
                .or_default()
                .entry(sku.clone())
                .or_default()
                .push((l.shard, l.available));
        }
    }
    for skus in by_wh.values_mut() {
        for shards in skus.values_mut() {
            shards.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        }
    }
    let held = |wh: &HashMap<String, Vec<(u8, i64)>>, sku: &str| {
        wh.get(sku).map(|v| v.iter().map(|s| s.1).sum()).unwrap_or(0i64)
    };
    let mut remaining = demand.clone();
    let mut out = Vec::new();
    let whole = by_wh
        .iter()
        .filter(|(_, skus)| demand.iter().all(|(sku, n)| held(skus, sku) >= *n))
        .max_by_key(|(id, skus)| (demand.keys().map(|s| held(skus, s)).sum::<i64>(), std::cmp::Reverse((*id).clone())))
        .map(|(id, _)| id.clone());
    let order: Vec<String> = match whole {
        Some(id) => vec![id],
        None => Vec::new(),
    };
    let mut used: Vec<String> = Vec::new();
    loop {
        if remaining.values().all(|n| *n == 0) {
            break;
        }
        let pick = if let Some(id) = order.first().filter(|id| !used.contains(id)) {
            Some(id.clone())
        } else {
            by_wh
                .iter()
                .filter(|(id, _)| !used.contains(id))
                .map(|(id, skus)| (remaining.iter().map(|(s, n)| held(skus, s).min(*n)).sum::<i64>(), id))
                .filter(|(covered, _)| *covered > 0)
                .max_by_key(|(covered, id)| (*covered, std::cmp::Reverse((*id).clone())))
                .map(|(_, id)| id.clone())
        };
        let Some(wh) = pick else {
            let missing = remaining.iter().find(|(_, n)| **n > 0).map(|(s, _)| s.clone()).unwrap_or_default();
            return Err(missing);
        };
        used.push(wh.clone());
        let skus = &by_wh[&wh];
        for (sku, need) in remaining.iter_mut().filter(|(_, n)| **n > 0) {
            let shards = skus.get(sku).map(Vec::as_slice).unwrap_or(&[]);
            let covers = |(_, avail): &&(u8, i64)| *avail >= *need;
            let fits = shards.iter().filter(covers).count() as u64;
            if let Some((shard, _)) = shards.iter().filter(covers).nth((spread % fits.max(1)) as usize) {
                out.push(Reservation { sku_id: sku.clone(), warehouse_id: wh.clone(), shard: *shard, quantity: *need });
                *need = 0;
                continue;
            }
            for (shard, avail) in shards {
                if *need == 0 {
                    break;
                }
                let take = (*avail).min(*need);
                out.push(Reservation { sku_id: sku.clone(), warehouse_id: wh.clone(), shard: *shard, quantity: take });
                *need -= take;
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The sub-orders a set of reservations makes: one per warehouse.
pub fn sub_orders(reservations: &[Reservation]) -> Vec<SubOrder> {
    let mut by_wh: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for r in reservations {
        *by_wh.entry(r.warehouse_id.clone()).or_default().entry(r.sku_id.clone()).or_insert(0) += r.quantity;
    }
    by_wh.into_iter().map(|(warehouse_id, items)| SubOrder { warehouse_id, items, shipment: None }).collect()
}

/// The stock-bearing units a set of lines needs (bundles expanded into components).
pub fn demand(lines: &[OrderLine]) -> BTreeMap<String, i64> {
    let mut d = BTreeMap::new();
    for l in lines {
        if l.components.is_empty() {
            *d.entry(l.sku_id.clone()).or_insert(0) += l.quantity;
        } else {
            for (c, n) in &l.components {
                *d.entry(c.clone()).or_insert(0) += n * l.quantity;
            }
        }
    }
    d
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
    use crate::ids::id;

    /// An unpaid order of `quantity` units of SKU `A` at `payable` each, in warehouse `SH`.
    pub(crate) fn unpaid(payable: i64, quantity: i64) -> Order {
        Order {
            order_no: id("N00001"),
            openid: id("o00001"),
            state: OrderState::Unpaid,
            lines: vec![OrderLine {
                sku_id: "A".into(),
                product_id: "P".into(),
                name: "A".into(),
                kind: SkuKind::Main,
                unit_price: Fen::new(payable),
                quantity,
                amount: Fen::new(payable * quantity),
                discount: Fen::ZERO,
                components: vec![],
            }],
            gifts: vec![],
            sub_orders: vec![SubOrder {
                warehouse_id: "SH".into(),
                items: BTreeMap::from([("A".into(), quantity)]),
                shipment: None,
            }],
            reservations: vec![],
            subtotal: Fen::new(payable * quantity),
            discount: Fen::ZERO,
            member_discount: Fen::ZERO,
            campaign_discount: Fen::ZERO,
            points_used: 0,
            points_value: Fen::ZERO,
            freight: Fen::ZERO,
            payable: Fen::new(payable * quantity),
            address: None,
            fulfilment: Fulfilment::Unshipped,
            shipped_at: None,
            delivered_at: None,
            received_at: None,
            received_by: None,
            completed_at: None,
            upload_lease_until: None,
            coupon_id: None,
            coupon_template: None,
            request_id: id("req00001"),
            created_at: 0,
            expires_at: 10,
            prepay_id: None,
            transaction_id: None,
            paid_at: None,
            closed_at: None,
            refund_reserved: Fen::ZERO,
            refunded: Fen::ZERO,
            returned_units: BTreeMap::new(),
            restocked: vec![],
            paid_after_close: false,
            holds: true,
            version: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::id;
    use proptest::prelude::*;

    fn lv(wh: &str, shard: u8, n: i64) -> StockLevel {
        StockLevel { warehouse_id: wh.into(), shard, available: n }
    }

    fn d(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|(s, n)| (s.to_string(), *n)).collect()
    }

    #[test]
    fn one_warehouse_when_one_holds_everything() {
        let stock = HashMap::from([
            ("A".to_string(), vec![lv("SH", 0, 5), lv("GZ", 0, 9)]),
            ("B".to_string(), vec![lv("SH", 0, 1), lv("GZ", 0, 3)]),
        ]);
        let r = allocate(&d(&[("A", 2), ("B", 2)]), &stock, 0).unwrap();
        assert!(r.iter().all(|x| x.warehouse_id == "GZ"), "{r:?}");
        assert_eq!(sub_orders(&r).len(), 1);
    }

    #[test]
    fn split_over_the_fewest_warehouses() {
        let stock = HashMap::from([
            ("A".to_string(), vec![lv("SH", 0, 5)]),
            ("B".to_string(), vec![lv("GZ", 0, 3), lv("BJ", 0, 3)]),
        ]);
        let r = allocate(&d(&[("A", 2), ("B", 3)]), &stock, 0).unwrap();
        let subs = sub_orders(&r);
        assert_eq!(subs.len(), 2, "{subs:?}");
        assert_eq!(r.iter().map(|x| x.quantity).sum::<i64>(), 5);
    }

    #[test]
    fn shortage_names_the_sku() {
        let stock = HashMap::from([("A".to_string(), vec![lv("SH", 0, 1), lv("GZ", 0, 1)])]);
        assert_eq!(allocate(&d(&[("A", 3)]), &stock, 0), Err("A".to_string()));
        assert_eq!(allocate(&d(&[("Z", 1)]), &HashMap::new(), 0), Err("Z".to_string()));
    }

    #[test]
    fn shards_are_used_fullest_first() {
        let stock = HashMap::from([("A".to_string(), vec![lv("SH", 0, 1), lv("SH", 1, 4)])]);
        let r = allocate(&d(&[("A", 3)]), &stock, 0).unwrap();
        assert_eq!(r, vec![Reservation { sku_id: "A".into(), warehouse_id: "SH".into(), shard: 1, quantity: 3 }]);
        // No shard holds 6 alone: the fullest first, then the next.
        let stock = HashMap::from([("A".to_string(), vec![lv("SH", 0, 3), lv("SH", 1, 4), lv("SH", 2, 1)])]);
        let r = allocate(&d(&[("A", 6)]), &stock, 7).unwrap();
        let taken: Vec<(u8, i64)> = r.iter().map(|x| (x.shard, x.quantity)).collect();
        assert_eq!(taken, vec![(0, 2), (1, 4)]);
    }

    #[test]
    fn concurrent_orders_spread_over_the_shards_that_can_serve_them() {
        // Eight shards of 100: orders that read the same counts at the same moment must not
        // all pick one counter.
        let stock = HashMap::from([("A".to_string(), (0..8).map(|s| lv("SH", s, 100)).collect::<Vec<_>>())]);
        let picked: std::collections::BTreeSet<u8> =
            (0..64u64).map(|spread| allocate(&d(&[("A", 1)]), &stock, spread).unwrap()[0].shard).collect();
        assert_eq!(picked.len(), 8, "{picked:?}");
        // A shard too small for the need is never picked alone.
        let stock = HashMap::from([("A".to_string(), vec![lv("SH", 0, 1), lv("SH", 1, 5), lv("SH", 2, 5)])]);
        for spread in 0..10 {
            let r = allocate(&d(&[("A", 2)]), &stock, spread).unwrap();
            assert_eq!(r.len(), 1);
            assert!(r[0].shard != 0 && r[0].quantity == 2, "{r:?}");
        }
    }

    #[test]
    fn lines_are_merged_and_bounded() {
        let l = |s: &str, q| LineInput { sku_id: id(s), quantity: Quantity::parse(q).unwrap() };
        assert_eq!(
            normalise_lines(&[l("A", 1), l("A", 2), l("B", 1)]).unwrap(),
            vec![("A".into(), 3), ("B".into(), 1)]
        );
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
        assert_eq!((paid.state, paid.version), (OrderState::Paid, 2));
        assert!(matches!(paid.paid(&id("T2"), 6), Err(DomainError::InvalidTransition { .. })), "paid once");
        assert!(matches!(paid.closed(6), Err(DomainError::InvalidTransition { .. })), "a paid order is not closed");
        let closed = o.closed(11).unwrap();
        assert!(closed.paid(&id("T1"), 12).is_err(), "a closed order is not paid");
        let late = closed.paid_after_close(&id("T1"), Fen::new(500)).unwrap();
        assert_eq!(
            (late.state, late.refund_reserved, late.paid_after_close),
            (OrderState::Closed, Fen::new(500), true)
        );
        assert!(paid.paid_after_close(&id("T9"), Fen::new(1)).is_err());
    }

    #[test]
    fn refunds_never_exceed_what_was_paid() {
        let paid = unpaid(500).paid(&id("T1"), 5).unwrap();
        let lines = BTreeMap::from([("A".to_string(), 1)]);
        let r = paid.refund_reserved(Fen::new(300), &lines).unwrap();
        assert_eq!((r.refund_reserved, r.returned_units["A"]), (Fen::new(300), 1));
        assert_eq!(
            r.refund_reserved(Fen::new(201), &BTreeMap::new()).unwrap_err(),
            DomainError::RefundExceedsPaid { refundable: Fen::new(200) }
        );
        assert!(r.refund_reserved(Fen::ZERO, &BTreeMap::new()).is_err());
        assert!(unpaid(500).refund_reserved(Fen::new(1), &BTreeMap::new()).is_err(), "only a paid order refunds");
        let back = r.refund_released(Fen::new(300), &lines).unwrap();
        assert_eq!((back.refund_reserved, back.returned_units["A"]), (Fen::ZERO, 0));
        assert!(back.refund_released(Fen::new(1), &BTreeMap::new()).is_err(), "never below zero");
        let done = r.refund_completed(Fen::new(300), &[]).unwrap();
        assert_eq!(done.refunded, Fen::new(300));
    }

    #[test]
    fn each_sub_order_ships_once() {
        let paid = unpaid(500).paid(&id("T1"), 5).unwrap();
        let ship = || vec![Package { express_company: "SF".into(), tracking_no: "1".into() }];
        let shipped = paid.shipped("SH", ship(), 9).unwrap();
        assert_eq!((shipped.fulfilment, shipped.shipped_at), (Fulfilment::Shipped, Some(9)));
        assert_eq!(shipped.shipped("SH", ship(), 10).unwrap_err(), DomainError::AlreadyShipped);
        assert_eq!(paid.shipped("GZ", ship(), 9).unwrap_err(), DomainError::NoSuchSubOrder);
        assert!(matches!(unpaid(500).shipped("SH", ship(), 9), Err(DomainError::NotShippable { .. })));
        let refunded = paid.refund_reserved(Fen::new(500), &BTreeMap::new()).unwrap();
        assert!(matches!(refunded.shipped("SH", ship(), 9), Err(DomainError::NotShippable { .. })));
        assert!(matches!(paid.shipped("SH", vec![], 9), Err(DomainError::Invalid { .. })), "no parcel");
        let sixteen = (0..16).map(|i| Package { express_company: "SF".into(), tracking_no: i.to_string() }).collect();
        assert!(matches!(paid.shipped("SH", sixteen, 9), Err(DomainError::Invalid { .. })), "WeChat takes 15");
    }

    /// shipped → received → completed, each once and in order; a partly shipped order is
    /// not received.
    #[test]
    fn fulfilment_moves_in_order() {
        let mut paid = unpaid(500).paid(&id("T1"), 5).unwrap();
        paid.sub_orders.push(SubOrder { warehouse_id: "BJ".into(), items: BTreeMap::new(), shipment: None });
        let parcel = || vec![Package { express_company: "YTO".into(), tracking_no: "Y1".into() }];
        let partly = paid.shipped("SH", parcel(), 10).unwrap();
        assert_eq!((partly.fulfilment, partly.shipped_at), (Fulfilment::PartlyShipped, None));
        assert_eq!(partly.phase().0, "paid", "still to ship");
        assert!(partly.received(ReceivedBy::Shopper, 11).is_err());
        assert!(partly.delivered(11).is_err());
        let all = partly.shipped("BJ", parcel(), 20).unwrap();
        assert_eq!((all.fulfilment, all.phase()), (Fulfilment::Shipped, ("shipped", 20)));
        assert!(all.completed(30).is_err(), "not received yet");
        let delivered = all.delivered(25).unwrap();
        assert!(delivered.delivered(26).is_err(), "delivered once");
        let got = delivered.received(ReceivedBy::Auto, 30).unwrap();
        assert_eq!((got.phase(), got.received_by), (("received", 30), Some(ReceivedBy::Auto)));
        assert!(got.received(ReceivedBy::Shopper, 31).is_err(), "received once");
        let done = got.completed(40).unwrap();
        assert_eq!(done.phase(), ("completed", 40));
        assert!(done.completed(41).is_err());
        assert_eq!(
            all.shipment_uploaded("SH", 21).unwrap().sub_orders[0].shipment.as_ref().unwrap().uploaded_at,
            Some(21)
        );
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
            let stock = HashMap::from([
                ("A".to_string(), whs.iter().zip(&a).map(|(w, n)| lv(w, 0, *n)).collect::<Vec<_>>()),
                ("B".to_string(), whs.iter().zip(&b).map(|(w, n)| lv(w, 0, *n)).collect::<Vec<_>>()),
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
