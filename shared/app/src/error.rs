//! The error every use case answers with: a stable [`Code`] a client can switch on, and a
//! message a client developer understands. The HTTP edge (`hosting::errors`) holds the one
//! table that gives each code its status; nothing here knows about HTTP.

use serde_json::{Value, json};

use domain::DomainError;

macro_rules! codes {
    ($($variant:ident => $text:literal,)*) => {
        /// The stable error codes of the API, as clients see them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $($variant,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $text,)* }
            }
        }
    };
}

codes! {
    InvalidInput => "INVALID_INPUT",
    InvalidCursor => "INVALID_CURSOR",
    InvalidCode => "INVALID_CODE",
    BodyTooLarge => "BODY_TOO_LARGE",
    Unauthorized => "UNAUTHORIZED",
    SessionExpired => "SESSION_EXPIRED",
    Forbidden => "FORBIDDEN",
    BootstrapOnly => "BOOTSTRAP_ONLY",
    AlreadyBootstrapped => "ALREADY_BOOTSTRAPPED",
    VerificationRequired => "VERIFICATION_REQUIRED",
    NotNewCustomer => "NOT_NEW_CUSTOMER",
    UserBlocked => "USER_BLOCKED",
    PhoneBlocked => "PHONE_BLOCKED",
    NotFound => "NOT_FOUND",
    NoRoute => "NO_ROUTE",
    Conflict => "CONFLICT",
    ConcurrentEdit => "CONCURRENT_EDIT",
    Busy => "BUSY",
    InvalidTransition => "INVALID_TRANSITION",
    OutOfStock => "OUT_OF_STOCK",
    InsufficientStock => "INSUFFICIENT_STOCK",
    AlreadyPaid => "ALREADY_PAID",
    AlreadyShipped => "ALREADY_SHIPPED",
    CorrectionUsed => "CORRECTION_USED",
    OrderClosed => "ORDER_CLOSED",
    OrderExpired => "ORDER_EXPIRED",
    OrderNotPayable => "ORDER_NOT_PAYABLE",
    NotShippable => "NOT_SHIPPABLE",
    NotRefundable => "NOT_REFUNDABLE",
    NotReturnable => "NOT_RETURNABLE",
    RefundExceedsPaid => "REFUND_EXCEEDS_PAID",
    CouponUnavailable => "COUPON_UNAVAILABLE",
    CouponExhausted => "COUPON_EXHAUSTED",
    CouponNotActive => "COUPON_NOT_ACTIVE",
    CouponLimitReached => "COUPON_LIMIT_REACHED",
    BillNotReady => "BILL_NOT_READY",
    TooManyOpenOrders => "TOO_MANY_OPEN_ORDERS",
    HoldingLimit => "HOLDING_LIMIT",
    PlaceRateLimited => "PLACE_RATE_LIMITED",
    PayRateLimited => "PAY_RATE_LIMITED",
    CouponNotApplicable => "COUPON_NOT_APPLICABLE",
    AddressRequired => "ADDRESS_REQUIRED",
    AlreadyCheckedIn => "ALREADY_CHECKED_IN",
    InsufficientPoints => "INSUFFICIENT_POINTS",
    AllowanceExceeded => "ALLOWANCE_EXCEEDED",
    SkuUnavailable => "SKU_UNAVAILABLE",
    NoSku => "NO_SKU",
    OrderLimitExceeded => "ORDER_LIMIT_EXCEEDED",
    OrderTooSpread => "ORDER_TOO_SPREAD",
    AdCopyViolation => "AD_COPY_VIOLATION",
    ContentRisky => "CONTENT_RISKY",
    ContentCheckUnavailable => "CONTENT_CHECK_UNAVAILABLE",
    MediaNotCleared => "MEDIA_NOT_CLEARED",
    UploadMismatch => "UPLOAD_MISMATCH",
    SpecTaken => "SPEC_TAKEN",
    AlreadyReviewed => "ALREADY_REVIEWED",
    NotReviewable => "NOT_REVIEWABLE",
    WechatRateLimited => "WECHAT_RATE_LIMITED",
    WechatConfig => "WECHAT_CONFIG",
    WechatError => "WECHAT_ERROR",
    PayUnavailable => "PAY_UNAVAILABLE",
    WechatUnavailable => "WECHAT_UNAVAILABLE",
    Unavailable => "UNAVAILABLE",
    OutcomeUnknown => "OUTCOME_UNKNOWN",
    Overloaded => "OVERLOADED",
    ClientRateLimited => "TOO_MANY_REQUESTS",
    RequestTimeout => "REQUEST_TIMEOUT",
    Internal => "INTERNAL",
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AppError {
    pub code: Code,
    pub message: String,
    /// Machine-readable detail (e.g. the banned words found, the SKU that ran out).
    pub details: Option<Value>,
}

impl AppError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), details: None }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidInput, message)
    }

    pub fn field(field: &str, message: impl std::fmt::Display) -> Self {
        Self::new(Code::InvalidInput, format!("{field}: {message}")).with_details(json!({ "field": field }))
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(Code::NotFound, format!("{what} not found"))
    }

    pub fn no_route(method: &str, path: &str) -> Self {
        Self::new(Code::NoRoute, format!("no route for {method} {path}"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(Code::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Code::Forbidden, message)
    }

    /// For failures whose cause must stay in the logs: the client learns only that it
    /// may retry.
    pub fn internal() -> Self {
        Self::new(Code::Internal, "internal error, please retry")
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Code::Unavailable, message)
    }

    pub fn is(&self, code: Code) -> bool {
        self.code == code
    }

    /// Whether a scheduled job may simply run again later: the cause was passing (an
    /// outage, a race), not a fact about the data.
    pub fn retryable(&self) -> bool {
        matches!(
            self.code,
            Code::Unavailable
                | Code::WechatUnavailable
                | Code::PayUnavailable
                | Code::Conflict
                | Code::ConcurrentEdit
                | Code::Busy
                | Code::Internal
                | Code::WechatRateLimited
        )
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        let message = e.to_string();
        match e {
            DomainError::Invalid { field, message } => AppError::field(&field, message),
            DomainError::SkuUnavailable { .. } => AppError::new(Code::SkuUnavailable, message),
            DomainError::CouponUnavailable => AppError::new(Code::CouponUnavailable, message),
            DomainError::CouponNotApplicable => AppError::new(Code::CouponNotApplicable, message),
            DomainError::OrderLimitExceeded { .. } => AppError::new(Code::OrderLimitExceeded, message),
            DomainError::OutOfStock { sku } => {
                AppError::new(Code::OutOfStock, message).with_details(json!({ "sku_id": sku }))
            }
            DomainError::RefundExceedsPaid { .. } => AppError::new(Code::RefundExceedsPaid, message),
            DomainError::NotShippable { .. } => AppError::new(Code::NotShippable, message),
            DomainError::AlreadyShipped => AppError::new(Code::AlreadyShipped, message),
            DomainError::CorrectionUsed => AppError::new(Code::CorrectionUsed, message),
            DomainError::NoSuchSubOrder => AppError::not_found("sub-order"),
            DomainError::HoldingLimit { sku, .. } => {
                AppError::new(Code::HoldingLimit, message).with_details(json!({ "sku_id": sku }))
            }
            DomainError::TooManyOpenOrders { .. } => AppError::new(Code::TooManyOpenOrders, message),
            DomainError::InvalidTransition { .. } => AppError::new(Code::InvalidTransition, message),
            DomainError::Forbidden { .. } => AppError::forbidden(message),
            DomainError::NotReturnable { .. } => AppError::new(Code::NotReturnable, message),
            DomainError::Overflow => AppError::bad_request(message),
        }
    }
}

