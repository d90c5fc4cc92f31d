//! 小程序发货信息管理服务 as WeChat documents it: `upload_shipping_info` and
//! `notify_confirm_receive`, each behind the access token, refusing what WeChat refuses:
//! 47001 for a body that breaks the documented shape, 10060001 for a payment it does not hold
//! (or not paid by that payer), 10060004 for one that cannot ship (fully refunded), 10060003
//! once the one allowed re-shipment is used, 10060023 (发货信息未更新) for an upload that
//! repeats what it already holds (the retry of an upload whose answer was lost) without
//! spending the re-shipment. `get_order` answers the payment's `order_state`: 1 waiting to
//! ship, 2 shipped, 3 receipt confirmed (the shopper's, which `/sim/confirm-receipt` plays),
//! 5 refunded. Where the documentation names no code (a repeated reminder, a delivery time
//! before shipping) the simulator answers 10060024 and 10060025 and says so here. Scripted
//! failures play WeChat's system errors (-1, 10060012, 10060019) and answers lost on the way
//! back (an upload taken, then a 504 from the gateway).
//! Subscribe messages, the other 订阅消息-era service, are in `messages`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::Value;

use crate::Sim;
use crate::mp::{answer_ok, authorized, err};

/// What the service holds for one payment.
#[derive(Debug, Clone, Default)]
pub struct Shipping {
    pub uploads: Vec<Value>,
    pub all_delivered: bool,
    pub reshipped: bool,
    pub first_upload_at: Option<i64>,
    pub reminded: Option<i64>,
    /// When the shopper confirmed receipt inside WeChat.
    pub confirmed_at: Option<i64>,
}

#[derive(Debug, Default)]
pub struct ShippingState {
    /// By transaction id.
    pub payments: HashMap<String, Shipping>,
    /// The next N uploads answer `fail_with` (-1, system busy, unless set).
    pub fail_next: u32,
    pub fail_with: i64,
    /// The next N uploads are taken and their answers lost (the caller sees a 504).
    pub lose_answers: u32,
}

const FORMAT: i64 = 47001;

fn format_error() -> Response {
    err(FORMAT, "data format error")
}

pub(crate) fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The last four characters of a masked contact must be digits (WeChat's rule).
fn contact_ok(c: &Value) -> bool {
    let ok = |s: &str| s.len() >= 4 && s[s.len() - 4..].bytes().all(|b| b.is_ascii_digit());
    str_of(c, "receiver_contact").is_some_and(ok) || str_of(c, "consignor_contact").is_some_and(ok)
}

/// The payment `order_key` names, if the body names one the documented way.
fn order_key(sim: &Sim, key: &Value) -> Result<Option<crate::pay::PaidTransaction>, i64> {
    match key.get("order_number_type").and_then(Value::as_i64) {
        Some(2) => {
            let tid = str_of(key, "transaction_id").ok_or(FORMAT)?;
            Ok(sim.pay.paid_transaction(Some(tid), None))
        }
        Some(1) => {
            let (Some(mchid), Some(no)) = (str_of(key, "mchid"), str_of(key, "out_trade_no")) else {
                return Err(FORMAT);
            };
            Ok(sim.pay.paid_transaction(None, Some(no)).filter(|t| t.mchid == mchid))
        }
        _ => Err(FORMAT),
    }
}

/// (logistics type, delivery mode, is_all_delivered) of a well-formed body; the errcode of
/// one that is not.
fn check_shape(b: &Value) -> Result<(i64, i64, Option<bool>), i64> {
    let logistics = b.get("logistics_type").and_then(Value::as_i64).filter(|t| (1..=4).contains(t));
    let mode = b.get("delivery_mode").and_then(Value::as_i64).filter(|m| *m == 1 || *m == 2);
    let (Some(logistics), Some(mode)) = (logistics, mode) else {
        return Err(FORMAT);
    };
    let all = b.get("is_all_delivered").and_then(Value::as_bool);
    if mode == 2 && (all.is_none() || logistics != 1) {
        // Split delivery needs is_all_delivered, and only express parcels split.
        return Err(FORMAT);
    }
    let list = b.get("shipping_list").and_then(Value::as_array).ok_or(FORMAT)?;
    if list.is_empty() || list.len() > 15 || (mode == 1 && list.len() != 1) {
        return Err(FORMAT);
    }
    for p in list {
        let desc = str_of(p, "item_desc").ok_or(FORMAT)?;
        if desc.chars().count() > 120 {
            return Err(FORMAT);
        }
        if logistics == 1 {
            let tracking = str_of(p, "tracking_no").ok_or(FORMAT)?;
            let company = str_of(p, "express_company").ok_or(FORMAT)?;
            if tracking.len() > 128 || (company == "SF" && !p.get("contact").is_some_and(contact_ok)) {
                return Err(FORMAT);
            }
        }
    }
    let time = str_of(b, "upload_time").ok_or(FORMAT)?;
    if time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339).is_err() {
        return Err(FORMAT);
    }
    if b.get("payer").and_then(|p| str_of(p, "openid")).is_none() {
        return Err(FORMAT);
    }
    Ok((logistics, mode, all))
}

