//! Daily reconciliation's figures and findings: what WeChat Pay's trade bill and the shop's
//! own books say for one Asia/Shanghai business day, and every difference between them with
//! what was done about it. No I/O.

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::clock;

/// What kind of difference the bill and the books show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// WeChat took a payment the shop has no record of.
    MissingLocally,
    /// The shop recorded a payment the bill does not show.
    MissingAtWechat,
    /// Both have the payment, for different amounts.
    AmountMismatch,
    /// The shop received the payment but did not apply it (see its case).
    RejectedPayment,
    /// WeChat refunded what the shop has not completed.
    RefundMissingLocally,
    /// The shop completed a refund the bill does not show.
    RefundMissingAtWechat,
    /// Both have the refund, for different amounts.
    RefundAmountMismatch,
}

impl DifferenceKind {
    /// The name reports store and show.
    pub fn as_str(self) -> &'static str {
        match self {
            DifferenceKind::MissingLocally => "missing_locally",
            DifferenceKind::MissingAtWechat => "missing_at_wechat",
            DifferenceKind::AmountMismatch => "amount_mismatch",
            DifferenceKind::RejectedPayment => "rejected_payment",
            DifferenceKind::RefundMissingLocally => "refund_missing_locally",
            DifferenceKind::RefundMissingAtWechat => "refund_missing_at_wechat",
            DifferenceKind::RefundAmountMismatch => "refund_amount_mismatch",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Difference {
    pub kind: DifferenceKind,
    pub order_no: String,
    /// The WeChat transaction id of a payment, the shop's refund number of a refund.
    pub reference: String,
    pub wechat_fen: Option<i64>,
    pub local_fen: Option<i64>,
    /// What was done: repaired, reported, or why nothing could be.
    pub action: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Totals {
    pub payments: i64,
    pub payment_fen: i64,
    pub refunds: i64,
    pub refund_fen: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub day: String,
    pub wechat: Totals,
    pub local: Totals,
    pub fee_milli_fen: i64,
    pub differences: Vec<Difference>,
    pub generated_at: i64,
}

/// A `YYYY-MM-DD` business day.
pub fn parse_day(day: &str) -> Result<time::Date, DomainError> {
    time::Date::parse(day, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| DomainError::invalid("day", "must be a date YYYY-MM-DD"))
}

/// When WeChat Pay publishes a day's bill: 10:00 Beijing time the next day.
pub fn bill_due(day: time::Date) -> i64 {
    let next = day.next_day().unwrap_or(day);
    next.with_hms(10, 0, 0).map(|t| t.assume_offset(clock::SHANGHAI).unix_timestamp()).unwrap_or(i64::MAX)
}

/// The business day before `now` (what the daily schedule reconciles).
pub fn yesterday(now: i64) -> String {
    clock::business_day(now - 86_400).map(|d| d.to_string()).unwrap_or_default()
}

/// A bill's `YYYY-MM-DD hh:mm:ss` (Beijing time) as unix seconds.
pub fn bill_time(s: &str) -> Option<i64> {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s, &fmt).ok().map(|t| t.assume_offset(clock::SHANGHAI).unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_keep_their_stored_names() {
        let d = Difference {
            kind: DifferenceKind::RefundMissingAtWechat,
            order_no: "N1".into(),
            reference: "R1".into(),
            wechat_fen: None,
            local_fen: Some(5),
            action: "reported".into(),
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["kind"], d.kind.as_str());
        assert_eq!(v["kind"], "refund_missing_at_wechat");
        assert_eq!(serde_json::from_value::<Difference>(v).unwrap(), d);
        assert!(parse_day("2026-02-30").is_err());
        assert_eq!(bill_time("2026-11-24 10:00:00"), Some(1_795_485_600));
    }
}
