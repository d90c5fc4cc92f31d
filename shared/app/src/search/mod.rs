//! Search over the whole catalog. Where the index lives: each instance holds it in memory,
//! built from the search documents in the store (one per product, rewritten by this
//! context's outbox consumers whenever what search reads of a product changes), and catches
//! up at most once a second on the documents written since (a log index by 10-minute window,
//! read with 5 s of overlap for the index's lag), or loads everything again once a catch-up
//! would span more than two windows (10 to 20 minutes idle). So the store stays the one
//! truth, a change is searchable within seconds on every instance, warm searches read the
//! store at most once a second (the catch-up query, usually empty), and a cold instance reads
//! the documents once. `docs/search.md` says why and what it measured.

pub mod index;
pub mod text;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::error::{AppError, Code};
use crate::{App, lookup};
use domain::catalog::{ProductStatus, SkuKind, availability};
use domain::ids::{OrderNo, ProductId, SkuId};
use index::{Filters, Index, Sort, SortKey};
use store::repo;
use store::repo::search::SearchDoc;

/// How often an instance asks the store for documents written since it last looked.
pub const CATCH_UP: Duration = Duration::from_secs(1);
/// How far back a catch-up reads, for documents the log index shows late.
const OVERLAP_MS: i64 = 5_000;
/// Windows of the log a catch-up reads at most before it loads everything again.
const MAX_WINDOWS: i64 = 2;
/// Days of sales the "sales" sort counts.
const SALES_DAYS: i64 = 14;

struct Loaded {
    index: Index,
    /// The moment (ms) up to which documents are in the index.
    seen_ms: i64,
    checked: Instant,
}

/// The instance's index.
#[derive(Default)]
pub struct Engine {
    state: tokio::sync::RwLock<Option<Loaded>>,
    refreshing: tokio::sync::Mutex<()>,
}

fn wall_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos().div_euclid(1_000_000).try_into().unwrap_or(i64::MAX)
}

/// Brings the instance's index up to date: built on first use, caught up once a second.
async fn fresh(app: &App) -> Result<(), AppError> {
    {
        let st = app.search.state.read().await;
        if st.as_ref().is_some_and(|l| l.checked.elapsed() < CATCH_UP) {
            return Ok(());
        }
    }
    let _one = app.search.refreshing.lock().await;
    let since = {
        let st = app.search.state.read().await;
        match st.as_ref() {
            Some(l) if l.checked.elapsed() < CATCH_UP => return Ok(()),
            Some(l) => Some(l.seen_ms),
            None => None,
        }
    };
    let now = wall_ms();
    let store = app.store.as_ref();
    let synonyms = repo::catalog::synonyms(store).await?;
    let changed = match since {
        Some(s) => repo::search::written_since(store, s - OVERLAP_MS, now, MAX_WINDOWS).await?,
        None => None,
    };
    let mut st = app.search.state.write().await;
    match (changed, st.as_mut()) {
        (Some(docs), Some(l)) => {
            l.index.set_synonyms(&synonyms);
            for d in docs {
                l.index.upsert(d);
            }
            l.seen_ms = now;
            l.checked = Instant::now();
        }
        _ => {
            drop(st);
            // jieba's dictionary loads while the documents are read.
            let dictionary = tokio::task::spawn_blocking(|| {
                text::jieba();
            });
            let docs = repo::search::all(store).await?;
            dictionary.await.map_err(|_| AppError::internal())?;
            let index = tokio::task::spawn_blocking(move || Index::new(docs, &synonyms))
                .await
                .map_err(|_| AppError::internal())?;
            *app.search.state.write().await = Some(Loaded { index, seen_ms: now, checked: Instant::now() });
        }
    }
    Ok(())
}

/// A search as shoppers ask it.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub q: String,
    pub filters: Filters,
    pub sort: Option<Sort>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// A product in results.
#[derive(Debug, Serialize)]
pub struct Found {
    pub id: ProductId,
    pub title: String,
    pub subtitle: String,
    pub category: String,
    pub price_from: i64,
    pub price_to: i64,
    pub in_stock: bool,
    pub sales: i64,
    pub cover: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Serialize)]
pub struct Results {
    pub items: Vec<Found>,
    /// Products matching in all (every page).
    pub total: usize,
    pub next: Option<String>,
}

fn bad_cursor() -> AppError {
    AppError::new(Code::InvalidCursor, "cursor must be the `next` of a previous page of the same search")
}

