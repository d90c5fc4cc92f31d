//! The outbox: events written in the transaction of the change they report, and the claim
//! that lets one consumer at a time deliver each.

use domain::events::Event;
use serde::{Deserialize, Serialize};

use crate::{Cond, Query, Result, Store, StoreError, TxOp, Update, from_item, keys, table, to_item};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    Pending,
    Done,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: String,
    pub event: Event,
    pub created_at: i64,
    pub state: Delivery,
    /// Until when the last claim holds; another consumer may claim after it.
    pub lease_until: i64,
    pub attempts: i64,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub done_at: Option<i64>,
}

/// The write that records `event`, for the transaction of the change it reports. Refused if
/// the same change was reported already.
pub fn append(event: &Event, now: i64) -> Result<TxOp> {
    let id = event.id();
    let env = Envelope {
        id: id.clone(),
        event: event.clone(),
        created_at: now,
        state: Delivery::Pending,
        lease_until: 0,
        attempts: 0,
        last_error: None,
        done_at: None,
    };
    Ok(TxOp::Put {
        item: to_item(&keys::outbox(&id), Some(keys::outbox_pending_gsi1(now, &id)), &env)?,
        cond: Some(Cond::NotExists),
    })
}

pub async fn get(store: &dyn Store, id: &str) -> Result<Option<Envelope>> {
    match store.get(&keys::outbox(id)).await? {
        Some(i) => Ok(Some(from_item(i)?)),
        None => Ok(None),
    }
}

/// Ids of events waiting for delivery, oldest first. The index may lag on DynamoDB: a
/// consumer reads the event itself before acting.
pub async fn pending(store: &dyn Store, limit: usize) -> Result<Vec<String>> {
    let page = store.query(Query::gsi1(keys::OUTBOX_PENDING).limit(limit)).await?;
    Ok(page.items.into_iter().filter_map(|i| i.get("id").and_then(|v| v.as_str()).map(str::to_owned)).collect())
}

/// Events by id in one batch read (`None` for one that is gone).
pub async fn get_many(store: &dyn Store, ids: &[String]) -> Result<Vec<Option<Envelope>>> {
    let keys: Vec<_> = ids.iter().map(|id| keys::outbox(id)).collect();
    store.get_many(&keys).await?.into_iter().map(|i| i.map(from_item).transpose()).collect()
}

/// Takes the event for `lease_secs` if it is pending and nobody holds it; `false` when
/// delivered already or held by another consumer.
pub async fn claim(store: &dyn Store, id: &str, now: i64, lease_secs: i64) -> Result<bool> {
    let upd = Update::new().set("lease_until", now + lease_secs).add("attempts", 1);
    let cond = Cond::eq("state", "pending").and(Cond::le("lease_until", now));
    match store.update(&keys::outbox(id), upd, Some(cond)).await {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Marks the event delivered; it leaves the pending index.
pub async fn finish(store: &dyn Store, id: &str, now: i64) -> Result<()> {
    let upd = Update::new().set("state", "done").set("done_at", now).remove(table::GSI1_PK).remove(table::GSI1_SK);
    match store.update(&keys::outbox(id), upd, Some(Cond::eq("state", "pending"))).await {
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Notes why a delivery failed; the event stays pending and is taken again at `retry_at`
/// (its claim is held until then).
pub async fn failed(store: &dyn Store, id: &str, error: &str, retry_at: i64) -> Result<()> {
    let upd = Update::new().set("last_error", error).set("lease_until", retry_at);
    match store.update(&keys::outbox(id), upd, Some(Cond::eq("state", "pending"))).await {
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The event id a stream record's partition key names, if it is an outbox event's.
pub fn event_id_of(pk: &str) -> Option<&str> {
    pk.strip_prefix(keys::OUTBOX_PREFIX)
}
