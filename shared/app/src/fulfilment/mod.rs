//! Fulfilment: a paid order's goods leave by sub-order (one or more parcels each), WeChat is
//! told (小程序发货信息管理服务, without which it holds the settlement), the carrier's delivery
//! prompts WeChat's reminder to confirm, the shopper confirms receipt (or the shop does after
//! `AUTO_CONFIRM_DAYS`), and the order completes when the refund window after receipt closes.
//! Every move is a domain method on the order, written under its version; what WeChat must
//! hear goes through the outbox, so a crash between the two loses nothing.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::cases::{self, CaseKind};
use crate::error::{AppError, Code};
use crate::{App, lookup};
use domain::clock;
use domain::events::Event;
use domain::ids::{OpenId, OrderNo, WarehouseId};
use domain::order::{Fulfilment, Order, Package, Phase, ReceivedBy};
use domain::user::mask_phone;
use store::{StoreError, repo};
use wechat::shipping::{self, Contact, OrderKey, Parcel, Payer, ShippingInfo};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageInput {
    pub express_company: String,
    pub tracking_no: String,
}

/// A sub-order's parcels; one parcel may also be given as `carrier` and `tracking_no`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipInput {
    #[serde(default)]
    pub packages: Option<Vec<PackageInput>>,
    #[serde(default)]
    pub carrier: Option<String>,
    #[serde(default)]
    pub tracking_no: Option<String>,
}

impl ShipInput {
    fn packages(self) -> Result<Vec<Package>, AppError> {
        let raw = match (self.packages, self.carrier, self.tracking_no) {
            (Some(p), None, None) => p,
            (None, Some(c), Some(t)) => vec![PackageInput { express_company: c, tracking_no: t }],
            _ => return Err(AppError::bad_request("give packages, or carrier and tracking_no")),
        };
        Ok(raw.iter().map(|p| Package::checked(&p.express_company, &p.tracking_no)).collect::<Result<_, _>>()?)
    }
}

/// Writes `next` (of the order as it was `read`) with `events`; `false` when the order changed
/// meanwhile (the caller reads, decides and writes again).
async fn write(app: &App, next: &Order, read: &Order, events: &[Event]) -> Result<bool, AppError> {
    let mut ops = vec![repo::orders::rewrite(next, read)?];
    for e in events {
        ops.push(repo::outbox::append(e, clock::now())?);
    }
    match app.store.transact(ops).await {
        Ok(()) => {
            if !events.is_empty() {
                app.poke_outbox();
            }
            Ok(true)
        }
        Err(StoreError::Cancelled { .. } | StoreError::Conflict) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Times a change of an order is tried when another writer (an outbox consumer uploading the
/// shipment to WeChat, say) changed the order between the read and the write.
const ATTEMPTS: u32 = 5;

/// One warehouse's sub-order leaves in its parcels; WeChat hears of it through the outbox.
#[tracing::instrument(skip_all, fields(order_no = %order_no, warehouse_id = %warehouse_id))]
pub async fn ship(
    app: &App,
    order_no: &OrderNo,
    warehouse_id: &WarehouseId,
    input: ShipInput,
) -> Result<Order, AppError> {
    let packages = input.packages()?;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            crate::retry::backoff(attempt).await;
        }
        let o = lookup::order(app.store.as_ref(), order_no).await?;
        let next = o.shipped(warehouse_id, packages.clone(), clock::now())?;
        let event = Event::SubOrderShipped { order_no: o.order_no().clone(), warehouse_id: warehouse_id.clone() };
        if write(app, &next, &o, &[event]).await? {
            return Ok(next);
        }
    }
    Err(AppError::new(Code::Conflict, "the order changed meanwhile; retry"))
}

/// An operator corrects a shipped sub-order's parcels (a mistyped tracking number). What
/// WeChat already had is sent again through the outbox, which WeChat takes once per payment:
/// a second correction after that is refused (`CORRECTION_USED`) and changes nothing.
#[tracing::instrument(skip_all, fields(order_no = %order_no, warehouse_id = %warehouse_id))]
pub async fn correct_shipment(
    app: &App,
    order_no: &OrderNo,
    warehouse_id: &WarehouseId,
    input: ShipInput,
) -> Result<Order, AppError> {
    let packages = input.packages()?;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            crate::retry::backoff(attempt).await;
        }
        let o = lookup::order(app.store.as_ref(), order_no).await?;
        let next = o.shipment_corrected(warehouse_id, packages.clone())?;
        let event = Event::ShipmentCorrected {
            order_no: o.order_no().clone(),
            warehouse_id: warehouse_id.clone(),
            version: next.version(),
        };
        if write(app, &next, &o, &[event]).await? {
            return Ok(next);
        }
    }
    Err(AppError::new(Code::Conflict, "the order changed meanwhile; retry"))
}

