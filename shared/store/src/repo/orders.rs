//! Orders and the stock counters they draw on.

use domain::catalog::STOCK_ATTR;
use domain::order::{Order, OrderState, Reservation};

use crate::{Cond, Item, Result, Store, TxOp, Update, from_item, keys, to_item};

/// The item an order is stored as: under its number, indexed by state (unpaid ones by
/// expiry, for the closer; others by creation).
pub fn item(o: &Order) -> Result<Item> {
    let sort_time = if o.state == OrderState::Unpaid { o.expires_at } else { o.created_at };
    to_item(&keys::order(&o.order_no), Some(keys::order_gsi1(o.state.as_str(), sort_time, &o.order_no)), o)
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
