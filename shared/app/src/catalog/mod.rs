//! The catalog in storage: products, SKUs, warehouses and stock counters, and the views
//! shoppers and operators read. Images and WeChat's content checks are `media`.

pub mod media;
pub mod reviews;
mod specs;

pub use specs::SpecTable;

use std::collections::HashMap;

use serde::Serialize;

use crate::error::{AppError, Code};
use crate::{App, lookup};
use domain::adcopy;
use domain::catalog::{
    Product, ProductInput, ProductPatch, ProductStatus, Sku, SkuInput, SkuKind, SkuPatch, StockLevel, Warehouse,
    availability, validate_sku,
};
use domain::clock;
use domain::events::Event;
use domain::ids::{ProductId, SkuId, WarehouseId};
use domain::money::Fen;
use domain::operator::{Allowances, Caller, Role};
use store::repo::allowances::{self, Power};
use store::{SharedStore, repo};

/// A new id: the prefix, then a time-ordered UUID (always a valid id of any kind).
fn new_id<T: TryFrom<String>>(prefix: char) -> Result<T, AppError> {
    T::try_from(format!("{prefix}{}", uuid::Uuid::now_v7().simple())).map_err(|_| AppError::internal())
}

pub async fn get_product(store: &SharedStore, id: &ProductId) -> Result<Product, AppError> {
    lookup::product(store.as_ref(), id).await
}

pub async fn get_sku(store: &SharedStore, id: &SkuId) -> Result<Sku, AppError> {
    lookup::sku(store.as_ref(), id).await
}

pub async fn create_product(store: &SharedStore, input: ProductInput) -> Result<Product, AppError> {
    let input = input.validate()?;
    let now = clock::now();
    let p = Product {
        id: new_id('P')?,
        title: input.title,
        subtitle: input.subtitle,
        description: input.description,
        category: input.category,
        status: ProductStatus::Draft,
        price_from: None,
        version: 1,
        created_at: now,
        updated_at: now,
        media: Default::default(),
        checks: Default::default(),
        specs: input.specs,
        tags: input.tags,
    };
    repo::catalog::create_product(store.as_ref(), &p).await?;
    Ok(p)
}

/// The event a change of a product writes with it, so search reads the product again.
pub(crate) fn changed(product_id: &ProductId) -> Result<store::TxOp, AppError> {
    let change = uuid::Uuid::now_v7().simple().to_string();
    Ok(repo::outbox::append(&Event::CatalogChanged { product_id: product_id.clone(), change }, clock::now())?)
}

/// Writes `p` (with its version bumped) only if nobody changed it since it was read.
async fn save_product(store: &SharedStore, mut p: Product) -> Result<Product, AppError> {
    let read_version = p.version;
    p.version += 1;
    p.updated_at = clock::now();
    let extra = vec![changed(&p.id)?];
    if !repo::catalog::save_product_with(store.as_ref(), &p, read_version, extra).await? {
        return Err(AppError::new(Code::ConcurrentEdit, "the product changed meanwhile; reload and retry"));
    }
    Ok(p)
}

/// Edits a product. `by` is the operator (`None`: the shop's own sample): text on sale must
/// stay lawful, so an edit of a published product is checked as publishing is.
pub async fn update_product(
    app: &App,
    by: Option<&Caller>,
    id: &ProductId,
    patch: ProductPatch,
) -> Result<Product, AppError> {
    let store = &app.store;
    let mut p = get_product(store, id).await?;
    let texts_changed =
        patch.title.is_some() || patch.subtitle.is_some() || patch.description.is_some() || patch.tags.is_some();
    let specs_changed = patch.specs.is_some();
    patch.apply(&mut p)?;
    if specs_changed || p.status == ProductStatus::OnSale {
        let skus = skus_of(store, id).await?;
        if specs_changed {
            for s in &skus {
                domain::catalog::check_spec(&p.specs, s.kind, &s.spec).map_err(|e| {
                    AppError::field("specs", format!("SKU {} ({}) would not fit them: {e}", s.id, s.name))
                })?;
            }
        }
        if p.status == ProductStatus::OnSale {
            check_ad_copy(&p, &skus)?;
            if texts_changed || specs_changed {
                media::check_text(app, by, &p, &skus).await?;
            }
        }
    }
    save_product(store, p).await
}

