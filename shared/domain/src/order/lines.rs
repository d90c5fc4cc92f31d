//! What a shopper orders: the lines as priced, and the bounds on what one order may ask for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::SkuKind;
use crate::error::DomainError;
use crate::ids::{ProductId, Quantity, SkuId};
use crate::money::Fen;

/// Most distinct lines an order may carry (each can touch several counters, and one
/// transaction holds at most 100 writes).
pub const MAX_LINES: usize = 20;
pub const MAX_QUANTITY: i64 = 99;

/// One line as the shopper ordered it, at the listed price. What came off it is the order's
/// adjustments ([`super::Adjustment`]), kept per line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderLine {
    pub sku_id: SkuId,
    pub product_id: ProductId,
    pub name: String,
    pub kind: SkuKind,
    pub unit_price: Fen,
    pub quantity: i64,
    pub amount: Fen,
    /// For a bundle: the stock-bearing SKUs one unit is made of.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<(SkuId, i64)>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    pub sku_id: SkuId,
    pub quantity: Quantity,
}

/// Merges repeated SKUs and checks counts.
pub fn normalise_lines(items: &[LineInput]) -> Result<Vec<(SkuId, i64)>, DomainError> {
    if items.is_empty() {
        return Err(DomainError::invalid("items", "an order needs at least one item"));
    }
    let mut merged: BTreeMap<SkuId, i64> = BTreeMap::new();
    for it in items {
        // Both are parsed already; only the sum of repeated lines is left to check.
        let q = merged.entry(it.sku_id.clone()).or_insert(0);
        *q += it.quantity.get();
        if *q > MAX_QUANTITY {
            return Err(DomainError::invalid(
                "items",
                format!("quantity of {} must be 1 to {MAX_QUANTITY}", it.sku_id),
            ));
        }
    }
    if merged.len() > MAX_LINES {
        return Err(DomainError::invalid("items", format!("at most {MAX_LINES} different SKUs per order")));
    }
    Ok(merged.into_iter().collect())
}

/// The stock-bearing units a set of lines needs (bundles expanded into components).
pub fn demand(lines: &[OrderLine]) -> BTreeMap<SkuId, i64> {
    let mut d = BTreeMap::new();
    for l in lines {
        if l.components.is_empty() {
            *d.entry(l.sku_id.clone()).or_insert(0) += l.quantity;
        } else {
            for (c, n) in &l.components {
                *d.entry(c.clone()).or_insert(0) += n * l.quantity;
            }
        }
    }
    d
}
