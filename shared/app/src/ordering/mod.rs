//! Orders in storage: place (one all-or-nothing reservation), pay, cancel, close when
//! expired, list and ship. Stock only moves through conditional writes.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::App;
use crate::catalog;
use crate::coupons::{self};
use crate::error::{AppError, Code};
use crate::payments;
use crate::users;
use domain::DomainError;
use domain::address::{Address, ChosenAddress};
use domain::catalog::SkuKind;
use domain::clock;
use domain::events::Event;
use domain::freight::Waiver;
use domain::ids::{CouponId, OpenId, RequestId};
use domain::order::{LineInput, Order, OrderState, allocate, demand, new_order_no, normalise_lines};
use domain::placing::{self, Catalog, Request};
use store::repo;
use store::{SharedStore, StoreError};
use wechat::pay::client::ErrorCode;
use wechat::pay::types::RequestPayment;

/// The seed's rule: after this many payments in a Shanghai day, the next one needs a fresh
/// phone verification.
pub const DAILY_PAYMENTS_BEFORE_VERIFY: i64 = 5;

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

/// The address an order goes to, as `input` names it.
async fn delivery_address(app: &App, openid: &str, input: &PlaceOrder) -> Result<Address, AppError> {
    match (&input.address_id, &input.address, &input.wx_address) {
        (Some(id), None, None) => {
            let book = users::addresses::book(app, openid).await?;
            book.get(id).cloned().ok_or_else(|| AppError::field("address_id", "no such address in your book"))
        }
        (None, Some(a), None) => Ok(a.clone().checked()?),
        (None, None, Some(w)) => Ok(Address::from(w.clone()).checked()?),
        (None, None, None) => users::addresses::book(app, openid).await?.default_address().cloned().ok_or_else(|| {
            AppError::new(Code::AddressRequired, "add a delivery address, or choose one, before ordering")
        }),
        _ => Err(AppError::bad_request("give at most one of address_id, address or wx_address")),
    }
}

pub async fn get(store: &SharedStore, order_no: &str) -> Result<Order, AppError> {
    repo::orders::get(store.as_ref(), order_no).await?.ok_or_else(|| AppError::not_found("order"))
}

/// The shopper's own order; someone else's is "not found", never "forbidden".
pub async fn get_own(store: &SharedStore, openid: &str, order_no: &str) -> Result<Order, AppError> {
    let o = get(store, order_no).await?;
    if o.openid != openid {
        return Err(AppError::not_found("order"));
    }
    Ok(o)
}

async fn existing_for_request(store: &SharedStore, openid: &str, request_id: &str) -> Result<Option<Order>, AppError> {
    Ok(repo::orders::placed_by_request(store.as_ref(), openid, request_id).await?)
}

/// Reads the catalog entries an order of `items` needs: the SKUs, their products, and each
/// product's gift SKUs. A SKU that does not exist is simply absent.
async fn catalog_snapshot(store: &SharedStore, items: &[(String, i64)]) -> Result<Catalog, AppError> {
    let mut c = Catalog::default();
    for (sku_id, _) in items {
        let sku = match catalog::get_sku(store, sku_id).await {
            Ok(sku) => sku,
            // Absent here, so the plan names it unavailable; an outage is no verdict on it.
            Err(e) if e.is(Code::NotFound) => continue,
            Err(e) => return Err(e),
        };
        if !c.products.contains_key(&sku.product_id) {
            let product = catalog::get_product(store, &sku.product_id).await?;
            let gifts = catalog::skus_of(store, &sku.product_id).await?.into_iter().filter(|s| s.kind == SkuKind::Gift);
            c.gifts.insert(sku.product_id.clone(), gifts.collect());
            c.products.insert(sku.product_id.clone(), product);
        }
        c.skus.insert(sku.id.clone(), sku);
    }
    Ok(c)
}

