//! The `members` function: shoppers check in and see their growth, level and ledger;
//! operators set the level ladder and look a member up.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::json;

use crate::Service;
use crate::auth::{operator, read_personal, shopper};
use crate::request::path_id;
use crate::{Request, Response};
use app::AppError;
use app::{clock, members, notices};
use domain::ids::OpenId;
use domain::operator::Permission;

pub fn handler<'a>(app: &'a Service, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

async fn handle(app: &Service, req: &Request) -> Result<Response, AppError> {
    match (req.method.as_str(), req.segments().as_slice()) {
        ("POST", ["me", "checkin"]) => {
            let openid = shopper(app, req).await?;
            Response::json(201, &members::check_in(app, &openid, clock::now()).await?)
        }
        ("GET", ["me", "member"]) => {
            let openid = shopper(app, req).await?;
            Response::ok(&members::view(app, &openid).await?)
        }
        ("PUT", ["me", "member", "birthday"]) => {
            let openid = shopper(app, req).await?;
            let body: BirthdayInput = req.json()?;
            Response::ok(&members::set_birthday(app, &openid, &body.birthday).await?)
        }
        ("GET", ["me", "ledger"]) => {
            let openid = shopper(app, req).await?;
            Response::ok(&json!({ "items": members::ledger(app, &openid).await? }))
        }
        ("POST", ["me", "subscriptions"]) => {
            let openid = shopper(app, req).await?;
            let counted = notices::report(app, &openid, req.json()?).await?;
            Response::ok(&json!({ "accepted": counted }))
        }
        ("GET", ["admin", "members", "levels"]) => {
            operator(app, req, Permission::Read).await?;
            Response::ok(&members::ladder(app).await?)
        }
        ("PUT", ["admin", "members", "levels"]) => {
            operator(app, req, Permission::Manage).await?;
            Response::ok(&members::set_ladder(app, req.json()?).await?)
        }
        ("GET", ["admin", "members", "rules"]) => {
            operator(app, req, Permission::Read).await?;
            Response::ok(&members::rules(app).await?)
        }
        ("PUT", ["admin", "members", "rules"]) => {
            operator(app, req, Permission::Manage).await?;
            Response::ok(&members::set_rules(app, req.json()?).await?)
        }
        ("GET", ["admin", "members", "points-rate"]) => {
            operator(app, req, Permission::Read).await?;
            Response::ok(&members::points_rate(app, req.query("from"), req.query("to")).await?)
        }
        ("POST", ["admin", "members", openid, "points"]) => {
            let openid = path_id::<OpenId>(openid, "member")?;
            let by = operator(app, req, Permission::Manage).await?;
            let g: GrantInput = req.json()?;
            let request_id = domain::ids::RequestId::parse(&g.request_id)?;
            Response::ok(&members::grant(app, &openid, &request_id, g.points, &g.reason, &by).await?)
        }
        ("GET", ["admin", "members", "segments"]) => {
            operator(app, req, Permission::Read).await?;
            Response::ok(&members::segment_report(app).await?)
        }
        ("GET", ["admin", "members", "segments", segment, "export"]) => {
            let segment = domain::rfm::Segment::parse(segment).ok_or_else(|| AppError::not_found("segment"))?;
            let by = operator(app, req, Permission::Read).await?;
            let csv = members::export_segment(app, segment).await?;
            read_personal(app, &by, "members export", segment.as_str()).await?;
            Ok(Response {
                status: 200,
                headers: vec![("content-type".into(), "text/csv; charset=utf-8".into())],
                body: csv.into_bytes(),
            })
        }
        ("GET", ["admin", "members", openid]) => {
            let openid = path_id::<OpenId>(openid, "member")?;
            operator(app, req, Permission::Read).await?;
            let view = members::view(app, &openid).await?;
            Response::ok(&json!({ "member": view, "ledger": members::ledger(app, &openid).await? }))
        }
        _ => Err(AppError::no_route(&req.method, &req.path)),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BirthdayInput {
    birthday: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantInput {
    request_id: String,
    points: i64,
    reason: String,
}
