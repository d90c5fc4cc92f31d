//! Applying a WeChat Pay payment, whichever way it arrives (notify, query, reconciliation):
//! keyed by transaction_id, so it is applied once; the order moves unpaid → paid only under
//! a condition on its state; a payment for a closed order is recorded and refunded.

use serde::Serialize;
use serde_json::json;

use crate::App;
use crate::cases::{self, CaseKind};
use crate::error::{AppError, Code};
use domain::clock;
use domain::events::Event;
use domain::ids::{OpenId, OrderNo, TransactionId};
use domain::money::Fen;
use domain::order::{Order, OrderState};
pub use domain::payment::{PaymentOutcome, PaymentRecord, PaymentSource};
use store::repo;
use store::{StoreError, TxOp};
use wechat::pay::client::parse_rfc3339;
use wechat::pay::types::Transaction;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    Duplicate,
    /// The order had closed: the payment is recorded and refunded in full.
    PaidAfterClose,
    /// Not this shop's, or not matching the order: recorded as a case, not applied.
    Rejected,
    /// WeChat says the order is not paid.
    NotPaid,
}

fn record_op(
    tx: &Transaction,
    tid: &TransactionId,
    order_no: &OrderNo,
    openid: &OpenId,
    source: PaymentSource,
    outcome: PaymentOutcome,
) -> Result<TxOp, StoreError> {
    let success_time = tx.success_time.as_deref().and_then(parse_rfc3339).unwrap_or_else(clock::now);
    let day = clock::business_day(success_time).map(|d| d.to_string()).unwrap_or_default();
    repo::payments::record(&PaymentRecord {
        transaction_id: tid.clone(),
        order_no: order_no.clone(),
        openid: openid.clone(),
        amount: Fen::new(tx.amount.as_ref().map(|a| a.total).unwrap_or(0)),
        success_time,
        day,
        source,
        outcome,
        recorded_at: clock::now(),
    })
}

