//! Stock alerts that fire. Every applied payment adds its units to a per-SKU, per-day sales
//! rollup (once per payment); safety stock follows the last 14 days of sales (or the
//! operator's figure) × replenishment days × 1.2; when available stock falls below it an
//! alert opens, once per episode, and operators are told on their group robot (WeCom,
//! `OPERATOR_WEBHOOK_URL`, a markdown message); the episode ends when stock is back.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::AppError;
use crate::{App, lookup};
use domain::catalog::ProductStatus;
use domain::clock;
use domain::events::Event;
use domain::ids::{OrderNo, ProductId, SkuId, TransactionId};
use domain::stock_alert::{
    AlertMove, SALES_WINDOW_DAYS, StockAlert, alert_move, daily_sales, replenish_days_of, safety_stock_of,
};
use store::{StoreError, repo};

/// The outbox consumer of a payment: counts its units sold, then checks each SKU's stock.
pub async fn on_payment(app: &App, order_no: &OrderNo, transaction_id: &TransactionId) -> Result<(), AppError> {
    let order = lookup::order(app.store.as_ref(), order_no).await?;
    let mut units: BTreeMap<SkuId, i64> = BTreeMap::new();
    for r in order.reservations() {
        *units.entry(r.sku_id.clone()).or_insert(0) += r.quantity;
    }
    let paid_at = order.paid_at().unwrap_or_else(clock::now);
    let day = clock::business_day(paid_at).map(|d| d.to_string()).unwrap_or_default();
    repo::stock_alerts::count_sale(app.store.as_ref(), transaction_id, &day, &units).await?;
    for sku in units.keys() {
        check(app, sku, clock::now()).await?;
    }
    Ok(())
}

/// The SKU's measured daily sales over the window ending `now`.
async fn measured_daily(app: &App, sku_id: &SkuId, now: i64) -> Result<u32, AppError> {
    let first = clock::business_day(now - (SALES_WINDOW_DAYS - 1) * 86_400).map(|d| d.to_string()).unwrap_or_default();
    let days = repo::stock_alerts::sales_since(app.store.as_ref(), sku_id, &first).await?;
    Ok(daily_sales(&days, SALES_WINDOW_DAYS))
}

/// Raises or clears the SKU's alert as its stock stands now.
pub async fn check(app: &App, sku_id: &SkuId, now: i64) -> Result<AlertMove, AppError> {
    let sku = lookup::sku(app.store.as_ref(), sku_id).await?;
    let available = lookup::available(app.store.as_ref(), sku_id).await?;
    let shop_days = app.rules.replenish_days;
    let safety =
        safety_stock_of(measured_daily(app, sku_id, now).await?, sku.daily_sales, sku.replenish_days, shop_days);
    let open = repo::stock_alerts::open_alert(app.store.as_ref(), sku_id).await?.is_some();
    let step = alert_move(available, safety, open);
    match step {
        AlertMove::Raise => {
            let episode = uuid::Uuid::now_v7().simple().to_string();
            let alert = StockAlert {
                sku_id: sku_id.clone(),
                episode: episode.clone(),
                name: sku.name.clone(),
                available,
                safety_stock: safety,
                raised_at: now,
            };
            let event =
                Event::StockLow { sku_id: sku_id.clone(), name: sku.name, available, safety_stock: safety, episode };
            let ops = vec![repo::stock_alerts::raise(&alert)?, repo::outbox::append(&event, now)?];
            match app.store.transact(ops).await {
                Ok(()) => {
                    tracing::warn!(%sku_id, available, safety, "stock below safety stock");
                    app.poke_outbox();
                }
                // Raised by someone else meanwhile: one alert for the episode.
                Err(StoreError::Cancelled { failed }) if failed == [0] => {}
                Err(e) => return Err(e.into()),
            }
        }
        AlertMove::Clear => repo::stock_alerts::clear(app.store.as_ref(), sku_id).await?,
        AlertMove::Nothing => {}
    }
    Ok(step)
}

/// The scheduled step: open alerts whose stock is back end their episode.
pub async fn sweep(app: &App, now: i64) -> Result<usize, AppError> {
    let mut cleared = 0;
    for a in repo::stock_alerts::open_alerts(app.store.as_ref()).await? {
        if check(app, &a.sku_id, now).await? == AlertMove::Clear {
            cleared += 1;
        }
    }
    Ok(cleared)
}

pub async fn open(app: &App) -> Result<Vec<StockAlert>, AppError> {
    Ok(repo::stock_alerts::open_alerts(app.store.as_ref()).await?)
}

/// The outbox consumer of [`Event::StockLow`]: a markdown message to the operators' group
/// robot, when one is configured.
pub async fn tell_operators(
    app: &App,
    name: &str,
    sku_id: &SkuId,
    available: i64,
    safety: i64,
) -> Result<(), AppError> {
    let name = wechat::robot::plain(name);
    let content = format!(
        "### 库存预警\n> 商品：**{name}**（{sku_id}）\n> 可用库存：<font color=\"warning\">{available}</font>\n> 安全库存：{safety}\n请及时补货。"
    );
    crate::alerts::tell(app, &content).await
}

#[derive(Debug, Serialize, PartialEq)]
pub struct SafetyStockRow {
    pub sku_id: SkuId,
    pub product_id: ProductId,
    pub name: String,
    pub available: i64,
    pub safety_stock: i64,
    pub daily_sales: u32,
    pub replenish_days: u32,
}

/// The SKUs (with stock of their own) whose total stock is below their safety stock (by
/// measured sales, or the operator's figure).
pub async fn safety_stock_report(app: &App) -> Result<Vec<SafetyStockRow>, AppError> {
    let store = app.store.as_ref();
    let now = clock::now();
    let mut rows = Vec::new();
    for status in ProductStatus::ALL {
        let mut after = None;
        loop {
            let (listed, next) = repo::catalog::products_listed(store, status, None, 100, after).await?;
            // The index may lag a status change: a product is counted under its own status.
            for p in listed.into_iter().filter(|p| p.status == status) {
                for sku in lookup::skus_of(store, &p.id).await? {
                    if !sku.kind.has_own_stock() {
                        continue;
                    }
                    let measured = measured_daily(app, &sku.id, now).await?;
                    let safety =
                        safety_stock_of(measured, sku.daily_sales, sku.replenish_days, app.rules.replenish_days);
                    let available = lookup::available(store, &sku.id).await?;
                    if available < safety {
                        rows.push(SafetyStockRow {
                            sku_id: sku.id,
                            product_id: p.id.clone(),
                            name: sku.name,
                            available,
                            safety_stock: safety,
                            daily_sales: if sku.daily_sales > 0 { sku.daily_sales } else { measured },
                            replenish_days: replenish_days_of(sku.replenish_days, app.rules.replenish_days),
                        });
                    }
                }
            }
            after = next;
            if after.is_none() {
                break;
            }
        }
    }
    rows.sort_by_key(|r| r.available - r.safety_stock);
    Ok(rows)
}
