//! Returns of goods, in their order's partition, indexed by state and the time they entered
//! it (operators' queues, and the step that lapses returns never sent).

use domain::ids::OrderNo;
use domain::returns::{ReturnRecord, ReturnState};

use crate::{Cond, Item, Query, Result, Store, TxOp, from_item, keys, to_item};

fn item(r: &ReturnRecord) -> Result<Item> {
    let (key, tail) = keys::order_return(&r.order_no, &r.id);
    let gsi = (keys::returns_with_state(r.state.as_str()), format!("{:012}#{tail}", r.state_since));
    to_item(&key, Some(gsi), r)
}

/// The write that records a new return; refused when its id exists.
pub fn create(r: &ReturnRecord) -> Result<TxOp> {
    Ok(TxOp::Put { item: item(r)?, cond: Some(Cond::NotExists) })
}

/// The writes that record a new return of an order whose returns were `known` when it was
/// checked against them: refused (index 0) when its id exists, or (index 1) when another
/// return of the order was recorded meanwhile.
pub fn create_counted(r: &ReturnRecord, known: usize) -> Result<Vec<TxOp>> {
    let counter = serde_json::json!({ "count": known + 1 });
    // An order with returns from before the count was kept has none: the first return that
    // counts makes it.
    let cond = Cond::NotExists.or(Cond::eq("count", known as u64));
    Ok(vec![
        create(r)?,
        TxOp::Put { item: to_item(&keys::order_returns_count(&r.order_no), None, &counter)?, cond: Some(cond) },
    ])
}

/// The write that moves a return read at `read_version`.
pub fn rewrite(r: &ReturnRecord, read_version: i64) -> Result<TxOp> {
    Ok(TxOp::Put { item: item(r)?, cond: Some(Cond::eq("version", read_version)) })
}

pub async fn get(store: &dyn Store, order_no: &OrderNo, id: &str) -> Result<Option<ReturnRecord>> {
    store.get(&keys::order_return(order_no, id).0).await?.map(from_item).transpose()
}

pub async fn of_order(store: &dyn Store, order_no: &OrderNo) -> Result<Vec<ReturnRecord>> {
    let page =
        store.query(Query::table(keys::order_partition(order_no)).prefix(keys::RETURN_PREFIX).limit(100)).await?;
    page.items.into_iter().map(from_item).collect()
}

/// Returns the index lists in `state`, oldest first (it may lag: read each again).
pub async fn in_state(
    store: &dyn Store,
    state: ReturnState,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<ReturnRecord>, Option<String>)> {
    let page = store.query(Query::gsi1(keys::returns_with_state(state.as_str())).limit(limit).after(after)).await?;
    Ok((page.items.into_iter().map(from_item).collect::<Result<_>>()?, page.next))
}
