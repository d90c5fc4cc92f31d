//! Products, SKUs, warehouses and stock counters.

use domain::catalog::{Product, ProductStatus, STOCK_ATTR, Sku, StockLevel, Warehouse};
use domain::ids::{ProductId, SkuId, WarehouseId};

use crate::{Cond, Item, Query, Result, Store, StoreError, TxOp, Update, from_item, keys, to_item};

pub async fn product(store: &dyn Store, id: &ProductId) -> Result<Option<Product>> {
    store.get(&keys::product(id)).await?.map(from_item).transpose()
}

pub async fn sku(store: &dyn Store, id: &SkuId) -> Result<Option<Sku>> {
    store.get(&keys::sku(id)).await?.map(from_item).transpose()
}

/// Several SKUs in one batch read, in the order asked (`None` for one that is not there).
pub async fn skus(store: &dyn Store, ids: &[SkuId]) -> Result<Vec<Option<Sku>>> {
    let keys: Vec<_> = ids.iter().map(keys::sku).collect();
    store.get_many(&keys).await?.into_iter().map(|i| i.map(from_item).transpose()).collect()
}

/// The item a product is stored as, indexed by status then category for the shopper's list.
pub(crate) fn product_item(p: &Product) -> Result<Item> {
    to_item(&keys::product(&p.id), Some(keys::product_gsi1(p.status.as_str(), &p.category, &p.id)), p)
}

fn sku_item(s: &Sku) -> Result<Item> {
    to_item(&keys::sku(&s.id), Some(keys::sku_gsi1(&s.product_id, &s.id)), s)
}

pub async fn create_product(store: &dyn Store, p: &Product) -> Result<()> {
    store.put(product_item(p)?, Some(Cond::NotExists)).await
}

