//! Reviews, in their order's partition, and the rating summary of each product they add up
//! to, moved in the same transaction as the review.

use domain::ids::{OrderNo, ProductId};
use domain::review::{RatingCounters, RatingDelta, Review, ReviewState};

use crate::{Cond, Item, Query, Result, Store, StoreError, TxOp, Update, from_item, keys, to_item};

fn item(r: &Review) -> Result<Item> {
    let gsi = keys::review_gsi1(
        r.state.as_str(),
        r.state == ReviewState::Published,
        r.featured,
        r.created_at,
        &r.order_no,
        &r.product_id,
    );
    to_item(&keys::review(&r.order_no, &r.product_id), Some(gsi), r)
}

fn rating_op(product_id: &ProductId, delta: RatingDelta) -> Option<TxOp> {
    let counters = delta.counters();
    if counters.is_empty() {
        return None;
    }
    let update = counters.iter().fold(Update::new(), |u, (name, n)| u.add(name, *n));
    Some(TxOp::Update { key: keys::rating(product_id), update, cond: None })
}

/// Records a new review with `extra` writes (its media checks). `false` when the order
/// already has a review of the product.
pub async fn create(store: &dyn Store, r: &Review, extra: Vec<TxOp>) -> Result<bool> {
    let mut ops = vec![TxOp::Put { item: item(r)?, cond: Some(Cond::NotExists) }];
    ops.extend(rating_op(&r.product_id, RatingDelta::between(None, r)));
    ops.extend(extra);
    match store.transact(ops).await {
        Ok(()) => Ok(true),
        Err(StoreError::Cancelled { failed }) if failed.contains(&0) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes a review read at `read_version` and moves the summary by `delta`. `false` when
/// the review changed meanwhile.
pub async fn save(store: &dyn Store, r: &Review, read_version: i64, delta: RatingDelta) -> Result<bool> {
    let mut ops = vec![TxOp::Put { item: item(r)?, cond: Some(Cond::eq("version", read_version)) }];
    ops.extend(rating_op(&r.product_id, delta));
    match store.transact(ops).await {
        Ok(()) => Ok(true),
        Err(StoreError::Cancelled { failed }) if failed.contains(&0) => Ok(false),
        Err(e) => Err(e),
    }
}

pub async fn get(store: &dyn Store, order_no: &OrderNo, product_id: &ProductId) -> Result<Option<Review>> {
    store.get(&keys::review(order_no, product_id)).await?.map(from_item).transpose()
}

/// The reviews of one order (at most one per product, so one page).
pub async fn of_order(store: &dyn Store, order_no: &OrderNo) -> Result<Vec<Review>> {
    let q = Query::table(keys::order_partition(order_no)).prefix(keys::REVIEW_PREFIX).limit(1_000);
    store.query(q).await?.items.into_iter().map(from_item).collect()
}

/// A product's published reviews, featured first, then newest. The index may lag a change
/// by a moment: callers drop a review whose state moved on.
pub async fn published(
    store: &dyn Store,
    product_id: &ProductId,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<Review>, Option<String>)> {
    let page = store.query(Query::gsi1(keys::product_reviews(product_id)).reverse().limit(limit).after(after)).await?;
    Ok((page.items.into_iter().map(from_item).collect::<Result<_>>()?, page.next))
}

/// Held or hidden reviews, oldest first: the operators' queues.
pub async fn in_state(
    store: &dyn Store,
    state: ReviewState,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<Review>, Option<String>)> {
    let page = store.query(Query::gsi1(keys::reviews_in(state.as_str())).limit(limit).after(after)).await?;
    Ok((page.items.into_iter().map(from_item).collect::<Result<_>>()?, page.next))
}

/// The rating counters of a product (zero before its first review).
pub async fn rating(store: &dyn Store, product_id: &ProductId) -> Result<RatingCounters> {
    Ok(store.get(&keys::rating(product_id)).await?.map(from_item).transpose()?.unwrap_or_default())
}

/// One review upload from the shopper's per-minute allowance.
pub async fn take_upload(
    store: &dyn Store,
    openid: &domain::ids::OpenId,
    minute: i64,
    per_minute: i64,
) -> Result<bool> {
    super::rate::take(store, &keys::upload_rate(openid), minute, per_minute).await
}
