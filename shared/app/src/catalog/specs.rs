//! The table a spec picker reads: each attribute's values, and for each combination that
//! exists, its SKU, price and whether it sells now.

use serde::Serialize;

use super::SkuView;
use domain::catalog::{Product, SkuKind};
use domain::ids::SkuId;
use domain::money::Fen;

#[derive(Debug, Serialize)]
pub struct SpecTable {
    pub attributes: Vec<SpecAttribute>,
    pub combinations: Vec<Combination>,
}

#[derive(Debug, Serialize)]
pub struct SpecAttribute {
    pub name: String,
    pub values: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Combination {
    /// One value of each attribute, in the attributes' order.
    pub values: Vec<String>,
    pub sku_id: SkuId,
    pub price: Fen,
    pub available: i64,
    pub in_stock: bool,
    /// The SKU's own image, when it has one shoppers may see.
    pub image: Option<String>,
}

/// The product's table, or `None` when its SKUs are not picked by attributes.
pub fn table(product: &Product, skus: &[SkuView], image_url: impl Fn(&str) -> Option<String>) -> Option<SpecTable> {
    if product.specs.is_empty() {
        return None;
    }
    let attributes =
        product.specs.iter().map(|a| SpecAttribute { name: a.name.clone(), values: a.values.clone() }).collect();
    let mut combinations: Vec<Combination> = skus
        .iter()
        .filter(|v| v.sku.kind != SkuKind::Gift && v.sku.spec.len() == product.specs.len())
        .map(|v| Combination {
            values: v.sku.spec.clone(),
            sku_id: v.sku.id.clone(),
            price: v.sku.price,
            available: v.available,
            in_stock: v.purchasable,
            image: product.media.sku_images.get(&v.sku.id).and_then(|k| image_url(k)),
        })
        .collect();
    // In the picker's order: by each value's place in its attribute.
    let place = |values: &[String]| -> Vec<usize> {
        product
            .specs
            .iter()
            .zip(values)
            .map(|(a, v)| a.values.iter().position(|x| x == v).unwrap_or(usize::MAX))
            .collect()
    };
    combinations.sort_by_key(|c| place(&c.values));
    Some(SpecTable { attributes, combinations })
}
