//! Orders: placed in one all-or-nothing transaction of everything they hold, prepaid at WeChat
//! Pay, closed when they expire, listed. Stock only moves through conditional writes. Placing,
//! paying and closing also need other contexts (the address book, the member's perks, WeChat
//! Pay's own view of a payment): the workflows compose those around the steps here.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{AppError, Code};
use crate::{App, lookup};
use domain::DomainError;
use domain::address::{Address, ChosenAddress};
use domain::catalog::{SkuKind, StockLevel};
use domain::clock;
use domain::freight::Waiver;
use domain::ids::{CouponId, OpenId, OrderNo, ProductId, RequestId, SkuId};
use domain::member::Perks;
use domain::order::{Hold, LineInput, Order, OrderState, Phase, allocate, demand, new_order_no};
use domain::placing::{self, Catalog, Request};
use domain::promotion::Promotions;
use store::repo::holds::{self, Refused};
use store::{StoreError, repo};
use wechat::pay::client::ErrorCode;
use wechat::pay::types::RequestPayment;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    /// The client's id for this attempt: a retry with the same id returns the same order.
    pub request_id: RequestId,
    pub items: Vec<LineInput>,
    #[serde(default)]
    pub coupon_id: Option<CouponId>,
    /// Where to deliver: an address of the shopper's book, one given here (the shop's shape
    /// or `wx.chooseAddress`'s), or else the book's default.
    #[serde(default)]
    pub address_id: Option<String>,
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub wx_address: Option<ChosenAddress>,
    /// Points to pay part of the goods with (hundreds: 100 points are 1 yuan; at most half).
    #[serde(default)]
    pub points: Option<i64>,
}

/// The order a shopper's request id placed already, if any.
pub async fn placed_by(app: &App, openid: &OpenId, request_id: &RequestId) -> Result<Option<Order>, AppError> {
    Ok(repo::orders::placed_by_request(app.store.as_ref(), openid, request_id).await?)
}

/// Takes one place-order attempt from the shopper's allowance for this minute.
pub async fn take_attempt(app: &App, openid: &OpenId) -> Result<(), AppError> {
    let per_minute = app.rules.limits.places_per_minute;
    if !repo::orders::take_place_token(app.store.as_ref(), openid, clock::now() / 60, per_minute).await? {
        return Err(AppError::new(
            Code::PlaceRateLimited,
            format!("at most {per_minute} orders a minute; please wait a moment"),
        ));
    }
    Ok(())
}

/// Takes one pay attempt from the shopper's allowance for this minute: each asks WeChat Pay
/// for a prepay id, so a loop of them would spend the merchant's quota.
pub async fn take_pay_attempt(app: &App, openid: &OpenId) -> Result<(), AppError> {
    let per_minute = app.rules.limits.pays_per_minute;
    if !repo::orders::take_pay_token(app.store.as_ref(), openid, clock::now() / 60, per_minute).await? {
        return Err(AppError::new(
            Code::PayRateLimited,
            format!("at most {per_minute} payment attempts a minute; please wait a moment"),
        ));
    }
    Ok(())
}

/// Reads the catalog entries an order of `items` needs: the SKUs, their products, and each
/// product's gift SKUs. A SKU that does not exist is simply absent.
/// The ordered SKUs and `extra` ones (gifts by threshold) in one batch read (read ahead by the
/// workflow), then their products and each product's gift SKUs all at once (held by the
/// store's cache between requests). A SKU not found is left out: the plan names it
/// unavailable.
async fn catalog_snapshot(app: &App, items: &[(SkuId, i64)], extra: &[SkuId]) -> Result<Catalog, AppError> {
    let store = app.store.as_ref();
    let mut ids: Vec<SkuId> = items.iter().map(|(s, _)| s.clone()).collect();
    ids.extend(extra.iter().cloned());
    let mut c = Catalog::default();
    for sku in repo::catalog::skus(store, &ids).await?.into_iter().flatten() {
        c.skus.insert(sku.id.clone(), sku);
    }
    let mut products: Vec<ProductId> =
        items.iter().filter_map(|(id, _)| c.skus.get(id).map(|s| s.product_id.clone())).collect();
    products.sort();
    products.dedup();
    let reads = products.iter().map(|p| async move {
        let (product, skus) = futures_util::future::join(lookup::product(store, p), lookup::skus_of(store, p)).await;
        Ok::<_, AppError>((product?, skus?))
    });
    for read in futures_util::future::join_all(reads).await {
        let (product, skus) = read?;
        let gifts = skus.into_iter().filter(|s| s.kind == SkuKind::Gift).collect();
        c.gifts.insert(product.id.clone(), gifts);
        c.products.insert(product.id.clone(), product);
    }
    Ok(c)
}