fn check_ad_copy(p: &Product, skus: &[Sku]) -> Result<(), AppError> {
    let texts = p.texts().into_iter().chain(skus.iter().map(|s| s.name.as_str()));
    let found = adcopy::violations(texts);
    if found.is_empty() {
        return Ok(());
    }
    Err(AppError::new(
        Code::AdCopyViolation,
        format!("product text uses absolute terms forbidden by the Advertising Law: {}", found.join(", ")),
    )
    .with_details(serde_json::json!({ "words": found })))
}

/// Publishes or unpublishes a product. Publishing needs a SKU to sell, lawful text that
/// WeChat's text check passes (`by`'s WeChat identity asks; `None` is the shop's own sample),
/// and every image cleared by WeChat's media check.
pub async fn set_status(
    app: &App,
    by: Option<&Caller>,
    id: &ProductId,
    to: ProductStatus,
) -> Result<Product, AppError> {
    let store = &app.store;
    let mut p = get_product(store, id).await?;
    if to == ProductStatus::OnSale && p.status != ProductStatus::OnSale {
        let skus = skus_of(store, id).await?;
        if !skus.iter().any(|s| s.kind != SkuKind::Gift) {
            return Err(AppError::new(Code::NoSku, "a product needs a main or bundle SKU before it is published"));
        }
        check_ad_copy(&p, &skus)?;
        media::check_cleared(&p)?;
        media::check_text(app, by, &p, &skus).await?;
    }
    if to == ProductStatus::Draft {
        return Err(AppError::field("status", "a product can be published or unpublished, not made a draft again"));
    }
    if p.status == to {
        return Ok(p);
    }
    p.status = to;
    save_product(store, p).await
}

/// All SKUs of a product, read through the product's index.
pub async fn skus_of(store: &SharedStore, product_id: &ProductId) -> Result<Vec<Sku>, AppError> {
    lookup::skus_of(store.as_ref(), product_id).await
}

/// Keeps the product's list price (lowest main or bundle price) in step with its SKUs.
async fn refresh_price_from(store: &SharedStore, product_id: &ProductId, changed: &Sku) -> Result<(), AppError> {
    let mut skus = skus_of(store, product_id).await?;
    // The index may lag the write just made; the changed SKU is taken as written.
    skus.retain(|s| s.id != changed.id);
    skus.push(changed.clone());
    let price_from = skus.iter().filter(|s| s.kind != SkuKind::Gift).map(|s| s.price).min();
    for _ in 0..3 {
        let mut p = get_product(store, product_id).await?;
        if p.price_from == price_from {
            return Ok(());
        }
        p.price_from = price_from;
        match save_product(store, p).await {
            Err(e) if e.code == Code::ConcurrentEdit => continue,
            other => return other.map(|_| ()),
        }
    }
    Err(AppError::new(Code::ConcurrentEdit, "the product changed meanwhile; retry"))
}

pub async fn add_sku(store: &SharedStore, product_id: &ProductId, input: SkuInput) -> Result<Sku, AppError> {
    let product = get_product(store, product_id).await?;
    domain::catalog::check_spec(&product.specs, input.kind, &input.spec)?;
    let mut kinds = HashMap::new();
    for c in &input.components {
        if let Some(s) = repo::catalog::sku(store.as_ref(), &c.sku_id).await? {
            kinds.insert(s.id, s.kind);
        }
    }
    validate_sku(&input, &kinds)?;
    let now = clock::now();
    let sku = Sku {
        id: new_id('S')?,
        product_id: product_id.clone(),
        name: input.name.trim().to_owned(),
        kind: input.kind,
        price: Fen::new(input.price_fen),
        components: input.components,
        daily_sales: input.daily_sales,
        replenish_days: input.replenish_days,
        spec: input.spec.iter().map(|v| v.trim().to_owned()).collect(),
        created_at: now,
        updated_at: now,
    };
    // The product and every component must still exist when the SKU is written, and no other
    // SKU may hold its combination.
    match repo::catalog::add_sku(store.as_ref(), &sku, vec![changed(product_id)?]).await? {
        repo::catalog::SkuAdded::Added => {}
        repo::catalog::SkuAdded::Moved => {
            return Err(AppError::new(Code::ConcurrentEdit, "the product or a component changed meanwhile"));
        }
        repo::catalog::SkuAdded::SpecTaken => {
            return Err(AppError::new(
                Code::SpecTaken,
                format!("another SKU of the product is {}", sku.spec.join(" / ")),
            ));
        }
    }
    refresh_price_from(store, product_id, &sku).await?;
    Ok(sku)
}

