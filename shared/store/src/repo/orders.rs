//! Orders and the stock counters they draw on. What an order holds is taken and given back
//! by [`super::holds`].

use domain::catalog::STOCK_ATTR;
use domain::ids::{OpenId, OrderNo, RequestId};
use domain::order::{Order, OrderState, Phase, Reservation};

use crate::{Cond, Item, Query, Result, Store, TxOp, Update, from_item, keys, table, to_item};

/// The item an order is stored as: under its number, indexed by its phase and the time the
/// next step is due from (see [`Order::phase`]).
pub fn item(o: &Order) -> Result<Item> {
    let (phase, sort_time) = o.phase();
    to_item(&keys::order(o.order_no()), Some(keys::order_gsi1(phase, sort_time, o.order_no())), o)
}

pub async fn get(store: &dyn Store, order_no: &OrderNo) -> Result<Option<Order>> {
    match store.get(&keys::order(order_no)).await? {
        Some(i) => Ok(Some(from_item(i)?)),
        None => Ok(None),
    }
}

/// Writes a new order; refused if the number is taken.
pub fn create(o: &Order) -> Result<TxOp> {
    Ok(TxOp::Put { item: item(o)?, cond: Some(Cond::NotExists) })
}

/// Rewrites an order as `next`, refused unless it is still as `read` (the same version).
pub fn rewrite(next: &Order, read: &Order) -> Result<TxOp> {
    Ok(TxOp::Put { item: item(next)?, cond: Some(Cond::eq("version", read.version())) })
}

/// Moves an order from the state it was `read` in to `next`'s; refused if it moved meanwhile.
pub fn transition(next: &Order, read: &Order) -> Result<TxOp> {
    Ok(TxOp::Put {
        item: item(next)?,
        cond: Some(Cond::eq("state", read.state().as_str()).and(Cond::eq("version", read.version()))),
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

/// The shopper's pointer to one of their orders.
pub fn link_to_shopper(o: &Order) -> Result<TxOp> {
    #[derive(serde::Serialize)]
    struct Link<'a> {
        order_no: &'a str,
        created_at: i64,
    }
    Ok(TxOp::Put {
        item: to_item(
            &keys::user_order(o.openid(), o.order_no()),
            None,
            &Link { order_no: o.order_no(), created_at: o.created_at() },
        )?,
        cond: None,
    })
}

/// Takes one place-order attempt from the shopper's allowance for the minute `minute`:
/// `false` when `per_minute` were taken already. Two conditional writes, no read: count on in
/// this minute's window, or open a new window.
pub async fn take_place_token(store: &dyn Store, openid: &OpenId, minute: i64, per_minute: i64) -> Result<bool> {
    super::rate::take(store, &keys::place_rate(openid), minute, per_minute).await
}

/// Takes one pay attempt from the shopper's allowance for the minute, as
/// [`take_place_token`] does for placing.
pub async fn take_pay_token(store: &dyn Store, openid: &OpenId, minute: i64, per_minute: i64) -> Result<bool> {
    super::rate::take(store, &keys::pay_rate(openid), minute, per_minute).await
}

/// What placing an order reads that the request names: its request-id marker, the shopper's
/// address book and member standing, the SKUs (ordered and given), the coupon; for one batch
/// read ahead of the use cases (`store::prefetch`).
pub fn placing_reads(
    openid: &OpenId,
    request_id: &RequestId,
    skus: &[domain::ids::SkuId],
    coupon: Option<&domain::ids::CouponId>,
) -> Vec<crate::Key> {
    let mut ahead = vec![keys::user_request(openid, request_id), keys::user_addresses(openid), keys::member(openid)];
    ahead.extend(skus.iter().map(keys::sku));
    ahead.extend(coupon.map(|c| keys::user_coupon(openid, c)));
    ahead
}

/// The order a shopper's request id placed, if any.
pub async fn placed_by_request(store: &dyn Store, openid: &OpenId, request_id: &RequestId) -> Result<Option<Order>> {
    let Some(item) = store.get(&keys::user_request(openid, request_id)).await? else {
        return Ok(None);
    };
    match item.get("order_no").and_then(|v| v.as_str()).and_then(|no| OrderNo::parse(no).ok()) {
        Some(no) => get(store, &no).await,
        None => Ok(None),
    }
}

/// Orders in `phase` (see [`Order::phase`]) by the time they are sorted by there, oldest
/// first, as `(order_no, time)` read from the index key alone, so one record that no longer
/// parses cannot stop a job. The index may lag: a job reads each order itself before acting.
pub async fn in_phase(
    store: &dyn Store,
    phase: Phase,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<(OrderNo, i64)>, Option<String>)> {
    let page = store.query(Query::gsi1(keys::orders_in(phase)).limit(limit).after(after)).await?;
    let due = page
        .items
        .iter()
        .filter_map(|i| {
            let (no, at) = keys::parse_order_gsi1_sk(i.get(table::GSI1_SK)?.as_str()?)?;
            Some((OrderNo::parse(no).ok()?, at))
        })
        .collect();
    Ok((due, page.next))
}

/// Notes the prepay id WeChat Pay gave an unpaid order; `false` when it is no longer unpaid.
pub async fn note_prepay(store: &dyn Store, order_no: &OrderNo, prepay_id: &str) -> Result<bool> {
    let upd = Update::new().set("prepay_id", prepay_id).add("version", 1);
    match store.update(&keys::order(order_no), upd, Some(Cond::eq("state", OrderState::Unpaid.as_str()))).await {
        Ok(_) => Ok(true),
        Err(crate::StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The `order_no` of each item (order items and shoppers' pointers both carry it).
fn order_numbers(items: &[Item]) -> Vec<OrderNo> {
    items
        .iter()
        .filter_map(|p| p.get("order_no").and_then(|v| v.as_str()).and_then(|s| OrderNo::parse(s).ok()))
        .collect()
}

/// Numbers of a shopper's orders, newest first.
pub async fn numbers_of_shopper(
    store: &dyn Store,
    openid: &OpenId,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<OrderNo>, Option<String>)> {
    let q =
        Query::table(keys::user_partition(openid)).prefix(keys::USER_ORDER_PREFIX).limit(limit).after(after).reverse();
    let page = store.query(q).await?;
    Ok((order_numbers(&page.items), page.next))
}

/// Numbers of orders the index lists in `phase`, newest first (it may lag: read each).
pub async fn numbers_in_phase(
    store: &dyn Store,
    phase: Phase,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<OrderNo>, Option<String>)> {
    let page = store.query(Query::gsi1(keys::orders_in(phase)).limit(limit).after(after).reverse()).await?;
    Ok((order_numbers(&page.items), page.next))
}
