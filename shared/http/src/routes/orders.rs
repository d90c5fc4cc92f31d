//! The `orders` function: shoppers place, pay, cancel, read and confirm receipt of orders;
//! operators search orders, ship sub-orders, note deliveries and see the cases that need a
//! person.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::json;

use crate::auth::{operator, page_limit, shopper};
use crate::request::path_id;
use crate::{Request, Response};
use app::App;
use app::AppError;
use app::cases;
use app::fulfilment::{self, ShipInput};
use app::ordering::{self as orders, PlaceOrder};
use app::refunds;
use domain::ids::OrderNo;
use domain::operator::Permission;

pub fn handler<'a>(app: &'a App, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

/// `?state=`: an order phase (`paid` lists those waiting to ship).
fn state_param(req: &Request) -> Result<&str, AppError> {
    match req.query("state") {
        None => Ok("paid"),
        Some(s) if orders::PHASES.contains(&s) => Ok(s),
        Some(_) => Err(AppError::field("state", format!("must be one of {}", orders::PHASES.join(", ")))),
    }
}

async fn handle(app: &App, req: &Request) -> Result<Response, AppError> {
    let segs = req.segments();
    let cursor = || req.query("cursor").map(str::to_owned);
    match (req.method.as_str(), segs.as_slice()) {
        ("POST", ["orders"]) => {
            let openid = shopper(app, req).await?;
            let (order, created) = orders::place(app, &openid, req.json::<PlaceOrder>()?).await?;
            Response::json(if created { 201 } else { 200 }, &order)
        }
        ("GET", ["orders"]) => {
            let openid = shopper(app, req).await?;
            Response::ok(&orders::list_mine(&app.store, &openid, page_limit(req)?, cursor()).await?)
        }
        ("GET", ["orders", no]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            // Refunds first: a refund's completion and the order's totals commit together, so
            // an order read after its refunds never shows less than they do.
            let refunds = refunds::of_order(&app.store, no).await?;
            let order = orders::get_own(&app.store, &openid, no).await?;
            Response::ok(&json!({ "order": order, "refunds": refunds }))
        }
        ("POST", ["orders", no, "pay"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            Response::ok(&orders::pay(app, &openid, no).await?)
        }
        ("POST", ["orders", no, "cancel"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            Response::ok(&orders::cancel(app, &openid, no).await?)
        }
        ("GET", ["admin", "orders"]) => {
            operator(app, req, Permission::Read).await?;
            Response::ok(&orders::search(&app.store, state_param(req)?, page_limit(req)?, cursor()).await?)
        }
        ("GET", ["admin", "orders", no]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            operator(app, req, Permission::Read).await?;
            let refunds = refunds::of_order(&app.store, no).await?;
            let order = orders::get(&app.store, no).await?;
            Response::ok(&json!({ "order": order, "refunds": refunds }))
        }
        ("POST", ["admin", "orders", no, "shipments", warehouse]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            operator(app, req, Permission::Manage).await?;
            Response::ok(&fulfilment::ship(app, no, warehouse, req.json::<ShipInput>()?).await?)
        }
        ("POST", ["admin", "orders", no, "delivered"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            operator(app, req, Permission::Manage).await?;
            Response::ok(&fulfilment::delivered(app, no).await?)
        }
        ("POST", ["orders", no, "receive"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            Response::ok(&fulfilment::confirm_received(app, &openid, no).await?)
        }
        ("GET", ["admin", "cases"]) => {
            operator(app, req, Permission::Read).await?;
            let (items, next) = cases::list(&app.store, page_limit(req)?, cursor()).await?;
            Response::ok(&json!({ "items": items, "next": next }))
        }
        _ => Err(AppError::no_route(&req.method, &req.path)),
    }
}