/// Writes `p` (read at `read_version`) with `extra` (the event the change writes, the checks
/// just asked for), all or nothing; `false` when the product moved meanwhile.
pub async fn save_product_with(store: &dyn Store, p: &Product, read_version: i64, extra: Vec<TxOp>) -> Result<bool> {
    let mut ops = vec![TxOp::Put { item: product_item(p)?, cond: Some(Cond::eq("version", read_version)) }];
    ops.extend(extra);
    match store.transact(ops).await {
        Ok(()) => Ok(true),
        Err(StoreError::Cancelled { failed }) if failed.contains(&0) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Products the index lists with `status` (and `category`), by category then id. The index
/// may lag: callers drop a product whose status moved on.
pub async fn products_listed(
    store: &dyn Store,
    status: ProductStatus,
    category: Option<&str>,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<Product>, Option<String>)> {
    let mut q = Query::gsi1(keys::products_with_status(status.as_str())).limit(limit).after(after);
    if let Some(c) = category {
        q = q.prefix(format!("{c}#"));
    }
    let page = store.query(q).await?;
    Ok((page.items.into_iter().map(from_item).collect::<Result<_>>()?, page.next))
}

/// All SKUs of a product, read through the product's index.
pub async fn skus_of(store: &dyn Store, product_id: &ProductId) -> Result<Vec<Sku>> {
    super::all_of_index(store, keys::skus_of_product(product_id)).await
}

/// What writing a new SKU did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkuAdded {
    Added,
    /// The product or a component changed meanwhile.
    Moved,
    /// Another SKU of the product has this spec combination.
    SpecTaken,
}

/// Writes a new SKU while its product and every component (a main SKU) still exist, and its
/// spec combination is the product's only one.
pub async fn add_sku(store: &dyn Store, s: &Sku, extra: Vec<TxOp>) -> Result<SkuAdded> {
    let mut ops = vec![
        TxOp::Put { item: sku_item(s)?, cond: Some(Cond::NotExists) },
        TxOp::Check { key: keys::product(&s.product_id), cond: Cond::Exists },
    ];
    let marker = !s.spec.is_empty();
    if marker {
        let key = keys::spec_combination(&s.product_id, &s.spec);
        let item = to_item(&key, None, &serde_json::json!({ "sku_id": s.id }))?;
        ops.push(TxOp::Put { item, cond: Some(Cond::NotExists) });
    }
    for c in &s.components {
        ops.push(TxOp::Check { key: keys::sku(&c.sku_id), cond: Cond::eq("kind", "main") });
    }
    ops.extend(extra);
    match store.transact(ops).await {
        Ok(()) => Ok(SkuAdded::Added),
        Err(StoreError::Cancelled { failed }) if marker && failed.contains(&2) => Ok(SkuAdded::SpecTaken),
        Err(StoreError::Cancelled { .. }) => Ok(SkuAdded::Moved),
        Err(e) => Err(e),
    }
}

/// Writes `s` with `extra` only if it was not changed since `read_at`; `false` when it was.
pub async fn save_sku(store: &dyn Store, s: &Sku, read_at: i64, extra: Vec<TxOp>) -> Result<bool> {
    let mut ops = vec![TxOp::Put { item: sku_item(s)?, cond: Some(Cond::eq("updated_at", read_at)) }];
    ops.extend(extra);
    match store.transact(ops).await {
        Ok(()) => Ok(true),
        Err(StoreError::Cancelled { failed }) if failed.contains(&0) => Ok(false),
        Err(e) => Err(e),
    }
}

pub async fn put_warehouse(store: &dyn Store, w: &Warehouse) -> Result<()> {
    store.put(to_item(&keys::warehouse(&w.id), None, w)?, None).await
}

pub async fn warehouses(store: &dyn Store, limit: usize) -> Result<Vec<Warehouse>> {
    let page = store.query(Query::table(keys::WAREHOUSES).limit(limit)).await?;
    page.items.into_iter().map(from_item).collect()
}

/// A SKU's stock counters, strongly consistent (read from the SKU's own partition).
pub async fn stock_levels(store: &dyn Store, sku_id: &SkuId) -> Result<Vec<StockLevel>> {
    let page = store.query(Query::table(keys::sku_partition(sku_id)).prefix(keys::STOCK_PREFIX).limit(1000)).await?;
    Ok(page
        .items
        .iter()
        .filter_map(|item| {
            let sk = item.get(crate::table::SK)?.as_str()?;
            let (wh, shard) = keys::parse_stock_sk(sk)?;
            Some(StockLevel {
                warehouse_id: WarehouseId::parse(wh).ok()?,
                shard,
                available: item.get(STOCK_ATTR)?.as_i64()?,
            })
        })
        .collect())
}

/// What an adjustment of stock did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjusted {
    /// Applied; the counter now holds this many.
    Now(i64),
    NoSuchSku,
    /// A bundle has no stock of its own.
    NotStockBearing,
    NoSuchWarehouse,
    /// Removing that many would take the counter below zero.
    NotEnough,
    /// The write-off would pass the operator's daily allowance.
    OverAllowance,
}

/// Adds `delta` units (negative to remove) to one counter, while the SKU bears stock, the
/// warehouse exists and (for a removal) the counter holds enough: never below zero, however
/// many orders decrement it at the same moment. `extra` rides in the same transaction (the
/// operator's allowance, the event a removal writes).
pub async fn adjust_stock(
    store: &dyn Store,
    sku_id: &SkuId,
    warehouse_id: &WarehouseId,
    shard: u8,
    delta: i64,
    now: i64,
    extra: Vec<TxOp>,
) -> Result<Adjusted> {
    let key = keys::stock(sku_id, warehouse_id, shard);
    let enough = if delta < 0 { Some(Cond::ge(STOCK_ATTR, -delta)) } else { None };
    let mut ops = vec![
        TxOp::Check { key: keys::sku(sku_id), cond: Cond::one_of("kind", ["main", "gift"]) },
        TxOp::Check { key: keys::warehouse(warehouse_id), cond: Cond::Exists },
        TxOp::Update {
            key: key.clone(),
            update: Update::new().add(STOCK_ATTR, delta).set("updated_at", now),
            cond: enough,
        },
    ];
    ops.extend(extra);
    match store.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::Cancelled { failed }) => {
            return Ok(match failed.first() {
                Some(0) if store.get(&keys::sku(sku_id)).await?.is_none() => Adjusted::NoSuchSku,
                Some(0) => Adjusted::NotStockBearing,
                Some(1) => Adjusted::NoSuchWarehouse,
                Some(2) => Adjusted::NotEnough,
                _ if failed.contains(&2) => Adjusted::NotEnough,
                _ => Adjusted::OverAllowance,
            });
        }
        Err(e) => return Err(e),
    }
    let item = store.get(&key).await?;
    Ok(Adjusted::Now(item.and_then(|i| i.get(STOCK_ATTR)?.as_i64()).unwrap_or(0)))
}