impl From<store::StoreError> for AppError {
    fn from(e: store::StoreError) -> Self {
        use store::StoreError as E;
        match e {
            E::Conflict => Self::new(Code::Conflict, "a concurrent update won, please retry"),
            E::ConditionFailed | E::Cancelled { .. } => {
                Self::new(Code::Conflict, "the data changed meanwhile, please retry")
            }
            E::BadCursor => Self::new(Code::InvalidCursor, "the page cursor is not one this API gave out"),
            E::Invalid(why) => {
                // A request the store refuses by its shape is the shop's bug, not an outage.
                tracing::error!(error = %why, "invalid store request");
                Self::internal()
            }
            E::Unknown => Self::new(
                Code::OutcomeUnknown,
                "the storage did not confirm the write: it may have been applied; read the state before retrying",
            ),
            other => {
                tracing::error!(error = %other, "store failure");
                Self::unavailable("storage is unavailable, please retry")
            }
        }
    }
}

impl From<wechat::WeChatError> for AppError {
    fn from(e: wechat::WeChatError) -> Self {
        use wechat::WeChatError as W;
        let msg = e.to_string();
        match e {
            W::InvalidCode => AppError::new(Code::InvalidCode, msg),
            W::RateLimited => AppError::new(Code::WechatRateLimited, msg),
            W::Blocked => AppError::new(Code::UserBlocked, msg),
            W::PhoneBlocked => AppError::new(Code::PhoneBlocked, msg),
            W::Busy | W::Transport(_) => AppError::new(Code::WechatUnavailable, msg),
            W::InvalidToken | W::Config(_) => {
                tracing::error!(error = %msg, "WeChat refused the shop's credentials");
                AppError::new(Code::WechatConfig, "the shop's WeChat settings were refused")
            }
            W::Other(_) | W::BadAnswer => AppError::new(Code::WechatError, msg),
        }
    }
}