/// Applies a verified payment. Every path is idempotent: the payment record is written with
/// `attribute_not_exists`, and the order moves only from the state that was read.
#[tracing::instrument(skip_all, fields(order_no = %tx.out_trade_no, source = source.as_str()))]
pub async fn apply(app: &App, tx: &Transaction, source: PaymentSource) -> Result<Outcome, AppError> {
    let store = &app.store;
    if !tx.is_paid() {
        return Ok(Outcome::NotPaid);
    }
    let Some(tid) = tx.transaction_id.as_deref().and_then(|t| TransactionId::parse(t).ok()) else {
        cases::record(
            store,
            CaseKind::PaymentWithoutTransactionId,
            &tx.out_trade_no,
            &tx.out_trade_no,
            json!({ "source": source }),
        )
        .await?;
        return Ok(Outcome::Rejected);
    };
    let client = app.pay()?;
    if tx.mchid != client.mchid() || tx.appid != client.appid() {
        cases::record(
            store,
            CaseKind::ForeignPayment,
            &tid,
            &tx.out_trade_no,
            json!({ "mchid": tx.mchid, "appid": tx.appid }),
        )
        .await?;
        return Ok(Outcome::Rejected);
    }
    if repo::payments::get(store.as_ref(), &tid).await?.is_some() {
        return Ok(Outcome::Duplicate);
    }
    for _ in 0..3 {
        let order = match repo::orders::get(store.as_ref(), &tx.out_trade_no).await? {
            Some(o) => o,
            None => {
                cases::record(
                    store,
                    CaseKind::UnknownOrder,
                    &tid,
                    &tx.out_trade_no,
                    json!({ "amount": tx.amount.as_ref().map(|a| a.total) }),
                )
                .await?;
                return Ok(Outcome::Rejected);
            }
        };
        let paid_total = tx.amount.as_ref().map(|a| a.total).unwrap_or(-1);
        if paid_total != order.payable.fen() {
            let detail = json!({ "paid": paid_total, "payable": order.payable.fen() });
            let ops = vec![
                record_op(tx, &tid, &order.order_no, &order.openid, source, PaymentOutcome::Rejected)?,
                cases::record_op(CaseKind::AmountMismatch, &tid, &order.order_no, detail)?,
            ];
            return match store.transact(ops).await {
                Ok(()) => Ok(Outcome::Rejected),
                Err(StoreError::Cancelled { .. }) => Ok(Outcome::Duplicate),
                Err(e) => Err(e.into()),
            };
        }
        let result = match order.state {
            OrderState::Unpaid => store.transact(paid_ops(tx, &tid, &order, source)?).await.map(|()| Outcome::Applied),
            OrderState::Paid if order.transaction_id.as_deref() == Some(tid.as_str()) => return Ok(Outcome::Duplicate),
            OrderState::Paid => {
                // A second payment of the same order: keep it and give it back.
                late_payment(app, tx, &tid, &order, source, PaymentOutcome::DoublePayment).await
            }
            OrderState::Closed => late_payment(app, tx, &tid, &order, source, PaymentOutcome::PaidAfterClose).await,
        };
        match result {
            Ok(outcome) => {
                crate::outbox::poke(app);
                tracing::info!(order_no = %order.order_no, ?outcome, source = source.as_str(), "payment");
                return Ok(outcome);
            }
            Err(StoreError::Cancelled { failed }) if failed.contains(&0) => return Ok(Outcome::Duplicate),
            // The order changed between read and write (the closer, another notify): read again.
            Err(StoreError::Cancelled { .. }) | Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::new(Code::Conflict, "the order kept changing; the payment will be retried"))
}

fn paid_ops(
    tx: &Transaction,
    tid: &TransactionId,
    order: &Order,
    source: PaymentSource,
) -> Result<Vec<TxOp>, StoreError> {
    let now = clock::now();
    let paid_at = tx.success_time.as_deref().and_then(parse_rfc3339).unwrap_or(now);
    let paid = order.paid(tid, paid_at).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let day = clock::business_day(now).map(|d| d.to_string()).unwrap_or_default();
    let mut ops = vec![
        record_op(tx, tid, &order.order_no, &order.openid, source, PaymentOutcome::Applied)?,
        repo::orders::transition(&paid, OrderState::Unpaid, order.version)?,
        repo::payments::count_payment(&order.openid, &day),
    ];
    if let (Some(c), Some(t)) = (&order.coupon_id, &order.coupon_template) {
        ops.extend(repo::coupons::use_ops(&order.openid, c, t, &order.order_no));
    }
    ops.extend(repo::orders::release_holds(order));
    let event =
        Event::PaymentApplied { order_no: order.order_no.clone(), transaction_id: tid.clone(), amount: order.payable };
    ops.push(repo::outbox::append(&event, now)?);
    Ok(ops)
}

/// A payment the order can no longer take: recorded with a case for operators, the whole
/// amount reserved on the order, and an event in the same transaction that the refunds
/// context consumes to send it back. Nothing here calls WeChat, so the notify is answered as
/// soon as this commits, and a crash after it loses nothing.
async fn late_payment(
    app: &App,
    tx: &Transaction,
    tid: &TransactionId,
    order: &Order,
    source: PaymentSource,
    kind: PaymentOutcome,
) -> Result<Outcome, StoreError> {
    let amount = tx.amount.as_ref().map(|a| a.total).unwrap_or(0);
    let mut ops = vec![
        record_op(tx, tid, &order.order_no, &order.openid, source, kind)?,
        cases::record_op(
            CaseKind::of_late_payment(kind),
            tid,
            &order.order_no,
            json!({ "amount": amount, "state": order.state.as_str() }),
        )?,
    ];
    if order.state == OrderState::Closed {
        // The refund takes the whole payment back: reserved, as every refund is, so the
        // order's totals stay true.
        let o = order.paid_after_close(tid, Fen::new(amount)).map_err(|e| StoreError::Invalid(e.to_string()))?;
        ops.push(repo::orders::rewrite(&o, order.version)?);
    }
    let event = Event::LatePaymentReceived {
        order_no: order.order_no.clone(),
        transaction_id: tid.clone(),
        amount: Fen::new(amount),
    };
    ops.push(repo::outbox::append(&event, clock::now())?);
    app.store.transact(ops).await?;
    crate::outbox::poke(app);
    Ok(Outcome::PaidAfterClose)
}

/// Asks WeChat Pay about an order and applies what it says (the closer and `pay` use this
/// when WeChat answers ORDERPAID).
#[tracing::instrument(skip_all, fields(order_no = %order_no))]
pub async fn sync_from_wechat(app: &App, order_no: &str) -> Result<Outcome, AppError> {
    let client = app.pay()?;
    match client.query(order_no).await {
        Ok(Some(tx)) => apply(app, &tx, PaymentSource::Query).await,
        Ok(None) => Ok(Outcome::NotPaid),
        Err(e) => {
            tracing::warn!(error = %e, order_no, "query failed");
            Err(AppError::unavailable("WeChat Pay could not be asked; will retry"))
        }
    }
}