/// The carrier delivered: noted once, and WeChat reminds the shopper to confirm.
pub async fn delivered(app: &App, order_no: &OrderNo) -> Result<Order, AppError> {
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            crate::retry::backoff(attempt).await;
        }
        let o = lookup::order(app.store.as_ref(), order_no).await?;
        let next = o.delivered(clock::now())?;
        if write(app, &next, &o, &[Event::OrderDelivered { order_no: o.order_no().clone() }]).await? {
            return Ok(next);
        }
    }
    Err(AppError::new(Code::Conflict, "the order changed meanwhile; retry"))
}

/// The shopper confirms receipt of their own order; confirming again changes nothing.
pub async fn confirm_received(app: &App, openid: &OpenId, order_no: &OrderNo) -> Result<Order, AppError> {
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            crate::retry::backoff(attempt).await;
        }
        let o = lookup::own_order(app.store.as_ref(), openid, order_no).await?;
        if o.received_at().is_some() {
            return Ok(o);
        }
        let next = o.received(ReceivedBy::Shopper, clock::now())?;
        if write(app, &next, &o, &[]).await? {
            return Ok(next);
        }
    }
    Err(AppError::new(Code::Conflict, "the order changed meanwhile; retry"))
}

#[derive(Debug, Default, serde::Serialize)]
pub struct Advanced {
    pub received: usize,
    pub completed: usize,
    pub failed: usize,
}

/// The scheduled step: orders shipped `auto_confirm_days` ago are received, orders received
/// `refund_window_days` ago complete. Each order on its own: one that fails is counted and
/// the rest go on.
pub async fn advance(app: &App, now: i64) -> Result<Advanced, AppError> {
    let mut report = Advanced::default();
    let days = |d: i64| d * 86_400;
    let steps: [(Phase, i64, Step); 2] = [
        (Phase::Shipped, now - days(app.rules.auto_confirm_days), |o, now| o.received(ReceivedBy::Auto, now)),
        (Phase::Received, now - days(app.rules.refund_window_days), |o, now| o.completed(now)),
    ];
    for (i, (phase, due_before, step)) in steps.into_iter().enumerate() {
        let mut after = None;
        'pages: loop {
            let (due, next) = repo::orders::in_phase(app.store.as_ref(), phase, 100, after).await?;
            for (no, at) in &due {
                if *at > due_before {
                    break 'pages;
                }
                match advance_one(app, no, phase, step, now).await {
                    Ok(true) if i == 0 => report.received += 1,
                    Ok(true) => report.completed += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, order_no = %no, "fulfilment step failed; next run retries");
                        report.failed += 1;
                    }
                }
            }
            after = next;
            if after.is_none() {
                break;
            }
        }
    }
    Ok(report)
}

#[derive(Debug, Default, serde::Serialize)]
pub struct ReceiptsRead {
    pub asked: usize,
    pub received: usize,
    pub failed: usize,
}

/// Shipped orders WeChat is asked about at once.
const RECEIPT_PARALLEL: usize = 8;

