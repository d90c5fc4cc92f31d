//! The shipping information WeChat's 小程序发货信息管理服务 takes (`upload_shipping_info`):
//! the payment it belongs to, how the goods travel, the parcels, when, and who paid.

use serde::Serialize;

/// `order_key` by WeChat Pay transaction id (`order_number_type` 2).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OrderKey {
    pub order_number_type: u8,
    pub transaction_id: String,
}

impl OrderKey {
    pub fn transaction(transaction_id: &str) -> Self {
        OrderKey { order_number_type: 2, transaction_id: transaction_id.to_owned() }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Contact {
    /// The receiver's phone, masked but for its last four digits (SF Express needs it).
    pub receiver_contact: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Parcel {
    pub tracking_no: String,
    pub express_company: String,
    /// What is in it, at most 120 characters.
    pub item_desc: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Payer {
    pub openid: String,
}

/// Logistics type 1 (express) and delivery mode 1 (one parcel for the whole payment) or 2
/// (split: several uploads, `is_all_delivered` on the last).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ShippingInfo {
    pub order_key: OrderKey,
    pub logistics_type: u8,
    pub delivery_mode: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_all_delivered: Option<bool>,
    pub shipping_list: Vec<Parcel>,
    /// RFC 3339 with the +08:00 offset, e.g. `2022-12-15T13:29:35.120+08:00`.
    pub upload_time: String,
    pub payer: Payer,
}

pub const EXPRESS: u8 = 1;
pub const UNIFIED_DELIVERY: u8 = 1;
pub const SPLIT_DELIVERY: u8 = 2;

/// `2022-12-15T13:29:35.120+08:00` for a unix time in milliseconds.
pub fn upload_time(unix_ms: i64) -> String {
    crate::pay::client::rfc3339_millis(unix_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_time_is_beijing_rfc3339_with_millis() {
        assert_eq!(upload_time(1_671_082_175_120), "2022-12-15T13:29:35.120+08:00");
    }
}
