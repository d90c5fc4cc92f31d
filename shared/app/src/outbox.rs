//! Delivering outbox events to the contexts that act on them. A state change writes its
//! event in its own transaction (see `store::repo::outbox`); this module takes pending
//! events, claims each, hands it to its consumers and marks it delivered. It runs from a
//! worker beside the HTTP server (woken by [`poke`]), from the scheduled sweep, and on AWS
//! from the DynamoDB Streams function; every consumer is idempotent, so a second delivery
//! changes nothing.

use domain::events::Event;
use serde::Serialize;
use store::repo::outbox;

use crate::{App, AppError, clock, fulfilment, members, notices, refunds, stock_alerts};

/// How long a claim keeps other consumers off an event; a consumer that dies holding one
/// delays that event by this much, no more.
pub const LEASE_SECS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivered {
    /// This call delivered it.
    Now,
    /// Delivered before, or held by another consumer.
    Elsewhere,
    /// No such event.
    Missing,
}

/// Tells a worker, if this process runs one, that events are waiting. A process without a
/// worker (or one that dies first) leaves them to the sweep or the stream: the event is in
/// the store either way.
pub fn poke(app: &App) {
    app.outbox_signal.notify_one();
}

/// Delivers the event `id` once: claims it, runs its consumers, marks it done. A consumer's
/// failure leaves it pending for the next delivery.
#[tracing::instrument(skip(app))]
pub async fn deliver(app: &App, id: &str) -> Result<Delivered, AppError> {
    let store = app.store.as_ref();
    let Some(env) = outbox::get(store, id).await? else {
        return Ok(Delivered::Missing);
    };
    if env.state == outbox::Delivery::Done {
        return Ok(Delivered::Elsewhere);
    }
    let now = clock::now();
    if !outbox::claim(store, id, now, LEASE_SECS).await? {
        return Ok(Delivered::Elsewhere);
    }
    match consume(app, &env.event).await {
        Ok(()) => {
            outbox::finish(store, id, clock::now()).await?;
            tracing::info!(order_no = env.event.order_no(), "event delivered");
            Ok(Delivered::Now)
        }
        Err(e) => {
            tracing::warn!(error = %e, order_no = env.event.order_no(), "event delivery failed; will retry");
            outbox::failed(store, id, &e.to_string()).await?;
            Err(e)
        }
    }
}

/// Each event's consumers. New contexts (members, dashboards, feeds) subscribe here.
async fn consume(app: &App, event: &Event) -> Result<(), AppError> {
    match event {
        Event::LatePaymentReceived { order_no, transaction_id, amount } => {
            refunds::refund_late_payment(app, order_no, transaction_id, *amount).await.map(|_| ())
        }
        Event::SubOrderShipped { order_no, .. } => fulfilment::upload_shipments(app, order_no).await,
        Event::OrderDelivered { order_no } => fulfilment::remind_to_confirm(app, order_no).await,
        Event::PaymentApplied { order_no, transaction_id, .. } => {
            members::on_payment(app, order_no).await?;
            stock_alerts::on_payment(app, order_no, transaction_id).await
        }
        Event::RefundCompleted { order_no, out_refund_no, amount } => {
            members::on_refund(app, order_no, out_refund_no, *amount).await
        }
        Event::StockLow { sku_id, name, available, safety_stock, .. } => {
            stock_alerts::tell_operators(app, name, sku_id, *available, *safety_stock).await
        }
        Event::LevelUp { openid, level, .. } => members::on_level_up(app, openid, level).await,
        Event::PointsExpiring { openid, points, expires_on, .. } => {
            notices::points_expiring(app, openid, *points, expires_on).await
        }
        Event::OrderCompleted { order_no } => members::on_completed(app, order_no).await,
        Event::OrderClosed { .. } => Ok(()),
    }
}

#[derive(Debug, Default, Serialize)]
pub struct DrainReport {
    pub delivered: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// The sweep: delivers up to `max` pending events, oldest first.
pub async fn drain(app: &App, max: usize) -> Result<DrainReport, AppError> {
    let mut report = DrainReport::default();
    for id in outbox::pending(app.store.as_ref(), max).await? {
        match deliver(app, &id).await {
            Ok(Delivered::Now) => report.delivered += 1,
            Ok(_) => report.skipped += 1,
            Err(_) => report.failed += 1,
        }
    }
    Ok(report)
}
