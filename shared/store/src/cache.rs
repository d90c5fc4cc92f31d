//! The shop's settings and catalog definitions held in the process for a few seconds: shop
//! settings (freight, promotions, the member ladder and rules), product records and the SKU
//! lists of products are read on most requests and change when an operator edits them. A
//! write through this process to any of them clears the cache at once; another process's
//! write shows here after at most [`TTL`]. Products' rating summaries are held the same way,
//! but a review's write drops only its product's summary (reviews come often; clearing
//! everything on each would empty the cache for the product pages). What decides money or stock is never cached: a
//! SKU's own record (its price at checkout), stock counters, orders, coupons, members.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::{Cond, Index, Item, Key, Page, Query, Result, SharedStore, Store, TxOp, Update, keys};

/// How stale a cached setting or catalog definition may be in another process.
pub const TTL: Duration = Duration::from_secs(10);
/// Entries held at most (a shop with more products than this re-reads the rest).
const CAP: usize = 4_096;

#[derive(Clone)]
enum Held {
    Item(Option<Item>),
    Page(Page),
}

pub struct Cached {
    inner: SharedStore,
    ttl: Duration,
    held: Mutex<HashMap<String, (Instant, Held)>>,
}

impl Cached {
    pub fn new(inner: SharedStore, ttl: Duration) -> Cached {
        Cached { inner, ttl, held: Mutex::new(HashMap::new()) }
    }

    fn lookup(&self, id: &str) -> Option<Held> {
        let held = self.held.lock().ok()?;
        held.get(id).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, h)| h.clone())
    }

    fn keep(&self, id: String, h: Held) {
        if let Ok(mut held) = self.held.lock() {
            if held.len() >= CAP {
                held.clear();
            }
            held.insert(id, (Instant::now(), h));
        }
    }

    /// A write to a definition this cache may hold clears it.
    fn written(&self, key: &Key) {
        if definition(key)
            && let Ok(mut held) = self.held.lock()
        {
            held.clear();
        } else if keys::is_rating(key)
            && let Ok(mut held) = self.held.lock()
        {
            held.remove(&get_id(key));
        }
    }
}

/// Settings, products and SKU definitions (not stock counters, which share the SKU's
/// partition under their own sort keys).
fn definition(key: &Key) -> bool {
    keys::is_shop_setting(key) || keys::is_product_partition(&key.pk) || keys::is_sku_record(key)
}

/// What a read may be cached as: settings, product records and rating summaries; SKU records
/// are not (an order prices from them).
fn cacheable(key: &Key) -> bool {
    keys::is_shop_setting(key) || keys::is_product_partition(&key.pk) || keys::is_rating(key)
}

fn get_id(key: &Key) -> String {
    format!("get\u{0}{}\u{0}{}", key.pk, key.sk)
}

#[async_trait]
impl Store for Cached {
    async fn get(&self, key: &Key) -> Result<Option<Item>> {
        if !cacheable(key) {
            return self.inner.get(key).await;
        }
        let id = get_id(key);
        if let Some(Held::Item(i)) = self.lookup(&id) {
            return Ok(i);
        }
        let i = self.inner.get(key).await?;
        self.keep(id, Held::Item(i.clone()));
        Ok(i)
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>> {
        self.inner.get_many(keys).await
    }

    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<()> {
        let key = crate::item_key(&item)?;
        let r = self.inner.put(item, cond).await;
        self.written(&key);
        r
    }

    async fn update(&self, key: &Key, update: Update, cond: Option<Cond>) -> Result<Item> {
        let r = self.inner.update(key, update, cond).await;
        self.written(key);
        r
    }

    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<()> {
        let r = self.inner.delete(key, cond).await;
        self.written(key);
        r
    }

    async fn transact(&self, ops: Vec<TxOp>) -> Result<()> {
        let touched: Vec<Key> = ops.iter().filter_map(|o| o.key().ok()).collect();
        let r = self.inner.transact(ops).await;
        for k in &touched {
            self.written(k);
        }
        r
    }

    async fn query(&self, query: Query) -> Result<Page> {
        // The SKUs of one product, first page: the product page's and the checkout's list.
        let skus_of_product =
            query.index == Index::Gsi1 && keys::is_product_partition(&query.pk) && query.after.is_none();
        if !skus_of_product {
            return self.inner.query(query).await;
        }
        let id = format!("query\u{0}{}\u{0}{:?}\u{0}{}\u{0}{}", query.pk, query.sk_prefix, query.limit, query.reverse);
        if let Some(Held::Page(p)) = self.lookup(&id) {
            return Ok(p);
        }
        let p = self.inner.query(query).await?;
        self.keep(id, Held::Page(p.clone()));
        Ok(p)
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
}
