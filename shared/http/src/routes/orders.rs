//! The `orders` function: shoppers place, pay, cancel, read and confirm receipt of orders;
//! operators search orders, ship sub-orders, note deliveries and see the cases that need a
//! person.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::json;

use crate::Service;
use crate::auth::{operator, page_limit, read_personal, shopper};
use crate::request::path_id;
use crate::{Request, Response};
use app::fulfilment::{self, ShipInput};
use app::ordering::{self as orders, OrderPage, PlaceOrder};
use app::workflows::{close_order, pay_order, place_order};
use app::{AppError, cases, lookup, refunds};
use domain::ids::{OrderNo, WarehouseId};
use domain::operator::{Permission, Role};
use domain::order::Phase;

pub fn handler<'a>(app: &'a Service, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

/// `?state=`: an order phase (`paid` lists those waiting to ship).
fn state_param(req: &Request) -> Result<Phase, AppError> {
    match req.query("state") {
        None => Ok(Phase::Paid),
        Some(s) => Phase::parse(s).ok_or_else(|| {
            let all: Vec<&str> = Phase::ALL.iter().map(|p| p.as_str()).collect();
            AppError::field("state", format!("must be one of {}", all.join(", ")))
        }),
    }
}

/// A page of orders as their shopper reads them.
fn shopper_page(p: &OrderPage) -> serde_json::Value {
    let items: Vec<_> = p.items.iter().map(|o| o.shopper_view()).collect();
    json!({ "items": items, "next": p.next })
}

/// A page of orders as operators list them: where each goes, not who lives there.
fn operator_page(p: &OrderPage) -> serde_json::Value {
    let items: Vec<_> = p.items.iter().map(|o| o.view_masked()).collect();
    json!({ "items": items, "next": p.next })
}

/// An order's refunds as its shopper reads them.
fn shopper_refunds(r: &[domain::refund::RefundRecord]) -> Vec<domain::refund::ShopperRefundView<'_>> {
    r.iter().map(|r| r.shopper_view()).collect()
}

async fn handle(app: &Service, req: &Request) -> Result<Response, AppError> {
    let segs = req.segments();
    let cursor = || req.query("cursor").map(str::to_owned);
    match (req.method.as_str(), segs.as_slice()) {
        ("POST", ["orders"]) => {
            let openid = shopper(app, req).await?;
            let (order, created) = place_order::place_order(app, &openid, req.json::<PlaceOrder>()?).await?;
            Response::json(if created { 201 } else { 200 }, &order.shopper_view())
        }
        ("GET", ["orders"]) => {
            let openid = shopper(app, req).await?;
            Response::ok(&shopper_page(&orders::list_mine(app, &openid, page_limit(req)?, cursor()).await?))
        }
        ("GET", ["orders", no]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            // Refunds first: a refund's completion and the order's totals commit together, so
            // an order read after its refunds never shows less than they do.
            let refunds = refunds::of_order(&app.store, no).await?;
            let order = lookup::own_order(app.store.as_ref(), &openid, no).await?;
            Response::ok(&json!({ "order": order.shopper_view(), "refunds": shopper_refunds(&refunds) }))
        }
        ("POST", ["orders", no, "pay"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            Response::ok(&pay_order::start_payment(app, &openid, no).await?)
        }
        ("POST", ["orders", no, "cancel"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            Response::ok(&close_order::cancel(app, &openid, no).await?.shopper_view())
        }
        ("GET", ["admin", "orders"]) => {
            operator(app, req, Permission::Read).await?;
            Response::ok(&operator_page(&orders::search(app, state_param(req)?, page_limit(req)?, cursor()).await?))
        }
        ("GET", ["admin", "orders", no]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let by = operator(app, req, Permission::Read).await?;
            let refunds = refunds::of_order(&app.store, no).await?;
            let order = lookup::order(app.store.as_ref(), no).await?;
            // A viewer reads where an order goes, not who lives there; whoever reads the
            // address is on the audit trail first.
            let view = if by.role == Role::Viewer {
                order.view_masked()
            } else {
                read_personal(app, &by, "order", no.as_str()).await?;
                order.view()
            };
            Response::ok(&json!({ "order": view, "refunds": refunds }))
        }
        ("POST", ["admin", "orders", no, "shipments", warehouse]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            operator(app, req, Permission::Manage).await?;
            let warehouse = &path_id::<WarehouseId>(warehouse, "sub-order")?;
            Response::ok(&fulfilment::ship(app, no, warehouse, req.json::<ShipInput>()?).await?.view())
        }
        ("PUT", ["admin", "orders", no, "shipments", warehouse]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            operator(app, req, Permission::Manage).await?;
            let warehouse = &path_id::<WarehouseId>(warehouse, "sub-order")?;
            Response::ok(&fulfilment::correct_shipment(app, no, warehouse, req.json::<ShipInput>()?).await?.view())
        }
        ("POST", ["admin", "orders", no, "delivered"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            operator(app, req, Permission::Manage).await?;
            Response::ok(&fulfilment::delivered(app, no).await?.view())
        }
        ("POST", ["orders", no, "receive"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            Response::ok(&fulfilment::confirm_received(app, &openid, no).await?.shopper_view())
        }
        ("GET", ["admin", "cases"]) => {
            operator(app, req, Permission::Read).await?;
            let (items, next) = cases::list(&app.store, page_limit(req)?, cursor()).await?;
            Response::ok(&json!({ "items": items, "next": next }))
        }
        _ => Err(AppError::no_route(&req.method, &req.path)),
    }
}
