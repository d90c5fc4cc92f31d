//! Sales per SKU and day (the rollup safety stock follows) and the open stock alerts.

use std::collections::BTreeMap;

use domain::ids::{SkuId, TransactionId};
use domain::stock_alert::StockAlert;

use crate::{Cond, Query, Result, Store, StoreError, TxOp, Update, from_item, keys, to_item};

/// Counts a payment's units per stock-bearing SKU on `day`, once per transaction: `false`
/// when this payment was counted before.
pub async fn count_sale(
    store: &dyn Store,
    transaction_id: &TransactionId,
    day: &str,
    units: &BTreeMap<SkuId, i64>,
) -> Result<bool> {
    let mut ops = vec![TxOp::Put {
        item: to_item(&keys::sales_counted(transaction_id), None, &serde_json::json!({ "day": day }))?,
        cond: Some(Cond::NotExists),
    }];
    for (sku, n) in units {
        ops.push(TxOp::Update {
            key: keys::sales_day(sku, day),
            update: Update::new().add("units", *n).set("day", day),
            cond: None,
        });
    }
    match store.transact(ops).await {
        Ok(()) => Ok(true),
        Err(StoreError::Cancelled { failed }) if failed.contains(&0) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Units sold on each day from `first_day` (inclusive) on.
pub async fn sales_since(store: &dyn Store, sku_id: &SkuId, first_day: &str) -> Result<Vec<i64>> {
    let page = store.query(Query::table(keys::sales_partition(sku_id)).prefix("DAY#").limit(400)).await?;
    Ok(page
        .items
        .iter()
        .filter(|i| i.get("day").and_then(|d| d.as_str()).is_some_and(|d| d >= first_day))
        .filter_map(|i| i.get("units").and_then(serde_json::Value::as_i64))
        .collect())
}

pub async fn open_alert(store: &dyn Store, sku_id: &SkuId) -> Result<Option<StockAlert>> {
    store.get(&keys::stock_alert(sku_id)).await?.map(from_item).transpose()
}

/// The write that opens an alert, refused while one is open (so once per episode).
pub fn raise(alert: &StockAlert) -> Result<TxOp> {
    Ok(TxOp::Put { item: to_item(&keys::stock_alert(&alert.sku_id), None, alert)?, cond: Some(Cond::NotExists) })
}

/// Ends the episode: the next fall raises a new alert.
pub async fn clear(store: &dyn Store, sku_id: &SkuId) -> Result<()> {
    match store.delete(&keys::stock_alert(sku_id), Some(Cond::Exists)).await {
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}

pub async fn open_alerts(store: &dyn Store) -> Result<Vec<StockAlert>> {
    let page = store.query(Query::table(keys::STOCK_ALERTS).limit(1000)).await?;
    page.items.into_iter().map(from_item).collect()
}
