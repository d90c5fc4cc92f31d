//! Per-minute allowances: a counter per key and minute, taken with two conditional writes
//! and no read, so concurrent takers never pass the allowance together.

use crate::{Cond, Result, Store, Update};

/// One attempt from the per-minute allowance counted at `key`.
pub async fn take(store: &dyn Store, key: &crate::Key, minute: i64, per_minute: i64) -> Result<bool> {
    for _ in 0..2 {
        let same_window = Cond::eq("window", minute).and(Cond::le("count", per_minute - 1));
        match store.update(key, Update::new().add("count", 1), Some(same_window)).await {
            Ok(_) => return Ok(true),
            Err(crate::StoreError::ConditionFailed) => {}
            Err(e) => return Err(e),
        }
        let new_window = Cond::Missing("window".into()).or(Cond::le("window", minute - 1));
        match store.update(key, Update::new().set("window", minute).set("count", 1), Some(new_window)).await {
            Ok(_) => return Ok(true),
            // Either this window is full, or another attempt opened it first: count again.
            Err(crate::StoreError::ConditionFailed) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// One message from the operators' robot's allowance for the minute (WeCom's limit is 20).
pub async fn take_robot(store: &dyn Store, minute: i64, per_minute: i64) -> Result<bool> {
    take(store, &crate::keys::robot_rate(), minute, per_minute).await
}
