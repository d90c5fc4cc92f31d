//! Records several contexts read and none of them owns alone here: an order, a shopper, a SKU
//! and its stock, a product, a shopper's coupon. Reads only; each missing one is `NOT_FOUND`.

use domain::catalog::{Product, Sku, StockLevel};
use domain::coupon::UserCoupon;
use domain::ids::{CouponId, OpenId, OrderNo, ProductId, SkuId};
use domain::order::Order;
use domain::user::User;
use store::{Store, repo};

use crate::error::AppError;

pub async fn order(store: &dyn Store, order_no: &OrderNo) -> Result<Order, AppError> {
    repo::orders::get(store, order_no).await?.ok_or_else(|| AppError::not_found("order"))
}

/// The shopper's own order; someone else's is "not found", never "forbidden".
pub async fn own_order(store: &dyn Store, openid: &OpenId, order_no: &OrderNo) -> Result<Order, AppError> {
    let o = order(store, order_no).await?;
    if o.openid() != openid {
        return Err(AppError::not_found("order"));
    }
    Ok(o)
}

pub async fn user(store: &dyn Store, openid: &OpenId) -> Result<User, AppError> {
    repo::users::get(store, openid).await?.ok_or_else(|| AppError::not_found("user"))
}

pub async fn product(store: &dyn Store, id: &ProductId) -> Result<Product, AppError> {
    repo::catalog::product(store, id).await?.ok_or_else(|| AppError::not_found("product"))
}

pub async fn sku(store: &dyn Store, id: &SkuId) -> Result<Sku, AppError> {
    repo::catalog::sku(store, id).await?.ok_or_else(|| AppError::not_found("SKU"))
}

/// All SKUs of a product, read through the product's index.
pub async fn skus_of(store: &dyn Store, product_id: &ProductId) -> Result<Vec<Sku>, AppError> {
    Ok(repo::catalog::skus_of(store, product_id).await?)
}

/// A SKU's stock counters, strongly consistent (read from the SKU's own partition).
pub async fn stock_levels(store: &dyn Store, sku_id: &SkuId) -> Result<Vec<StockLevel>, AppError> {
    Ok(repo::catalog::stock_levels(store, sku_id).await?)
}

/// Units of a SKU's own stock over every counter.
pub async fn available(store: &dyn Store, sku_id: &SkuId) -> Result<i64, AppError> {
    Ok(stock_levels(store, sku_id).await?.iter().map(|l| l.available).sum())
}

pub async fn user_coupon(store: &dyn Store, openid: &OpenId, coupon_id: &CouponId) -> Result<UserCoupon, AppError> {
    repo::coupons::held(store, openid, coupon_id).await?.ok_or_else(|| AppError::not_found("coupon"))
}
