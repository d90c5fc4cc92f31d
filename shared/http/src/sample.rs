//! The sample catalog the local run starts with (`scripts/sample-catalog.json`), loaded
//! through the same catalog functions operators use.

use std::collections::HashMap;

use serde::Deserialize;

use app::AppError;
use app::catalog;
use domain::catalog::{Component, ProductInput, ProductStatus, SkuInput, SkuKind, SpecAttr, Warehouse};
use domain::ids::{SkuId, WarehouseId};

#[derive(Deserialize)]
struct Sample {
    warehouses: Vec<Warehouse>,
    products: Vec<SampleProduct>,
}

#[derive(Deserialize)]
struct SampleProduct {
    title: String,
    subtitle: String,
    description: String,
    category: String,
    publish: bool,
    #[serde(default)]
    specs: Vec<SpecAttr>,
    #[serde(default)]
    tags: Vec<String>,
    skus: Vec<SampleSku>,
}

#[derive(Deserialize)]
struct SampleSku {
    name: String,
    kind: SkuKind,
    price_fen: i64,
    #[serde(default)]
    daily_sales: u32,
    #[serde(default)]
    replenish_days: u32,
    #[serde(default)]
    stock: HashMap<WarehouseId, i64>,
    #[serde(default)]
    spec: Vec<String>,
    /// Names of SKUs of the same product, one unit each.
    #[serde(default)]
    components: Vec<String>,
}

/// Loads the sample unless the store already holds warehouses; returns whether it loaded.
pub async fn load_if_empty(app: &app::App, json: &str) -> Result<bool, AppError> {
    let store = &app.store;
    if !store::repo::catalog::warehouses(store.as_ref(), 1).await?.is_empty() {
        return Ok(false);
    }
    let sample: Sample =
        serde_json::from_str(json).map_err(|e| AppError::bad_request(format!("sample catalog: {e}")))?;
    for w in sample.warehouses {
        catalog::put_warehouse(store, &w.id, &w.name, &w.region).await?;
    }
    for sp in sample.products {
        let p = catalog::create_product(
            store,
            ProductInput {
                title: sp.title,
                subtitle: sp.subtitle,
                description: sp.description,
                category: sp.category,
                specs: sp.specs,
                tags: sp.tags,
            },
        )
        .await?;
        let mut by_name = HashMap::new();
        for s in sp.skus {
            let components = s
                .components
                .iter()
                .map(|n| {
                    by_name
                        .get(n)
                        .map(|id: &SkuId| Component { sku_id: id.clone(), quantity: 1 })
                        .ok_or_else(|| AppError::bad_request(format!("sample catalog: unknown component {n}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let sku = catalog::add_sku(
                store,
                &p.id,
                SkuInput {
                    name: s.name.clone(),
                    kind: s.kind,
                    price_fen: s.price_fen,
                    components,
                    daily_sales: s.daily_sales,
                    replenish_days: s.replenish_days,
                    spec: s.spec,
                },
            )
            .await?;
            for (wh, n) in s.stock {
                catalog::adjust_stock(store, None, &sku.id, &wh, n, 0).await?;
            }
            by_name.insert(s.name, sku.id);
        }
        if sp.publish {
            // The sample ships with the code: its text is not sent to WeChat's check.
            catalog::set_status(app, None, &p.id, ProductStatus::OnSale).await?;
        }
    }
    // Search reads the products from their events: deliver them now.
    app.poke_outbox();
    Ok(true)
}
