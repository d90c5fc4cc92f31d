//! The JSON bodies of the v3 calls and notifies the shop uses. Amounts are integer fen.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Amount {
    pub total: i64,
    #[serde(default = "cny")]
    pub currency: String,
}

fn cny() -> String {
    "CNY".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Payer {
    pub openid: String,
}

/// `POST /v3/pay/transactions/jsapi`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PrepayRequest {
    pub appid: String,
    pub mchid: String,
    pub description: String,
    pub out_trade_no: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_expire: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    pub notify_url: String,
    pub amount: Amount,
    pub payer: Payer,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PrepayAnswer {
    pub prepay_id: String,
}

/// What `wx.requestPayment` takes (field names as the mini-program API spells them).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RequestPayment {
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    pub package: String,
    #[serde(rename = "signType")]
    pub sign_type: String,
    #[serde(rename = "paySign")]
    pub pay_sign: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TransactionAmount {
    pub total: i64,
    #[serde(default)]
    pub payer_total: Option<i64>,
    #[serde(default = "cny")]
    pub currency: String,
    #[serde(default)]
    pub payer_currency: Option<String>,
}

/// A payment as query answers and `TRANSACTION.SUCCESS` notifies describe it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Transaction {
    pub appid: String,
    pub mchid: String,
    pub out_trade_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_type: Option<String>,
    pub trade_state: String,
    #[serde(default)]
    pub trade_state_desc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<Payer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<TransactionAmount>,
}

impl Transaction {
    pub fn is_paid(&self) -> bool {
        self.trade_state == "SUCCESS"
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RefundAmountRequest {
    pub refund: i64,
    pub total: i64,
    pub currency: String,
}

/// `POST /v3/refund/domestic/refunds`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RefundRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_trade_no: Option<String>,
    pub out_refund_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<String>,
    pub amount: RefundAmountRequest,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RefundAmount {
    pub total: i64,
    pub refund: i64,
    #[serde(default)]
    pub payer_total: Option<i64>,
    #[serde(default)]
    pub payer_refund: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
}

/// Where a refund stands at WeChat Pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundStatus {
    Success,
    Closed,
    Processing,
    /// The money could not reach the shopper's account; WeChat Pay may still settle it.
    Abnormal,
    /// A status this shop does not know yet: read, logged, and acted on as in flight.
    #[serde(other)]
    Unknown,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Success => "SUCCESS",
            RefundStatus::Closed => "CLOSED",
            RefundStatus::Processing => "PROCESSING",
            RefundStatus::Abnormal => "ABNORMAL",
            RefundStatus::Unknown => "UNKNOWN",
        }
    }
}

/// A refund as the create and query answers describe it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Refund {
    pub refund_id: String,
    pub out_refund_no: String,
    pub transaction_id: String,
    pub out_trade_no: String,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub user_received_account: Option<String>,
    #[serde(default)]
    pub success_time: Option<String>,
    pub create_time: String,
    pub status: RefundStatus,
    pub amount: RefundAmount,
}

/// The decrypted resource of `REFUND.SUCCESS` / `REFUND.CLOSED` / `REFUND.ABNORMAL`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RefundNotice {
    pub mchid: String,
    pub out_trade_no: String,
    pub transaction_id: String,
    pub out_refund_no: String,
    pub refund_id: String,
    pub refund_status: RefundStatus,
    #[serde(default)]
    pub success_time: Option<String>,
    #[serde(default)]
    pub user_received_account: Option<String>,
    pub amount: RefundAmount,
}

/// `GET /v3/bill/tradebill`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BillLocation {
    pub hash_type: String,
    pub hash_value: String,
    pub download_url: String,
}

/// An encrypted resource: a notify's `resource` or a certificate's `encrypt_certificate`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EncryptedResource {
    pub algorithm: String,
    pub ciphertext: String,
    #[serde(default)]
    pub associated_data: String,
    pub nonce: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_type: Option<String>,
}

/// The envelope of every notify.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Notification {
    pub id: String,
    pub create_time: String,
    pub event_type: String,
    pub resource_type: String,
    #[serde(default)]
    pub summary: String,
    pub resource: EncryptedResource,
}

/// An entry of `GET /v3/certificates`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CertificateEntry {
    pub serial_no: String,
    pub effective_time: String,
    pub expire_time: String,
    pub encrypt_certificate: EncryptedResource,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CertificateList {
    pub data: Vec<CertificateEntry>,
}

/// WeChat Pay's error body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    pub code: String,
    #[serde(default)]
    pub message: String,
}
