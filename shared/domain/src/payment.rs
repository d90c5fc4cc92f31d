//! Payments as the shop records them: one record per WeChat Pay transaction, saying how it
//! arrived and what it did to its order.

use serde::{Deserialize, Serialize};

use crate::ids::{OpenId, OrderNo, TransactionId};
use crate::money::Fen;

/// How the shop learnt of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentSource {
    /// WeChat Pay's webhook.
    Notify,
    /// The shop asked (the closer, `pay`, reconciliation's repair).
    Query,
}

impl PaymentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Notify => "notify",
            Self::Query => "query",
        }
    }
}

/// What a recorded payment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentOutcome {
    /// The order moved unpaid → paid.
    Applied,
    /// The order had closed: the money goes back in full.
    PaidAfterClose,
    /// The order was paid already by another transaction: this one goes back in full.
    DoublePayment,
    /// Not matching the order (amount): kept for operators, not applied.
    Rejected,
}

impl PaymentOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::PaidAfterClose => "paid_after_close",
            Self::DoublePayment => "double_payment",
            Self::Rejected => "rejected",
        }
    }

    /// Whether the shop took the money (and the day's books count it).
    pub fn took_money(self) -> bool {
        self != Self::Rejected
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PaymentRecord {
    pub transaction_id: TransactionId,
    pub order_no: OrderNo,
    pub openid: OpenId,
    pub amount: Fen,
    pub success_time: i64,
    /// The Shanghai business day of `success_time`, as WeChat's bill books it.
    pub day: String,
    pub source: PaymentSource,
    pub outcome: PaymentOutcome,
    pub recorded_at: i64,
}
