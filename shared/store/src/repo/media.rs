//! Uploads the shop signed and the media checks WeChat runs on them.

use domain::catalog::UploadPurpose;
use domain::ids::{OrderNo, ProductId};
use serde::{Deserialize, Serialize};

use crate::{Cond, Result, Store, TxOp, from_item, keys, to_item};

/// An upload the shop signed: the key it chose, what may go there, and who asked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UploadGrant {
    pub key: String,
    pub purpose: UploadPurpose,
    pub content_type: String,
    pub size: i64,
    /// The operator or shopper it was signed for.
    pub by: String,
    pub expires_at: i64,
}

pub async fn put_grant(store: &dyn Store, g: &UploadGrant) -> Result<()> {
    store.put(to_item(&keys::upload(&g.key), None, g)?, Some(Cond::NotExists)).await
}

pub async fn grant(store: &dyn Store, key: &str) -> Result<Option<UploadGrant>> {
    store.get(&keys::upload(key)).await?.map(from_item).transpose()
}

/// What a media check was asked for: which image of which product (or review).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Trace {
    pub trace_id: String,
    pub key: String,
    pub subject: Subject,
    pub requested_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    Product { product_id: ProductId },
    Review { order_no: OrderNo, product_id: ProductId },
}

pub async fn trace(store: &dyn Store, trace_id: &str) -> Result<Option<Trace>> {
    store.get(&keys::media_trace(trace_id)).await?.map(from_item).transpose()
}

/// A verdict that arrived before its check was recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EarlyVerdict {
    pub trace_id: String,
    pub suggest: String,
    pub label: i64,
}

pub async fn keep_early(store: &dyn Store, v: &EarlyVerdict) -> Result<()> {
    store.put(to_item(&keys::early_verdict(&v.trace_id), None, v)?, None).await
}

/// The early verdicts of `trace_ids`, those that arrived.
pub async fn early(store: &dyn Store, trace_ids: &[String]) -> Result<Vec<EarlyVerdict>> {
    let keys: Vec<_> = trace_ids.iter().map(|t| keys::early_verdict(t)).collect();
    store.get_many(&keys).await?.into_iter().flatten().map(from_item).collect()
}

/// The write that records a check WeChat runs, for [`save_product_with`].
pub fn record_trace(t: &Trace) -> Result<TxOp> {
    Ok(TxOp::Put { item: to_item(&keys::media_trace(&t.trace_id), None, t)?, cond: None })
}