async fn stock_snapshot(
    store: &SharedStore,
    skus: &[String],
) -> Result<HashMap<String, Vec<domain::catalog::StockLevel>>, AppError> {
    let mut out = HashMap::new();
    for s in skus {
        out.insert(s.clone(), catalog::stock_levels(store, s).await?);
    }
    Ok(out)
}

/// Places an order: one transaction decrements every counter, locks the coupon, writes the
/// order and the request id. Returns the order and whether this call created it.
#[tracing::instrument(skip_all, fields(request_id = %input.request_id))]
pub async fn place(app: &App, openid: &OpenId, input: PlaceOrder) -> Result<(Order, bool), AppError> {
    let store = &app.store;
    let items = normalise_lines(&input.items)?;
    if let Some(o) = existing_for_request(store, openid, &input.request_id).await? {
        return Ok((o, false));
    }
    // Attempts are rationed per shopper before anything is read.
    let limits = app.settings.limits;
    if !repo::orders::take_place_token(store.as_ref(), openid, clock::now() / 60, limits.places_per_minute).await? {
        return Err(AppError::new(
            Code::PlaceRateLimited,
            format!("at most {} orders a minute; please wait a moment", limits.places_per_minute),
        ));
    }
    // Read: the address, freight, catalog and coupon once; stock on every attempt.
    let address = delivery_address(app, openid, &input).await?;
    let freight = repo::catalog::freight_template(store.as_ref()).await?;
    let promotions = repo::catalog::promotions(store.as_ref()).await?;
    // Level perks: free shipping and the member price (the points multiplier applies on payment).
    let perks = crate::members::level_of(app, openid).await?.perks;
    let mut catalog = catalog_snapshot(store, &items).await?;
    // Gifts by threshold may come with any order: their SKUs are read too.
    for g in &promotions.gifts {
        if let Ok(sku) = catalog::get_sku(store, &g.gift_sku).await {
            catalog.skus.insert(sku.id.clone(), sku);
        }
    }
    let gift_skus: Vec<String> = promotions.gifts.iter().map(|g| g.gift_sku.clone()).collect();
    let coupon = match &input.coupon_id {
        Some(id) => Some(coupons::get_user_coupon(store, openid, id).await?),
        None => None,
    };
    let now = clock::now();
    for attempt in 0..4 {
        let mut wanted = catalog.stock_skus(&items);
        wanted.extend(gift_skus.iter().filter(|g| catalog.skus.contains_key(*g)).cloned());
        wanted.sort();
        wanted.dedup();
        let stock = stock_snapshot(store, &wanted).await?;
        // Decide.
        let req = Request {
            openid,
            request_id: &input.request_id,
            items: &items,
            order_no: new_order_no(now, uuid::Uuid::new_v4().as_u128()),
            now,
            hold_secs: app.settings.order_ttl_secs,
            limits,
            address: &address,
            freight: &freight,
            waiver: Waiver { free_shipping: perks.free_shipping },
            member_pct: perks.member_discount_pct,
            promotions: &promotions,
            points: input.points.unwrap_or(0),
        };
        let plan = match placing::plan(&req, &catalog, &stock, coupon.as_ref()) {
            Ok(p) => p,
            Err(DomainError::OutOfStock { sku }) => return Err(out_of_stock(store, &sku).await),
            Err(e) => return Err(e.into()),
        };
        // Write, all or nothing.
        let reserve = repo::orders::reserve(&plan, &limits)?;
        if reserve.ops.len() > store::MAX_TX_OPS {
            return Err(AppError::new(
                Code::OrderTooSpread,
                "this order would draw on too many stock counters at once; split it into smaller orders",
            ));
        }
        match store.transact(reserve.ops).await {
            Ok(()) => {
                let order = plan.order;
                tracing::info!(
                    order_no = %order.order_no,
                    payable = order.payable.fen(),
                    warehouses = order.sub_orders.len(),
                    "order placed"
                );
                return Ok((order, true));
            }
            Err(StoreError::Cancelled { failed }) => {
                if failed.contains(&reserve.request)
                    && let Some(o) = existing_for_request(store, openid, &input.request_id).await?
                {
                    return Ok((o, false));
                }
                if reserve.points.is_some_and(|i| failed.contains(&i)) {
                    return Err(AppError::new(Code::InsufficientPoints, "not enough points for this order"));
                }
                if failed.contains(&reserve.open_orders) {
                    return Err(DomainError::TooManyOpenOrders { orders: limits.open_orders }.into());
                }
                if let Some(line) = failed
                    .iter()
                    .find_map(|i| reserve.held.contains(i).then(|| &plan.order.lines[i - reserve.held.start]))
                {
                    return Err(
                        DomainError::HoldingLimit { sku: line.sku_id.clone(), units: limits.units_per_sku }.into()
                    );
                }
                if reserve.coupon.is_some_and(|i| failed.contains(&i)) {
                    return Err(AppError::new(Code::CouponUnavailable, "the coupon was used or locked meanwhile"));
                }
                if failed.iter().all(|i| reserve.gifts.contains(i)) {
                    // Only a gift ran out: the next attempt reads its stock again.
                    continue;
                }
                tracing::debug!(attempt, "stock moved during reservation, retrying with fresh counts");
            }
            Err(StoreError::Conflict) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let need = demand(&catalog.lines(&items)?.0);
    // Still contended after fresh reads: find the SKU that is short now, or ask for a retry.
    let wanted: Vec<String> = need.keys().cloned().collect();
    let snapshot = stock_snapshot(store, &wanted).await?;
    match allocate(&need, &snapshot, 0) {
        Err(sku) => Err(out_of_stock(store, &sku).await),
        Ok(_) => Err(AppError::new(Code::Busy, "many shoppers are buying this right now; please retry")),
    }
}

async fn out_of_stock(store: &SharedStore, sku_id: &str) -> AppError {
    let name = catalog::get_sku(store, sku_id).await.map(|s| s.name).unwrap_or_default();
    AppError::new(Code::OutOfStock, format!("not enough stock of {name} ({sku_id})"))
        .with_details(json!({ "sku_id": sku_id }))
}

/// Starts payment: the JSAPI prepay and the `wx.requestPayment` parameters.
#[tracing::instrument(skip_all, fields(order_no = %order_no))]
pub async fn pay(app: &App, openid: &str, order_no: &str) -> Result<RequestPayment, AppError> {
    let store = &app.store;
    let order = get_own(store, openid, order_no).await?;
    match order.state {
        OrderState::Paid => return Err(AppError::new(Code::AlreadyPaid, "this order is paid")),
        OrderState::Closed => return Err(AppError::new(Code::OrderClosed, "this order is closed")),
        OrderState::Unpaid => {}
    }
    let now = clock::now();
    if now >= order.expires_at {
        return Err(AppError::new(Code::OrderExpired, "this order expired; place it again"));
    }
    let day = clock::business_day(now).map(|d| d.to_string()).unwrap_or_default();
    let paid_today = repo::payments::paid_on(store.as_ref(), openid, &day).await?;
    if paid_today >= DAILY_PAYMENTS_BEFORE_VERIFY {
        let user = crate::users::get(app, openid).await?;
        let fresh = user.phone_verified_at.is_some_and(|t| now - t <= app.settings.pay_verify_window_secs);
        if !fresh {
            return Err(AppError::new(
                Code::VerificationRequired,
                format!("more than {DAILY_PAYMENTS_BEFORE_VERIFY} payments today: verify your phone number, then pay"),
            )
            .with_details(json!({ "verify_with": "/login/phone" })));
        }
    }
    let client = app.pay()?;
    let description = match order.lines.as_slice() {
        [one] => one.name.clone(),
        [first, rest @ ..] => format!("{} 等{}件", first.name, rest.len() + 1),
        [] => "订单".into(),
    };
    let prepay_id = match client
        .prepay(&order.order_no, &description, order.payable.fen(), openid, order.expires_at, None)
        .await
    {
        Ok(id) => id,
        Err(e) if e.verified_kind() == Some(ErrorCode::OrderPaid) => {
            // Paid already (a notify still on its way): apply it from the query.
            payments::sync_from_wechat(app, &order.order_no).await?;
            return Err(AppError::new(Code::AlreadyPaid, "this order is paid"));
        }
        Err(e) if e.verified_kind() == Some(ErrorCode::OrderClosed) => {
            return Err(AppError::new(Code::OrderClosed, "this order is closed"));
        }
        Err(e) => {
            tracing::error!(error = %e, order_no, "prepay failed");
            return Err(AppError::new(Code::PayUnavailable, "WeChat Pay did not accept the payment now; please retry"));
        }
    };
    if !repo::orders::note_prepay(store.as_ref(), order_no, &prepay_id).await? {
        return Err(AppError::new(Code::OrderNotPayable, "the order changed meanwhile"));
    }
    client.request_payment(&prepay_id).map_err(|e| {
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

/// Closes one unpaid order: WeChat Pay first (so it can no longer be paid), then stock and
/// coupon come back in one conditional transaction. Safe to run twice at once.
#[tracing::instrument(skip_all, fields(order_no = %order_no))]
pub async fn close_one(app: &App, order_no: &str) -> Result<CloseOutcome, AppError> {
    let store = &app.store;
    let order = get(store, order_no).await?;
    if order.state != OrderState::Unpaid {
        return Ok(CloseOutcome::Unchanged);
    }
    if let Some(client) = &app.pay {
        match client.close(order_no).await {
            Ok(()) => {}
            Err(e) if e.verified_kind() == Some(ErrorCode::OrderPaid) => {
                payments::sync_from_wechat(app, order_no).await?;
                return Ok(CloseOutcome::Paid);
            }
            Err(e) if matches!(e.verified_kind(), Some(ErrorCode::OrderNotExist | ErrorCode::OrderClosed)) => {}
            Err(e) => {
                tracing::warn!(error = %e, order_no, "closing at WeChat Pay failed; will retry");
                return Ok(CloseOutcome::Retry);
            }
        }
    }
    let now = clock::now();
    let closed = order.closed(now)?;
    let mut ops = vec![repo::orders::transition(&closed, OrderState::Unpaid, order.version)?];
    ops.extend(order.reservations.iter().map(repo::orders::return_stock));
    ops.extend(repo::orders::release_holds(&order));
    if let Some(c) = &order.coupon_id {
        ops.push(repo::coupons::unlock_op(&order.openid, c, order_no));
    }
    if order.points_used > 0 {
        let entry = domain::member::LedgerEntry {
            source: format!("return-{order_no}"),
            growth: 0,
            points: order.points_used,
            frozen: 0,
            at: now,
            note: "订单关闭，积分退回".into(),
        };
        ops.extend(repo::members::give_back_ops(&order.openid, &entry)?);
    }
    ops.push(repo::outbox::append(&Event::OrderClosed { order_no: order.order_no.clone() }, now)?);
    match store.transact(ops).await {
        Ok(()) => {
            crate::outbox::poke(app);
            tracing::info!(order_no, "order closed; stock and coupon returned");
            Ok(CloseOutcome::Closed)
        }
        Err(StoreError::Cancelled { .. }) | Err(StoreError::Conflict) => Ok(CloseOutcome::Unchanged),
        Err(e) => Err(e.into()),
    }
}

/// The shopper cancels an unpaid order.
#[tracing::instrument(skip_all, fields(order_no = %order_no))]
pub async fn cancel(app: &App, openid: &str, order_no: &str) -> Result<Order, AppError> {
    let order = get_own(&app.store, openid, order_no).await?;
    if order.state == OrderState::Paid {
        return Err(AppError::new(Code::AlreadyPaid, "a paid order is refunded, not cancelled"));
    }
    match close_one(app, order_no).await? {
        CloseOutcome::Paid => Err(AppError::new(Code::AlreadyPaid, "this order was paid meanwhile")),
        CloseOutcome::Retry => Err(AppError::unavailable("WeChat Pay could not be reached; please retry")),
        _ => get(&app.store, order_no).await,
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

/// Orders the closer handles at once.
const CLOSE_PARALLEL: usize = 8;

/// The scheduled closer: every unpaid order past its expiry, oldest first.
#[tracing::instrument(skip_all)]
pub async fn close_expired(app: &App, now: i64, max: usize) -> Result<CloseReport, AppError> {
    let mut report = CloseReport::default();
    let mut after = None;
    loop {
        let (listed, next) = repo::orders::unpaid_by_expiry(app.store.as_ref(), 100, after).await?;
        let due: Vec<String> = listed
            .iter()
            .take_while(|(_, expires_at)| *expires_at <= now)
            .take(max.saturating_sub(report.examined))
            .map(|(no, _)| no.clone())
            .collect();
        let reached_the_future = due.len() < listed.len();
        report.examined += due.len();
        // Each order on its own, a few at a time: one that fails is counted and left for the
        // next run, and the others still close.
        let mut running = tokio::task::JoinSet::new();
        for chunk in due.chunks(CLOSE_PARALLEL) {
            for no in chunk {
                let (app, no) = (app.clone(), no.clone());
                running.spawn(async move { (close_one(&app, &no).await, no) });
            }
            while let Some(done) = running.join_next().await {
                match done {
                    Ok((Ok(CloseOutcome::Closed), _)) => report.closed += 1,
                    Ok((Ok(CloseOutcome::Paid), _)) => report.paid += 1,
                    Ok((Ok(CloseOutcome::Retry), _)) => report.retry += 1,
                    Ok((Ok(CloseOutcome::Unchanged), _)) => {}
                    Ok((Err(e), no)) => {
                        tracing::warn!(error = %e, order_no = %no, "closing failed; the next run tries again");
                        report.failed += 1;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "a close task panicked");
                        report.failed += 1;
                    }
                }
            }
        }
        after = next;
        if after.is_none() || reached_the_future || report.examined >= max {
            break;
        }
    }
    tracing::info!(
        examined = report.examined,
        closed = report.closed,
        paid = report.paid,
        retry = report.retry,
        failed = report.failed,
        "closer run"
    );
    Ok(report)
}

#[derive(Debug, Serialize)]
pub struct OrderPage {
    pub items: Vec<Order>,
    pub next: Option<String>,
}

pub async fn list_mine(
    store: &SharedStore,
    openid: &str,
    limit: usize,
    after: Option<String>,
) -> Result<OrderPage, AppError> {
    let (nos, next) = repo::orders::numbers_of_shopper(store.as_ref(), openid, limit, after).await?;
    let mut items = Vec::new();
    for no in nos {
        items.push(get(store, &no).await?);
    }
    Ok(OrderPage { items, next })
}

/// The phases operators list orders by (see [`Order::phase`]): `paid` is the queue to ship.
pub const PHASES: &[&str] = &["unpaid", "paid", "shipped", "received", "completed", "closed"];

pub async fn search(
    store: &SharedStore,
    phase: &str,
    limit: usize,
    after: Option<String>,
) -> Result<OrderPage, AppError> {
    let (nos, next) = repo::orders::numbers_in_phase(store.as_ref(), phase, limit, after).await?;
    let mut items = Vec::new();
    for no in nos {
        // The index may lag a change; read the order itself.
        let mut fresh = get(store, &no).await?;
        if fresh.phase().0 == phase {
            // Lists show where an order goes, not who lives there.
            fresh.address = fresh.address.map(|a| a.masked());
            items.push(fresh);
        }
    }
    Ok(OrderPage { items, next })
}