pub async fn update_sku(store: &SharedStore, sku_id: &SkuId, patch: SkuPatch) -> Result<Sku, AppError> {
    let mut sku = get_sku(store, sku_id).await?;
    let read_at = sku.updated_at;
    let renamed = patch.name.is_some();
    patch.apply(&mut sku)?;
    if renamed {
        let p = get_product(store, &sku.product_id).await?;
        if p.status == ProductStatus::OnSale {
            check_ad_copy(&p, std::slice::from_ref(&sku))?;
        }
    }
    sku.updated_at = clock::now().max(read_at + 1);
    if !repo::catalog::save_sku(store.as_ref(), &sku, read_at, vec![changed(&sku.product_id)?]).await? {
        return Err(AppError::new(Code::ConcurrentEdit, "the SKU changed meanwhile; reload and retry"));
    }
    refresh_price_from(store, &sku.product_id, &sku).await?;
    Ok(sku)
}

/// Makes or replaces the warehouse `id` (an operator's code).
pub async fn put_warehouse(store: &SharedStore, id: &str, name: &str, region: &str) -> Result<Warehouse, AppError> {
    domain::catalog::valid_code("id", id)?;
    let id = WarehouseId::parse(id)?;
    let w = Warehouse { id, name: name.trim().to_owned(), region: region.trim().to_owned() };
    if w.name.is_empty() || w.name.chars().count() > 40 {
        return Err(AppError::field("name", "must be 1 to 40 characters"));
    }
    if w.region.is_empty() || w.region.chars().count() > 40 {
        return Err(AppError::field("region", "must be 1 to 40 characters"));
    }
    repo::catalog::put_warehouse(store.as_ref(), &w).await?;
    Ok(w)
}

pub async fn warehouses(store: &SharedStore) -> Result<Vec<Warehouse>, AppError> {
    Ok(repo::catalog::warehouses(store.as_ref(), 1000).await?)
}

/// A SKU's stock counters, strongly consistent (read from the SKU's own partition).
pub async fn stock_levels(store: &SharedStore, sku_id: &SkuId) -> Result<Vec<StockLevel>, AppError> {
    lookup::stock_levels(store.as_ref(), sku_id).await
}

/// Adds `delta` units (negative to remove) to a SKU's stock in a warehouse. Removal is
/// conditional on enough stock, so it can never drive a counter below zero, however many
/// orders decrement it at the same moment. Stock is money: an operator (`by`; `None` is the
/// shop itself, loading its sample) writes off at most their allowance at once and a day,
/// valued at the SKU's price; more is finance's.
pub async fn adjust_stock(
    store: &SharedStore,
    by: Option<(&Caller, &Allowances)>,
    sku_id: &SkuId,
    warehouse_id: &WarehouseId,
    delta: i64,
    shard: u8,
) -> Result<i64, AppError> {
    if delta == 0 || delta.abs() > 1_000_000 {
        return Err(AppError::field("delta", "must be a non-zero number of units up to 1,000,000"));
    }
    let mut allowance = None;
    if let Some((caller, allowed)) = by.filter(|(c, _)| delta < 0 && c.role < Role::Finance) {
        let sku = get_sku(store, sku_id).await?;
        let value = sku.price.checked_mul(-delta).ok_or(domain::DomainError::Overflow)?;
        if value > allowed.write_off {
            return Err(AppError::forbidden(format!(
                "writing off more than {} of stock at once needs a finance operator",
                allowed.write_off
            )));
        }
        let day = clock::business_day(clock::now()).map(|d| d.to_string()).unwrap_or_default();
        allowance =
            Some(allowances::spend(Power::WriteOff, &caller.id, &day, value.fen(), allowed.write_off_daily.fen()));
    }
    use repo::catalog::Adjusted;
    let now = clock::now();
    let mut extra: Vec<_> = allowance.into_iter().collect();
    let change = uuid::Uuid::now_v7().simple().to_string();
    if delta < 0 {
        // Stock taken down by hand or by an ERP is checked against its safety stock as a
        // sale is: the check travels with the change.
        extra.push(repo::outbox::append(&Event::StockDecreased { sku_id: sku_id.clone(), change }, now)?);
    } else {
        extra.push(repo::outbox::append(&Event::StockIncreased { sku_id: sku_id.clone(), change }, now)?);
    }
    match repo::catalog::adjust_stock(store.as_ref(), sku_id, warehouse_id, shard, delta, now, extra).await? {
        Adjusted::Now(n) => Ok(n),
        Adjusted::NoSuchSku => Err(AppError::not_found("SKU")),
        Adjusted::NotStockBearing => {
            Err(AppError::field("sku_id", "a bundle has no stock of its own; adjust its components"))
        }
        Adjusted::NoSuchWarehouse => Err(AppError::not_found("warehouse")),
        Adjusted::NotEnough => {
            Err(AppError::new(Code::InsufficientStock, "not enough stock to remove that many units"))
        }
        Adjusted::OverAllowance => Err(AppError::new(
            Code::AllowanceExceeded,
            "your write-offs of today reach your daily allowance; more needs finance",
        )),
    }
}

