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
use store::repo::holds::{self, Occasion};
use store::{StoreError, TxOp, repo};
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
    // An out_trade_no that is no order number of this shop's names no order of it.
    let order_no = OrderNo::parse(&tx.out_trade_no).ok();
    for _ in 0..3 {
        let found = match &order_no {
            Some(no) => repo::orders::get(store.as_ref(), no).await?,
            None => None,
        };
        let order = match found {
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
        if paid_total != order.payable().fen() {
            // WeChat Pay holds money the order cannot take: it goes back whole, and an order
            // still waiting for its payment closes (at WeChat Pay it reads paid, so the closer
            // could never close it there).
            let detail = json!({ "paid": paid_total, "payable": order.payable().fen() });
            let case = (CaseKind::AmountMismatch, detail);
            return match late_payment(app, tx, &tid, &order, source, PaymentOutcome::Rejected, case).await {
                Ok(_) => Ok(Outcome::Rejected),
                Err(StoreError::Cancelled { failed }) if failed.contains(&0) => Ok(Outcome::Duplicate),
                Err(StoreError::Cancelled { .. }) | Err(StoreError::Conflict) => continue,
                Err(e) => Err(e.into()),
            };
        }
        let result = match order.state() {
            OrderState::Unpaid => {
                let ops = paid_ops(store.as_ref(), tx, &tid, &order, source).await?;
                store.transact(ops).await.map(|()| Outcome::Applied)
            }
            OrderState::Paid if order.transaction_id() == Some(&tid) => return Ok(Outcome::Duplicate),
            OrderState::Paid => {
                // A second payment of the same order: keep it and give it back.
                let kind = PaymentOutcome::DoublePayment;
                let case = (CaseKind::of_late_payment(kind), late_detail(tx, &order));
                late_payment(app, tx, &tid, &order, source, kind, case).await
            }
            OrderState::Closed => {
                let kind = PaymentOutcome::PaidAfterClose;
                let case = (CaseKind::of_late_payment(kind), late_detail(tx, &order));
                late_payment(app, tx, &tid, &order, source, kind, case).await
            }
        };
        match result {
            Ok(outcome) => {
                app.poke_outbox();
                tracing::info!(order_no = %order.order_no(), ?outcome, source = source.as_str(), "payment");
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

/// The writes of a payment applied to an unpaid order: the payment recorded, the order paid,
/// the shopper's count of the day, what the order held given back as a payment does (its
/// places under the limits free up, its coupon is used), and the event.
async fn paid_ops(
    store: &dyn store::Store,
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
        record_op(tx, tid, order.order_no(), order.openid(), source, PaymentOutcome::Applied)?,
        repo::orders::transition(&paid, order)?,
        repo::payments::count_payment(order.openid(), &day),
    ];
    ops.extend(holds::give_back(store, order, Occasion::Paid).await?);
    let event = Event::PaymentApplied {
        order_no: order.order_no().clone(),
        transaction_id: tid.clone(),
        amount: order.payable(),
    };
    ops.push(repo::outbox::append(&event, now)?);
    Ok(ops)
}

fn late_detail(tx: &Transaction, order: &Order) -> serde_json::Value {
    json!({ "amount": tx.amount.as_ref().map(|a| a.total).unwrap_or(0), "state": order.state().as_str() })
}

/// A payment the order can no longer take: recorded with a case for operators, the whole
/// amount reserved on the order, and an event in the same transaction that the refunds
/// context consumes to send it back. An unpaid order (the payment was of another amount)
/// closes in the same transaction and gives back what it held. Nothing here calls WeChat,
/// so the notify is answered as soon as this commits, and a crash after it loses nothing.
async fn late_payment(
    app: &App,
    tx: &Transaction,
    tid: &TransactionId,
    order: &Order,
    source: PaymentSource,
    kind: PaymentOutcome,
    (case, detail): (CaseKind, serde_json::Value),
) -> Result<Outcome, StoreError> {
    let amount = Fen::new(tx.amount.as_ref().map(|a| a.total).unwrap_or(0));
    let now = clock::now();
    let invalid = |e: domain::DomainError| StoreError::Invalid(e.to_string());
    let mut ops = vec![
        record_op(tx, tid, order.order_no(), order.openid(), source, kind)?,
        cases::record_op(case, tid, order.order_no(), detail)?,
    ];
    // The refund takes the whole payment back: reserved on a closed order, as every refund
    // is, so the order's totals stay true. A paid order's second payment was never the
    // order's and reserves nothing there.
    match order.state() {
        OrderState::Unpaid => {
            let closed = order.closed(now).and_then(|c| c.paid_after_close(tid, amount)).map_err(invalid)?;
            ops.extend(holds::close(app.store.as_ref(), order, &closed, now).await?);
        }
        OrderState::Closed => {
            let o = order.paid_after_close(tid, amount).map_err(invalid)?;
            ops.push(repo::orders::rewrite(&o, order)?);
        }
        OrderState::Paid => {}
    }
    let event = Event::LatePaymentReceived { order_no: order.order_no().clone(), transaction_id: tid.clone(), amount };
    ops.push(repo::outbox::append(&event, now)?);
    app.store.transact(ops).await?;
    app.poke_outbox();
    Ok(Outcome::PaidAfterClose)
}

/// Asks WeChat Pay about an order and applies what it says (the closer and `pay` use this
/// when WeChat answers ORDERPAID).
#[tracing::instrument(skip_all, fields(order_no = %order_no))]
pub async fn sync_from_wechat(app: &App, order_no: &OrderNo) -> Result<Outcome, AppError> {
    let client = app.pay()?;
    match client.query(order_no).await {
        Ok(Some(tx)) => apply(app, &tx, PaymentSource::Query).await,
        Ok(None) => Ok(Outcome::NotPaid),
        Err(e) => {
            tracing::warn!(error = %e, %order_no, "query failed");
            Err(AppError::unavailable("WeChat Pay could not be asked; will retry"))
        }
    }
}

/// The seed's rule: after this many payments in a Shanghai day, the next one needs a fresh
/// phone verification.
pub const DAILY_PAYMENTS_BEFORE_VERIFY: i64 = 5;

/// Whether the shopper may pay once more today: past the day's allowance only with a phone
/// verified within the window (`verified_at`, read by the caller when it matters).
pub async fn needs_verification(app: &App, openid: &OpenId) -> Result<bool, AppError> {
    let day = clock::business_day(clock::now()).map(|d| d.to_string()).unwrap_or_default();
    Ok(repo::payments::paid_on(app.store.as_ref(), openid, &day).await? >= DAILY_PAYMENTS_BEFORE_VERIFY)
}

/// Refuses the payment unless the phone was verified within the window.
pub fn check_verified(app: &App, verified_at: Option<i64>) -> Result<(), AppError> {
    let fresh = verified_at.is_some_and(|t| clock::now() - t <= app.rules.pay_verify_window_secs);
    if fresh {
        return Ok(());
    }
    Err(AppError::new(
        Code::VerificationRequired,
        format!("more than {DAILY_PAYMENTS_BEFORE_VERIFY} payments today: verify your phone number, then pay"),
    )
    .with_details(json!({ "verify_with": "/login/phone" })))
}
