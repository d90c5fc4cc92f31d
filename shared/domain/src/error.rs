//! What the rules say no with, named after the outcome. The application maps each to a
//! stable code; nothing here knows about HTTP.

use crate::ids::SkuId;
use crate::money::Fen;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A field of the input breaks a rule; `field` names it as the client sent it.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The SKU cannot be bought now; `reason` says why in the shopper's terms.
    #[error("{reason}")]
    SkuUnavailable { sku: SkuId, reason: String },
    #[error("the coupon is used, locked to another order, or not valid now")]
    CouponUnavailable,
    #[error("the order does not reach the coupon's threshold")]
    CouponNotApplicable,
    #[error("a single payment may not exceed {limit} yuan; split the order")]
    OrderLimitExceeded { limit: Fen },
    /// No warehouse (nor set of them) holds enough of this SKU.
    #[error("not enough stock of {sku}")]
    OutOfStock { sku: SkuId },
    /// The state machine has no such move.
    #[error("a {from} record cannot become {to}")]
    InvalidTransition { from: &'static str, to: &'static str },
    #[error("at most {refundable} yuan can still be refunded")]
    RefundExceedsPaid { refundable: Fen },
    #[error("{reason}")]
    NotShippable { reason: &'static str },
    #[error("this sub-order shipped already")]
    AlreadyShipped,
    #[error("WeChat takes one correction of a payment's shipping information, and this order used it")]
    CorrectionUsed,
    #[error("sub-order not found")]
    NoSuchSubOrder,
    /// The shopper would hold more than `units` of `sku` in unpaid orders.
    #[error("at most {units} units of {sku} may wait for payment at once; pay or cancel an order first")]
    HoldingLimit { sku: SkuId, units: i64 },
    #[error("at most {orders} orders may wait for payment at once; pay or cancel one first")]
    TooManyOpenOrders { orders: i64 },
    /// These goods cannot come back (not shipped, or the window closed).
    #[error("{reason}")]
    NotReturnable { reason: &'static str },
    /// The caller's role may not do this.
    #[error("{reason}")]
    Forbidden { reason: String },
    #[error("amounts overflow")]
    Overflow,
}

impl DomainError {
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        DomainError::Invalid { field: field.to_owned(), message: message.to_string() }
    }
}
