//! Reconciliation reports, one per business day (a re-run replaces it).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Result, Store, from_item, keys, to_item};

pub async fn put<T: Serialize>(store: &dyn Store, day: &str, report: &T) -> Result<()> {
    store.put(to_item(&keys::reconciliation(day), None, report)?, None).await
}

pub async fn get<T: DeserializeOwned>(store: &dyn Store, day: &str) -> Result<Option<T>> {
    store.get(&keys::reconciliation(day)).await?.map(from_item).transpose()
}
