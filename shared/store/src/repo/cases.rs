//! Cases for operators, one per cause, listed newest first.

use domain::case::CaseKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Cond, Query, Result, Store, TxOp, from_item, keys, to_item};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Case {
    pub id: String,
    pub kind: CaseKind,
    pub order_no: String,
    /// What an operator needs to judge it (amounts, states), never personal data.
    pub detail: Value,
    pub created_at: i64,
    #[serde(default)]
    pub resolved: bool,
}

/// The write that records a case, for use inside a transaction. `id` names the cause (for
/// example the transaction id), so recording the same cause twice keeps one case. `order_ref`
/// is the order number as the cause gave it: WeChat's `out_trade_no` of a payment that may not
/// be this shop's is kept as it came.
pub fn record(kind: CaseKind, id: &str, order_ref: &str, detail: Value, now: i64) -> Result<TxOp> {
    let case =
        Case { id: id.to_owned(), kind, order_no: order_ref.to_owned(), detail, created_at: now, resolved: false };
    let (key, gsi1) = keys::case(kind.as_str(), id, now);
    Ok(TxOp::Put { item: to_item(&key, Some(gsi1), &case)?, cond: Some(Cond::NotExists) })
}

pub async fn list(store: &dyn Store, limit: usize, after: Option<String>) -> Result<(Vec<Case>, Option<String>)> {
    let page = store.query(Query::gsi1(keys::CASE_LIST).limit(limit).after(after).reverse()).await?;
    Ok((page.items.into_iter().map(from_item).collect::<Result<_>>()?, page.next))
}