/// The payment a `get_order` or `notify_confirm_receive` body names, the two ways WeChat
/// documents: by `transaction_id`, or by `merchant_id` and `merchant_trade_no`; 47001 for a
/// body that names it neither way, 10060001 for one WeChat does not hold.
fn named_payment(sim: &Sim, b: &Value) -> Result<crate::pay::PaidTransaction, (i64, &'static str)> {
    let paid = match (str_of(b, "transaction_id"), str_of(b, "merchant_id"), str_of(b, "merchant_trade_no")) {
        (Some(tid), _, _) => sim.pay.paid_transaction(Some(tid), None),
        (None, Some(mchid), Some(no)) => sim.pay.paid_transaction(None, Some(no)).filter(|t| t.mchid == mchid),
        _ => return Err((FORMAT, "data format error")),
    };
    paid.ok_or((10060001, "支付单不存在"))
}

pub(crate) async fn upload_shipping_info(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let b = match authorized(&sim, &q, &body) {
        Ok(b) => b,
        Err((code, msg)) => return err(code, msg),
    };
    let key = b.get("order_key").cloned().unwrap_or(Value::Null);
    let shape = check_shape(&b);
    let Ok(mut st) = sim.shipping.lock() else {
        return err(-1, "system error");
    };
    if st.fail_next > 0 {
        st.fail_next -= 1;
        let code = if st.fail_with == 0 { -1 } else { st.fail_with };
        return err(code, "scripted failure");
    }
    let (_, mode, all) = match shape {
        Ok(s) => s,
        Err(_) => return format_error(),
    };
    let paid = match order_key(&sim, &key) {
        Ok(Some(p)) => p,
        Ok(None) => return err(10060001, "支付单不存在"),
        Err(_) => return format_error(),
    };
    if b.pointer("/payer/openid").and_then(Value::as_str) != Some(paid.payer_openid.as_str()) {
        return err(10060001, "支付单不存在");
    }
    if paid.refunded >= paid.total {
        return err(10060004, "支付单处于不可发货的状态");
    }
    let lose = st.lose_answers > 0;
    st.lose_answers = st.lose_answers.saturating_sub(1);
    let entry = st.payments.entry(paid.transaction_id.clone()).or_default();
    if entry.confirmed_at.is_some() {
        return err(10060004, "支付单处于不可发货的状态");
    }
    if entry.uploads.last().is_some_and(|last| same_shipping(last, &b)) {
        return err(10060023, "发货信息未更新");
    }
    if entry.all_delivered {
        // Uploading again after everything shipped is the one re-shipment allowed.
        if entry.reshipped {
            return err(10060003, "支付单已使用重新发货机会");
        }
        entry.reshipped = true;
    }
    entry.uploads.push(b);
    entry.first_upload_at.get_or_insert(domain_now());
    if mode == 1 || all == Some(true) {
        entry.all_delivered = true;
    }
    if lose {
        return axum::response::IntoResponse::into_response(axum::http::StatusCode::GATEWAY_TIMEOUT);
    }
    answer_ok()
}

