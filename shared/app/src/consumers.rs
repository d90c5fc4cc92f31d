//! Who acts on each event: the one table of the outbox's subscribers. Each consumer is
//! idempotent (its writes are keyed by the change the event reports), so the at-least-once
//! delivery of [`crate::outbox`] changes nothing on a second delivery. An event nobody needs
//! to act on says so here.

use domain::events::Event;

use crate::{App, AppError, catalog, coupons, fulfilment, members, notices, refunds, search, stock_alerts, targets};

/// Runs every consumer of `event`.
pub async fn consume(app: &App, event: &Event) -> Result<(), AppError> {
    match event {
        Event::LatePaymentReceived { order_no, transaction_id, amount } => {
            refunds::refund_late_payment(app, order_no, transaction_id, *amount).await.map(|_| ())
        }
        Event::SubOrderShipped { order_no, .. } | Event::ShipmentCorrected { order_no, .. } => {
            fulfilment::upload_shipments(app, order_no).await
        }
        Event::OrderDelivered { order_no } => fulfilment::remind_to_confirm(app, order_no).await,
        Event::PaymentApplied { order_no, transaction_id, .. } => {
            members::on_payment(app, order_no).await?;
            stock_alerts::on_payment(app, order_no, transaction_id).await?;
            // After the sales were counted: search ranks by them.
            search::on_order(app, order_no).await
        }
        // A surplus payment's refund gives back nothing the member was credited with.
        Event::RefundCompleted { surplus: true, .. } => Ok(()),
        Event::RefundCompleted { order_no, out_refund_no, amount, surplus: false } => {
            members::on_refund(app, order_no, out_refund_no, *amount).await
        }
        Event::StockDecreased { sku_id, .. } => {
            stock_alerts::check(app, sku_id, crate::clock::now()).await?;
            search::on_sku(app, sku_id).await
        }
        Event::StockIncreased { sku_id, .. } => search::on_sku(app, sku_id).await,
        Event::CatalogChanged { product_id, .. } => search::refresh(app, product_id).await,
        Event::TargetMissed { metric, value_permille, .. } => {
            targets::tell_operators(app, *metric, *value_permille).await
        }
        Event::StockLow { sku_id, name, available, safety_stock, .. } => {
            stock_alerts::tell_operators(app, name, sku_id, *available, *safety_stock).await
        }
        Event::LevelUp { openid, level, .. } => {
            // The level's upgrade coupon, once per member and level, then the notice.
            if let Some(template) = members::upgrade_coupon(app, level).await? {
                coupons::issue(&app.store, openid, &template, &format!("level-{level}")).await?;
            }
            notices::level_up(app, openid, level).await
        }
        Event::PointsExpiring { openid, points, expires_on, .. } => {
            notices::points_expiring(app, openid, *points, expires_on).await
        }
        Event::OrderCompleted { order_no } => members::on_completed(app, order_no).await,
        Event::MediaRejected { product_id, title, key, verdict, label, .. } => {
            catalog::media::tell_operators(app, product_id, title, key, verdict, *label).await
        }
        // Its stock and coupon came back in the transaction that closed it; search sees the
        // stock again.
        Event::OrderClosed { order_no } => search::on_order(app, order_no).await,
    }
}