#[derive(Debug, Serialize)]
pub struct SkuView {
    #[serde(flatten)]
    pub sku: Sku,
    pub available: i64,
    pub purchasable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock: Option<Vec<StockLevel>>,
}

#[derive(Debug, Serialize)]
pub struct ProductView {
    #[serde(flatten)]
    pub product: Product,
    pub skus: Vec<SkuView>,
    /// Every image as a URL (operators see them before WeChat clears them).
    pub images: Images,
    pub spec_table: Option<SpecTable>,
    /// The reviews' summary, from counters the reviews move (never a count at read time).
    pub rating: domain::review::Rating,
}

/// A product's images as URLs under the shop's public base.
#[derive(Debug, Serialize, Default)]
pub struct Images {
    pub cover: Option<String>,
    pub gallery: Vec<String>,
    pub detail: Vec<String>,
    pub share: Option<String>,
}

impl Images {
    fn of(p: &Product, url: &impl Fn(&str) -> Option<String>) -> Images {
        Images {
            cover: p.media.cover.as_deref().and_then(url),
            gallery: p.media.gallery.iter().filter_map(|k| url(k)).collect(),
            detail: p.media.detail.iter().filter_map(|k| url(k)).collect(),
            share: p.media.share.as_deref().and_then(url),
        }
    }
}

/// A SKU as shoppers see it: what it is, its price and whether it sells now, not the
/// operator's figures for the safety-stock rule.
#[derive(Debug, Serialize)]
pub struct ShopperSku<'a> {
    pub id: &'a SkuId,
    pub product_id: &'a ProductId,
    pub name: &'a str,
    pub kind: SkuKind,
    pub price: domain::money::Fen,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub components: &'a [domain::catalog::Component],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub spec: &'a [String],
    pub image: Option<String>,
    pub available: i64,
    pub purchasable: bool,
}

/// A product page as shoppers see it: its text, the images WeChat cleared, the SKUs and the
/// spec picker's table; never the operators' check records or object keys.
#[derive(Debug, Serialize)]
pub struct ShopperProductView<'a> {
    pub id: &'a ProductId,
    pub title: &'a str,
    pub subtitle: &'a str,
    pub description: &'a str,
    pub category: &'a str,
    pub status: ProductStatus,
    pub price_from: Option<Fen>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub images: Images,
    pub skus: Vec<ShopperSku<'a>>,
    pub spec_table: Option<SpecTable>,
    pub rating: &'a domain::review::Rating,
}

/// The URL `key` is served at, when the shop has object storage.
fn public_url(app: &App, key: &str) -> Option<String> {
    app.objects.as_deref().map(|o| o.public_url(key))
}

impl ProductView {
    /// The page shoppers see: only images WeChat cleared.
    pub fn shopper(&self, app: &App) -> ShopperProductView<'_> {
        let p = &self.product;
        let cleared = |k: &str| if p.cleared(k) { public_url(app, k) } else { None };
        let skus = self
            .skus
            .iter()
            .map(|v| ShopperSku {
                id: &v.sku.id,
                product_id: &v.sku.product_id,
                name: &v.sku.name,
                kind: v.sku.kind,
                price: v.sku.price,
                components: &v.sku.components,
                spec: &v.sku.spec,
                image: p.media.sku_images.get(&v.sku.id).and_then(|k| cleared(k)),
                available: v.available,
                purchasable: v.purchasable,
            })
            .collect();
        ShopperProductView {
            id: &p.id,
            title: &p.title,
            subtitle: &p.subtitle,
            description: &p.description,
            category: &p.category,
            status: p.status,
            price_from: p.price_from,
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
            images: Images::of(p, &cleared),
            skus,
            spec_table: specs::table(p, &self.skus, cleared),
            rating: &self.rating,
        }
    }
}

