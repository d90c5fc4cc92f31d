//! What an order holds ([`Hold`]), taken in the transaction that places it and given back, kind
//! by kind, when it is paid, closes unpaid or is refunded. Each kind is one arm of the matches
//! below, so a new kind of hold that is taken but never given back does not compile.

use domain::events::Event;
use domain::member::{LedgerEntry, LedgerSource};
use domain::order::{Hold, Order, Reservation, Source};
use domain::placing::Limits;

use super::{coupons, members, orders, outbox};
use crate::{Cond, Result, Store, TxOp, Update, keys, to_item};

/// The writes of a placed order, and whose each one is, so a refused transaction maps back to
/// the hold (or the request) that was refused.
pub struct Placing {
    pub ops: Vec<TxOp>,
    whose: Vec<Part>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Hold(usize),
    Order,
    ShopperLink,
    /// The shopper's request id, unique: refused when the same request placed an order already.
    Request,
}

/// Why a placing transaction was refused.
#[derive(Debug, PartialEq)]
pub enum Refused<'a> {
    /// The same request placed an order already.
    AlreadyPlaced,
    /// These holds could not be taken (a counter ran short, a limit was reached, …).
    Holds(Vec<&'a Hold>),
    /// Nothing the shopper did: the order's own write (its number was taken) or no condition.
    Other,
}

impl Placing {
    /// What the failed actions of a cancelled transaction were.
    pub fn refused<'a>(&self, order: &'a Order, failed: &[usize]) -> Refused<'a> {
        let parts: Vec<Part> = failed.iter().filter_map(|i| self.whose.get(*i).copied()).collect();
        if parts.contains(&Part::Request) {
            return Refused::AlreadyPlaced;
        }
        let mut holds: Vec<&Hold> = Vec::new();
        for p in parts {
            if let Part::Hold(i) = p
                && let Some(h) = order.holds().get(i)
                && !holds.contains(&h)
            {
                holds.push(h);
            }
        }
        if holds.is_empty() { Refused::Other } else { Refused::Holds(holds) }
    }
}

/// One all-or-nothing write of a new order: every hold taken under its condition, the order,
/// the shopper's pointer to it, and the request id (unique, so a retried request finds its
/// first order).
pub fn place(order: &Order, limits: &Limits) -> Result<Placing> {
    let mut ops = Vec::new();
    let mut whose = Vec::new();
    for (i, h) in order.holds().iter().enumerate() {
        let taken = take(h, order, limits)?;
        whose.extend(std::iter::repeat_n(Part::Hold(i), taken.len()));
        ops.extend(taken);
    }
    ops.push(orders::create(order)?);
    whose.push(Part::Order);
    ops.push(orders::link_to_shopper(order)?);
    whose.push(Part::ShopperLink);
    #[derive(serde::Serialize)]
    struct RequestOf<'a> {
        order_no: &'a str,
    }
    ops.push(TxOp::Put {
        item: to_item(
            &keys::user_request(order.openid(), order.request_id()),
            None,
            &RequestOf { order_no: order.order_no() },
        )?,
        cond: Some(Cond::NotExists),
    });
    whose.push(Part::Request);
    Ok(Placing { ops, whose })
}

/// The writes that take one hold, each refused when the hold cannot be had.
fn take(h: &Hold, o: &Order, limits: &Limits) -> Result<Vec<TxOp>> {
    Ok(match h {
        Hold::Stock(r) | Hold::Gift(r) => vec![orders::take_stock(r)],
        Hold::Coupon { coupon_id, .. } => vec![coupons::lock_op(o.openid(), coupon_id, o.order_no(), o.created_at())],
        Hold::Points { points } => {
            let entry = LedgerEntry {
                source: LedgerSource::Spend(o.order_no().clone()),
                growth: 0,
                points: -points,
                frozen: 0,
                at: o.created_at(),
                note: format!("抵扣 {}", o.off(Source::Points)),
            };
            members::spend_ops(o.openid(), &entry)?
        }
        Hold::OpenOrder => vec![TxOp::Update {
            key: keys::open_orders(o.openid()),
            update: Update::new().add("count", 1),
            cond: Some(Cond::Missing("count".into()).or(Cond::le("count", limits.open_orders - 1))),
        }],
        Hold::HeldUnits { sku_id, units } => vec![TxOp::Update {
            key: keys::held_units(o.openid(), sku_id),
            update: Update::new().add("units", *units),
            cond: Some(Cond::Missing("units".into()).or(Cond::le("units", limits.units_per_sku - units))),
        }],
    })
}