/// The SKUs the promotions give by threshold.
pub fn threshold_gift_skus(p: &Promotions) -> Vec<SkuId> {
    p.gifts.iter().filter_map(|g| SkuId::parse(&g.gift_sku).ok()).collect()
}

/// The stock counters of `skus`, read at the same moment.
async fn stock_snapshot(app: &App, skus: &[SkuId]) -> Result<HashMap<SkuId, Vec<StockLevel>>, AppError> {
    let store = app.store.as_ref();
    let reads = skus.iter().map(|s| async move { (s.clone(), lookup::stock_levels(store, s).await) });
    let mut out = HashMap::new();
    for (s, levels) in futures_util::future::join_all(reads).await {
        out.insert(s, levels?);
    }
    Ok(out)
}

/// What refusing a hold means to the shopper: an answer, or (for stock that moved while the
/// order was decided) another attempt with fresh counts.
enum Refusal {
    Answer(AppError),
    /// Only a gift ran out: the next attempt leaves it out.
    GiftGone,
    /// Stock moved meanwhile: read it again.
    StockMoved,
}

/// The refusal of one hold, and how telling it is (the most telling is answered when several
/// holds were refused at once).
fn refusal(h: &Hold, limits: &placing::Limits) -> (u8, Refusal) {
    match h {
        Hold::Points { .. } => {
            (0, Refusal::Answer(AppError::new(Code::InsufficientPoints, "not enough points for this order")))
        }
        Hold::OpenOrder => (1, Refusal::Answer(DomainError::TooManyOpenOrders { orders: limits.open_orders }.into())),
        Hold::HeldUnits { sku_id, .. } => {
            (2, Refusal::Answer(DomainError::HoldingLimit { sku: sku_id.clone(), units: limits.units_per_sku }.into()))
        }
        Hold::Coupon { .. } => {
            (3, Refusal::Answer(AppError::new(Code::CouponUnavailable, "the coupon was used or locked meanwhile")))
        }
        Hold::Stock(_) => (4, Refusal::StockMoved),
        Hold::Gift(_) => (5, Refusal::GiftGone),
    }
}

