//! The shopper's cart: SKUs and quantities, shown with today's prices and availability.

use std::collections::HashMap;

use serde::Serialize;

use crate::error::AppError;
use crate::lookup;
use domain::DomainError;
use domain::catalog::{ProductStatus, SkuKind, availability};
use domain::clock;
use domain::ids::{OpenId, SkuId};
use domain::money::Fen;
use domain::order::MAX_QUANTITY;
use store::{SharedStore, repo};

const MAX_CART_LINES: usize = 50;

#[derive(Debug, Serialize)]
pub struct CartLine {
    pub sku_id: SkuId,
    pub quantity: i64,
    pub name: String,
    pub unit_price: Option<Fen>,
    pub available: i64,
    /// False when the SKU is off sale, gone, or short of the quantity.
    pub purchasable: bool,
}

#[derive(Debug, Serialize)]
pub struct Cart {
    pub lines: Vec<CartLine>,
    pub total: Fen,
}

pub async fn set(store: &SharedStore, openid: &OpenId, sku_id: &SkuId, quantity: i64) -> Result<Cart, AppError> {
    if !(0..=MAX_QUANTITY).contains(&quantity) {
        return Err(AppError::field("quantity", format!("must be 0 to {MAX_QUANTITY} (0 removes)")));
    }
    if quantity == 0 {
        repo::cart::remove(store.as_ref(), openid, sku_id).await?;
        return view(store, openid).await;
    }
    let sku = lookup::sku(store.as_ref(), sku_id).await?;
    if sku.kind == SkuKind::Gift {
        return Err(AppError::field("sku_id", "gifts come with orders and cannot be added"));
    }
    let count = repo::cart::entries(store.as_ref(), openid, MAX_CART_LINES + 1).await?.len();
    if count >= MAX_CART_LINES && !repo::cart::has(store.as_ref(), openid, sku_id).await? {
        return Err(AppError::field("sku_id", format!("a cart holds at most {MAX_CART_LINES} SKUs")));
    }
    let entry = repo::cart::CartEntry { sku_id: sku_id.clone(), quantity, added_at: clock::now() };
    repo::cart::put(store.as_ref(), openid, &entry).await?;
    view(store, openid).await
}

pub async fn view(store: &SharedStore, openid: &OpenId) -> Result<Cart, AppError> {
    let entries = repo::cart::entries(store.as_ref(), openid, MAX_CART_LINES).await?;
    let mut lines = Vec::new();
    let mut total = Fen::ZERO;
    for repo::cart::CartEntry { sku_id, quantity, .. } in entries {
        let Ok(sku) = lookup::sku(store.as_ref(), &sku_id).await else {
            lines.push(CartLine {
                sku_id,
                quantity,
                name: String::new(),
                unit_price: None,
                available: 0,
                purchasable: false,
            });
            continue;
        };
        let on_sale = lookup::product(store.as_ref(), &sku.product_id)
            .await
            .map(|p| p.status == ProductStatus::OnSale)
            .unwrap_or(false);
        let mut own = HashMap::new();
        let ids: Vec<SkuId> = if sku.kind.has_own_stock() {
            vec![sku.id.clone()]
        } else {
            sku.components.iter().map(|c| c.sku_id.clone()).collect()
        };
        for id in ids {
            let n = lookup::available(store.as_ref(), &id).await?;
            own.insert(id, n);
        }
        let available = availability(&sku, &own);
        let purchasable = on_sale && available >= quantity;
        if purchasable {
            total =
                total.checked_add(domain::pricing::line_amount(sku.price, quantity)?).ok_or(DomainError::Overflow)?;
        }
        lines.push(CartLine { sku_id, quantity, name: sku.name, unit_price: Some(sku.price), available, purchasable });
    }
    Ok(Cart { lines, total })
}