/// A shop setting as stored: the value under its own field, apart from the key attributes.
#[derive(serde::Serialize, serde::Deserialize)]
struct Setting<T> {
    value: T,
}

/// The shop setting `name`, or its default until operators set it.
async fn setting<T: serde::de::DeserializeOwned + Default>(store: &dyn Store, name: &str) -> Result<T> {
    let stored: Option<Setting<T>> = store.get(&keys::shop_setting(name)).await?.map(from_item).transpose()?;
    Ok(stored.map(|s| s.value).unwrap_or_default())
}

async fn put_setting<T: serde::Serialize>(store: &dyn Store, name: &str, value: &T) -> Result<()> {
    store.put(to_item(&keys::shop_setting(name), None, &Setting { value })?, None).await
}

/// The freight template operators set; the default one until they do.
pub async fn freight_template(store: &dyn Store) -> Result<domain::freight::FreightTemplate> {
    setting(store, "FREIGHT").await
}

pub async fn put_freight_template(store: &dyn Store, t: &domain::freight::FreightTemplate) -> Result<()> {
    put_setting(store, "FREIGHT", t).await
}

/// The promotions operators run (full reduction, threshold gifts, stacking); none until set.
pub async fn promotions(store: &dyn Store) -> Result<domain::promotion::Promotions> {
    setting(store, "PROMOTIONS").await
}

pub async fn put_promotions(store: &dyn Store, p: &domain::promotion::Promotions) -> Result<()> {
    put_setting(store, "PROMOTIONS", p).await
}

/// The member level ladder operators set; the default one until they do.
pub async fn ladder(store: &dyn Store) -> Result<domain::member::Ladder> {
    setting(store, "LADDER").await
}

pub async fn put_ladder(store: &dyn Store, l: &domain::member::Ladder) -> Result<()> {
    put_setting(store, "LADDER", l).await
}

/// The member program's rules (check-in rewards, level keep rule, RFM, points expiry); the
/// defaults until operators set them.
pub async fn member_rules(store: &dyn Store) -> Result<domain::member::Rules> {
    setting(store, "MEMBER_RULES").await
}

pub async fn put_member_rules(store: &dyn Store, r: &domain::member::Rules) -> Result<()> {
    put_setting(store, "MEMBER_RULES", r).await
}

/// The subscribe-message templates operators set, by notice (none until they do).
pub async fn notice_templates(store: &dyn Store) -> Result<domain::notice::NoticeTemplates> {
    setting(store, "NOTICES").await
}

pub async fn put_notice_templates(store: &dyn Store, t: &domain::notice::NoticeTemplates) -> Result<()> {
    put_setting(store, "NOTICES", t).await
}

/// The synonym groups search expands queries with; none until operators set them.
pub async fn synonyms(store: &dyn Store) -> Result<Vec<Vec<String>>> {
    setting(store, "SYNONYMS").await
}

pub async fn put_synonyms(store: &dyn Store, groups: &[Vec<String>]) -> Result<()> {
    put_setting(store, "SYNONYMS", &groups).await
}