/// Receipts the shopper confirmed inside WeChat (its confirm-receipt component or the
/// shipping message): each shipped order WeChat holds the shipment of is asked about through
/// `get_order`, and one WeChat reads as received (state 3, or 4 once settled) is received
/// now rather than after `auto_confirm_days`. `slots` spreads the orders over runs: a run
/// asks about the orders whose number falls in the slot of `now` (the 5-minute schedule with
/// 72 slots asks about each about every 6 hours); 1 asks about all.
pub async fn read_receipts(app: &App, now: i64, slots: u64) -> Result<ReceiptsRead, AppError> {
    can_call_wechat(app)?;
    let mut report = ReceiptsRead::default();
    let slot = (now.max(0) as u64 / 300) % slots.max(1);
    let mut after = None;
    loop {
        let (page, next) = repo::orders::in_phase(app.store.as_ref(), Phase::Shipped, 100, after).await?;
        let mine: Vec<OrderNo> =
            page.into_iter().map(|(no, _)| no).filter(|no| spread(no.as_str()) % slots.max(1) == slot).collect();
        for chunk in mine.chunks(RECEIPT_PARALLEL) {
            let mut asking = tokio::task::JoinSet::new();
            for no in chunk {
                let (app, no) = (app.clone(), no.clone());
                asking.spawn(async move { receipt_of(&app, &no, now).await });
            }
            while let Some(done) = asking.join_next().await {
                let result = done.unwrap_or_else(|_| Err(AppError::internal()));
                match result {
                    Ok(None) => {}
                    Ok(Some(received)) => {
                        report.asked += 1;
                        report.received += usize::from(received);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reading a receipt at WeChat failed; a later run asks again");
                        report.failed += 1;
                    }
                }
            }
        }
        after = next;
        if after.is_none() {
            return Ok(report);
        }
    }
}

/// A stable spread of order numbers over slots.
fn spread(s: &str) -> u64 {
    s.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
}

/// Asks WeChat about one shipped order: `None` when there is nothing to ask (WeChat has none
/// of its shipments yet, or it moved on), else whether it is now received.
async fn receipt_of(app: &App, order_no: &OrderNo, now: i64) -> Result<Option<bool>, AppError> {
    let o = lookup::order(app.store.as_ref(), order_no).await?;
    let uploaded = o.sub_orders().iter().any(|s| s.shipment.as_ref().is_some_and(|sh| sh.uploaded_at.is_some()));
    let Some(tid) = o.transaction_id().filter(|_| uploaded && o.phase().0 == Phase::Shipped) else {
        return Ok(None);
    };
    let at_wechat = match app.wechat.shipping_order(tid).await {
        Ok(s) => s,
        Err(e) if e.transient() => return Err(AppError::new(Code::WechatUnavailable, e.to_string())),
        Err(e) => return Err(AppError::new(Code::WechatError, e.to_string())),
    };
    if !at_wechat.receipt_confirmed() {
        return Ok(Some(false));
    }
    let moved = advance_one(app, order_no, Phase::Shipped, |o, now| o.received(ReceivedBy::InWechat, now), now).await?;
    if moved {
        tracing::info!(%order_no, "the shopper confirmed receipt in WeChat");
    }
    Ok(Some(moved))
}

/// One automatic move of an order.
type Step = fn(&Order, i64) -> Result<Order, domain::DomainError>;

async fn advance_one(app: &App, order_no: &OrderNo, phase: Phase, step: Step, now: i64) -> Result<bool, AppError> {
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            crate::retry::backoff(attempt).await;
        }
        let o = lookup::order(app.store.as_ref(), order_no).await?;
        if o.phase().0 != phase {
            return Ok(false); // the index lagged, or someone moved it first
        }
        let next = step(&o, now)?;
        // Completion closes the refund window: what waited for it (frozen points) hears so.
        let events: Vec<Event> = if next.fulfilment() == Fulfilment::Completed {
            vec![Event::OrderCompleted { order_no: next.order_no().clone() }]
        } else {
            vec![]
        };
        if write(app, &next, &o, &events).await? {
            return Ok(true);
        }
    }
    Err(AppError::new(Code::Conflict, "the order kept changing"))
}

/// What goes in a parcel's `item_desc`: the ordered lines of that sub-order, at most 120
/// characters.
fn item_desc(o: &Order, warehouse_id: &WarehouseId) -> String {
    let Some(sub) = o.sub_order(warehouse_id) else {
        return String::new();
    };
    let mut parts = Vec::new();
    for (sku, n) in &sub.items {
        let name = o
            .lines()
            .iter()
            .chain(o.gifts())
            .find(|l| &l.sku_id == sku || l.components.iter().any(|(c, _)| c == sku))
            .map(|l| l.name.as_str())
            .unwrap_or(sku.as_str());
        parts.push(format!("{name}*{n}"));
    }
    parts.join("，").chars().take(120).collect()
}

