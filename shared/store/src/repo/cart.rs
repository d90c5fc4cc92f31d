//! A shopper's cart: one item per SKU with its quantity.

use domain::ids::{OpenId, SkuId};
use serde::{Deserialize, Serialize};

use crate::{Query, Result, Store, keys, to_item};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CartEntry {
    pub sku_id: SkuId,
    pub quantity: i64,
    #[serde(default)]
    pub added_at: i64,
}

/// The cart's entries, at most `limit`.
pub async fn entries(store: &dyn Store, openid: &OpenId, limit: usize) -> Result<Vec<CartEntry>> {
    let page = store.query(Query::table(keys::user_partition(openid)).prefix(keys::CART_PREFIX).limit(limit)).await?;
    // An entry that no longer reads is skipped rather than hiding the whole cart.
    Ok(page.items.into_iter().filter_map(|i| crate::from_item(i).ok()).collect())
}

pub async fn has(store: &dyn Store, openid: &OpenId, sku_id: &SkuId) -> Result<bool> {
    Ok(store.get(&keys::cart_item(openid, sku_id)).await?.is_some())
}

pub async fn put(store: &dyn Store, openid: &OpenId, entry: &CartEntry) -> Result<()> {
    store.put(to_item(&keys::cart_item(openid, &entry.sku_id), None, entry)?, None).await
}

pub async fn remove(store: &dyn Store, openid: &OpenId, sku_id: &SkuId) -> Result<()> {
    store.delete(&keys::cart_item(openid, sku_id), None).await
}
