//! Episodes of business targets out of their band (the points redemption rate, the coupon
//! redemption rate): one open episode per metric, so operators hear once per episode.

use domain::targets::TargetAlert;

use crate::{Cond, Result, Store, StoreError, TxOp, from_item, keys, to_item};

pub async fn open(store: &dyn Store, metric: &str) -> Result<Option<TargetAlert>> {
    store.get(&keys::target_alert(metric)).await?.map(from_item).transpose()
}

/// Opens the episode; refused when one is open already (raised meanwhile elsewhere).
pub fn raise(alert: &TargetAlert) -> Result<TxOp> {
    Ok(TxOp::Put {
        item: to_item(&keys::target_alert(alert.metric.as_str()), None, alert)?,
        cond: Some(Cond::NotExists),
    })
}

pub async fn clear(store: &dyn Store, metric: &str) -> Result<()> {
    match store.delete(&keys::target_alert(metric), Some(Cond::Exists)).await {
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}
