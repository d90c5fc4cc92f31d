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
use app::refunds::{self, RefundInput, RefundState, Requester};
use domain::ids::{OrderNo, OutRefundNo};
use domain::operator::Permission;

pub fn handler<'a>(app: &'a App, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

async fn handle(app: &App, req: &Request) -> Result<Response, AppError> {
    match (req.method.as_str(), req.segments().as_slice()) {
        ("POST", ["orders", no, "refunds"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            let r = refunds::create(app, no, Requester::Shopper(&openid), req.json::<RefundInput>()?).await?;
            Response::json(202, &r)
        }
        ("GET", ["orders", no, "refunds"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            app::ordering::get_own(&app.store, &openid, no).await?;
            Response::ok(&json!({ "items": refunds::of_order(&app.store, no).await? }))
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
            let _ = req.audited.set(());
            Response::json(202, &r)
        }
        ("POST", ["admin", "refunds", no, out_refund_no, "approve"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let out_refund_no = &path_id::<OutRefundNo>(out_refund_no, "refund")?;
            let by = operator(app, req, Permission::Refund).await?;
            let r = refunds::approve(app, &by, no, out_refund_no).await?;
            let _ = req.audited.set(());
            Response::ok(&r)
        }
        ("POST", ["admin", "refunds", no, out_refund_no, "refuse"]) => {
            let no = &path_id::<OrderNo>(no, "order")?;
            let out_refund_no = &path_id::<OutRefundNo>(out_refund_no, "refund")?;
            let by = operator(app, req, Permission::Refund).await?;
            let r = refunds::refuse(app, &by, no, out_refund_no).await?;
            let _ = req.audited.set(());
            Response::ok(&r)
        }
        _ => Err(AppError::no_route(&req.method, &req.path)),
    }
}
