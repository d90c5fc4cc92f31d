//! Which replica runs a scheduled job's tick, when several run the timetable themselves.

use crate::{Cond, Result, Store, StoreError, Update, keys};

/// Takes the tick at `at` (unix seconds) of `job` for this replica: `true` for exactly one
/// caller per tick, `false` for the others and for a tick older than one already taken.
pub async fn take_tick(store: &dyn Store, job: &str, at: i64) -> Result<bool> {
    let newer = Cond::Missing("at".into()).or(Cond::le("at", at - 1));
    match store.update(&keys::job_tick(job), Update::new().set("at", at), Some(newer)).await {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}
