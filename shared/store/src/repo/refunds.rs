//! Refunds, in their order's partition: the item they are stored as (indexed as the
//! operators' queue while open, by day once done) and their reads.

use domain::Fen;
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

/// What the counter at `key` holds (0 before the first refund).
async fn total(store: &dyn Store, key: &crate::Key) -> Result<i64> {
    Ok(store.get(key).await?.and_then(|i| i.get("total").and_then(serde_json::Value::as_i64)).unwrap_or(0))
}

/// What refunds started to the shopper on the Shanghai day `day` add up to.
pub async fn started_to_shopper(store: &dyn Store, openid: &domain::ids::OpenId, day: &str) -> Result<Fen> {
    total(store, &keys::refunds_to_shopper(openid, day)).await.map(Fen::new)
}

/// What refunds started on the operator's own approval on `day` add up to.
pub async fn started_by_operator(store: &dyn Store, operator_id: &str, day: &str) -> Result<Fen> {
    total(store, &keys::refunds_by_operator(operator_id, day)).await.map(Fen::new)
}

/// The writes that count a refund that starts now: `amount` more to the shopper's day and,
/// when an operator's approval started it, to theirs; each refused unless the counter still
/// holds what was read (`shopper_read`, `operator_read`), so two refunds deciding on the same
/// totals at once cannot both pass under a limit.
pub fn count_start(
    openid: &domain::ids::OpenId,
    operator: Option<(&str, Fen)>,
    day: &str,
    amount: Fen,
    shopper_read: Fen,
    now: i64,
) -> Vec<TxOp> {
    let counted = |key: crate::Key, read: Fen| {
        let unchanged = if read == Fen::ZERO {
            Cond::Missing("total".into()).or(Cond::eq("total", 0))
        } else {
            Cond::eq("total", read.fen())
        };
        TxOp::Update {
            key,
            update: crate::Update::new().add("total", amount.fen()).set("day", day).set("updated_at", now),
            cond: Some(unchanged),
        }
    };
    let mut ops = vec![counted(keys::refunds_to_shopper(openid, day), shopper_read)];
    if let Some((id, read)) = operator {
        ops.push(counted(keys::refunds_by_operator(id, day), read));
    }
    ops
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
