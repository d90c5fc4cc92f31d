//! The `refund` function: shoppers request refunds and returns of goods; operators approve,
//! refuse or refund directly, and take returns from approval to restock.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::json;

use crate::Service;
use crate::auth::{operator, page_limit, shopper};
use crate::request::path_id;
use crate::{Request, Response};
use app::refunds::{self, RefundInput, RefundState, Requester};
use app::returns::{self, Approval as ReturnApproval, Parcel, ReturnInput};
use app::workflows::return_goods;
use app::{AppError, lookup};
use domain::ids::{OrderNo, OutRefundNo};
use domain::operator::Permission;
use domain::returns::ReturnState;

pub fn handler<'a>(app: &'a Service, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

async fn handle(app: &Service, req: &Request) -> Result<Response, AppError> {
    match (req.method.as_str(), req.segments().as_slice()) {
        ("POST", ["orders", no, "refunds"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            let r = refunds::create(app, no, Requester::Shopper(&openid), req.json::<RefundInput>()?).await?;
            Response::json(202, &r.shopper_view())
        }
        ("GET", ["orders", no, "refunds"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            lookup::own_order(app.store.as_ref(), &openid, no).await?;
            let items = refunds::of_order(&app.store, no).await?;
            Response::ok(&json!({ "items": items.iter().map(|r| r.shopper_view()).collect::<Vec<_>>() }))
        }
        ("GET", ["admin", "refunds"]) => {
            operator(app, req, Permission::Read).await?;
            let state = match req.query("state") {
                None => RefundState::Requested,
                Some(s) => RefundState::parse(s).ok_or_else(|| {
                    AppError::field(
                        "state",
                        "must be requested, processing, success, closed, abnormal, failed or refused",
                    )
                })?,
            };
            let (items, next) =
                refunds::with_state(&app.store, state, page_limit(req)?, req.query("cursor").map(str::to_owned))
                    .await?;
            Response::ok(&json!({ "items": items, "next": next }))
        }
        ("POST", ["admin", "orders", no, "refunds"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let by = operator(app, req, Permission::Refund).await?;
            let r = refunds::create(app, no, Requester::Operator(&by), req.json::<RefundInput>()?).await?;
            Response::json(202, &r)
        }
        ("POST", ["admin", "refunds", no, out_refund_no, "approve"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let out_refund_no = &path_id::<OutRefundNo>(out_refund_no, "refund")?;
            let by = operator(app, req, Permission::Refund).await?;
            let r = refunds::approve(app, &by, no, out_refund_no).await?;
            Response::ok(&r)
        }
        ("POST", ["admin", "refunds", no, out_refund_no, "refuse"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let out_refund_no = &path_id::<OutRefundNo>(out_refund_no, "refund")?;
            let by = operator(app, req, Permission::Refund).await?;
            let r = refunds::refuse(app, &by, no, out_refund_no).await?;
            Response::ok(&r)
        }
        ("POST", ["orders", no, "returns"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            Response::json(201, &returns::request(app, &openid, no, req.json::<ReturnInput>()?).await?.shopper_view())
        }
        ("GET", ["orders", no, "returns"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            let items = returns::of_order(app, &openid, no).await?;
            Response::ok(&json!({ "items": items.iter().map(|r| r.shopper_view()).collect::<Vec<_>>() }))
        }
        ("POST", ["orders", no, "returns", id, "parcel"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            Response::ok(&returns::send(app, &openid, no, id, req.json::<Parcel>()?).await?.shopper_view())
        }
        ("GET", ["admin", "returns"]) => {
            operator(app, req, Permission::Read).await?;
            let state = match req.query("state") {
                None => ReturnState::Requested,
                Some(s) => ReturnState::parse(s).ok_or_else(|| {
                    AppError::field(
                        "state",
                        "must be requested, approved, refused, sent, lapsed, received or restocked",
                    )
                })?,
            };
            let (items, next) =
                returns::in_state(app, state, page_limit(req)?, req.query("cursor").map(str::to_owned)).await?;
            Response::ok(&json!({ "items": items, "next": next }))
        }
        ("POST", ["admin", "returns", no, id, action]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            match *action {
                "approve" => {
                    operator(app, req, Permission::Manage).await?;
                    Response::ok(&returns::approve(app, no, id, req.json::<ReturnApproval>()?).await?)
                }
                "refuse" => {
                    operator(app, req, Permission::Manage).await?;
                    Response::ok(&returns::refuse(app, no, id).await?)
                }
                "received" => {
                    let by = operator(app, req, Permission::Refund).await?;
                    Response::ok(&return_goods::received(app, &by, no, id).await?)
                }
                "sellable" => {
                    operator(app, req, Permission::Manage).await?;
                    Response::ok(&returns::sellable(app, no, id).await?)
                }
                _ => Err(AppError::no_route(&req.method, &req.path)),
            }
        }
        _ => Err(AppError::no_route(&req.method, &req.path)),
    }
}