/// WeChat's shipping information for one sub-order. One parcel for the whole order is a
/// unified delivery; anything else is split, and the upload that completes the order says
/// `is_all_delivered`.
fn shipping_info(o: &Order, warehouse_id: &WarehouseId, now_ms: i64) -> Result<ShippingInfo, AppError> {
    let tid = o
        .transaction_id()
        .ok_or_else(|| AppError::new(Code::NotShippable, "the order has no WeChat Pay transaction"))?;
    let sub = o.sub_order(warehouse_id).ok_or_else(|| AppError::not_found("sub-order"))?;
    let shipment = sub.shipment.as_ref().ok_or_else(|| AppError::new(Code::NotShippable, "not shipped yet"))?;
    let phone = o.address().map(|a| mask_phone(&a.phone));
    let desc = item_desc(o, warehouse_id);
    let shipping_list = shipment
        .packages
        .iter()
        .map(|p| Parcel {
            tracking_no: p.tracking_no.clone(),
            express_company: p.express_company.clone(),
            item_desc: desc.clone(),
            // SF Express needs a contact; the receiver's phone, masked but its last four.
            contact: (p.express_company == "SF")
                .then(|| phone.clone().map(|receiver_contact| Contact { receiver_contact }))
                .flatten(),
        })
        .collect();
    let unified = o.sub_orders().len() == 1 && shipment.packages.len() == 1;
    let others_uploaded = o
        .sub_orders()
        .iter()
        .filter(|s| &s.warehouse_id != warehouse_id)
        .all(|s| s.shipment.as_ref().is_some_and(|sh| sh.uploaded_at.is_some()));
    Ok(ShippingInfo {
        order_key: OrderKey::transaction(tid),
        logistics_type: shipping::EXPRESS,
        delivery_mode: if unified { shipping::UNIFIED_DELIVERY } else { shipping::SPLIT_DELIVERY },
        is_all_delivered: (!unified).then_some(others_uploaded),
        shipping_list,
        upload_time: shipping::upload_time(now_ms),
        payer: Payer { openid: o.openid().to_string() },
    })
}

/// A function given no app secret cannot get an access token: it leaves the event for one
/// that can (the outbox function, the scheduled sweep), rather than take WeChat's refusal
/// of an empty secret for a refusal of the shipment.
fn can_call_wechat(app: &App) -> Result<(), AppError> {
    if !app.wechat.has_secret() {
        return Err(AppError::unavailable("this function holds no WeChat app secret; the outbox function uploads"));
    }
    Ok(())
}

/// How long an upload holds the order's other uploads off, so split deliveries reach WeChat
/// one at a time and the last says `is_all_delivered`.
const UPLOAD_LEASE_SECS: i64 = 30;

/// The outbox consumer of [`Event::SubOrderShipped`]: uploads every shipped sub-order of the
/// order that WeChat has not accepted yet, one at a time. A passing failure (WeChat busy, the
/// payment not yet in its shipping service) is retried twice at once and then by the outbox;
/// a refusal becomes a case for operators.
#[tracing::instrument(skip_all, fields(order_no = %order_no))]
pub async fn upload_shipments(app: &App, order_no: &OrderNo) -> Result<(), AppError> {
    can_call_wechat(app)?;
    let mut refused = Vec::new();
    loop {
        take_upload_lease(app, order_no).await?;
        let outcome = upload_pending(app, order_no, &mut refused).await;
        release_upload_lease(app, order_no).await?;
        outcome?;
        // A sub-order that shipped while the lease was held may have left its own event to
        // this run: go again while any is waiting.
        let o = lookup::order(app.store.as_ref(), order_no).await?;
        if pending_upload(&o, &refused).is_none() {
            return Ok(());
        }
    }
}

/// The first shipped sub-order WeChat has not accepted (and did not refuse).
fn pending_upload(o: &Order, refused: &[WarehouseId]) -> Option<WarehouseId> {
    o.sub_orders()
        .iter()
        .find(|s| s.shipment.as_ref().is_some_and(|sh| sh.uploaded_at.is_none()) && !refused.contains(&s.warehouse_id))
        .map(|s| s.warehouse_id.clone())
}

