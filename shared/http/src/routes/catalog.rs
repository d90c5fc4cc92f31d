//! The `catalog` function: shoppers browse (`/products`). It only reads; operators manage
//! the catalog through the `admin` function.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::Service;
use crate::auth::page_limit;
use crate::request::path_id;
use crate::{Request, Response};
use app::AppError;
use app::catalog;
use domain::catalog::ProductStatus;
use domain::ids::ProductId;

pub fn handler<'a>(app: &'a Service, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

async fn handle(app: &Service, req: &Request) -> Result<Response, AppError> {
    let segs = req.segments();
    let m = req.method.as_str();
    let store = &app.store;
    match (m, segs.as_slice()) {
        // Open to everyone: a shopper from a share link or WeChat search sees products before
        // `wx.login` finishes; prices and stock are the same for everyone.
        ("GET", ["products"]) => {
            let page = catalog::list_products(
                store,
                ProductStatus::OnSale,
                req.query("category").filter(|c| !c.is_empty()),
                req.query("keyword").filter(|k| !k.is_empty()),
                page_limit(req)?,
                req.query("cursor").map(str::to_owned),
            )
            .await?;
            let items: Vec<_> = page.items.into_iter().map(|p| catalog::ProductCard::of(app, p)).collect();
            Response::ok(&serde_json::json!({ "items": items, "next": page.next }))
        }
        ("GET", ["products", id]) => {
            let view = catalog::product_view(app, &path_id::<ProductId>(id, "product")?, false).await?;
            Response::ok(&view.shopper(app))
        }
        _ => Err(AppError::no_route(m, &req.path)),
    }
}