/// When holds come back.
#[derive(Debug, Clone, Copy)]
pub enum Occasion<'a> {
    /// The order was paid: its places under the shopper's limits free up, its coupon is used;
    /// stock, gifts and points stay spent.
    Paid,
    /// The order closed unpaid (at `at`): everything it holds goes back.
    Closed { at: i64 },
    /// A refund completed (at `at`; the order given is the one after it): the units of its
    /// lines that had not shipped (`restock`, see `domain::refund::restock_for`) go back to
    /// their counters, and when the order is refunded in full, its coupon, while still valid.
    Refunded { restock: &'a [Reservation], at: i64 },
}

/// The writes that give back what `o` holds on `occasion`, for the transaction of the change
/// that occasions it. Reads the coupon when a full refund may return it.
pub async fn give_back(store: &dyn Store, o: &Order, occasion: Occasion<'_>) -> Result<Vec<TxOp>> {
    let mut ops = Vec::new();
    for h in o.holds() {
        ops.extend(match (h, occasion) {
            (Hold::Stock(r), Occasion::Closed { .. }) => vec![orders::return_stock(r)],
            (Hold::Stock(r), Occasion::Refunded { restock, .. }) => {
                restock.iter().filter(|x| same_counter(x, r)).map(orders::return_stock).collect()
            }
            (Hold::Stock(_), Occasion::Paid) => vec![],
            (Hold::Gift(r), Occasion::Closed { .. }) => vec![orders::return_stock(r)],
            // A gift leaves with the goods and is not taken back by a refund.
            (Hold::Gift(_), Occasion::Paid | Occasion::Refunded { .. }) => vec![],
            (Hold::Coupon { coupon_id, template_id }, Occasion::Paid) => {
                coupons::use_ops(o.openid(), coupon_id, template_id, o.order_no())
            }
            (Hold::Coupon { coupon_id, .. }, Occasion::Closed { .. }) => {
                vec![coupons::unlock_op(o.openid(), coupon_id, o.order_no())]
            }
            (Hold::Coupon { coupon_id, template_id }, Occasion::Refunded { at, .. }) => {
                if coupon_returns(store, o, coupon_id, at).await? {
                    coupons::return_ops(o.openid(), coupon_id, template_id, o.order_no(), at)
                } else {
                    vec![]
                }
            }
            (Hold::Points { points }, Occasion::Closed { at }) => {
                let entry = LedgerEntry {
                    source: LedgerSource::Return(o.order_no().clone()),
                    growth: 0,
                    points: *points,
                    frozen: 0,
                    at,
                    note: "订单关闭，积分退回".into(),
                };
                members::give_back_ops(o.openid(), &entry)?
            }
            // A refund's share of the points comes back with its share of the growth, from the
            // members' consumer of the refund's event.
            (Hold::Points { .. }, Occasion::Paid | Occasion::Refunded { .. }) => vec![],
            (Hold::OpenOrder, Occasion::Paid | Occasion::Closed { .. }) => vec![TxOp::Update {
                key: keys::open_orders(o.openid()),
                update: Update::new().add("count", -1),
                cond: None,
            }],
            (Hold::HeldUnits { sku_id, units }, Occasion::Paid | Occasion::Closed { .. }) => vec![TxOp::Update {
                key: keys::held_units(o.openid(), sku_id),
                update: Update::new().add("units", -units),
                cond: None,
            }],
            // Freed when the order was paid.
            (Hold::OpenOrder | Hold::HeldUnits { .. }, Occasion::Refunded { .. }) => vec![],
        });
    }
    Ok(ops)
}

fn same_counter(a: &Reservation, b: &Reservation) -> bool {
    a.sku_id == b.sku_id && a.warehouse_id == b.warehouse_id && a.shard == b.shard
}

/// A full refund of an order that was paid in time gives its coupon back while the coupon
/// is still valid and still used by this order.
async fn coupon_returns(store: &dyn Store, o: &Order, coupon_id: &domain::ids::CouponId, now: i64) -> Result<bool> {
    if !o.fully_refunded() || o.was_paid_after_close() {
        return Ok(false);
    }
    Ok(coupons::held(store, o.openid(), coupon_id).await?.is_some_and(|c| {
        c.state == domain::coupon::CouponState::Used && c.order_no.as_ref() == Some(o.order_no()) && c.valid_to >= now
    }))
}

/// The writes that close an unpaid order read at `read`: the order moves to `closed` (refused
/// if it moved meanwhile), everything it holds comes back, and the event says so.
pub async fn close(store: &dyn Store, read: &Order, closed: &Order, at: i64) -> Result<Vec<TxOp>> {
    let mut ops = vec![orders::transition(closed, read)?];
    ops.extend(give_back(store, read, Occasion::Closed { at }).await?);
    ops.push(outbox::append(&Event::OrderClosed { order_no: read.order_no().clone() }, at)?);
    Ok(ops)
}
