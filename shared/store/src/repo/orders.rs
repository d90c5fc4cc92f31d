//! Orders and the stock counters they draw on.

use std::ops::Range;

use domain::catalog::STOCK_ATTR;
use domain::order::{Order, OrderState, Reservation};
use domain::placing::{Limits, Plan};

use crate::{Cond, Item, Query, Result, Store, TxOp, Update, from_item, keys, table, to_item};

/// The item an order is stored as: under its number, indexed by its phase and the time the
/// next step is due from (see [`Order::phase`]).
pub fn item(o: &Order) -> Result<Item> {
    let (phase, sort_time) = o.phase();
    to_item(&keys::order(&o.order_no), Some(keys::order_gsi1(phase, sort_time, &o.order_no)), o)
}

pub async fn get(store: &dyn Store, order_no: &str) -> Result<Option<Order>> {
    match store.get(&keys::order(order_no)).await? {
        Some(i) => Ok(Some(from_item(i)?)),
        None => Ok(None),
    }
}

/// Writes a new order; refused if the number is taken.
pub fn create(o: &Order) -> Result<TxOp> {
    Ok(TxOp::Put { item: item(o)?, cond: Some(Cond::NotExists) })
}

/// Rewrites an order read at `read_version` (the next one carries a higher version).
pub fn rewrite(next: &Order, read_version: i64) -> Result<TxOp> {
    Ok(TxOp::Put { item: item(next)?, cond: Some(Cond::eq("version", read_version)) })
}

/// Moves an order read at `read_version` from `from` to `next.state`; refused if the order
/// moved meanwhile.
pub fn transition(next: &Order, from: OrderState, read_version: i64) -> Result<TxOp> {
    Ok(TxOp::Put {
        item: item(next)?,
        cond: Some(Cond::eq("state", from.as_str()).and(Cond::eq("version", read_version))),
    })
}

/// Takes units from one counter, only while it holds them.
pub fn take_stock(r: &Reservation) -> TxOp {
    TxOp::Update {
        key: keys::stock(&r.sku_id, &r.warehouse_id, r.shard),
        update: Update::new().add(STOCK_ATTR, -r.quantity),
        cond: Some(Cond::ge(STOCK_ATTR, r.quantity)),
    }
}

/// Gives units back to the counter they came from.
pub fn return_stock(r: &Reservation) -> TxOp {
    TxOp::Update {
        key: keys::stock(&r.sku_id, &r.warehouse_id, r.shard),
        update: Update::new().add(STOCK_ATTR, r.quantity),
        cond: None,
    }
}

/// A shopper's pointer to one of their orders.
pub fn link_to_shopper(openid: &str, order_no: &str, created_at: i64) -> Result<TxOp> {
    #[derive(serde::Serialize)]
    struct Link<'a> {
        order_no: &'a str,
        created_at: i64,
    }
    Ok(TxOp::Put {
        item: to_item(&keys::user_order(openid, order_no), None, &Link { order_no, created_at })?,
        cond: None,
    })
}

/// The writes of a placed order, and where each kind sits among them, so a refusal can be
/// told apart: a counter ran short, a gift ran out, the coupon went, or the same request was
/// placed already.
pub struct Reserve {
    pub ops: Vec<TxOp>,
    pub gifts: Range<usize>,
    pub coupon: Option<usize>,
    pub request: usize,
    /// The shopper's count of unpaid orders (refused at the limit).
    pub open_orders: usize,
    /// The shopper's units held per ordered SKU (refused at the limit).
    pub held: Range<usize>,
    /// The points spent (refused when the balance is short).
    pub points: Option<usize>,
}

/// One all-or-nothing write of a plan: every counter taken only while it holds the units,
/// the coupon locked only while available and valid, the order, the shopper's pointer, and
/// the request id (unique, so a retried request finds its first order), and the shopper's
/// holding counters, each taken only while under `limits`.
pub fn reserve(plan: &Plan, limits: &Limits) -> Result<Reserve> {
    let o = &plan.order;
    let mut ops: Vec<TxOp> = plan.take.iter().map(take_stock).collect();
    let gifts = ops.len()..ops.len() + plan.take_gifts.len();
    ops.extend(plan.take_gifts.iter().map(take_stock));
    let coupon = plan.coupon.as_ref().map(|c| {
        ops.push(super::coupons::lock_op(c, &o.order_no, o.created_at));
        ops.len() - 1
    });
    ops.push(create(o)?);
    ops.push(link_to_shopper(&o.openid, &o.order_no, o.created_at)?);
    #[derive(serde::Serialize)]
    struct RequestOf<'a> {
        order_no: &'a str,
    }
    ops.push(TxOp::Put {
        item: to_item(&keys::user_request(&o.openid, &o.request_id), None, &RequestOf { order_no: &o.order_no })?,
        cond: Some(Cond::NotExists),
    });
    let request = ops.len() - 1;
    ops.push(TxOp::Update {
        key: keys::open_orders(&o.openid),
        update: Update::new().add("count", 1),
        cond: Some(Cond::Missing("count".into()).or(Cond::le("count", limits.open_orders - 1))),
    });
    let open_orders = ops.len() - 1;
    let held = ops.len()..ops.len() + o.lines.len();
    for l in &o.lines {
        ops.push(TxOp::Update {
            key: keys::held_units(&o.openid, &l.sku_id),
            update: Update::new().add("units", l.quantity),
            cond: Some(Cond::Missing("units".into()).or(Cond::le("units", limits.units_per_sku - l.quantity))),
        });
    }
    let points = if o.points_used > 0 {
        let entry = domain::member::LedgerEntry {
            source: format!("spend-{}", o.order_no),
            growth: 0,
            points: -o.points_used,
            frozen: 0,
            at: o.created_at,
            note: format!("抵扣 {}", o.points_value),
        };
        ops.extend(super::members::spend_ops(&o.openid, &entry)?);
        Some(ops.len() - 2)
    } else {
        None
    };
    Ok(Reserve { ops, gifts, coupon, request, open_orders, held, points })
}

