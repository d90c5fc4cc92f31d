//! A store that counts what goes through it, for the round-trip figures of
//! `docs/benchmarks/round-trips.md`: every call by kind, and the waves of calls (a wave starts
//! when a call starts while none is in flight, so calls made at the same moment are one
//! round trip of latency).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use store::{Cond, Item, Key, Page, Query, Result, SharedStore, Store, TxOp, Update};

#[derive(Default)]
struct Counts {
    calls: AtomicU64,
    gets: AtomicU64,
    batch_gets: AtomicU64,
    writes: AtomicU64,
    transacts: AtomicU64,
    queries: AtomicU64,
    in_flight: AtomicU64,
    waves: AtomicU64,
}

pub struct Counting {
    inner: SharedStore,
    counts: Counts,
}

/// What a stretch of work asked of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub calls: u64,
    pub gets: u64,
    pub batch_gets: u64,
    pub writes: u64,
    pub transacts: u64,
    pub queries: u64,
    /// Sequential round trips: waves of calls in flight together.
    pub waves: u64,
}

impl Counting {
    pub fn new(inner: SharedStore) -> Arc<Counting> {
        Arc::new(Counting { inner, counts: Counts::default() })
    }

    /// What was counted since the last reset, and a fresh count.
    pub fn take(&self) -> Tally {
        let c = &self.counts;
        let t = |a: &AtomicU64| a.swap(0, Ordering::SeqCst);
        Tally {
            calls: t(&c.calls),
            gets: t(&c.gets),
            batch_gets: t(&c.batch_gets),
            writes: t(&c.writes),
            transacts: t(&c.transacts),
            queries: t(&c.queries),
            waves: t(&c.waves),
        }
    }

    fn start(&self, kind: &AtomicU64) -> Guard<'_> {
        self.counts.calls.fetch_add(1, Ordering::SeqCst);
        kind.fetch_add(1, Ordering::SeqCst);
        if self.counts.in_flight.fetch_add(1, Ordering::SeqCst) == 0 {
            self.counts.waves.fetch_add(1, Ordering::SeqCst);
        }
        Guard(&self.counts.in_flight)
    }
}

struct Guard<'a>(&'a AtomicU64);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Store for Counting {
    async fn get(&self, key: &Key) -> Result<Option<Item>> {
        let _g = self.start(&self.counts.gets);
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>> {
        let _g = self.start(&self.counts.batch_gets);
        self.inner.get_many(keys).await
    }
    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<()> {
        let _g = self.start(&self.counts.writes);
        self.inner.put(item, cond).await
    }
    async fn update(&self, key: &Key, update: Update, cond: Option<Cond>) -> Result<Item> {
        let _g = self.start(&self.counts.writes);
        self.inner.update(key, update, cond).await
    }
    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<()> {
        let _g = self.start(&self.counts.writes);
        self.inner.delete(key, cond).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> Result<()> {
        let _g = self.start(&self.counts.transacts);
        self.inner.transact(ops).await
    }
    async fn query(&self, query: Query) -> Result<Page> {
        let _g = self.start(&self.counts.queries);
        self.inner.query(query).await
    }
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
}
