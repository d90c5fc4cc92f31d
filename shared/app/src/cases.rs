//! Cases that need a person: a payment for an order already closed, an amount that does not
//! match, a refund WeChat reports abnormal. Recorded once per cause (the id is the cause).
//! `order_ref` is the order number as the cause gave it: a payment that is not this shop's may
//! carry anything there.

use serde_json::Value;

use crate::error::AppError;
pub use domain::case::CaseKind;
use domain::clock;
pub use store::repo::cases::Case;
use store::{SharedStore, StoreError, TxOp, repo};

/// The write that records a case, for use inside a transaction.
pub fn record_op(kind: CaseKind, id: &str, order_ref: &str, detail: Value) -> Result<TxOp, StoreError> {
    repo::cases::record(kind, id, order_ref, detail, clock::now())
}

/// Records a case on its own; a second record of the same cause keeps the first.
pub async fn record(
    store: &SharedStore,
    kind: CaseKind,
    id: &str,
    order_ref: &str,
    detail: Value,
) -> Result<(), AppError> {
    tracing::warn!(kind = kind.as_str(), order_no = order_ref, "case recorded for operators");
    match store.transact(vec![record_op(kind, id, order_ref, detail)?]).await {
        Ok(()) | Err(StoreError::Cancelled { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub async fn list(
    store: &SharedStore,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<Case>, Option<String>), AppError> {
    Ok(repo::cases::list(store.as_ref(), limit, after).await?)
}
