//! Cases: what the shop cannot settle by itself and hands to a person.

use serde::{Deserialize, Serialize};

use crate::payment::PaymentOutcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// A paid notice or query without a transaction id.
    PaymentWithoutTransactionId,
    /// A payment for another merchant or mini-program.
    ForeignPayment,
    /// A payment for an order number the shop never issued.
    UnknownOrder,
    /// Paid a different amount than the order's payable.
    AmountMismatch,
    /// Paid after the order closed; refunded automatically.
    PaidAfterClose,
    /// Paid twice; the second refunded automatically.
    DoublePayment,
    /// A refund notice for a refund the shop never asked for.
    UnknownRefund,
    RefundAmountMismatch,
    /// WeChat Pay could not return the money (the shopper's account is closed, ...).
    RefundAbnormal,
    /// WeChat refused a shipment's information for good (settlement stays held until a
    /// person enters it in the mini-program admin).
    ShippingUploadRefused,
}

impl CaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PaymentWithoutTransactionId => "payment_without_transaction_id",
            Self::ForeignPayment => "foreign_payment",
            Self::UnknownOrder => "unknown_order",
            Self::AmountMismatch => "amount_mismatch",
            Self::PaidAfterClose => "paid_after_close",
            Self::DoublePayment => "double_payment",
            Self::UnknownRefund => "unknown_refund",
            Self::RefundAmountMismatch => "refund_amount_mismatch",
            Self::RefundAbnormal => "refund_abnormal",
            Self::ShippingUploadRefused => "shipping_upload_refused",
        }
    }

    /// The case a late payment opens.
    pub fn of_late_payment(outcome: PaymentOutcome) -> CaseKind {
        match outcome {
            PaymentOutcome::DoublePayment => Self::DoublePayment,
            _ => Self::PaidAfterClose,
        }
    }
}
