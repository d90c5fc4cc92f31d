//! Refunds, in their order's partition: the item they are stored as (indexed as the
//! operators' queue while open, by day once done) and their reads.

use domain::clock;
use domain::ids::{OrderNo, OutRefundNo};
use domain::order::Order;
use domain::refund::{RefundRecord, RefundState};

use crate::{Cond, Item, Query, Result, Store, StoreError, TxOp, from_item, keys, to_item};

/// The item a refund is stored as.
pub fn item(r: &RefundRecord) -> Result<Item> {
    let gsi = match r.state() {
        RefundState::Success => {
            let day = clock::business_day(r.success_time().unwrap_or(r.updated_at()))
                .map(|d| d.to_string())
                .unwrap_or_default();
            keys::refund_gsi1_done(&day, r.out_refund_no())
        }
        s => keys::refund_gsi1_open(s.as_str(), r.created_at(), r.out_refund_no()),
    };
    to_item(&keys::refund(r.order_no(), r.out_refund_no()), Some(gsi), r)
}

pub async fn get(store: &dyn Store, order_no: &OrderNo, out_refund_no: &OutRefundNo) -> Result<Option<RefundRecord>> {
    store.get(&keys::refund(order_no, out_refund_no)).await?.map(from_item).transpose()
}

pub async fn of_order(store: &dyn Store, order_no: &OrderNo) -> Result<Vec<RefundRecord>> {
    let page =
        store.query(Query::table(keys::order_partition(order_no)).prefix(keys::REFUND_PREFIX).limit(100)).await?;
    page.items.into_iter().map(from_item).collect()
}

/// The writes that open a refund: the record (index [`OPEN_REFUND_OP`], refused when this
/// refund exists) and its order as `after` reserved it, refused unless the order is still as
/// `before` and what refunds reserve stays within what was paid.
pub fn open(r: &RefundRecord, before: &Order, after: &Order) -> Result<Vec<TxOp>> {
    let within = before.payable().fen() - r.amount().fen();
    Ok(vec![
        TxOp::Put { item: item(r)?, cond: Some(Cond::NotExists) },
        TxOp::Put {
            item: super::orders::item(after)?,
            cond: Some(Cond::eq("version", before.version()).and(Cond::le("refund_reserved", within))),
        },
    ])
}

/// Index of the refund's own write in [`open`]'s.
pub const OPEN_REFUND_OP: usize = 0;

/// The write that moves a refund read at `read_version` to `next`.
pub fn rewrite(next: &RefundRecord, read_version: i64) -> Result<TxOp> {
    Ok(TxOp::Put { item: item(next)?, cond: Some(Cond::eq("version", read_version)) })
}

/// Records a refund the shop starts on its own (a late payment's), once: `false` when it
/// exists.
pub async fn create_once(store: &dyn Store, r: &RefundRecord) -> Result<bool> {
    match store.put(item(r)?, Some(Cond::NotExists)).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Refunds the index lists in `state` (it may lag: callers read each one again).
pub async fn listed_in(
    store: &dyn Store,
    state: RefundState,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<RefundRecord>, Option<String>)> {
    let page = store.query(Query::gsi1(keys::refunds_with_state(state.as_str())).limit(limit).after(after)).await?;
    Ok((page.items.into_iter().map(from_item).collect::<Result<_>>()?, page.next))
}

/// Every refund completed on a Shanghai business day.
pub async fn done_on(store: &dyn Store, day: &str) -> Result<Vec<RefundRecord>> {
    crate::repo::all_of_index(store, keys::refunds_on(day)).await
}
