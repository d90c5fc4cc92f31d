//! The `catalog` function: shoppers browse (`/products`), operators manage products, SKUs,
//! warehouses and stock (`/admin/...`).

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{operator, page_limit};
use crate::{Request, Response};
use app::App;
use app::AppError;
use app::catalog;
use domain::catalog::{ProductInput, ProductPatch, ProductStatus, SkuInput, SkuPatch, Warehouse};

pub fn handler<'a>(app: &'a App, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

async fn handle(app: &App, req: &Request) -> Result<Response, AppError> {
    let segs = req.segments();
    let m = req.method.as_str();
    if segs.first() == Some(&"admin") {
        return admin(app, req, m, &segs[1..]).await;
    }
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
            Response::ok(&page)
        }
        ("GET", ["products", id]) => Response::ok(&catalog::product_view(store, id, false).await?),
        _ => Err(AppError::no_route(m, &req.path)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Adjust {
    sku_id: String,
    warehouse_id: String,
    delta: i64,
    #[serde(default)]
    shard: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WarehouseBody {
    name: String,
    region: String,
}

fn status_param(req: &Request) -> Result<ProductStatus, AppError> {
    match req.query("status") {
        None | Some("on_sale") => Ok(ProductStatus::OnSale),
        Some("draft") => Ok(ProductStatus::Draft),
        Some("off_sale") => Ok(ProductStatus::OffSale),
        Some(_) => Err(AppError::field("status", "must be draft, on_sale or off_sale")),
    }
}

async fn admin(app: &App, req: &Request, m: &str, segs: &[&str]) -> Result<Response, AppError> {
    let known = matches!(segs.first(), Some(&("products" | "skus" | "warehouses" | "stock" | "safety-stock")));
    if !known {
        return Err(AppError::no_route(m, &req.path));
    }
    operator(app, req)?;
    let store = &app.store;
    match (m, segs) {
        ("GET", ["products"]) => Response::ok(
            &catalog::list_products(
                store,
                status_param(req)?,
                req.query("category").filter(|c| !c.is_empty()),
                req.query("keyword").filter(|k| !k.is_empty()),
                page_limit(req)?,
                req.query("cursor").map(str::to_owned),
            )
            .await?,
        ),
        ("POST", ["products"]) => {
            Response::json(201, &catalog::create_product(store, req.json::<ProductInput>()?).await?)
        }
        ("GET", ["products", id]) => Response::ok(&catalog::product_view(store, id, true).await?),
        ("PATCH", ["products", id]) => {
            Response::ok(&catalog::update_product(store, id, req.json::<ProductPatch>()?).await?)
        }
        ("POST", ["products", id, "publish"]) => {
            Response::ok(&catalog::set_status(store, id, ProductStatus::OnSale).await?)
        }
        ("POST", ["products", id, "unpublish"]) => {
            Response::ok(&catalog::set_status(store, id, ProductStatus::OffSale).await?)
        }
        ("POST", ["products", id, "skus"]) => {
            Response::json(201, &catalog::add_sku(store, id, req.json::<SkuInput>()?).await?)
        }
        ("PATCH", ["skus", id]) => Response::ok(&catalog::update_sku(store, id, req.json::<SkuPatch>()?).await?),
        ("GET", ["skus", id, "stock"]) => {
            catalog::get_sku(store, id).await?;
            Response::ok(&json!({ "sku_id": id, "stock": catalog::stock_levels(store, id).await? }))
        }
        ("GET", ["warehouses"]) => Response::ok(&json!({ "items": catalog::warehouses(store).await? })),
        ("PUT", ["warehouses", id]) => {
            let b: WarehouseBody = req.json()?;
            let w = Warehouse { id: (*id).to_owned(), name: b.name, region: b.region };
            Response::ok(&catalog::put_warehouse(store, w).await?)
        }
        ("POST", ["stock", "adjust"]) => {
            let a: Adjust = req.json()?;
            let available = catalog::adjust_stock(store, &a.sku_id, &a.warehouse_id, a.delta, a.shard).await?;
            Response::ok(&json!({
                "sku_id": a.sku_id, "warehouse_id": a.warehouse_id, "shard": a.shard, "available": available,
            }))
        }
        ("GET", ["safety-stock"]) => Response::ok(&json!({ "items": catalog::safety_stock_report(store).await? })),
        _ => Err(AppError::no_route(m, &req.path)),
    }
}
