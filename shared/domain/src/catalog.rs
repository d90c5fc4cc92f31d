//! Products (SPU), their SKUs, warehouses and stock: the types, their validation and the
//! availability and safety-stock rules.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::money::{Fen, SINGLE_PAYMENT_LIMIT};
use crate::error::DomainError;
use crate::ids::{ProductId, SkuId, WarehouseId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    Draft,
    OnSale,
    OffSale,
}

impl ProductStatus {
    pub const ALL: [ProductStatus; 3] = [Self::Draft, Self::OnSale, Self::OffSale];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::OnSale => "on_sale",
            Self::OffSale => "off_sale",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Product {
    pub id: ProductId,
    pub title: String,
    #[serde(default)]
    pub subtitle: String,
    #[serde(default)]
    pub description: String,
    pub category: String,
    pub status: ProductStatus,
    /// The lowest price of the product's main SKUs, kept for the list view.
    #[serde(default)]
    pub price_from: Option<Fen>,
    /// Bumped by every edit; publishing is conditioned on the version it checked.
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// The product's images, as object keys.
    #[serde(default)]
    pub media: Media,
    /// WeChat's verdict on each image `media` names, by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, MediaCheck>,
    /// The attributes its SKUs are told apart by (颜色 × 尺码), in the picker's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specs: Vec<SpecAttr>,
    /// Words search finds the product by besides its text (上新, 送礼, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Product {
    /// The images not yet cleared by WeChat's content check, with what holds each back.
    pub fn uncleared_media(&self) -> Vec<(&str, CheckState)> {
        self.media
            .keys()
            .into_iter()
            .filter_map(|k| {
                let state = self.checks.get(k).map_or(CheckState::Pending, |c| c.state);
                (state != CheckState::Pass).then_some((k, state))
            })
            .collect()
    }

    /// Whether `key` may be shown to shoppers: WeChat cleared it.
    pub fn cleared(&self, key: &str) -> bool {
        self.checks.get(key).is_some_and(|c| c.state == CheckState::Pass)
    }

    /// The text the ad-copy check reads.
    pub fn texts(&self) -> [&str; 4] {
        [&self.title, &self.subtitle, &self.description, &self.category]
    }

    /// Every text the content checks read: the texts, tags and spec names and values.
    pub fn all_texts(&self) -> impl Iterator<Item = &str> {
        self.texts().into_iter().chain(self.tags.iter().map(String::as_str)).chain(
            self.specs.iter().flat_map(|a| std::iter::once(a.name.as_str()).chain(a.values.iter().map(String::as_str))),
        )
    }
}

/// A product's images as object keys: a cover, a gallery, detail images, a share image,
/// and an image per SKU.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Media {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gallery: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sku_images: BTreeMap<SkuId, String>,
}

pub const MAX_GALLERY: usize = 9;
pub const MAX_DETAIL: usize = 30;

impl Media {
    /// Every key named, each once, in the order shown.
    pub fn keys(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.cover
            .iter()
            .chain(&self.gallery)
            .chain(&self.detail)
            .chain(&self.share)
            .chain(self.sku_images.values())
            .map(String::as_str)
            .filter(|k| seen.insert(*k))
            .collect()
    }

    /// Checks the counts and that every key is one the shop hands out for product images.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.gallery.len() > MAX_GALLERY {
            return Err(DomainError::invalid("gallery", format!("holds at most {MAX_GALLERY} images")));
        }
        if self.detail.len() > MAX_DETAIL {
            return Err(DomainError::invalid("detail", format!("holds at most {MAX_DETAIL} images")));
        }
        for k in self.keys() {
            if !is_media_key(k, UploadPurpose::Product) {
                return Err(DomainError::invalid("media", format!("{k:?} is not a key this shop issued")));
            }
        }
        Ok(())
    }
}

/// What an upload is for: it decides the key's folder and who may attach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadPurpose {
    Product,
    Review,
}

impl UploadPurpose {
    pub fn folder(self) -> &'static str {
        match self {
            Self::Product => "products",
            Self::Review => "reviews",
        }
    }
}