/// Places an order for `openid` with the delivery `address` and the member `perks` the
/// workflow read: one transaction takes everything the order holds, writes it and its request
/// id. Returns the order and whether this call created it.
#[tracing::instrument(skip_all, fields(request_id = %input.request_id))]
pub async fn place(
    app: &App,
    openid: &OpenId,
    input: &PlaceOrder,
    items: &[(SkuId, i64)],
    address: &Address,
    perks: &Perks,
) -> Result<(Order, bool), AppError> {
    let store = app.store.as_ref();
    let limits = app.rules.limits;
    // Read: freight, promotions, catalog and coupon once; stock on every attempt. Gifts by
    // threshold may come with any order: their SKUs are read with the ordered ones.
    let freight = repo::catalog::freight_template(store).await?;
    let promotions = repo::catalog::promotions(store).await?;
    let gift_skus = threshold_gift_skus(&promotions);
    let catalog = catalog_snapshot(app, items, &gift_skus).await?;
    let coupon = match &input.coupon_id {
        Some(id) => Some(lookup::user_coupon(store, openid, id).await?),
        None => None,
    };
    let now = clock::now();
    for attempt in 0..4 {
        let mut wanted = catalog.stock_skus(items);
        wanted.extend(gift_skus.iter().filter(|g| catalog.skus.contains_key(*g)).cloned());
        wanted.sort();
        wanted.dedup();
        let stock = stock_snapshot(app, &wanted).await?;
        // Decide.
        let req = Request {
            openid,
            request_id: &input.request_id,
            items,
            order_no: new_order_no(now, uuid::Uuid::new_v4().as_u128()),
            now,
            hold_secs: app.rules.order_ttl_secs,
            limits,
            address,
            freight: &freight,
            waiver: Waiver { free_shipping: perks.free_shipping },
            member_pct: perks.member_discount_pct,
            promotions: &promotions,
            points: input.points.unwrap_or(0),
        };
        let order = match placing::plan(&req, &catalog, &stock, coupon.as_ref()) {
            Ok(o) => o,
            Err(DomainError::OutOfStock { sku }) => return Err(out_of_stock(app, &sku).await),
            Err(e) => return Err(e.into()),
        };
        // Write, all or nothing.
        let placing = holds::place(&order, &limits)?;
        if placing.ops.len() > store::MAX_TX_OPS {
            return Err(AppError::new(
                Code::OrderTooSpread,
                "this order would draw on too many stock counters at once; split it into smaller orders",
            ));
        }
        let ops = placing.ops.clone();
        match app.store.transact(ops).await {
            Ok(()) => {
                tracing::info!(
                    order_no = %order.order_no(),
                    payable = order.payable().fen(),
                    warehouses = order.sub_orders().len(),
                    "order placed"
                );
                return Ok((order, true));
            }
            Err(StoreError::Cancelled { failed }) => match placing.refused(&order, &failed) {
                Refused::AlreadyPlaced => {
                    if let Some(o) = placed_by(app, openid, &input.request_id).await? {
                        return Ok((o, false));
                    }
                }
                Refused::Holds(refused) => {
                    let worst = refused.into_iter().map(|h| refusal(h, &limits)).min_by_key(|(rank, _)| *rank);
                    match worst.map(|(_, r)| r) {
                        Some(Refusal::Answer(e)) => return Err(e),
                        // Only a gift ran out: the next attempt reads its stock again.
                        Some(Refusal::GiftGone) => continue,
                        Some(Refusal::StockMoved) | None => {
                            tracing::debug!(attempt, "stock moved during reservation, retrying with fresh counts");
                        }
                    }
                }
                Refused::Other => {}
            },
            Err(StoreError::Conflict) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let need = demand(&catalog.lines(items)?.0);
    // Still contended after fresh reads: find the SKU that is short now, or ask for a retry.
    let wanted: Vec<SkuId> = need.keys().cloned().collect();
    let snapshot = stock_snapshot(app, &wanted).await?;
    match allocate(&need, &snapshot, 0) {
        Err(sku) => Err(out_of_stock(app, &sku).await),
        Ok(_) => Err(AppError::new(Code::Busy, "many shoppers are buying this right now; please retry")),
    }
}

async fn out_of_stock(app: &App, sku_id: &SkuId) -> AppError {
    let name = lookup::sku(app.store.as_ref(), sku_id).await.map(|s| s.name).unwrap_or_default();
    AppError::new(Code::OutOfStock, format!("not enough stock of {name} ({sku_id})"))
        .with_details(json!({ "sku_id": sku_id }))
}

/// The shopper's own order, if it can still be paid.
pub async fn payable(app: &App, openid: &OpenId, order_no: &OrderNo) -> Result<Order, AppError> {
    let order = lookup::own_order(app.store.as_ref(), openid, order_no).await?;
    match order.state() {
        OrderState::Paid => return Err(AppError::new(Code::AlreadyPaid, "this order is paid")),
        OrderState::Closed => return Err(AppError::new(Code::OrderClosed, "this order is closed")),
        OrderState::Unpaid => {}
    }
    if clock::now() >= order.expires_at() {
        return Err(AppError::new(Code::OrderExpired, "this order expired; place it again"));
    }
    Ok(order)
}

/// What WeChat Pay said to a prepay.
pub enum Prepaid {
    /// The `wx.requestPayment` parameters.
    Pay(RequestPayment),
    /// WeChat Pay has the order paid already (a notify still on its way).
    PaidAtWechat,
}

/// The JSAPI prepay of an unpaid order and the `wx.requestPayment` parameters.
#[tracing::instrument(skip_all, fields(order_no = %order.order_no()))]
pub async fn prepay(app: &App, order: &Order) -> Result<Prepaid, AppError> {
    let client = app.pay()?;
    let description = match order.lines() {
        [one] => one.name.clone(),
        [first, rest @ ..] => format!("{} 等{}件", first.name, rest.len() + 1),
        [] => "订单".into(),
    };
    let prepay_id = match client
        .prepay(order.order_no(), &description, order.payable().fen(), order.openid(), order.expires_at(), None)
        .await
    {
        Ok(id) => id,
        Err(e) if e.verified_kind() == Some(ErrorCode::OrderPaid) => return Ok(Prepaid::PaidAtWechat),
        Err(e) if e.verified_kind() == Some(ErrorCode::OrderClosed) => {
            return Err(AppError::new(Code::OrderClosed, "this order is closed"));
        }
        Err(e) => {
            tracing::error!(error = %e, "prepay failed");
            return Err(AppError::new(Code::PayUnavailable, "WeChat Pay did not accept the payment now; please retry"));
        }
    };
    if !repo::orders::note_prepay(app.store.as_ref(), order.order_no(), &prepay_id).await? {
        return Err(AppError::new(Code::OrderNotPayable, "the order changed meanwhile"));
    }
    client.request_payment(&prepay_id).map(Prepaid::Pay).map_err(|e| {
        tracing::error!(error = %e, "paySign failed");
        AppError::internal()
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseOutcome {
    Closed,
    /// WeChat said it was paid: the payment was applied instead.
    Paid,
    /// Already closed or paid by someone else.
    Unchanged,
    /// WeChat could not be asked now; the next run tries again.
    Retry,
}

/// What closing an order at WeChat Pay found.
pub enum AtWechat {
    /// WeChat Pay will take no payment for it now (closed there, or never prepaid).
    Closed,
    /// WeChat Pay has it paid.
    Paid,
    /// WeChat Pay could not be asked now.
    Unreachable,
}

/// Closes the order at WeChat Pay first, so it can no longer be paid there.
pub async fn close_at_wechat(app: &App, order: &Order) -> AtWechat {
    let Some(client) = &app.pay else {
        return AtWechat::Closed;
    };
    match client.close(order.order_no()).await {
        Ok(()) => AtWechat::Closed,
        Err(e) if e.verified_kind() == Some(ErrorCode::OrderPaid) => AtWechat::Paid,
        Err(e) if matches!(e.verified_kind(), Some(ErrorCode::OrderNotExist | ErrorCode::OrderClosed)) => {
            AtWechat::Closed
        }
        Err(e) => {
            tracing::warn!(error = %e, order_no = %order.order_no(), "closing at WeChat Pay failed; will retry");
            AtWechat::Unreachable
        }
    }
}

/// Closes an unpaid order (read as `order`) that WeChat Pay will no longer take payment for:
/// everything it holds comes back in one conditional transaction. Safe to run twice at once.
pub async fn close(app: &App, order: &Order) -> Result<CloseOutcome, AppError> {
    let now = clock::now();
    let closed = order.closed(now)?;
    let ops = holds::close(app.store.as_ref(), order, &closed, now).await?;
    match app.store.transact(ops).await {
        Ok(()) => {
            app.poke_outbox();
            tracing::info!(order_no = %order.order_no(), "order closed; what it held came back");
            Ok(CloseOutcome::Closed)
        }
        Err(StoreError::Cancelled { .. }) | Err(StoreError::Conflict) => Ok(CloseOutcome::Unchanged),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Serialize)]
pub struct CloseReport {
    pub examined: usize,
    pub closed: usize,
    pub paid: usize,
    pub retry: usize,
    /// Orders that could not be handled this run (left for the next).
    pub failed: usize,
}

/// Unpaid orders whose expiry is at or before `now`, oldest first, a page at a time: the
/// numbers due, the cursor of the next page, and whether the page reached orders not yet due.
pub async fn expired(
    app: &App,
    now: i64,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<OrderNo>, Option<String>, bool), AppError> {
    let (listed, next) = repo::orders::in_phase(app.store.as_ref(), Phase::Unpaid, 100, after).await?;
    let due: Vec<OrderNo> =
        listed.iter().take_while(|(_, expires_at)| *expires_at <= now).take(limit).map(|(no, _)| no.clone()).collect();
    let reached_the_future = due.len() < listed.len();
    Ok((due, next, reached_the_future))
}

/// A page of orders (answered as their views: see `Order::view`).
#[derive(Debug)]
pub struct OrderPage {
    pub items: Vec<Order>,
    pub next: Option<String>,
}

pub async fn list_mine(app: &App, openid: &OpenId, limit: usize, after: Option<String>) -> Result<OrderPage, AppError> {
    let (nos, next) = repo::orders::numbers_of_shopper(app.store.as_ref(), openid, limit, after).await?;
    let mut items = Vec::new();
    for no in nos {
        items.push(lookup::order(app.store.as_ref(), &no).await?);
    }
    Ok(OrderPage { items, next })
}

/// Orders in `phase`, newest first; `paid` is the queue to ship.
pub async fn search(app: &App, phase: Phase, limit: usize, after: Option<String>) -> Result<OrderPage, AppError> {
    let (nos, next) = repo::orders::numbers_in_phase(app.store.as_ref(), phase, limit, after).await?;
    let mut items = Vec::new();
    for no in nos {
        // The index may lag a change; read the order itself.
        let fresh = lookup::order(app.store.as_ref(), &no).await?;
        if fresh.phase().0 == phase {
            items.push(fresh);
        }
    }
    Ok(OrderPage { items, next })
}
