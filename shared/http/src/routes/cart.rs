//! The `cart` function.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde::Deserialize;

use crate::auth::shopper;
use crate::{Request, Response};
use app::App;
use app::AppError;
use app::cart;

pub fn handler<'a>(app: &'a App, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Quantity {
    quantity: i64,
}

async fn handle(app: &App, req: &Request) -> Result<Response, AppError> {
    match (req.method.as_str(), req.segments().as_slice()) {
        ("GET", ["cart"]) => {
            let openid = shopper(app, req).await?;
            Response::ok(&cart::view(&app.store, &openid).await?)
        }
        ("PUT", ["cart", sku]) => {
            let openid = shopper(app, req).await?;
            let q: Quantity = req.json()?;
            Response::ok(&cart::set(&app.store, &openid, sku, q.quantity).await?)
        }
        ("DELETE", ["cart", sku]) => {
            let openid = shopper(app, req).await?;
            Response::ok(&cart::set(&app.store, &openid, sku, 0).await?)
        }
        _ => Err(AppError::no_route(&req.method, &req.path)),
    }
}