/// The image types an upload may carry, with the extension its key gets.
pub const IMAGE_TYPES: [(&str, &str); 4] =
    [("image/jpeg", "jpg"), ("image/png", "png"), ("image/webp", "webp"), ("image/gif", "gif")];

/// WeChat's media check reads files up to 10 MB.
pub const MAX_IMAGE_BYTES: i64 = 10 * 1024 * 1024;

/// A key the shop makes: `<folder>/<32 hex>.<ext>`; never one a client chose.
pub fn media_key(purpose: UploadPurpose, id: &str, content_type: &str) -> Result<String, DomainError> {
    let ext = IMAGE_TYPES.iter().find(|(t, _)| *t == content_type).map(|(_, e)| *e).ok_or_else(|| {
        DomainError::invalid("content_type", "must be image/jpeg, image/png, image/webp or image/gif")
    })?;
    Ok(format!("{}/{id}.{ext}", purpose.folder()))
}

/// Whether `key` has the shape [`media_key`] gives for `purpose`.
pub fn is_media_key(key: &str, purpose: UploadPurpose) -> bool {
    let Some(rest) = key.strip_prefix(purpose.folder()).and_then(|r| r.strip_prefix('/')) else {
        return false;
    };
    let Some((id, ext)) = rest.split_once('.') else {
        return false;
    };
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) && IMAGE_TYPES.iter().any(|(_, e)| *e == ext)
}

/// Checks an upload's declared type and size before it is signed.
pub fn check_upload(content_type: &str, size: i64) -> Result<(), DomainError> {
    if !IMAGE_TYPES.iter().any(|(t, _)| *t == content_type) {
        return Err(DomainError::invalid("content_type", "must be image/jpeg, image/png, image/webp or image/gif"));
    }
    if !(1..=MAX_IMAGE_BYTES).contains(&size) {
        return Err(DomainError::invalid("size", format!("must be 1 to {MAX_IMAGE_BYTES} bytes")));
    }
    Ok(())
}

/// Where WeChat's check of an image stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    /// Asked; WeChat's verdict has not arrived.
    Pending,
    Pass,
    /// WeChat asks for a person to look: not shown until replaced.
    Review,
    Risky,
}

