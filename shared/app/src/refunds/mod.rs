//! Refunds: requested by a shopper and approved or refused by an operator, started by an
//! operator, or started by the shop itself for a payment that arrived after its order
//! closed. The amount is reserved on the order with a conditional write, so the sum of
//! refunds never exceeds what was paid; `out_refund_no` makes every WeChat call idempotent;
//! the refund notify completes it. The record, its state machine and the pricing of a refund
//! by lines are `domain::refund`; how refunds are stored is `store::repo::refunds`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use crate::cases::{self, CaseKind};
use crate::error::{AppError, Code};
use crate::{App, audit, lookup};
use domain::clock;
use domain::events::Event;
use domain::ids::{OpenId, OrderNo, OutRefundNo, Quantity, RequestId, SkuId, TransactionId};
use domain::money::Fen;
use domain::operator::{Approval, Approved, Caller, Exposure};
use domain::order::Order;
use domain::order::{Fulfilment, OrderState};
pub use domain::refund::{ARRIVAL_NOTE, Actor, RefundRecord, RefundState};
use domain::refund::{amount_for_lines, restock_for};
use store::repo::holds::{self, Occasion};
use store::{SharedStore, StoreError, TxOp, repo};
use wechat::pay::client::parse_rfc3339;
use wechat::pay::types::{RefundAmountRequest, RefundNotice, RefundRequest, RefundStatus};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundInput {
    pub request_id: RequestId,
    /// Money only, no stock back.
    #[serde(default)]
    pub amount_fen: Option<i64>,
    /// Lines and units; their share of what was paid is refunded and unshipped units return.
    #[serde(default)]
    pub lines: Option<BTreeMap<SkuId, Quantity>>,
    /// Everything still refundable, every unit not yet returned.
    #[serde(default)]
    pub full: bool,
    #[serde(default)]
    pub reason: String,
}

async fn get_opt(
    store: &SharedStore,
    order_no: &OrderNo,
    out_refund_no: &OutRefundNo,
) -> Result<Option<RefundRecord>, AppError> {
    Ok(repo::refunds::get(store.as_ref(), order_no, out_refund_no).await?)
}

pub async fn get(
    store: &SharedStore,
    order_no: &OrderNo,
    out_refund_no: &OutRefundNo,
) -> Result<RefundRecord, AppError> {
    get_opt(store, order_no, out_refund_no).await?.ok_or_else(|| AppError::not_found("refund"))
}

pub async fn of_order(store: &SharedStore, order_no: &OrderNo) -> Result<Vec<RefundRecord>, AppError> {
    Ok(repo::refunds::of_order(store.as_ref(), order_no).await?)
}

pub async fn with_state(
    store: &SharedStore,
    state: RefundState,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<RefundRecord>, Option<String>), AppError> {
    let (listed, next) = repo::refunds::listed_in(store.as_ref(), state, limit, after).await?;
    let mut out = Vec::new();
    for r in listed {
        // The index may lag a state change; read the refund itself.
        let fresh = get(store, r.order_no(), r.out_refund_no()).await?;
        if fresh.state() == state {
            out.push(fresh);
        }
    }
    Ok((out, next))
}

/// Who asks for a refund.
#[derive(Debug, Clone, Copy)]
pub enum Requester<'a> {
    /// The shopper who owns the order.
    Shopper(&'a OpenId),
    /// An operator: their request counts as their approval where their role allows it.
    Operator(&'a Caller),
}

impl Requester<'_> {
    fn actor(self) -> Actor {
        match self {
            Requester::Shopper(_) => Actor::Shopper,
            Requester::Operator(_) => Actor::Operator,
        }
    }
}

/// What the audit trail keeps of a refund: its state, amount and approvers; never the
/// shopper's openid.
fn audited(r: &RefundRecord) -> serde_json::Value {
    json!({
        "state": r.state().as_str(),
        "amount_fen": r.amount().fen(),
        "approvals": r.approvals().iter().map(|a| &a.operator_id).collect::<Vec<_>>(),
    })
}

fn target(r: &RefundRecord) -> String {
    format!("{}/{}", r.order_no(), r.out_refund_no())
}

