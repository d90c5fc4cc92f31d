//! What happened, as one context tells the others. An event is written in the same
//! transaction as the change it reports (the outbox), so it exists exactly when the change
//! does; consumers take it at least once and act idempotently, keyed by [`Event::id`].

use serde::{Deserialize, Serialize};

use crate::ids::{OpenId, OrderNo, OutRefundNo, ProductId, SkuId, TransactionId, WarehouseId};
use crate::member::LedgerSource;
use crate::money::Fen;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// An order moved unpaid → paid.
    PaymentApplied { order_no: OrderNo, transaction_id: TransactionId, amount: Fen },
    /// WeChat Pay took money the order cannot keep (it had closed, or was paid already); it
    /// must go back in full. A closed order reserves the amount; a paid one keeps its own
    /// payment's totals untouched.
    LatePaymentReceived { order_no: OrderNo, transaction_id: TransactionId, amount: Fen },
    /// An unpaid order closed; its stock and coupon came back in the same transaction.
    OrderClosed { order_no: OrderNo },
    /// WeChat Pay completed a refund. `surplus`: it sent back a payment the order did not
    /// keep, so no goods or member credit came back with it.
    RefundCompleted {
        order_no: OrderNo,
        out_refund_no: OutRefundNo,
        amount: Fen,
        #[serde(default)]
        surplus: bool,
    },
    /// One warehouse's sub-order left; WeChat must be told (shipping information).
    SubOrderShipped { order_no: OrderNo, warehouse_id: WarehouseId },
    /// An operator corrected a shipped sub-order's parcels (the order's `version` after it):
    /// WeChat must be told again.
    ShipmentCorrected { order_no: OrderNo, warehouse_id: WarehouseId, version: i64 },
    /// The carrier delivered the goods; WeChat reminds the shopper to confirm.
    OrderDelivered { order_no: OrderNo },
    /// A SKU's stock fell below its safety stock (once per episode); operators are told.
    StockLow { sku_id: SkuId, name: String, available: i64, safety_stock: i64, episode: String },
    /// Stock of a SKU was taken down by hand or by an ERP (`change` names that adjustment):
    /// its safety stock is checked.
    StockDecreased { sku_id: SkuId, change: String },
    /// A business target was missed (once per episode); operators are told.
    TargetMissed { metric: crate::targets::Metric, value_permille: i64, episode: String },
    /// An order's refund window closed (its points unfreeze).
    OrderCompleted { order_no: OrderNo },
    /// A member reached a higher level through the change `source`; they are told.
    LevelUp { openid: OpenId, level: String, source: LedgerSource },
    /// A member's points expire soon; they are reminded. `reminder` names the reminder
    /// (the expiry day and a digest of the member), so each is queued once and no log of the
    /// event's id shows an openid.
    PointsExpiring { openid: OpenId, points: i64, expires_on: String, reminder: String },
    /// WeChat's media check did not pass an image of a product (`verdict` is `risky` or
    /// `review`); operators are told to replace it.
    MediaRejected { product_id: ProductId, title: String, key: String, verdict: String, label: i64, trace_id: String },
    /// A product, its SKUs or its images changed (`change` names the write): search reads it
    /// again.
    CatalogChanged { product_id: ProductId, change: String },
    /// Stock of a SKU was added by hand or by an ERP (`change` names that adjustment).
    StockIncreased { sku_id: SkuId, change: String },
}

impl Event {
    /// Named after the change it reports, so the same change can never make two events.
    pub fn id(&self) -> String {
        match self {
            Event::PaymentApplied { transaction_id, .. } => format!("payment_applied-{transaction_id}"),
            Event::LatePaymentReceived { transaction_id, .. } => format!("late_payment-{transaction_id}"),
            Event::OrderClosed { order_no } => format!("order_closed-{order_no}"),
            Event::RefundCompleted { out_refund_no, .. } => format!("refund_completed-{out_refund_no}"),
            Event::SubOrderShipped { order_no, warehouse_id } => format!("shipped-{order_no}-{warehouse_id}"),
            Event::ShipmentCorrected { order_no, warehouse_id, version } => {
                format!("corrected-{order_no}-{warehouse_id}-{version}")
            }
            Event::OrderDelivered { order_no } => format!("delivered-{order_no}"),
            Event::StockLow { sku_id, episode, .. } => format!("stock_low-{sku_id}-{episode}"),
            // The source is a payment of this member's order: unique without the openid.
            Event::LevelUp { source, .. } => format!("level_up-{source}"),
            Event::PointsExpiring { reminder, .. } => format!("points_expiring-{reminder}"),
            Event::OrderCompleted { order_no } => format!("completed-{order_no}"),
            Event::StockDecreased { sku_id, change } => format!("stock_decreased-{sku_id}-{change}"),
            Event::TargetMissed { metric, episode, .. } => format!("target_missed-{metric}-{episode}"),
            Event::MediaRejected { trace_id, .. } => format!("media_rejected-{trace_id}"),
            Event::CatalogChanged { product_id, change } => format!("catalog_changed-{product_id}-{change}"),
            Event::StockIncreased { sku_id, change } => format!("stock_increased-{sku_id}-{change}"),
        }
    }

    /// Whether the event is a message to operators (listed while undelivered).
    pub fn tells_operators(&self) -> bool {
        matches!(self, Event::StockLow { .. } | Event::TargetMissed { .. } | Event::MediaRejected { .. })
    }

    /// The record the event is about, for logs: its order, or for stock its SKU (never an
    /// openid).
    pub fn subject(&self) -> String {
        match self {
            Event::StockLow { sku_id, .. }
            | Event::StockDecreased { sku_id, .. }
            | Event::StockIncreased { sku_id, .. } => sku_id.to_string(),
            Event::CatalogChanged { product_id, .. } => product_id.to_string(),
            Event::TargetMissed { metric, .. } => metric.to_string(),
            Event::MediaRejected { product_id, .. } => product_id.to_string(),
            Event::LevelUp { source, .. } => source.to_string(),
            Event::PointsExpiring { reminder, .. } => reminder.clone(),
            Event::PaymentApplied { order_no, .. }
            | Event::LatePaymentReceived { order_no, .. }
            | Event::OrderClosed { order_no }
            | Event::RefundCompleted { order_no, .. }
            | Event::SubOrderShipped { order_no, .. }
            | Event::ShipmentCorrected { order_no, .. }
            | Event::OrderDelivered { order_no }
            | Event::OrderCompleted { order_no } => order_no.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::id;

    #[test]
    fn ids_name_the_change() {
        let e = Event::LatePaymentReceived { order_no: id("N00001"), transaction_id: id("T9"), amount: Fen::new(5) };
        assert_eq!(e.id(), "late_payment-T9");
        assert_eq!(e.subject(), "N00001");
        let closed = Event::OrderClosed { order_no: id("N00001") };
        assert_ne!(closed.id(), e.id());
    }
}