/// A product with its SKUs and what each can sell now. Operators also see every counter.
pub async fn product_view(app: &App, id: &ProductId, operator: bool) -> Result<ProductView, AppError> {
    let store = &app.store;
    // The product, its SKUs and its rating together, then every counter at once: two round trips, one
    // when the store's cache holds the product's definition.
    let (product, skus, rating) = futures_util::future::join3(
        get_product(store, id),
        skus_of(store, id),
        repo::reviews::rating(store.as_ref(), id),
    )
    .await;
    let product = product?;
    if !operator && product.status != ProductStatus::OnSale {
        return Err(AppError::not_found("product"));
    }
    let skus = skus?;
    let mut own: HashMap<SkuId, i64> = HashMap::new();
    let mut levels: HashMap<SkuId, Vec<StockLevel>> = HashMap::new();
    let needed = skus.iter().flat_map(|s| {
        if s.kind.has_own_stock() {
            vec![s.id.clone()]
        } else {
            s.components.iter().map(|c| c.sku_id.clone()).collect()
        }
    });
    let needed: Vec<SkuId> = needed.collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let reads = needed.iter().map(|s| stock_levels(store, s));
    for (sku_id, l) in needed.iter().zip(futures_util::future::join_all(reads).await) {
        let l = l?;
        own.insert(sku_id.clone(), l.iter().map(|x| x.available).sum());
        levels.insert(sku_id.clone(), l);
    }
    let skus = skus
        .into_iter()
        .map(|sku| {
            let available = availability(&sku, &own);
            SkuView {
                purchasable: sku.kind != SkuKind::Gift && available > 0,
                stock: if operator { Some(levels.get(&sku.id).cloned().unwrap_or_default()) } else { None },
                available,
                sku,
            }
        })
        .collect::<Vec<_>>();
    let url = |k: &str| public_url(app, k);
    let images = Images::of(&product, &url);
    let spec_table = specs::table(&product, &skus, url);
    Ok(ProductView { product, skus, images, spec_table, rating: rating?.summary() })
}

#[derive(Debug, Serialize)]
pub struct ProductPage {
    pub items: Vec<Product>,
    pub next: Option<String>,
}

/// Products with one status, optionally in one category and matching a keyword, paged.
/// A keyword filters within each page, so a page may hold fewer than `limit` items while
/// `next` still leads on.
pub async fn list_products(
    store: &SharedStore,
    status: ProductStatus,
    category: Option<&str>,
    keyword: Option<&str>,
    limit: usize,
    after: Option<String>,
) -> Result<ProductPage, AppError> {
    let (listed, next) = repo::catalog::products_listed(store.as_ref(), status, category, limit, after).await?;
    let kw = keyword.map(str::to_lowercase);
    let mut items = Vec::new();
    for p in listed {
        // The index is eventually consistent: drop a product whose status moved on.
        if p.status != status {
            continue;
        }
        if let Some(k) = &kw
            && !(p.title.to_lowercase().contains(k) || p.subtitle.to_lowercase().contains(k))
        {
            continue;
        }
        items.push(p);
    }
    Ok(ProductPage { items, next })
}

/// The freight template every order is charged by.
pub async fn freight_template(store: &SharedStore) -> Result<domain::freight::FreightTemplate, AppError> {
    Ok(repo::catalog::freight_template(store.as_ref()).await?)
}

pub async fn set_freight_template(
    store: &SharedStore,
    t: domain::freight::FreightTemplate,
) -> Result<domain::freight::FreightTemplate, AppError> {
    let t = t.checked()?;
    repo::catalog::put_freight_template(store.as_ref(), &t).await?;
    Ok(t)
}

/// The promotions every order is priced with.
pub async fn promotions(store: &SharedStore) -> Result<domain::promotion::Promotions, AppError> {
    Ok(repo::catalog::promotions(store.as_ref()).await?)
}

/// Sets the promotions; each threshold gift must name a gift SKU of the catalog.
pub async fn set_promotions(
    store: &SharedStore,
    p: domain::promotion::Promotions,
) -> Result<domain::promotion::Promotions, AppError> {
    let p = p.checked()?;
    for g in &p.gifts {
        let no_sku = || AppError::field("gifts", format!("no SKU {}", g.gift_sku));
        let id = SkuId::parse(&g.gift_sku).map_err(|_| no_sku())?;
        let sku = get_sku(store, &id).await.map_err(|_| no_sku())?;
        if sku.kind != SkuKind::Gift {
            return Err(AppError::field("gifts", format!("{} is not a gift SKU", g.gift_sku)));
        }
    }
    repo::catalog::put_promotions(store.as_ref(), &p).await?;
    Ok(p)
}