impl CheckState {
    pub fn from_suggest(s: &str) -> Self {
        match s {
            "pass" => Self::Pass,
            "review" => Self::Review,
            _ => Self::Risky,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Pass => "pass",
            Self::Review => "review",
            Self::Risky => "risky",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MediaCheck {
    pub state: CheckState,
    /// WeChat's id of the asynchronous check; its push names it.
    pub trace_id: String,
    /// WeChat's label of what it found (100 is normal content).
    #[serde(default)]
    pub label: i64,
    pub at: i64,
}

/// One attribute SKUs are told apart by, with its values in the picker's order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SpecAttr {
    pub name: String,
    pub values: Vec<String>,
}

pub const MAX_SPEC_ATTRS: usize = 3;
pub const MAX_SPEC_VALUES: usize = 30;

/// Checks a product's spec attributes: 1 to 3 of them, each named once, each with 1 to 30
/// distinct values.
pub fn validate_specs(specs: &[SpecAttr]) -> Result<Vec<SpecAttr>, DomainError> {
    if specs.len() > MAX_SPEC_ATTRS {
        return Err(DomainError::invalid("specs", format!("at most {MAX_SPEC_ATTRS} attributes")));
    }
    let mut names = HashSet::new();
    let mut out = Vec::new();
    for a in specs {
        let name = text("specs", &a.name, 1, 10)?;
        if !names.insert(name.clone()) {
            return Err(DomainError::invalid("specs", format!("attribute {name} is listed twice")));
        }
        if a.values.is_empty() || a.values.len() > MAX_SPEC_VALUES {
            return Err(DomainError::invalid("specs", format!("{name} needs 1 to {MAX_SPEC_VALUES} values")));
        }
        let mut seen = HashSet::new();
        let mut values = Vec::new();
        for v in &a.values {
            let v = text("specs", v, 1, 20)?;
            if !seen.insert(v.clone()) {
                return Err(DomainError::invalid("specs", format!("{name} lists {v} twice")));
            }
            values.push(v);
        }
        out.push(SpecAttr { name, values });
    }
    Ok(out)
}

/// Checks a product's tags: at most 10, each 1 to 10 characters, each once.
pub fn validate_tags(tags: &[String]) -> Result<Vec<String>, DomainError> {
    if tags.len() > 10 {
        return Err(DomainError::invalid("tags", "at most 10"));
    }
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = text("tags", t, 1, 10)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Checks a SKU's combination against its product's attributes: one value of each, in order.
pub fn check_spec(specs: &[SpecAttr], kind: SkuKind, spec: &[String]) -> Result<(), DomainError> {
    if spec.is_empty() && (specs.is_empty() || kind == SkuKind::Gift) {
        return Ok(());
    }
    if kind == SkuKind::Gift {
        return Err(DomainError::invalid("spec", "a gift SKU is not picked by attributes"));
    }
    if spec.len() != specs.len() {
        let names: Vec<&str> = specs.iter().map(|a| a.name.as_str()).collect();
        return Err(DomainError::invalid("spec", format!("give one value of each of: {}", names.join(", "))));
    }
    for (a, v) in specs.iter().zip(spec) {
        if !a.values.contains(v) {
            return Err(DomainError::invalid("spec", format!("{v} is not a value of {}", a.name)));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkuKind {
    /// Sold on its own, with its own stock.
    Main,
    /// Price 0, never sold on its own: attached to orders by a rule, with its own stock.
    Gift,
    /// Made of other SKUs; no stock of its own, selling one decrements its components.
    Bundle,
}

impl SkuKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Main => "main",
            Self::Gift => "gift",
            Self::Bundle => "bundle",
        }
    }

    pub fn has_own_stock(self) -> bool {
        !matches!(self, Self::Bundle)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Component {
    pub sku_id: SkuId,
    pub quantity: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Sku {
    pub id: SkuId,
    pub product_id: ProductId,
    pub name: String,
    pub kind: SkuKind,
    pub price: Fen,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
    /// Average units sold a day, for the safety-stock rule.
    #[serde(default)]
    pub daily_sales: u32,
    /// Days the supplier takes to replenish, for the safety-stock rule.
    #[serde(default)]
    pub replenish_days: u32,
    /// Its value of each of the product's spec attributes, in their order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spec: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Warehouse {
    pub id: WarehouseId,
    pub name: String,
    pub region: String,
}

/// One stock counter: a shard of a SKU's stock in one warehouse.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StockLevel {
    pub warehouse_id: WarehouseId,
    pub shard: u8,
    pub available: i64,
}

/// The stock attribute on a counter item.
pub const STOCK_ATTR: &str = "available";

// ---- input -----------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    pub title: String,
    #[serde(default)]
    pub subtitle: String,
    #[serde(default)]
    pub description: String,
    pub category: String,
    #[serde(default)]
    pub specs: Vec<SpecAttr>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    pub title: Option<String>,
    pub subtitle: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    /// New attributes; every SKU's combination must stay valid under them.
    pub specs: Option<Vec<SpecAttr>>,
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkuInput {
    pub name: String,
    pub kind: SkuKind,
    pub price_fen: i64,
    #[serde(default)]
    pub components: Vec<Component>,
    #[serde(default)]
    pub daily_sales: u32,
    #[serde(default)]
    pub replenish_days: u32,
    /// Its value of each of the product's spec attributes; fixed once the SKU exists.
    #[serde(default)]
    pub spec: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SkuPatch {
    pub name: Option<String>,
    pub price_fen: Option<i64>,
    pub daily_sales: Option<u32>,
    pub replenish_days: Option<u32>,
}

fn text(field: &str, v: &str, min: usize, max: usize) -> Result<String, DomainError> {
    let v = v.trim();
    let n = v.chars().count();
    if n < min || n > max {
        return Err(DomainError::invalid(field, format!("must be {min} to {max} characters, got {n}")));
    }
    if v.chars().any(|c| c.is_control() && c != '\n') {
        return Err(DomainError::invalid(field, "must not contain control characters"));
    }
    Ok(v.to_owned())
}

/// Ids chosen by operators (warehouses): letters, digits, `-` and `_`, 1 to 32.
pub fn valid_code(field: &str, v: &str) -> Result<String, DomainError> {
    if v.is_empty() || v.len() > 32 || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(DomainError::invalid(field, "must be 1 to 32 letters, digits, '-' or '_'"));
    }
    Ok(v.to_owned())
}

impl ProductInput {
    pub fn validate(self) -> Result<ProductInput, DomainError> {
        Ok(ProductInput {
            title: text("title", &self.title, 1, 60)?,
            subtitle: text("subtitle", &self.subtitle, 0, 120)?,
            description: text("description", &self.description, 0, 5000)?,
            category: valid_category(&self.category)?,
            specs: validate_specs(&self.specs)?,
            tags: validate_tags(&self.tags)?,
        })
    }
}

fn valid_category(c: &str) -> Result<String, DomainError> {
    let c = text("category", c, 1, 32)?;
    if c.contains('#') {
        return Err(DomainError::invalid("category", "must not contain '#'"));
    }
    Ok(c)
}

impl ProductPatch {
    pub fn apply(self, p: &mut Product) -> Result<(), DomainError> {
        if let Some(t) = self.title {
            p.title = text("title", &t, 1, 60)?;
        }
        if let Some(t) = self.subtitle {
            p.subtitle = text("subtitle", &t, 0, 120)?;
        }
        if let Some(t) = self.description {
            p.description = text("description", &t, 0, 5000)?;
        }
        if let Some(c) = self.category {
            p.category = valid_category(&c)?;
        }
        if let Some(specs) = self.specs {
            p.specs = validate_specs(&specs)?;
        }
        if let Some(tags) = self.tags {
            p.tags = validate_tags(&tags)?;
        }
        Ok(())
    }
}

const MAX_COMPONENTS: usize = 20;
const MAX_COMPONENT_QTY: u32 = 99;

/// Checks a SKU's own fields; `component_kinds` gives the kind of every component SKU that
/// exists (the caller reads them), so a bundle of unknown or non-main SKUs is refused.
pub fn validate_sku(input: &SkuInput, component_kinds: &HashMap<SkuId, SkuKind>) -> Result<(), DomainError> {
    text("name", &input.name, 1, 60)?;
    check_price(input.kind, input.price_fen)?;
    match input.kind {
        SkuKind::Bundle => {
            if input.components.len() < 2 || input.components.len() > MAX_COMPONENTS {
                return Err(DomainError::invalid(
                    "components",
                    format!("a bundle is made of 2 to {MAX_COMPONENTS} SKUs"),
                ));
            }
            let mut seen = std::collections::HashSet::new();
            for c in &input.components {
                if !seen.insert(&c.sku_id) {
                    return Err(DomainError::invalid("components", format!("SKU {} listed twice", c.sku_id)));
                }
                if c.quantity == 0 || c.quantity > MAX_COMPONENT_QTY {
                    return Err(DomainError::invalid(
                        "components",
                        format!("quantity of {} must be 1 to {MAX_COMPONENT_QTY}", c.sku_id),
                    ));
                }
                match component_kinds.get(&c.sku_id) {
                    None => {
                        return Err(DomainError::invalid("components", format!("SKU {} does not exist", c.sku_id)));
                    }
                    Some(SkuKind::Main) => {}
                    Some(k) => {
                        return Err(DomainError::invalid(
                            "components",
                            format!("SKU {} is a {} SKU; bundles are made of main SKUs", c.sku_id, k.as_str()),
                        ));
                    }
                }
            }
        }
        _ if !input.components.is_empty() => {
            return Err(DomainError::invalid("components", "only a bundle has components"));
        }
        _ => {}
    }
    Ok(())
}

pub fn check_price(kind: SkuKind, price_fen: i64) -> Result<(), DomainError> {
    match kind {
        SkuKind::Gift if price_fen != 0 => Err(DomainError::invalid("price_fen", "a gift SKU is priced 0")),
        SkuKind::Main | SkuKind::Bundle if price_fen <= 0 => {
            Err(DomainError::invalid("price_fen", "must be a positive number of fen"))
        }
        _ if price_fen > SINGLE_PAYMENT_LIMIT.fen() => Err(DomainError::invalid(
            "price_fen",
            format!("must not exceed the single-payment limit of {} yuan", SINGLE_PAYMENT_LIMIT),
        )),
        _ => Ok(()),
    }
}

impl SkuPatch {
    pub fn apply(self, s: &mut Sku) -> Result<(), DomainError> {
        if let Some(n) = self.name {
            s.name = text("name", &n, 1, 60)?;
        }
        if let Some(p) = self.price_fen {
            check_price(s.kind, p)?;
            s.price = Fen::new(p);
        }
        if let Some(d) = self.daily_sales {
            s.daily_sales = d;
        }
        if let Some(d) = self.replenish_days {
            s.replenish_days = d;
        }
        Ok(())
    }
}

// ---- rules ------------------------------------------------------------------------------

/// Units a SKU can sell now. `own_stock` maps a SKU id to the sum of its stock counters; a
/// bundle sells as many as its scarcest component allows.
pub fn availability(sku: &Sku, own_stock: &HashMap<SkuId, i64>) -> i64 {
    match sku.kind {
        SkuKind::Bundle => sku
            .components
            .iter()
            .map(|c| own_stock.get(&c.sku_id).copied().unwrap_or(0).max(0) / i64::from(c.quantity.max(1)))
            .min()
            .unwrap_or(0),
        _ => own_stock.get(&sku.id).copied().unwrap_or(0).max(0),
    }
}

/// The seed's rule: safety stock = average daily sales × replenishment days × 1.2, rounded
/// up to whole units (in integers: ×12 / 10, ceiling).
pub fn safety_stock(daily_sales: u32, replenish_days: u32) -> i64 {
    let base = i64::from(daily_sales) * i64::from(replenish_days) * 12;
    (base + 9) / 10
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sku(id: &str, kind: SkuKind, components: Vec<(&str, u32)>) -> Sku {
        Sku {
            id: crate::ids::id(id),
            product_id: crate::ids::id("P"),
            name: id.into(),
            kind,
            price: Fen::new(100),
            components: components
                .into_iter()
                .map(|(s, q)| Component { sku_id: crate::ids::id(s), quantity: q })
                .collect(),
            daily_sales: 0,
            replenish_days: 0,
            spec: vec![],
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn safety_stock_follows_the_seed() {
        assert_eq!(safety_stock(10, 7), 84); // 10 × 7 × 1.2
        assert_eq!(safety_stock(3, 5), 18);
        assert_eq!(safety_stock(1, 1), 2); // 1.2 rounds up
        assert_eq!(safety_stock(0, 30), 0);
    }

    #[test]
    fn bundle_availability_is_its_scarcest_component() {
        let b = sku("B", SkuKind::Bundle, vec![("A", 2), ("C", 1)]);
        let stock = HashMap::from([(crate::ids::id::<SkuId>("A"), 9), (crate::ids::id::<SkuId>("C"), 7)]);
        assert_eq!(availability(&b, &stock), 4);
        let stock = HashMap::from([(crate::ids::id::<SkuId>("A"), 9)]);
        assert_eq!(availability(&b, &stock), 0);
    }

    #[test]
    fn bundle_validation() {
        let kinds = HashMap::from([
            (crate::ids::id::<SkuId>("A"), SkuKind::Main),
            (crate::ids::id::<SkuId>("G"), SkuKind::Gift),
        ]);
        let mut input = SkuInput {
            name: "套装".into(),
            kind: SkuKind::Bundle,
            price_fen: 1000,
            components: vec![Component { sku_id: crate::ids::id("A"), quantity: 1 }],
            daily_sales: 0,
            replenish_days: 0,
            spec: vec![],
        };
        assert!(validate_sku(&input, &kinds).is_err(), "one component is not a bundle");
        input.components.push(Component { sku_id: crate::ids::id("G"), quantity: 1 });
        let e = validate_sku(&input, &kinds).unwrap_err();
        assert!(e.to_string().contains("gift"), "{e}");
        input.components[1].sku_id = crate::ids::id("X");
        assert!(validate_sku(&input, &kinds).unwrap_err().to_string().contains("does not exist"));
    }

    #[test]
    fn prices_by_kind() {
        assert!(check_price(SkuKind::Gift, 0).is_ok());
        assert!(check_price(SkuKind::Gift, 1).is_err());
        assert!(check_price(SkuKind::Main, 0).is_err());
        assert!(check_price(SkuKind::Main, SINGLE_PAYMENT_LIMIT.fen()).is_ok());
        assert!(check_price(SkuKind::Main, SINGLE_PAYMENT_LIMIT.fen() + 1).is_err());
    }

    #[test]
    fn media_keys_are_the_shops_own() {
        let k = media_key(UploadPurpose::Product, "0123456789abcdef0123456789abcdef", "image/png").unwrap();
        assert_eq!(k, "products/0123456789abcdef0123456789abcdef.png");
        assert!(is_media_key(&k, UploadPurpose::Product));
        assert!(!is_media_key(&k, UploadPurpose::Review));
        for forged in ["products/../secret.png", "products/x.png", "other/0123456789abcdef0123456789abcdef.png", ""] {
            assert!(!is_media_key(forged, UploadPurpose::Product), "{forged}");
        }
        assert!(media_key(UploadPurpose::Product, "0123456789abcdef0123456789abcdef", "text/html").is_err());
        assert!(check_upload("image/jpeg", MAX_IMAGE_BYTES).is_ok());
        assert!(check_upload("image/jpeg", MAX_IMAGE_BYTES + 1).is_err());
        assert!(check_upload("image/svg+xml", 10).is_err(), "SVG can carry script");
    }

    #[test]
    fn specs_and_combinations() {
        let specs = validate_specs(&[
            SpecAttr { name: "颜色".into(), values: vec!["红".into(), "蓝".into()] },
            SpecAttr { name: "尺码".into(), values: vec!["M".into(), "L".into()] },
        ])
        .unwrap();
        assert!(check_spec(&specs, SkuKind::Main, &["红".into(), "L".into()]).is_ok());
        assert!(check_spec(&specs, SkuKind::Main, &["L".into(), "红".into()]).is_err(), "order matters");
        assert!(check_spec(&specs, SkuKind::Main, &["红".into()]).is_err());
        assert!(check_spec(&specs, SkuKind::Main, &[]).is_err(), "a main SKU of a specced product picks");
        assert!(check_spec(&specs, SkuKind::Gift, &[]).is_ok());
        assert!(check_spec(&[], SkuKind::Main, &[]).is_ok());
        let twice = [SpecAttr { name: "颜色".into(), values: vec!["红".into(), "红".into()] }];
        assert!(validate_specs(&twice).is_err());
        let media = Media { gallery: vec!["products/x.png".into()], ..Media::default() };
        assert!(media.validate().is_err());
    }

    proptest! {
        #[test]
        fn safety_stock_is_never_below_the_exact_product(d in 0u32..100_000, r in 0u32..365) {
            let s = safety_stock(d, r);
            let exact_x10 = i64::from(d) * i64::from(r) * 12;
            prop_assert!(s * 10 >= exact_x10 && (s - 1) * 10 < exact_x10.max(1));
        }

        #[test]
        fn bundle_never_promises_more_than_components(a in 0i64..1000, c in 0i64..1000, qa in 1u32..10, qc in 1u32..10) {
            let b = sku("B", SkuKind::Bundle, vec![("A", qa), ("C", qc)]);
            let stock = HashMap::from([(crate::ids::id::<SkuId>("A"), a), (crate::ids::id::<SkuId>("C"), c)]);
            let n = availability(&b, &stock);
            prop_assert!(n * i64::from(qa) <= a && n * i64::from(qc) <= c);
            prop_assert!((n + 1) * i64::from(qa) > a || (n + 1) * i64::from(qc) > c);
        }
    }
}
