//! The `coupon-claim` function: shoppers claim and list coupons; operators create templates
//! and read claimed, used and the redemption rate.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::json;

use crate::Service;
use crate::auth::{operator, shopper};
use crate::request::path_id;
use crate::{Request, Response};
use app::AppError;
use app::coupons::{self, TemplateInput};
use domain::ids::TemplateId;
use domain::operator::Permission;

pub fn handler<'a>(app: &'a Service, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

async fn handle(app: &Service, req: &Request) -> Result<Response, AppError> {
    match (req.method.as_str(), req.segments().as_slice()) {
        ("POST", ["coupons", template, "claim"]) => {
            let openid = shopper(app, req).await?;
            let template = path_id::<TemplateId>(template, "coupon")?;
            Response::json(201, &coupons::claim(&app.store, &openid, &template).await?.holder_view())
        }
        ("GET", ["me", "coupons"]) => {
            let openid = shopper(app, req).await?;
            let held = coupons::mine(&app.store, &openid).await?;
            Response::ok(&json!({ "items": held.iter().map(|c| c.holder_view()).collect::<Vec<_>>() }))
        }
        ("POST", ["admin", "coupons"]) => {
            let by = operator(app, req, Permission::Manage).await?;
            let input = req.json::<TemplateInput>()?;
            Response::json(201, &coupons::create_template(&app.store, &by, &app.rules.allowances, input).await?)
        }
        ("GET", ["admin", "coupons"]) => {
            operator(app, req, Permission::Read).await?;
            Response::ok(&json!({ "items": coupons::stats(&app.store).await? }))
        }
        _ => Err(AppError::no_route(&req.method, &req.path)),
    }
}