/// What a refund comes to when `approver` approves it now, and the totals read to decide it,
/// which the writes that start it are conditioned on ([`repo::refunds::count_start`]).
struct Standing {
    exposure: Exposure,
    day: String,
    shopper_read: Fen,
    approver_read: Fen,
}

/// `order_total`: the order's refunds with this one.
async fn standing(
    app: &App,
    order: &Order,
    amount: Fen,
    order_total: Fen,
    approver: &Caller,
) -> Result<Standing, AppError> {
    let store = app.store.as_ref();
    let day = clock::business_day(clock::now()).map(|d| d.to_string()).unwrap_or_default();
    let shopper_read = repo::refunds::started_to_shopper(store, order.openid(), &day).await?;
    let approver_read = repo::refunds::started_by_operator(store, &approver.id, &day).await?;
    let exposure = Exposure {
        amount,
        order_total,
        shopper_today: shopper_read.checked_add(amount).ok_or(domain::DomainError::Overflow)?,
        approver_today: approver_read,
    };
    Ok(Standing { exposure, day, shopper_read, approver_read })
}

impl Standing {
    /// The writes that count the refund as started now, on `approver`'s approval.
    fn count(&self, order: &Order, approver: &Caller) -> Vec<TxOp> {
        repo::refunds::count_start(
            order.openid(),
            Some((approver.id.as_str(), self.approver_read)),
            &self.day,
            self.exposure.amount,
            self.shopper_read,
            clock::now(),
        )
    }
}

/// The approvals of `r` that still count: an approval by an account disabled since (or whose
/// finance grant is pending) is void.
async fn live_approvals(app: &App, r: &RefundRecord) -> Result<Vec<Approval>, AppError> {
    let mut live = Vec::new();
    for a in r.approvals() {
        let account = repo::operators::get(app.store.as_ref(), &a.operator_id).await?;
        if account.is_some_and(|acc| !acc.disabled && !acc.pending) {
            live.push(a.clone());
        }
    }
    Ok(live)
}

