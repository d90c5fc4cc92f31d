//! How a paid order's goods leave: one sub-order per warehouse, each shipped in parcels.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::{SkuId, WarehouseId};

/// WeChat's shipping information takes at most 15 parcels per payment.
pub const MAX_PACKAGES: usize = 15;

/// Express companies by the delivery id WeChat's shipping information takes (its
/// `get_delivery_list`), with their names. A code outside this list is refused when shipping.
pub const EXPRESS_COMPANIES: &[(&str, &str)] = &[
    ("SF", "顺丰速运"),
    ("JD", "京东物流"),
    ("EMS", "中国邮政速递物流"),
    ("YTO", "圆通速递"),
    ("ZTO", "中通快递"),
    ("STO", "申通快递"),
    ("YD", "韵达快递"),
    ("JTSD", "极兔速递"),
    ("DBL", "德邦快递"),
    ("HTKY", "百世快递"),
    ("YZPY", "邮政快递包裹"),
];

/// One parcel: the express company's WeChat delivery id (`SF`, `YTO`, …) and its number.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Package {
    pub express_company: String,
    pub tracking_no: String,
}

impl Package {
    /// A parcel the shop can report: a known express company and a tracking number of 1 to
    /// 128 letters, digits or `-`.
    pub fn checked(express_company: &str, tracking_no: &str) -> Result<Package, DomainError> {
        let company = express_company.trim().to_ascii_uppercase();
        if !EXPRESS_COMPANIES.iter().any(|(code, _)| *code == company) {
            return Err(DomainError::invalid(
                "express_company",
                format!("not a known express company code ({express_company:?}); use e.g. SF, YTO, ZTO, JD"),
            ));
        }
        let t = tracking_no.trim();
        if t.is_empty() || t.len() > 128 || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(DomainError::invalid("tracking_no", "1 to 128 letters, digits or '-'"));
        }
        Ok(Package { express_company: company, tracking_no: t.to_owned() })
    }
}

/// A sub-order as it left its warehouse: one or more parcels.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Shipment {
    pub packages: Vec<Package>,
    pub shipped_at: i64,
    /// When WeChat accepted this shipment's information (小程序发货信息管理).
    #[serde(default)]
    pub uploaded_at: Option<i64>,
}

/// Where a paid order's goods are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fulfilment {
    #[default]
    Unshipped,
    PartlyShipped,
    Shipped,
    Received,
    Completed,
}

impl Fulfilment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unshipped => "unshipped",
            Self::PartlyShipped => "partly_shipped",
            Self::Shipped => "shipped",
            Self::Received => "received",
            Self::Completed => "completed",
        }
    }
}

/// Who confirmed receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceivedBy {
    Shopper,
    /// Nobody confirmed within the window; the shop did.
    Auto,
    /// The shopper confirmed inside WeChat (its shipping service reads the order received).
    InWechat,
}

/// What one warehouse ships: a sub-order of the parent order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubOrder {
    pub warehouse_id: WarehouseId,
    /// Stock-bearing SKU → units.
    pub items: BTreeMap<SkuId, i64>,
    #[serde(default)]
    pub shipment: Option<Shipment>,
}