/// Holds the order's upload lease, waiting up to five seconds for another upload to finish.
async fn take_upload_lease(app: &App, order_no: &OrderNo) -> Result<(), AppError> {
    for _ in 0..20 {
        let o = lookup::order(app.store.as_ref(), order_no).await?;
        let now = clock::now();
        if o.upload_lease_until().is_some_and(|t| t > now) {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        if write(app, &o.upload_leased(now + UPLOAD_LEASE_SECS), &o, &[]).await? {
            return Ok(());
        }
    }
    Err(AppError::new(Code::Busy, "another upload of this order is under way"))
}

async fn release_upload_lease(app: &App, order_no: &OrderNo) -> Result<(), AppError> {
    for _ in 0..5 {
        let o = lookup::order(app.store.as_ref(), order_no).await?;
        if write(app, &o.upload_released(), &o, &[]).await? {
            return Ok(());
        }
    }
    Err(AppError::new(Code::Conflict, "the order kept changing; the lease runs out by itself"))
}

/// Uploads the waiting sub-orders one at a time, each from a fresh read (so the last says it
/// is all delivered), marking each accepted one on the order as it goes.
async fn upload_pending(app: &App, order_no: &OrderNo, refused: &mut Vec<WarehouseId>) -> Result<(), AppError> {
    loop {
        let o = lookup::order(app.store.as_ref(), order_no).await?;
        let Some(wh) = pending_upload(&o, refused) else {
            return Ok(());
        };
        if !upload_one(app, &o, &wh).await? {
            refused.push(wh);
            continue;
        }
        // WeChat has it: note it on the order, on whatever version the order is now (a
        // shipment of another sub-order may have been written meanwhile).
        let mut noted = false;
        for _ in 0..5 {
            let fresh = lookup::order(app.store.as_ref(), order_no).await?;
            let next = fresh.shipment_uploaded(&wh, clock::now())?;
            if write(app, &next, &fresh, &[]).await? {
                noted = true;
                break;
            }
        }
        if !noted {
            return Err(AppError::new(Code::Conflict, "the order kept changing"));
        }
    }
}

/// Uploads one sub-order: `Ok(true)` when WeChat took it, `Ok(false)` when it refused it for
/// good (a case is recorded).
async fn upload_one(app: &App, o: &Order, warehouse_id: &WarehouseId) -> Result<bool, AppError> {
    let mut wait = Duration::from_millis(200);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let info = shipping_info(o, warehouse_id, time_ms())?;
        match app.wechat.upload_shipping_info(&info).await {
            Ok(()) => {
                tracing::info!(%warehouse_id, parcels = info.shipping_list.len(), "shipping information accepted");
                return Ok(true);
            }
            // An earlier attempt reached WeChat and its answer was lost: WeChat has it.
            Err(e) if e.already_has_it() => {
                tracing::info!(%warehouse_id, "WeChat already held this shipping information");
                return Ok(true);
            }
            Err(e) if e.transient() && attempt < 3 => {
                tracing::warn!(error = %e, attempt, "shipping upload failed; retrying");
                tokio::time::sleep(wait).await;
                wait *= 3;
            }
            Err(e) if e.transient() => return Err(AppError::new(Code::WechatUnavailable, e.to_string())),
            Err(e) => {
                let detail = json!({ "warehouse_id": warehouse_id, "error": e.to_string() });
                cases::record(
                    &app.store,
                    CaseKind::ShippingUploadRefused,
                    &format!("{}-{warehouse_id}", o.order_no()),
                    o.order_no(),
                    detail,
                )
                .await?;
                return Ok(false);
            }
        }
    }
}

fn time_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The outbox consumer of [`Event::OrderDelivered`]: WeChat's reminder to confirm. Only a
/// reminder, so a refusal is logged, not a case.
pub async fn remind_to_confirm(app: &App, order_no: &OrderNo) -> Result<(), AppError> {
    can_call_wechat(app)?;
    let o = lookup::order(app.store.as_ref(), order_no).await?;
    let (Some(tid), Some(at)) = (o.transaction_id(), o.delivered_at()) else {
        return Ok(());
    };
    match app.wechat.notify_confirm_receive(tid, at).await {
        Ok(()) => Ok(()),
        Err(e) if e.transient() => Err(AppError::new(Code::WechatUnavailable, e.to_string())),
        Err(e) => {
            tracing::warn!(error = %e, "WeChat refused the reminder to confirm receipt");
            Ok(())
        }
    }
}
