//! The one table that gives each application error code its HTTP status, and the JSON body
//! every error answers with: `{"error": {"code", "message", "details"?}}`.

use app::{AppError, Code};
use serde::Serialize;
use serde_json::Value;

/// The status of each stable code. Every code is listed: the compiler refuses a new code
/// without a status.
pub fn status(code: Code) -> u16 {
    use Code::*;
    match code {
        InvalidInput | InvalidCursor | InvalidCode => 400,
        Unauthorized | SessionExpired => 401,
        Forbidden | BootstrapOnly | VerificationRequired | NotNewCustomer | UserBlocked | PhoneBlocked
        | AllowanceExceeded => 403,
        NotFound | NoRoute => 404,
        Conflict
        | ConcurrentEdit
        | Busy
        | InvalidTransition
        | OutOfStock
        | InsufficientStock
        | AlreadyPaid
        | AlreadyShipped
        | CorrectionUsed
        | OrderClosed
        | OrderExpired
        | OrderNotPayable
        | NotShippable
        | NotRefundable
        | NotReturnable
        | RefundExceedsPaid
        | CouponUnavailable
        | CouponExhausted
        | CouponNotActive
        | CouponLimitReached
        | BillNotReady
        | AlreadyBootstrapped
        | AlreadyCheckedIn
        | InsufficientPoints
        | ContentCheckUnavailable
        | MediaNotCleared
        | SpecTaken
        | AlreadyReviewed
        | NotReviewable => 409,
        BodyTooLarge => 413,
        CouponNotApplicable | AddressRequired | SkuUnavailable | NoSku | OrderLimitExceeded | OrderTooSpread
        | AdCopyViolation | ContentRisky | UploadMismatch => 422,
        RequestTimeout => 408,
        WechatRateLimited | ClientRateLimited | TooManyOpenOrders | HoldingLimit | PlaceRateLimited
        | PayRateLimited => 429,
        Internal => 500,
        WechatConfig | WechatError | PayUnavailable => 502,
        WechatUnavailable | Unavailable | Overloaded | OutcomeUnknown => 503,
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Value>,
}

pub fn body(e: &AppError) -> Vec<u8> {
    let body = Body { error: Inner { code: e.code.as_str(), message: &e.message, details: e.details.as_ref() } };
    serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"error\":{\"code\":\"INTERNAL\"}}".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_status_and_a_distinct_name() {
        let mut names = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!((400..600).contains(&status(*c)), "{c}");
            assert!(names.insert(c.as_str()), "{c} named twice");
            assert!(c.as_str().bytes().all(|b| b.is_ascii_uppercase() || b == b'_'), "{c}");
        }
    }

    #[test]
    fn body_shape() {
        let e = AppError::field("limit", "too big");
        let v: Value = serde_json::from_slice(&body(&e)).unwrap();
        assert_eq!(v["error"]["code"], "INVALID_INPUT");
        assert_eq!(v["error"]["details"]["field"], "limit");
        assert_eq!(status(e.code), 400);
    }
}