/// Published products matching the query and filters, in order, a page at a time.
pub async fn search(app: &App, query: &Query) -> Result<Results, AppError> {
    if query.q.chars().count() > 50 {
        return Err(AppError::field("q", "at most 50 characters"));
    }
    let after: Option<SortKey> = match &query.cursor {
        None => None,
        Some(c) => {
            let raw = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad_cursor())?;
            Some(serde_json::from_slice(&raw).map_err(|_| bad_cursor())?)
        }
    };
    fresh(app).await?;
    let sort = query.sort.unwrap_or(if query.q.trim().is_empty() { Sort::Newest } else { Sort::Relevance });
    let st = app.search.state.read().await;
    let Some(l) = st.as_ref() else {
        return Err(AppError::internal());
    };
    let limit = query.limit.clamp(1, 100);
    let (hits, total) = l.index.search(&query.q, &query.filters, sort, after.as_ref(), limit);
    let next = if hits.len() == limit {
        hits.last().and_then(|h| serde_json::to_vec(&h.key).ok()).map(|b| URL_SAFE_NO_PAD.encode(b))
    } else {
        None
    };
    let url = |k: &str| app.objects.as_deref().map(|o| o.public_url(k));
    let items = hits
        .into_iter()
        .map(|h| Found {
            id: h.doc.product_id.clone(),
            title: h.doc.title.clone(),
            subtitle: h.doc.subtitle.clone(),
            category: h.doc.category.clone(),
            price_from: h.doc.price_min,
            price_to: h.doc.price_max,
            in_stock: h.doc.in_stock,
            sales: h.doc.sales,
            cover: h.doc.cover.as_deref().and_then(url),
            created_at: h.doc.created_at,
        })
        .collect();
    Ok(Results { items, total, next })
}

/// Rewrites a product's search document from the catalog as it is now: idempotent, so every
/// delivery of every event that calls it leaves the same document.
pub async fn refresh(app: &App, product_id: &ProductId) -> Result<(), AppError> {
    // Read past the process's cache: the document must show the change that called this.
    let store = app.uncached.as_ref();
    let Some(p) = repo::catalog::product(store, product_id).await? else {
        return Ok(());
    };
    let skus = repo::catalog::skus_of(store, product_id).await?;
    let mut own = std::collections::HashMap::new();
    let stocked: std::collections::BTreeSet<SkuId> = skus
        .iter()
        .flat_map(|s| {
            if s.kind.has_own_stock() {
                vec![s.id.clone()]
            } else {
                s.components.iter().map(|c| c.sku_id.clone()).collect()
            }
        })
        .collect();
    for id in &stocked {
        let levels = repo::catalog::stock_levels(store, id).await?;
        own.insert(id.clone(), levels.iter().map(|l| l.available).sum::<i64>());
    }
    let first_day = domain::clock::business_day(domain::clock::now() - SALES_DAYS * 86_400)
        .map(|d| d.to_string())
        .unwrap_or_default();
    let mut sales = 0;
    for s in skus.iter().filter(|s| s.kind == SkuKind::Main) {
        sales += repo::stock_alerts::sales_since(store, &s.id, &first_day).await?.iter().sum::<i64>();
    }
    let sold: Vec<_> = skus.iter().filter(|s| s.kind != SkuKind::Gift).collect();
    let doc = SearchDoc {
        product_id: p.id.clone(),
        on_sale: p.status == ProductStatus::OnSale,
        title: p.title.clone(),
        subtitle: p.subtitle.clone(),
        category: p.category.clone(),
        tags: p.tags.clone(),
        specs: p.specs.iter().flat_map(|a| a.values.iter().cloned()).collect(),
        sku_names: sold.iter().map(|s| s.name.clone()).collect(),
        price_min: sold.iter().map(|s| s.price.fen()).min().unwrap_or(0),
        price_max: sold.iter().map(|s| s.price.fen()).max().unwrap_or(0),
        in_stock: sold.iter().any(|s| availability(s, &own) > 0),
        sales,
        created_at: p.created_at,
        cover: p.media.cover.clone().filter(|k| p.cleared(k)),
        written_ms: wall_ms(),
    };
    repo::search::put(store, &doc).await?;
    Ok(())
}

/// The consumer of a stock change: the SKU's product (or the products bundling it).
pub async fn on_sku(app: &App, sku_id: &SkuId) -> Result<(), AppError> {
    let Some(sku) = repo::catalog::sku(app.uncached.as_ref(), sku_id).await? else {
        return Ok(());
    };
    refresh(app, &sku.product_id).await
}

/// The consumer of an order's payment or close: its products' stock and sales moved.
pub async fn on_order(app: &App, order_no: &OrderNo) -> Result<(), AppError> {
    let order = lookup::order(app.store.as_ref(), order_no).await?;
    let products: std::collections::BTreeSet<ProductId> = order.lines().iter().map(|l| l.product_id.clone()).collect();
    for p in products {
        refresh(app, &p).await?;
    }
    Ok(())
}

/// The synonym groups operators keep.
pub async fn synonyms(app: &App) -> Result<Vec<Vec<String>>, AppError> {
    Ok(repo::catalog::synonyms(app.store.as_ref()).await?)
}

/// Sets the synonym groups: at most 500 groups of 2 to 10 words of 1 to 20 characters.
pub async fn set_synonyms(app: &App, groups: Vec<Vec<String>>) -> Result<Vec<Vec<String>>, AppError> {
    if groups.len() > 500 {
        return Err(AppError::field("groups", "at most 500 groups"));
    }
    let mut out = Vec::new();
    for g in groups {
        let words: Vec<String> = g.iter().map(|w| w.trim().to_owned()).collect();
        if !(2..=10).contains(&words.len()) || words.iter().any(|w| !(1..=20).contains(&w.chars().count())) {
            return Err(AppError::field("groups", "each group holds 2 to 10 words of 1 to 20 characters"));
        }
        out.push(words);
    }
    repo::catalog::put_synonyms(app.store.as_ref(), &out).await?;
    Ok(out)
}