/// Whether two uploads say the same of the goods (the upload time aside).
fn same_shipping(a: &Value, b: &Value) -> bool {
    ["logistics_type", "delivery_mode", "is_all_delivered", "shipping_list"].iter().all(|k| a.get(k) == b.get(k))
}

/// getOrder: what the service holds for a payment, named by transaction id or by merchant
/// id and merchant trade number.
pub(crate) async fn get_order(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let b = match authorized(&sim, &q, &body) {
        Ok(b) => b,
        Err((code, msg)) => return err(code, msg),
    };
    let paid = match named_payment(&sim, &b) {
        Ok(p) => p,
        Err((code, msg)) => return err(code, msg),
    };
    let Ok(st) = sim.shipping.lock() else {
        return err(-1, "system error");
    };
    let entry = st.payments.get(&paid.transaction_id).cloned().unwrap_or_default();
    let state = if paid.refunded >= paid.total {
        5
    } else if entry.confirmed_at.is_some() {
        3
    } else if entry.all_delivered {
        2
    } else {
        1
    };
    let last = entry.uploads.last();
    let v = serde_json::json!({
        "errcode": 0,
        "errmsg": "ok",
        "order": {
            "transaction_id": paid.transaction_id,
            "merchant_id": paid.mchid,
            "merchant_trade_no": paid.out_trade_no,
            "paid_amount": paid.total,
            "openid": paid.payer_openid,
            "trade_create_time": paid.success_time,
            "pay_time": paid.success_time,
            "order_state": state,
            "in_complaint": false,
            "shipping": {
                "delivery_mode": last.and_then(|u| u.get("delivery_mode")).cloned().unwrap_or(Value::Null),
                "logistics_type": last.and_then(|u| u.get("logistics_type")).cloned().unwrap_or(Value::Null),
                "finish_shipping": entry.all_delivered,
                "finish_shipping_count": entry.uploads.len(),
                "shipping_list": entry.uploads.iter().flat_map(|u| u.get("shipping_list").and_then(Value::as_array).cloned().unwrap_or_default()).collect::<Vec<_>>(),
            },
        },
    });
    axum::response::IntoResponse::into_response(([(axum::http::header::CONTENT_TYPE, "text/plain")], v.to_string()))
}

/// The shopper confirms receipt inside WeChat: only of a payment whose goods all shipped.
pub fn confirm_receipt(sim: &Sim, transaction_id: &str) -> Result<(), String> {
    let mut st = sim.shipping.lock().map_err(|_| "poisoned".to_owned())?;
    let entry = st.payments.get_mut(transaction_id).ok_or("nothing shipped for this payment")?;
    if !entry.all_delivered {
        return Err("not everything shipped yet".into());
    }
    entry.confirmed_at.get_or_insert(domain_now());
    Ok(())
}

fn domain_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub(crate) async fn notify_confirm_receive(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let b = match authorized(&sim, &q, &body) {
        Ok(b) => b,
        Err((code, msg)) => return err(code, msg),
    };
    let Some(received) = b.get("received_time").and_then(Value::as_i64) else {
        return format_error();
    };
    let paid = match named_payment(&sim, &b) {
        Ok(p) => p,
        Err((code, msg)) => return err(code, msg),
    };
    let Ok(mut st) = sim.shipping.lock() else {
        return err(-1, "system error");
    };
    let Some(entry) = st.payments.get_mut(&paid.transaction_id).filter(|e| !e.uploads.is_empty()) else {
        return err(10060004, "支付单处于不可发货的状态");
    };
    if entry.first_upload_at.is_some_and(|t| received < t - 60) {
        return err(10060025, "签收时间必须在发货时间之后");
    }
    if entry.reminded.is_some() {
        return err(10060024, "每个订单仅可提醒一次");
    }
    entry.reminded = Some(received);
    answer_ok()
}
