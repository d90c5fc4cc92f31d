//! The `reviews` function: shoppers upload pictures and review the products of a received
//! order. It holds what the checks need: the app secret (WeChat's content checks) and the
//! media bucket (signing uploads, reading what arrived).

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::json;

use crate::Service;
use crate::auth::shopper;
use crate::request::path_id;
use crate::{Request, Response};
use app::AppError;
use app::catalog::reviews;
use domain::ids::OrderNo;
use domain::review::ReviewInput;

pub fn handler<'a>(app: &'a Service, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

/// An image to upload for a review: its type and exact length in bytes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadBody {
    content_type: String,
    size: i64,
}

async fn handle(app: &Service, req: &Request) -> Result<Response, AppError> {
    match (req.method.as_str(), req.segments().as_slice()) {
        ("POST", ["me", "uploads"]) => {
            let openid = shopper(app, req).await?;
            let u: UploadBody = req.json()?;
            Response::json(201, &reviews::sign_upload(app, &openid, &u.content_type, u.size).await?)
        }
        ("POST", ["orders", no, "reviews"]) => {
            let no = path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            let (review, created) = reviews::write(app, &openid, &no, req.json::<ReviewInput>()?).await?;
            Response::json(if created { 201 } else { 200 }, &review)
        }
        ("GET", ["orders", no, "reviews"]) => {
            let no = path_id::<OrderNo>(no, "order")?;
            let openid = shopper(app, req).await?;
            Response::ok(&json!({ "items": reviews::of_order(app, &openid, &no).await? }))
        }
        _ => Err(AppError::no_route(&req.method, &req.path)),
    }
}
