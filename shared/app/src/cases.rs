//! Cases that need a person: a payment for an order already closed, an amount that does not
//! match, a refund WeChat reports abnormal. Recorded once per cause (the id is the cause).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::AppError;
use domain::clock;
use store::{Cond, Query, SharedStore, StoreError, TxOp, from_item, keys, to_item};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Case {
    pub id: String,
    pub kind: String,
    pub order_no: String,
    pub detail: Value,
    pub created_at: i64,
    #[serde(default)]
    pub resolved: bool,
}

/// The write that records a case, for use inside a transaction. `id` names the cause (for
/// example the transaction id), so recording the same cause twice keeps one case.
pub fn record_op(kind: &str, id: &str, order_no: &str, detail: Value) -> Result<TxOp, StoreError> {
    let now = clock::now();
    let case = Case {
        id: id.to_owned(),
        kind: kind.to_owned(),
        order_no: order_no.to_owned(),
        detail,
        created_at: now,
        resolved: false,
    };
    // Keyed by cause, not time, so a repeat finds the first one.
    let key = store::Key::new(keys::CASES, format!("{kind}#{id}"));
    Ok(TxOp::Put {
        item: to_item(&key, Some(("CASELIST".into(), format!("{now:012}#{kind}#{id}"))), &case)?,
        cond: Some(Cond::NotExists),
    })
}

pub async fn record(store: &SharedStore, kind: &str, id: &str, order_no: &str, detail: Value) -> Result<(), AppError> {
    tracing::warn!(kind, order_no, "case recorded for operators");
    match store.transact(vec![record_op(kind, id, order_no, detail)?]).await {
        Ok(()) | Err(StoreError::Cancelled { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub async fn list(
    store: &SharedStore,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<Case>, Option<String>), AppError> {
    let page = store.query(Query::gsi1("CASELIST").limit(limit).after(after).reverse()).await?;
    Ok((page.items.into_iter().map(from_item).collect::<Result<_, _>>()?, page.next))
}
