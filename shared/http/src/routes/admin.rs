//! The `admin` function: operators manage the catalog (products, SKUs, warehouses, stock),
//! their own accounts, and read the audit trail. Every route needs an operator token; what
//! each role may do is `domain::operator`.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::json;

use crate::Service;
use crate::auth::{bootstrap_or_operator, operator, page_limit};
use crate::request::path_id;
use crate::{Request, Response};
use app::catalog::reviews;
use app::operators::{self, NewAccount};
use app::{AppError, catalog};
use domain::catalog::{ProductInput, ProductPatch, ProductStatus, SkuInput, SkuPatch};
use domain::ids::{CatalogId, OpenId, OrderNo, ProductId, SkuId, WarehouseId};
use domain::operator::Permission;
use domain::review::ReviewState;

pub fn handler<'a>(app: &'a Service, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

async fn handle(app: &Service, req: &Request) -> Result<Response, AppError> {
    let segs = req.segments();
    let m = req.method.as_str();
    match (m, segs.as_slice()) {
        ("POST", ["admin", "operators"]) => {
            let input = req.json::<NewAccount>();
            let issued = match bootstrap_or_operator(app, req).await? {
                None => operators::bootstrap(app, input?).await?,
                Some(by) => operators::create(app, &by, input?).await?,
            };
            Response::json(201, &issued)
        }
        ("GET", ["admin", "operators"]) => {
            operator(app, req, Permission::Read).await?;
            Response::ok(&json!({ "items": operators::list(app).await? }))
        }
        ("POST", ["admin", "operators", id, "approve"]) => {
            let id = path_id::<CatalogId>(id, "operator")?;
            let by = bootstrap_or_operator(app, req).await?;
            Response::ok(&operators::approve_grant(app, by.as_ref(), &id).await?)
        }
        ("POST", ["admin", "me", "identity"]) => {
            let me = operator(app, req, Permission::Read).await?;
            let body: IdentityBody = req.json()?;
            let code = body.code.trim();
            if code.is_empty() || code.len() > 128 || !code.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(AppError::field("code", "must be the code from wx.login (1 to 128 visible characters)"));
            }
            let session = app.wechat.code2session(code).await?;
            let openid = OpenId::parse(&session.openid).map_err(|_| AppError::from(wechat::WeChatError::BadAnswer))?;
            Response::ok(&operators::bind_identity(app, &me, &openid).await?)
        }
        ("GET", ["admin", "clock"]) => {
            operator(app, req, Permission::Read).await?;
            Response::ok(&clock_view(app))
        }
        ("POST", ["admin", "clock"]) => {
            operator(app, req, Permission::Manage).await?;
            if !app.edge.movable_clock {
                return Err(AppError::forbidden(
                    "the clock moves only in local runs and tests started with MOVABLE_CLOCK=1",
                ));
            }
            let body: ClockBody = req.json()?;
            let secs =
                body.advance_days.unwrap_or(0).saturating_mul(86_400).saturating_add(body.advance_secs.unwrap_or(0));
            if !(1..=400 * 86_400).contains(&secs) {
                return Err(AppError::field("advance_secs", "move forward by 1 second to 400 days"));
            }
            domain::clock::move_forward(secs);
            tracing::warn!(moved_by = domain::clock::moved_by(), "the shop's clock was moved forward");
            Response::ok(&clock_view(app))
        }
        ("GET", ["admin", "notices"]) => {
            operator(app, req, Permission::Read).await?;
            Response::ok(&json!({ "items": app::notices::templates(app).await? }))
        }
        ("PUT", ["admin", "notices", notice]) => {
            operator(app, req, Permission::Manage).await?;
            let notice = domain::notice::Notice::parse(notice).ok_or_else(|| AppError::not_found("notice"))?;
            let t: NoticeBody = req.json()?;
            let t = domain::notice::NoticeTemplate {
                template_id: t.template_id,
                page: t.page,
                fields: t.fields,
                fixed: t.fixed,
            };
            Response::ok(&app::notices::set_template(app, notice, t).await?)
        }
        ("POST", ["admin", "operators", id, "disable"]) => {
            let id = path_id::<CatalogId>(id, "operator")?;
            let by = operator(app, req, Permission::Accounts).await?;
            Response::ok(&operators::disable(app, &by, &id).await?)
        }
        ("GET", ["admin", "me"]) => {
            let me = operator(app, req, Permission::Read).await?;
            Response::ok(&json!({ "id": me.id, "role": me.role }))
        }
        ("GET", ["admin", "audit"]) => {
            operator(app, req, Permission::Read).await?;
            let (items, next) = app::audit::list(app, page_limit(req)?, req.query("cursor").map(str::to_owned)).await?;
            Response::ok(&json!({ "items": items, "next": next }))
        }
        ("GET", ["admin", "audit", "verify"]) => {
            operator(app, req, Permission::Finance).await?;
            let noted = match (req.query("seq"), req.query("hash")) {
                (None, None) => None,
                (Some(seq), Some(hash)) => {
                    let seq = seq.parse::<u64>().map_err(|_| AppError::field("seq", "must be a whole number"))?;
                    Some((seq, hash))
                }
                _ => return Err(AppError::field("seq", "give seq and hash together (a head noted earlier)")),
            };
            Response::ok(&app::audit::verify(app, noted).await?)
        }
        (_, ["admin", rest @ ..]) => catalog_admin(app, req, m, rest).await,
        _ => Err(AppError::no_route(m, &req.path)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Adjust {
    sku_id: SkuId,
    warehouse_id: WarehouseId,
    delta: i64,
    #[serde(default)]
    shard: u8,
}

/// The synonym groups search expands queries with (`[["手机", "电话"], …]`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SynonymsBody {
    groups: Vec<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeaturedBody {
    featured: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
    text: String,
}

/// An upload to sign: what it is for, its type and its exact length in bytes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadBody {
    purpose: domain::catalog::UploadPurpose,
    content_type: String,
    size: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityBody {
    /// A `wx.login` code of the operator's WeChat, under the shop's mini-program.
    code: String,
}

fn clock_view(app: &Service) -> serde_json::Value {
    json!({ "now": domain::clock::now(), "moved_by_secs": domain::clock::moved_by(), "movable": app.edge.movable_clock })
}

/// How far to move the shop's clock: seconds, days, or both.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    #[serde(default)]
    advance_secs: Option<i64>,
    #[serde(default)]
    advance_days: Option<i64>,
}

/// A notice's subscribe-message template: its id, the page it opens, the notice's values by
/// the keyword each fills, and fixed texts for the template's other keywords.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoticeBody {
    template_id: String,
    page: String,
    fields: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    fixed: std::collections::BTreeMap<String, String>,
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

async fn catalog_admin(app: &Service, req: &Request, m: &str, segs: &[&str]) -> Result<Response, AppError> {
    let known = matches!(
        segs.first(),
        Some(
            &("products"
                | "skus"
                | "warehouses"
                | "stock"
                | "safety-stock"
                | "freight"
                | "stock-alerts"
                | "alerts"
                | "targets"
                | "promotions"
                | "uploads"
                | "reviews"
                | "search")
        )
    );
    if !known {
        return Err(AppError::no_route(m, &req.path));
    }
    let by = operator(app, req, if m == "GET" { Permission::Read } else { Permission::Manage }).await?;
    let answer = catalog_route(app, req, m, segs, by).await;
    if m != "GET" {
        // A catalog write leaves an event for search (and stock alerts): deliver it now.
        app.poke_outbox();
    }
    answer
}

async fn catalog_route(
    app: &Service,
    req: &Request,
    m: &str,
    segs: &[&str],
    by: domain::operator::Caller,
) -> Result<Response, AppError> {
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
        ("GET", ["products", id]) => {
            Response::ok(&catalog::product_view(app, &path_id::<ProductId>(id, "product")?, true).await?)
        }
        ("PATCH", ["products", id]) => {
            let id = path_id::<ProductId>(id, "product")?;
            Response::ok(&catalog::update_product(app, Some(&by), &id, req.json::<ProductPatch>()?).await?)
        }
        ("PUT", ["products", id, "media"]) => {
            let id = path_id::<ProductId>(id, "product")?;
            catalog::media::set_media(app, &by, &id, req.json::<domain::catalog::Media>()?).await?;
            Response::ok(&catalog::product_view(app, &id, true).await?)
        }
        ("POST", ["products", id, "publish"]) => {
            let id = path_id::<ProductId>(id, "product")?;
            Response::ok(&catalog::set_status(app, Some(&by), &id, ProductStatus::OnSale).await?)
        }
        ("POST", ["products", id, "unpublish"]) => {
            let id = path_id::<ProductId>(id, "product")?;
            Response::ok(&catalog::set_status(app, Some(&by), &id, ProductStatus::OffSale).await?)
        }
        ("POST", ["uploads"]) => {
            let u: UploadBody = req.json()?;
            if u.purpose != domain::catalog::UploadPurpose::Product {
                return Err(AppError::field("purpose", "operators upload product images; reviews upload their own"));
            }
            Response::json(201, &catalog::media::sign_upload(app, &by.id, u.purpose, &u.content_type, u.size).await?)
        }
        ("POST", ["products", id, "skus"]) => {
            let id = path_id::<ProductId>(id, "product")?;
            Response::json(201, &catalog::add_sku(store, &id, req.json::<SkuInput>()?).await?)
        }
        ("PATCH", ["skus", id]) => {
            let id = path_id::<SkuId>(id, "SKU")?;
            Response::ok(&catalog::update_sku(store, &id, req.json::<SkuPatch>()?).await?)
        }
        ("GET", ["skus", id, "stock"]) => {
            let id = path_id::<SkuId>(id, "SKU")?;
            catalog::get_sku(store, &id).await?;
            Response::ok(&json!({ "sku_id": id, "stock": catalog::stock_levels(store, &id).await? }))
        }
        ("GET", ["warehouses"]) => Response::ok(&json!({ "items": catalog::warehouses(store).await? })),
        ("PUT", ["warehouses", id]) => {
            let b: WarehouseBody = req.json()?;
            Response::ok(&catalog::put_warehouse(store, id, &b.name, &b.region).await?)
        }
        ("POST", ["stock", "adjust"]) => {
            let a: Adjust = req.json()?;
            let by = Some((&by, &app.rules.allowances));
            let available = catalog::adjust_stock(store, by, &a.sku_id, &a.warehouse_id, a.delta, a.shard).await?;
            Response::ok(&json!({
                "sku_id": a.sku_id, "warehouse_id": a.warehouse_id, "shard": a.shard, "available": available,
            }))
        }
        ("GET", ["stock-alerts"]) => Response::ok(&json!({ "items": app::stock_alerts::open(app).await? })),
        ("GET", ["alerts", "undelivered"]) => Response::ok(&json!({ "items": app::alerts::undelivered(app).await? })),
        ("GET", ["targets"]) => Response::ok(&json!({ "items": app::targets::open(app).await? })),
        ("GET", ["promotions"]) => Response::ok(&catalog::promotions(store).await?),
        ("PUT", ["promotions"]) => Response::ok(&catalog::set_promotions(store, req.json()?).await?),
        ("GET", ["reviews"]) => {
            let state = match req.query("state") {
                None => ReviewState::Held,
                Some(s) => ReviewState::parse(s)
                    .ok_or_else(|| AppError::field("state", "must be held, hidden or published"))?,
            };
            let product = req.query("product_id").map(|p| path_id::<ProductId>(p, "product")).transpose()?;
            let (items, next) = reviews::for_operators(
                app,
                state,
                product.as_ref(),
                page_limit(req)?,
                req.query("cursor").map(str::to_owned),
            )
            .await?;
            Response::ok(&json!({ "items": items, "next": next }))
        }
        (_, ["reviews", no, product, action]) => {
            let no = path_id::<OrderNo>(no, "order")?;
            let product = path_id::<ProductId>(product, "product")?;
            let action = match (m, *action) {
                ("POST", "approve") => reviews::Action::Approve,
                ("POST", "hide") => reviews::Action::Hide,
                ("PUT", "featured") => reviews::Action::Feature(req.json::<FeaturedBody>()?.featured),
                ("PUT", "reply") => reviews::Action::Reply(req.json::<ReplyBody>()?.text),
                _ => return Err(AppError::no_route(m, &req.path)),
            };
            Response::ok(&reviews::act(app, &by, &no, &product, action).await?)
        }
        ("GET", ["search", "synonyms"]) => Response::ok(&json!({ "groups": app::search::synonyms(app).await? })),
        ("PUT", ["search", "synonyms"]) => {
            let b: SynonymsBody = req.json()?;
            Response::ok(&json!({ "groups": app::search::set_synonyms(app, b.groups).await? }))
        }
        ("GET", ["freight"]) => Response::ok(&catalog::freight_template(store).await?),
        ("PUT", ["freight"]) => Response::ok(&catalog::set_freight_template(store, req.json()?).await?),
        ("GET", ["safety-stock"]) => {
            Response::ok(&json!({ "items": app::stock_alerts::safety_stock_report(app).await? }))
        }
        _ => Err(AppError::no_route(m, &req.path)),
    }
}
