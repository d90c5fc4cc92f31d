//! The `catalog` function: shoppers search and browse (`/products`) and read a product. It
//! only reads; operators manage the catalog through the `admin` function.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::Service;
use crate::auth::page_limit;
use crate::request::path_id;
use crate::{Request, Response};
use app::AppError;
use app::catalog;
use app::search::{self, index::Filters, index::Sort};
use domain::ids::ProductId;

pub fn handler<'a>(app: &'a Service, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

async fn handle(app: &Service, req: &Request) -> Result<Response, AppError> {
    let segs = req.segments();
    let m = req.method.as_str();
    match (m, segs.as_slice()) {
        // Open to everyone: a shopper from a share link or WeChat search sees products before
        // `wx.login` finishes; prices and stock are the same for everyone.
        ("GET", ["products"]) => Response::ok(&search::search(app, &search_query(req)?).await?),
        ("GET", ["products", id]) => {
            let view = catalog::product_view(app, &path_id::<ProductId>(id, "product")?, false).await?;
            Response::ok(&view.shopper(app))
        }
        ("GET", ["products", id, "reviews"]) => {
            let id = path_id::<ProductId>(id, "product")?;
            let cursor = req.query("cursor").filter(|c| !c.is_empty()).map(str::to_owned);
            Response::ok(&catalog::reviews::published(app, &id, page_limit(req)?, cursor).await?)
        }
        _ => Err(AppError::no_route(m, &req.path)),
    }
}

/// `q`, `category`, `price_min` and `price_max` (fen), `in_stock=1`, `sort`, `limit`, `cursor`.
fn search_query(req: &Request) -> Result<search::Query, AppError> {
    let fen = |k: &str| match req.query(k).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| AppError::field(k, "must be a whole number of fen")),
    };
    let sort = match req.query("sort").filter(|v| !v.is_empty()) {
        None => None,
        Some("relevance") => Some(Sort::Relevance),
        Some("sales") => Some(Sort::Sales),
        Some("price_asc") => Some(Sort::PriceAsc),
        Some("price_desc") => Some(Sort::PriceDesc),
        Some("newest") => Some(Sort::Newest),
        Some(_) => return Err(AppError::field("sort", "must be relevance, sales, price_asc, price_desc or newest")),
    };
    let in_stock = match req.query("in_stock") {
        None | Some("" | "0" | "false") => false,
        Some("1" | "true") => true,
        Some(_) => return Err(AppError::field("in_stock", "must be 1 or 0")),
    };
    Ok(search::Query {
        // `keyword` is the name the first list took.
        q: req.query("q").or_else(|| req.query("keyword")).unwrap_or("").to_owned(),
        filters: Filters {
            category: req.query("category").filter(|c| !c.is_empty()).map(str::to_owned),
            price_min: fen("price_min")?,
            price_max: fen("price_max")?,
            in_stock,
        },
        sort,
        limit: page_limit(req)?,
        cursor: req.query("cursor").filter(|c| !c.is_empty()).map(str::to_owned),
    })
}
