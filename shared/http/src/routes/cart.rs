//! The `cart` function.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde::Deserialize;

use crate::Service;
use crate::auth::shopper;
use crate::request::path_id;
use crate::{Request, Response};
use app::AppError;
use app::cart;
use domain::ids::SkuId;

pub fn handler<'a>(app: &'a Service, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Quantity {
    quantity: i64,
}

async fn handle(app: &Service, req: &Request) -> Result<Response, AppError> {
    match (req.method.as_str(), req.segments().as_slice()) {
        ("GET", ["cart"]) => {
            let openid = shopper(app, req).await?;
            Response::ok(&cart::view(&app.store, &openid).await?)
        }
        ("PUT", ["cart", sku]) => {
            let openid = shopper(app, req).await?;
            let q: Quantity = req.json()?;
            let sku = path_id::<SkuId>(sku, "SKU")?;
            Response::ok(&cart::set(&app.store, &openid, &sku, q.quantity).await?)
        }
        ("DELETE", ["cart", sku]) => {
            let openid = shopper(app, req).await?;
            let sku = path_id::<SkuId>(sku, "SKU")?;
            Response::ok(&cart::set(&app.store, &openid, &sku, 0).await?)
        }
        _ => Err(AppError::no_route(&req.method, &req.path)),
    }
}