/// Creates a refund and reserves its amount on the order, in one transaction. A shopper's
/// refund waits for an operator; an operator's starts at once when their approval is enough
/// for its amount (else it waits for finance). (The shop's own refund of a late payment is
/// [`refund_late_payment`].)
#[tracing::instrument(skip_all, fields(order_no = %order_no, by = who.actor().as_str()))]
pub async fn create(
    app: &App,
    order_no: &OrderNo,
    who: Requester<'_>,
    input: RefundInput,
) -> Result<RefundRecord, AppError> {
    let openid = match who {
        Requester::Shopper(o) => Some(o),
        Requester::Operator(_) => None,
    };
    let by = who.actor();
    let store = &app.store;
    let out_refund_no = OutRefundNo::parse(&format!("R{order_no}-{}", input.request_id))?;
    for _ in 0..audit::RETRIES {
        let order = match openid {
            Some(o) => lookup::own_order(store.as_ref(), o, order_no).await?,
            None => lookup::order(store.as_ref(), order_no).await?,
        };
        if let Ok(existing) = get(store, order_no, &out_refund_no).await {
            return Ok(existing);
        }
        if order.state() != OrderState::Paid {
            return Err(AppError::new(Code::NotRefundable, "only a paid order can be refunded"));
        }
        if order.fulfilment() == Fulfilment::Completed {
            return Err(AppError::new(Code::NotRefundable, "the order completed; its refund window closed"));
        }
        let mut lines = BTreeMap::new();
        let amount = match (input.full, &input.lines, input.amount_fen) {
            (true, None, None) => {
                for l in order.lines() {
                    let left = l.quantity - order.returned(&l.sku_id);
                    if left > 0 {
                        lines.insert(l.sku_id.clone(), left);
                    }
                }
                order.refundable()
            }
            (false, Some(l), None) => {
                lines = l.iter().map(|(sku, n)| (sku.clone(), n.get())).collect();
                amount_for_lines(&order, &lines)?
            }
            (false, None, Some(a)) => Fen::new(a),
            _ => return Err(AppError::bad_request("give exactly one of full, lines or amount_fen")),
        };
        let mut record = RefundRecord::new(
            out_refund_no.clone(),
            &order,
            amount,
            lines.clone(),
            input.reason.chars().take(80).collect(),
            by,
            clock::now(),
        );
        let mut extra = Vec::new();
        if let Requester::Operator(caller) = who {
            record = record.requested_by_operator(&caller.id);
            // The operator's own approval, when their role may give it for what the order's
            // refunds come to with this one, the shopper's today and theirs today.
            let order_total = order.reserved_for_refunds().checked_add(amount).ok_or(domain::DomainError::Overflow)?;
            let s = standing(app, &order, amount, order_total, caller).await?;
            if let Ok((approvals, ok)) =
                app.rules.refund_policy.approve(&s.exposure, &[], caller.approval(clock::now()))
            {
                record = record.with_first_approval(approvals, ok);
                if ok == Approved::Yes {
                    extra.extend(s.count(&order, caller));
                }
            }
            extra.extend(
                audit::entry(
                    app.store.as_ref(),
                    caller,
                    "refund.create",
                    &target(&record),
                    None,
                    Some(audited(&record)),
                )
                .await?,
            );
        }
        let state = record.state();
        let updated = order.refund_reserved(amount, &lines)?;
        let mut ops = repo::refunds::open(&record, &order, &updated)?;
        ops.extend(extra);
        match store.transact(ops).await {
            Ok(()) => {
                if state == RefundState::Processing {
                    return execute(app, record).await;
                }
                return Ok(record);
            }
            Err(StoreError::Cancelled { failed }) if failed.contains(&repo::refunds::OPEN_REFUND_OP) => {
                return get(store, order_no, &out_refund_no).await;
            }
            Err(StoreError::Cancelled { .. }) | Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::new(Code::Conflict, "the order changed meanwhile; retry"))
}

/// Writes `next` (a move of `r` the state machine allowed) with `extra` writes, under a
/// condition on the version `r` was read at; `None` when it changed meanwhile.
async fn transition(
    store: &SharedStore,
    r: &RefundRecord,
    next: Result<RefundRecord, domain::DomainError>,
    extra: Vec<TxOp>,
) -> Result<Option<RefundRecord>, AppError> {
    let next = next?;
    let mut ops = vec![repo::refunds::rewrite(&next, r.version())?];
    ops.extend(extra);
    match store.transact(ops).await {
        Ok(()) => Ok(Some(next)),
        Err(StoreError::Cancelled { .. }) | Err(StoreError::Conflict) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Gives back a refund's reservation on its order (refused, closed or failed refunds); a
/// second payment's refund reserved nothing there.
async fn release_ops(store: &SharedStore, r: &RefundRecord) -> Result<Vec<TxOp>, AppError> {
    let order = lookup::order(store.as_ref(), r.order_no()).await?;
    if !r.moves_order(&order) {
        return Ok(Vec::new());
    }
    let o = order.refund_released(r.amount(), r.lines())?;
    Ok(vec![repo::orders::rewrite(&o, &order)?])
}

/// Records `by`'s approval. When the approvals are enough for the amount (see
/// [`domain::operator::RefundPolicy`]) the refund goes to WeChat Pay; otherwise it stays
/// requested, waiting for a second finance approver.
#[tracing::instrument(skip_all, fields(order_no = %order_no, out_refund_no = %out_refund_no))]
pub async fn approve(
    app: &App,
    by: &Caller,
    order_no: &OrderNo,
    out_refund_no: &OutRefundNo,
) -> Result<RefundRecord, AppError> {
    for _ in 0..audit::RETRIES {
        let r = get(&app.store, order_no, out_refund_no).await?;
        if r.state() != RefundState::Requested {
            return Err(AppError::new(
                Code::InvalidTransition,
                format!("a {} refund cannot be approved", r.state().as_str()),
            ));
        }
        if r.requested_by() == Some(by.id.as_str()) {
            return Err(AppError::forbidden("you asked for this refund: another operator approves it"));
        }
        let order = lookup::order(app.store.as_ref(), order_no).await?;
        // The order's refunds reserved so far hold this one already.
        let s = standing(app, &order, r.amount(), order.reserved_for_refunds(), by).await?;
        let live = live_approvals(app, &r).await?;
        let (approvals, enough) = app.rules.refund_policy.approve(&s.exposure, &live, by.approval(clock::now()))?;
        let after = r.approved(approvals, enough, clock::now())?;
        let mut extra = audit::entry(
            app.store.as_ref(),
            by,
            "refund.approve",
            &target(&r),
            Some(audited(&r)),
            Some(audited(&after)),
        )
        .await?;
        if enough == Approved::Yes {
            extra.extend(s.count(&order, by));
        }
        match transition(&app.store, &r, Ok(after), extra).await? {
            Some(next) if enough == Approved::Yes => return execute(app, next).await,
            Some(next) => return Ok(next),
            // The refund, or a total it was decided on, changed meanwhile: decide again.
            None => continue,
        }
    }
    Err(AppError::new(Code::Conflict, "the refund changed meanwhile; reload"))
}

#[tracing::instrument(skip_all, fields(order_no = %order_no, out_refund_no = %out_refund_no))]
pub async fn refuse(
    app: &App,
    by: &Caller,
    order_no: &OrderNo,
    out_refund_no: &OutRefundNo,
) -> Result<RefundRecord, AppError> {
    for _ in 0..audit::RETRIES {
        let r = get(&app.store, order_no, out_refund_no).await?;
        if r.state() != RefundState::Requested {
            return Err(AppError::new(
                Code::InvalidTransition,
                format!("a {} refund cannot be refused", r.state().as_str()),
            ));
        }
        let mut ops = release_ops(&app.store, &r).await?;
        let after = r.moved(RefundState::Refused, clock::now())?;
        ops.extend(
            audit::entry(
                app.store.as_ref(),
                by,
                "refund.refuse",
                &target(&r),
                Some(audited(&r)),
                Some(audited(&after)),
            )
            .await?,
        );
        if let Some(next) = transition(&app.store, &r, Ok(after), ops).await? {
            return Ok(next);
        }
    }
    Err(AppError::new(Code::Conflict, "the refund changed meanwhile; reload"))
}

/// Asks WeChat Pay to refund (idempotent by out_refund_no). A definite refusal releases the
/// reservation; a network failure leaves the refund processing for the retry sweep.
#[tracing::instrument(skip_all, fields(order_no = %r.order_no(), out_refund_no = %r.out_refund_no()))]
pub async fn execute(app: &App, r: RefundRecord) -> Result<RefundRecord, AppError> {
    let client = app.pay()?;
    let order = lookup::order(app.store.as_ref(), r.order_no()).await?;
    // A surplus payment goes back whole by its own id: it may be of another amount than the
    // order's, and it is not the payment the order number stands for at WeChat Pay.
    let (transaction_id, out_trade_no, total) = match r.payment() {
        Some(tid) => (Some(tid.to_string()), None, r.amount()),
        None => (None, Some(r.order_no().to_string()), order.payable()),
    };
    let req = RefundRequest {
        transaction_id,
        out_trade_no,
        out_refund_no: r.out_refund_no().to_string(),
        reason: (!r.reason().is_empty()).then(|| r.reason().to_owned()),
        notify_url: Some(client.notify_url().to_owned()),
        amount: RefundAmountRequest { refund: r.amount().fen(), total: total.fen(), currency: "CNY".into() },
    };
    match client.refund(&req).await {
        Ok(answer) => {
            let sent = r.sent(answer.refund_id.clone(), clock::now());
            let next = transition(&app.store, &r, sent, vec![]).await?.unwrap_or(r);
            if answer.status == RefundStatus::Success {
                let at = answer.success_time.as_deref().and_then(parse_rfc3339);
                return complete(app, next.order_no(), next.out_refund_no(), at).await;
            }
            Ok(next)
        }
        Err(e) if e.verified_kind().is_some_and(|k| !k.transient()) => {
            tracing::warn!(error = %e, out_refund_no = %r.out_refund_no(), "WeChat Pay refused the refund");
            let ops = release_ops(&app.store, &r).await?;
            let failed = r.refused_by_wechat(e.to_string(), clock::now());
            Ok(transition(&app.store, &r, failed, ops).await?.unwrap_or(r))
        }
        Err(e) => {
            tracing::warn!(error = %e, out_refund_no = %r.out_refund_no(), "refund call failed; will retry");
            let noted = r.call_failed(e.to_string(), clock::now());
            Ok(transition(&app.store, &r, noted, vec![]).await?.unwrap_or(r))
        }
    }
}

/// Refunds, in full, a payment that arrived for an order already closed (or paid twice): the
/// consumer of `LatePaymentReceived`. Idempotent: the refund number derives from the
/// transaction, its record is created once, and WeChat Pay refunds one number once.
#[tracing::instrument(skip_all, fields(order_no = %order_no))]
pub async fn refund_late_payment(
    app: &App,
    order_no: &OrderNo,
    transaction_id: &TransactionId,
    amount: Fen,
) -> Result<RefundRecord, AppError> {
    let tail: String = transaction_id.chars().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
    let out_refund_no = OutRefundNo::parse(&format!("RL{tail}"))?;
    let r = match get_opt(&app.store, order_no, &out_refund_no).await? {
        Some(r) => r,
        None => {
            let order = lookup::order(app.store.as_ref(), order_no).await?;
            let r = RefundRecord::new(
                out_refund_no.clone(),
                &order,
                amount,
                BTreeMap::new(),
                if order.state() == OrderState::Closed {
                    "订单已关闭，自动退款"
                } else {
                    "重复支付，自动退款"
                }
                .into(),
                Actor::System,
                clock::now(),
            )
            .of_payment(transaction_id.clone());
            if repo::refunds::create_once(app.store.as_ref(), &r).await? {
                r
            } else {
                get(&app.store, order_no, &out_refund_no).await?
            }
        }
    };
    // Sent already (a WeChat refund id is known) or past processing: nothing to do.
    if r.state() != RefundState::Processing || r.refund_id().is_some() {
        return Ok(r);
    }
    execute(app, r).await
}

/// Handles a verified refund notify.
#[tracing::instrument(skip_all, fields(order_no = %n.out_trade_no, out_refund_no = %n.out_refund_no))]
pub async fn on_notify(app: &App, n: &RefundNotice) -> Result<(), AppError> {
    // Numbers that cannot be this shop's name no refund of it.
    let found = match (OrderNo::parse(&n.out_trade_no), OutRefundNo::parse(&n.out_refund_no)) {
        (Ok(no), Ok(refund_no)) => get(&app.store, &no, &refund_no).await,
        _ => Err(AppError::not_found("refund")),
    };
    let r = match found {
        Ok(r) => r,
        Err(e) if e.code == Code::NotFound => {
            cases::record(
                &app.store,
                CaseKind::UnknownRefund,
                &n.out_refund_no,
                &n.out_trade_no,
                json!({ "status": n.refund_status.as_str() }),
            )
            .await?;
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    if n.amount.refund != r.amount().fen() {
        cases::record(
            &app.store,
            CaseKind::RefundAmountMismatch,
            &n.out_refund_no,
            &n.out_trade_no,
            json!({ "wechat": n.amount.refund, "ours": r.amount().fen() }),
        )
        .await?;
        return Ok(());
    }
    match n.refund_status {
        RefundStatus::Success => {
            let at = n.success_time.as_deref().and_then(parse_rfc3339);
            complete(app, r.order_no(), r.out_refund_no(), at).await.map(|_| ())
        }
        RefundStatus::Closed => close(app, r.order_no(), r.out_refund_no()).await.map(|_| ()),
        RefundStatus::Abnormal => {
            if r.state() == RefundState::Processing {
                transition(&app.store, &r, r.moved(RefundState::Abnormal, clock::now()), vec![]).await?;
                cases::record(
                    &app.store,
                    CaseKind::RefundAbnormal,
                    r.out_refund_no(),
                    r.order_no(),
                    json!({ "amount": r.amount().fen() }),
                )
                .await?;
            }
            Ok(())
        }
        other @ (RefundStatus::Processing | RefundStatus::Unknown) => {
            tracing::warn!(status = other.as_str(), "a refund notify that reports no outcome");
            Ok(())
        }
    }
}

/// REFUND.SUCCESS: the refund is done; what the order held for its lines comes back (unshipped
/// units to stock; on a full refund the coupon while it is still valid: see
/// `store::repo::holds`). Applied once (conditioned on both versions).
/// `success_time` is WeChat's (from the notify, the query or the bill), so the refund counts
/// on the same business day in the shop's books as in WeChat's.
#[tracing::instrument(skip_all, fields(order_no = %order_no, out_refund_no = %out_refund_no))]
pub async fn complete(
    app: &App,
    order_no: &OrderNo,
    out_refund_no: &OutRefundNo,
    success_time: Option<i64>,
) -> Result<RefundRecord, AppError> {
    let store = &app.store;
    for _ in 0..3 {
        let r = get(store, order_no, out_refund_no).await?;
        if r.state().is_final() {
            return Ok(r);
        }
        let order = lookup::order(store.as_ref(), order_no).await?;
        let back = restock_for(&order, r.lines());
        let now = clock::now();
        let mut ops = Vec::new();
        if r.moves_order(&order) {
            let o = order.refund_completed(r.amount(), &back)?;
            ops.push(repo::orders::rewrite(&o, &order)?);
            ops.extend(holds::give_back(store.as_ref(), &o, Occasion::Refunded { restock: &back, at: now }).await?);
        }
        let event = Event::RefundCompleted {
            order_no: r.order_no().clone(),
            out_refund_no: r.out_refund_no().clone(),
            amount: r.amount(),
            surplus: r.returns_surplus(),
        };
        ops.push(repo::outbox::append(&event, now)?);
        let at = success_time.unwrap_or(now);
        if let Some(next) = transition(store, &r, r.succeeded(at, now), ops).await? {
            app.poke_outbox();
            tracing::info!(
                %order_no,
                %out_refund_no,
                amount = r.amount().fen(),
                restocked = back.len(),
                "refund completed"
            );
            return Ok(next);
        }
    }
    Err(AppError::new(Code::Conflict, "the order kept changing; the notify will be retried"))
}

/// REFUND.CLOSED: the refund did not happen; its reservation is released.
#[tracing::instrument(skip_all, fields(order_no = %order_no, out_refund_no = %out_refund_no))]
pub async fn close(app: &App, order_no: &OrderNo, out_refund_no: &OutRefundNo) -> Result<RefundRecord, AppError> {
    for _ in 0..3 {
        let r = get(&app.store, order_no, out_refund_no).await?;
        if !matches!(r.state(), RefundState::Processing | RefundState::Abnormal) {
            return Ok(r);
        }
        let ops = release_ops(&app.store, &r).await?;
        if let Some(next) = transition(&app.store, &r, r.moved(RefundState::Closed, clock::now()), ops).await? {
            return Ok(next);
        }
    }
    Err(AppError::new(Code::Conflict, "the order kept changing; the notify will be retried"))
}

/// Retries refunds still processing without a WeChat refund id (a crash or network error
/// between reserving and calling), and asks WeChat about ones whose notify never came.
#[tracing::instrument(skip_all)]
pub async fn retry_pending(app: &App, older_than: i64) -> Result<usize, AppError> {
    let mut n = 0;
    // Every refund still in flight, page by page, and the abnormal ones too: WeChat Pay may
    // still settle those (the shopper's account is restored, or the operator retried there).
    for state in [RefundState::Processing, RefundState::Abnormal] {
        let mut after = None;
        loop {
            let (page, next) = with_state(&app.store, state, 100, after).await?;
            for r in page.into_iter().filter(|r| r.updated_at() <= older_than) {
                n += 1;
                let no = r.out_refund_no().clone();
                if let Err(e) = retry_one(app, r).await {
                    tracing::warn!(error = %e, out_refund_no = %no, "refund retry failed; the next sweep tries again");
                }
            }
            after = next;
            if after.is_none() {
                break;
            }
        }
    }
    Ok(n)
}

async fn retry_one(app: &App, r: RefundRecord) -> Result<(), AppError> {
    if r.refund_id().is_none() && r.state() == RefundState::Processing {
        execute(app, r).await?;
        return Ok(());
    }
    if let Ok(Some(w)) = app.pay()?.query_refund(r.out_refund_no()).await {
        match w.status {
            RefundStatus::Success => {
                let at = w.success_time.as_deref().and_then(parse_rfc3339);
                complete(app, r.order_no(), r.out_refund_no(), at).await?;
            }
            RefundStatus::Closed => {
                close(app, r.order_no(), r.out_refund_no()).await?;
            }
            RefundStatus::Processing | RefundStatus::Abnormal | RefundStatus::Unknown => {}
        }
    }
    Ok(())
}