/// Gives back what an order held against its shopper's limits, when it is paid or closed.
pub fn release_holds(o: &Order) -> Vec<TxOp> {
    if !o.holds {
        return Vec::new();
    }
    let mut ops =
        vec![TxOp::Update { key: keys::open_orders(&o.openid), update: Update::new().add("count", -1), cond: None }];
    ops.extend(o.lines.iter().map(|l| TxOp::Update {
        key: keys::held_units(&o.openid, &l.sku_id),
        update: Update::new().add("units", -l.quantity),
        cond: None,
    }));
    ops
}

/// Takes one place-order attempt from the shopper's allowance for the minute `minute`:
/// `false` when `per_minute` were taken already. Two conditional writes, no read: count on in
/// this minute's window, or open a new window.
pub async fn take_place_token(store: &dyn Store, openid: &str, minute: i64, per_minute: i64) -> Result<bool> {
    let key = keys::place_rate(openid);
    for _ in 0..2 {
        let same_window = Cond::eq("window", minute).and(Cond::le("count", per_minute - 1));
        match store.update(&key, Update::new().add("count", 1), Some(same_window)).await {
            Ok(_) => return Ok(true),
            Err(crate::StoreError::ConditionFailed) => {}
            Err(e) => return Err(e),
        }
        let new_window = Cond::Missing("window".into()).or(Cond::le("window", minute - 1));
        match store.update(&key, Update::new().set("window", minute).set("count", 1), Some(new_window)).await {
            Ok(_) => return Ok(true),
            // Either this window is full, or another attempt opened it first: count again.
            Err(crate::StoreError::ConditionFailed) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// The order a shopper's request id placed, if any.
pub async fn placed_by_request(store: &dyn Store, openid: &str, request_id: &str) -> Result<Option<Order>> {
    let Some(item) = store.get(&keys::user_request(openid, request_id)).await? else {
        return Ok(None);
    };
    match item.get("order_no").and_then(|v| v.as_str()) {
        Some(no) => get(store, no).await,
        None => Ok(None),
    }
}

/// Unpaid orders by expiry, oldest first: `(order_no, expires_at)` read from the index key
/// alone, so one record that no longer parses cannot stop the closer. The index may lag:
/// the closer reads each order itself before acting.
pub async fn unpaid_by_expiry(
    store: &dyn Store,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<(String, i64)>, Option<String>)> {
    in_phase(store, OrderState::Unpaid.as_str(), limit, after).await
}

/// Orders in `phase` (see [`Order::phase`]) by the time they are sorted by there, oldest
/// first, as `(order_no, time)` from the index key alone.
pub async fn in_phase(
    store: &dyn Store,
    phase: &str,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<(String, i64)>, Option<String>)> {
    let page = store.query(Query::gsi1(keys::orders_with_state(phase)).limit(limit).after(after)).await?;
    let due = page
        .items
        .iter()
        .filter_map(|i| {
            let (no, at) = keys::parse_order_gsi1_sk(i.get(table::GSI1_SK)?.as_str()?)?;
            Some((no.to_owned(), at))
        })
        .collect();
    Ok((due, page.next))
}

/// Notes the prepay id WeChat Pay gave an unpaid order; `false` when it is no longer unpaid.
pub async fn note_prepay(store: &dyn Store, order_no: &str, prepay_id: &str) -> Result<bool> {
    let upd = Update::new().set("prepay_id", prepay_id).add("version", 1);
    match store.update(&keys::order(order_no), upd, Some(Cond::eq("state", OrderState::Unpaid.as_str()))).await {
        Ok(_) => Ok(true),
        Err(crate::StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The `order_no` of each item (order items and shoppers' pointers both carry it).
fn order_numbers(items: &[Item]) -> Vec<String> {
    items.iter().filter_map(|p| p.get("order_no").and_then(|v| v.as_str()).map(str::to_owned)).collect()
}

/// Numbers of a shopper's orders, newest first.
pub async fn numbers_of_shopper(
    store: &dyn Store,
    openid: &str,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<String>, Option<String>)> {
    let q =
        Query::table(keys::user_partition(openid)).prefix(keys::USER_ORDER_PREFIX).limit(limit).after(after).reverse();
    let page = store.query(q).await?;
    Ok((order_numbers(&page.items), page.next))
}

/// Numbers of orders the index lists in `state`, newest first (it may lag: read each).
pub async fn numbers_in_phase(
    store: &dyn Store,
    phase: &str,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<String>, Option<String>)> {
    let page = store.query(Query::gsi1(keys::orders_with_state(phase)).limit(limit).after(after).reverse()).await?;
    Ok((order_numbers(&page.items), page.next))
}
