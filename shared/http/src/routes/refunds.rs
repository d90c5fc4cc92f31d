//! The `refund` function: shoppers request refunds, operators approve, refuse or refund
//! directly.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::json;

use crate::auth::{operator, page_limit, shopper};
use crate::request::path_id;
use crate::{Request, Response};
use app::App;
use app::AppError;
use app::refunds::{self, Actor, RefundInput, RefundState};
use domain::ids::{OrderNo, OutRefundNo};

pub fn handler<'a>(app: &'a App, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

async fn handle(app: &App, req: &Request) -> Result<Response, AppError> {
    match (req.method.as_str(), req.segments().as_slice()) {
        ("POST", ["orders", no, "refunds"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            let r = refunds::create(app, no, Some(&openid), req.json::<RefundInput>()?, Actor::Shopper).await?;
            Response::json(202, &r)
        }
        ("GET", ["orders", no, "refunds"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            app::ordering::get_own(&app.store, &openid, no).await?;
            Response::ok(&json!({ "items": refunds::of_order(&app.store, no).await? }))
        }
        ("GET", ["admin", "refunds"]) => {
            operator(app, req)?;
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
            operator(app, req)?;
            Response::json(202, &refunds::create(app, no, None, req.json::<RefundInput>()?, Actor::Operator).await?)
        }
        ("POST", ["admin", "refunds", no, out_refund_no, "approve"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let out_refund_no = &path_id::<OutRefundNo>(out_refund_no, "refund")?;
            operator(app, req)?;
            Response::ok(&refunds::approve(app, no, out_refund_no).await?)
        }
        ("POST", ["admin", "refunds", no, out_refund_no, "refuse"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let out_refund_no = &path_id::<OutRefundNo>(out_refund_no, "refund")?;
            operator(app, req)?;
            Response::ok(&refunds::refuse(app, no, out_refund_no).await?)
        }
        _ => Err(AppError::no_route(&req.method, &req.path)),
    }
}
