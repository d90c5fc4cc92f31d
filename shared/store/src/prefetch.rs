//! Reading ahead: a request that knows which items it will read gets them in one batch read
//! (DynamoDB's BatchGetItem) and hands the use cases a store that answers each of those reads
//! from the batch, once. A second read of the same key, and every write, goes to the store, so
//! a use case that reads again after a write (a retry after a conflict) sees the store as it is.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::{Cond, Item, Key, Page, Query, Result, SharedStore, Store, TxOp, Update};

pub struct Prefetched {
    inner: SharedStore,
    ahead: Mutex<HashMap<Key, Option<Item>>>,
}

impl Prefetched {
    /// Reads `keys` in one batch.
    pub async fn load(inner: SharedStore, keys: &[Key]) -> Result<Prefetched> {
        let items = inner.get_many(keys).await?;
        let ahead = keys.iter().cloned().zip(items).collect();
        Ok(Prefetched { inner, ahead: Mutex::new(ahead) })
    }

    fn take(&self, key: &Key) -> Option<Option<Item>> {
        self.ahead.lock().ok()?.remove(key)
    }

    fn forget(&self, key: &Key) {
        if let Ok(mut a) = self.ahead.lock() {
            a.remove(key);
        }
    }
}

#[async_trait]
impl Store for Prefetched {
    async fn get(&self, key: &Key) -> Result<Option<Item>> {
        match self.take(key) {
            Some(found) => Ok(found),
            None => self.inner.get(key).await,
        }
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>> {
        let mut out: Vec<Option<Option<Item>>> = keys.iter().map(|k| self.take(k)).collect();
        let missing: Vec<Key> = keys.iter().zip(&out).filter(|(_, o)| o.is_none()).map(|(k, _)| k.clone()).collect();
        if !missing.is_empty() {
            let mut read = self.inner.get_many(&missing).await?.into_iter();
            for slot in out.iter_mut().filter(|o| o.is_none()) {
                *slot = Some(read.next().flatten());
            }
        }
        Ok(out.into_iter().map(Option::flatten).collect())
    }

    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<()> {
        self.forget(&crate::item_key(&item)?);
        self.inner.put(item, cond).await
    }

    async fn update(&self, key: &Key, update: Update, cond: Option<Cond>) -> Result<Item> {
        self.forget(key);
        self.inner.update(key, update, cond).await
    }

    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<()> {
        self.forget(key);
        self.inner.delete(key, cond).await
    }

    async fn transact(&self, ops: Vec<TxOp>) -> Result<()> {
        for k in ops.iter().filter_map(|o| o.key().ok()) {
            self.forget(&k);
        }
        self.inner.transact(ops).await
    }

    async fn query(&self, query: Query) -> Result<Page> {
        self.inner.query(query).await
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
}
