//! Search documents: one per product, rewritten whenever what search reads of it changes
//! (text, specs, prices, status, stock, sales). Instances load them all once, then catch up on
//! the ones changed since, through a log index in 10-minute windows.

use domain::ids::ProductId;
use serde::{Deserialize, Serialize};

use crate::{Query, Result, Store, from_item, keys, to_item};

/// What search knows of a product.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SearchDoc {
    pub product_id: ProductId,
    pub on_sale: bool,
    pub title: String,
    #[serde(default)]
    pub subtitle: String,
    pub category: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Every spec value of the product.
    #[serde(default)]
    pub specs: Vec<String>,
    #[serde(default)]
    pub sku_names: Vec<String>,
    /// The lowest and highest price of its main and bundle SKUs, fen.
    pub price_min: i64,
    pub price_max: i64,
    pub in_stock: bool,
    /// Units sold over the last 14 days.
    #[serde(default)]
    pub sales: i64,
    pub created_at: i64,
    /// The cover's object key, when WeChat passed it.
    #[serde(default)]
    pub cover: Option<String>,
    /// When this document was written, in milliseconds: the log's order.
    pub written_ms: i64,
}

/// The log's window of a moment, in milliseconds.
pub fn window(ms: i64) -> i64 {
    ms.div_euclid(600_000)
}

pub async fn put(store: &dyn Store, doc: &SearchDoc) -> Result<()> {
    let log = (keys::search_log(window(doc.written_ms)), format!("{:013}#{}", doc.written_ms, doc.product_id));
    store.put(to_item(&keys::search_doc(&doc.product_id), Some(log), doc)?, None).await
}

pub async fn get(store: &dyn Store, product_id: &ProductId) -> Result<Option<SearchDoc>> {
    store.get(&keys::search_doc(product_id)).await?.map(from_item).transpose()
}

/// Every document, page by page (strongly consistent: the base table).
pub async fn all(store: &dyn Store) -> Result<Vec<SearchDoc>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store.query(Query::table(keys::SEARCH_DOCS).limit(1000).after(after)).await?;
        for i in page.items {
            out.push(from_item(i)?);
        }
        after = page.next;
        if after.is_none() {
            return Ok(out);
        }
    }
}

/// The documents written in the windows from `since_ms`'s to `now_ms`'s (a document rewritten
/// since shows once, at its last write); `None` when that spans more than `max_windows`, and
/// loading everything again is cheaper.
pub async fn written_since(
    store: &dyn Store,
    since_ms: i64,
    now_ms: i64,
    max_windows: i64,
) -> Result<Option<Vec<SearchDoc>>> {
    let (first, last) = (window(since_ms), window(now_ms));
    if last - first >= max_windows {
        return Ok(None);
    }
    let mut out = Vec::new();
    for w in first..=last {
        let mut after = None;
        loop {
            let page = store.query(Query::gsi1(keys::search_log(w)).limit(1000).after(after)).await?;
            for i in page.items {
                let d: SearchDoc = from_item(i)?;
                if d.written_ms >= since_ms {
                    out.push(d);
                }
            }
            after = page.next;
            if after.is_none() {
                break;
            }
        }
    }
    Ok(Some(out))
}
