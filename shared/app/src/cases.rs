//! Cases that need a person: a payment for an order already closed, an amount that does not
//! match, a refund WeChat reports abnormal. Recorded once per cause (the id is the cause).

use serde_json::Value;

use crate::error::AppError;
pub use domain::case::CaseKind;
use domain::clock;
pub use store::repo::cases::Case;
use store::{SharedStore, StoreError, TxOp, repo};

/// The write that records a case, for use inside a transaction.
pub fn record_op(kind: CaseKind, id: &str, order_no: &str, detail: Value) -> Result<TxOp, StoreError> {
    repo::cases::record(kind, id, order_no, detail, clock::now())
}

/// Records a case on its own; a second record of the same cause keeps the first.
pub async fn record(
    store: &SharedStore,
    kind: CaseKind,
    id: &str,
    order_no: &str,
    detail: Value,
) -> Result<(), AppError> {
    tracing::warn!(kind = kind.as_str(), order_no, "case recorded for operators");
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
    Ok(repo::cases::list(store.as_ref(), limit, after).await?)
}
