//! WeChat Pay v3 as `api.mch.weixin.qq.com` answers it, with its own platform keys: it checks
//! the merchant's Authorization signature (401 SIGN_ERROR when wrong), signs every answer
//! (with the WeChat Pay public key or the platform certificate, as the request's
//! `Wechatpay-Serial` asks), and sends signed, encrypted notifies on WeChat's retry schedule.
//! Test-only controls under `/sim/` pay orders and switch faults on.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::clock;
use domain::money::Fen;
use serde::Deserialize;
use serde_json::{Value, json};
use wechat::pay::bill::{self, BillRow};
use wechat::pay::client::{parse_rfc3339, rfc3339};
use wechat::pay::keys::{MerchantKey, PublicKey};
use wechat::pay::sign::{nonce, parse_authorization, request_message, response_message};
use wechat::pay::types::{PrepayRequest, RefundRequest};
use wechat::pay::verify::MAX_SKEW_SECS;
use wechat::pay::{ApiV3Key, SCHEME};

use crate::Sim;

mod controls;
mod notify;
mod refunds;
mod tradebill;

pub use controls::{
    CustomNotify, PayBody, RequestPayment, Settle, merchant_key_pem, pay, request_payment, rotate_certificate,
    send_custom, settle_refund,
};
use notify::enqueue;
pub use notify::release;
use refunds::{create_refund, refund_json};
use tradebill::trade_bill;

/// The merchant the simulator serves.
#[derive(Debug, Clone)]
pub struct MerchantConfig {
    pub mchid: String,
    pub appid: String,
    pub apiv3_key: String,
    pub serial: String,
    /// The merchant's public key PEM (`PUBLIC KEY`), to check request signatures.
    pub public_key_pem: String,
}

/// WeChat Pay's side of the keys: a public key (`PUB_KEY_ID_…`) and a platform certificate,
/// each with its own RSA key, as a merchant mid-switch sees them.
pub struct Platform {
    pub public_key_id: String,
    pub public_key_pem: String,
    public_key_signer: MerchantKey,
    pub cert_serial: String,
    pub cert_pem: String,
    cert_signer: MerchantKey,
}

pub const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0114232099752025112500000000000001";

fn new_certificate() -> Result<(MerchantKey, String, String), String> {
    let (signer, key_pem) = MerchantKey::generate().map_err(|e| e.to_string())?;
    let kp =
        rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&key_pem, &rcgen::PKCS_RSA_SHA256).map_err(|e| e.to_string())?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    let mut serial = [0u8; 20];
    for (i, b) in uuid::Uuid::new_v4().as_bytes().iter().chain(uuid::Uuid::new_v4().as_bytes()).take(20).enumerate() {
        serial[i] = *b;
    }
    serial[0] &= 0x7f;
    serial[0] |= 0x10; // keep 40 hex digits with no leading zero
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    params.distinguished_name.push(rcgen::DnType::CommonName, "Tenpay.com Root CA simulator");
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(5 * 365);
    let cert = params.self_signed(&kp).map_err(|e| e.to_string())?;
    let serial_hex: String = serial.iter().map(|b| format!("{b:02X}")).collect();
    Ok((signer, serial_hex, cert.pem()))
}

impl Platform {
    pub fn generate() -> Result<Self, String> {
        let (public_key_signer, _) = MerchantKey::generate().map_err(|e| e.to_string())?;
        let public_key_pem = public_key_signer.public_key_pem().map_err(|e| e.to_string())?;
        let (cert_signer, cert_serial, cert_pem) = new_certificate()?;
        Ok(Self {
            public_key_id: PUBLIC_KEY_ID.into(),
            public_key_pem,
            public_key_signer,
            cert_serial,
            cert_pem,
            cert_signer,
        })
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum SignWith {
    #[default]
    PublicKey,
    Certificate,
    /// Either, at random, as during a switch from certificates to the public key.
    Random,
}

/// Switches for tests. Every field is optional in `POST /sim/faults`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Extra deliveries of every notify.
    pub duplicate: u32,
    /// Flip one byte of each notify body after signing it.
    pub tamper: bool,
    /// Never deliver notifies (only a query or the bill will tell).
    pub lose: bool,
    /// Keep notifies until `POST /sim/release`.
    pub hold: bool,
    /// Wait this long before a notify's first delivery.
    pub delay_ms: u64,
    /// The first delivery of each notify carries a `WECHATPAY/SIGNTEST/` probe signature.
    pub probe: bool,
    /// Sign notifies with a timestamp ten minutes old.
    pub stale: bool,
    pub sign_with: SignWith,
    /// The next N API calls answer 500 SYSTEM_ERROR.
    pub api_fail: u32,
    /// The next N API calls wait `api_hang_ms` before answering.
    pub api_hang: u32,
    pub api_hang_ms: u64,
    /// How refunds end (SUCCESS, CLOSED or ABNORMAL) and after how long.
    pub refund_result: String,
    pub refund_delay_ms: u64,
    /// Shifts refunds' success time (seconds; -86400 books them yesterday, for bills).
    pub refund_time_shift: i64,
    /// Scales WeChat's notify retry schedule (15 s, 15 s, 30 s, 3 min, …): 0.001 makes it ms.
    pub time_scale: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            duplicate: 0,
            tamper: false,
            lose: false,
            hold: false,
            delay_ms: 0,
            probe: false,
            stale: false,
            sign_with: SignWith::PublicKey,
            api_fail: 0,
            api_hang: 0,
            api_hang_ms: 0,
            refund_result: "SUCCESS".into(),
            refund_delay_ms: 50,
            refund_time_shift: 0,
            time_scale: 1.0,
        }
    }
}

/// WeChat's retry schedule after a failed notify, in seconds (24 h 4 min in all).
pub const RETRY_SCHEDULE: [u64; 15] =
    [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600];

#[derive(Debug, Clone)]
struct Order {
    request: PrepayRequest,
    prepay_id: String,
    state: &'static str,
    transaction_id: Option<String>,
    success_time: Option<i64>,
    refunded: i64,
}

#[derive(Debug, Clone)]
struct RefundRec {
    refund_id: String,
    out_refund_no: String,
    out_trade_no: String,
    transaction_id: String,
    refund: i64,
    total: i64,
    status: String,
    create_time: i64,
    success_time: Option<i64>,
    notify_url: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Delivery {
    pub event_type: String,
    pub key: String,
    pub attempt: u32,
    pub status: Option<u16>,
    pub signed_by: String,
}

#[derive(Debug, Clone)]
struct PendingNotify {
    url: String,
    event_type: String,
    key: String,
    plaintext: String,
    original_type: &'static str,
}

#[derive(Default)]
pub struct PayState {
    orders: HashMap<String, Order>,
    refunds: HashMap<String, RefundRec>,
    bills: HashMap<String, Vec<u8>>,
    held: Vec<PendingNotify>,
    pub faults: Faults,
    pub deliveries: Vec<Delivery>,
    /// The out_refund_no of every refund request received, repeats included.
    pub refund_calls: Vec<String>,
    /// How many JSAPI prepay requests reached the simulator, refused ones included.
    pub prepay_calls: u64,
    counter: u64,
}

pub struct PaySim {
    pub merchant: Option<MerchantConfig>,
    pub platform: RwLock<Platform>,
    pub state: Mutex<PayState>,
    http: reqwest::Client,
}

impl PaySim {
    pub fn new(merchant: Option<MerchantConfig>) -> Result<Self, String> {
        Ok(Self {
            merchant,
            platform: RwLock::new(Platform::generate()?),
            state: Mutex::new(PayState::default()),
            http: reqwest::Client::builder().timeout(Duration::from_secs(5)).build().map_err(|e| e.to_string())?,
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PayState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A paid transaction, as WeChat's other services see it (the shipping service looks
    /// payments up by transaction id or by merchant and order number).
    pub fn paid_transaction(
        &self,
        transaction_id: Option<&str>,
        out_trade_no: Option<&str>,
    ) -> Option<PaidTransaction> {
        let st = self.state();
        // By number, the payment the order number stands for; by id, any payment (a second
        // payment of an order included).
        let o = match (transaction_id, out_trade_no) {
            (Some(t), _) => st.orders.values().find(|o| o.transaction_id.as_deref() == Some(t))?,
            (None, Some(n)) => st.orders.get(n).filter(|o| o.transaction_id.is_some())?,
            (None, None) => return None,
        };
        Some(PaidTransaction {
            transaction_id: o.transaction_id.clone()?,
            out_trade_no: o.request.out_trade_no.clone(),
            mchid: o.request.mchid.clone(),
            payer_openid: o.request.payer.openid.clone(),
            total: o.request.amount.total,
            refunded: o.refunded,
            success_time: o.success_time.unwrap_or(0),
        })
    }
}

/// A payment as [`PaySim::paid_transaction`] reports it.
#[derive(Debug, Clone)]
pub struct PaidTransaction {
    pub transaction_id: String,
    pub out_trade_no: String,
    pub mchid: String,
    pub payer_openid: String,
    pub total: i64,
    pub refunded: i64,
    pub success_time: i64,
}

fn error(status: u16, code: &str, message: &str) -> (u16, Value) {
    (status, json!({ "code": code, "message": message }))
}

/// Signs `body` as WeChat Pay signs answers and notifies; returns the headers.
fn sign_headers(sim: &PaySim, body: &[u8], use_cert: bool, timestamp: i64) -> Vec<(&'static str, String)> {
    let p = sim.platform.read().unwrap_or_else(|e| e.into_inner());
    let (signer, serial) = if use_cert {
        (&p.cert_signer, p.cert_serial.clone())
    } else {
        (&p.public_key_signer, p.public_key_id.clone())
    };
    let n = nonce();
    let signature = signer.sign(&response_message(&timestamp.to_string(), &n, body)).unwrap_or_default();
    vec![
        ("Wechatpay-Timestamp", timestamp.to_string()),
        ("Wechatpay-Nonce", n),
        ("Wechatpay-Signature", signature),
        ("Wechatpay-Serial", serial),
        ("Wechatpay-Signature-Type", SCHEME.to_owned()),
        ("Request-ID", uuid::Uuid::new_v4().to_string()),
    ]
}

fn use_cert_for(sim: &PaySim, requested: Option<&str>) -> bool {
    let p = sim.platform.read().unwrap_or_else(|e| e.into_inner());
    match requested {
        Some(s) if s.eq_ignore_ascii_case(&p.public_key_id) => false,
        Some(s) if s.eq_ignore_ascii_case(&p.cert_serial) => true,
        _ => {
            drop(p);
            match sim.state().faults.sign_with {
                SignWith::PublicKey => false,
                SignWith::Certificate => true,
                SignWith::Random => uuid::Uuid::new_v4().as_bytes()[0] & 1 == 1,
            }
        }
    }
}

fn signed_response(sim: &PaySim, status: u16, body: Option<Value>, use_cert: bool) -> Response {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let mut builder = Response::builder().status(status);
    for (k, v) in sign_headers(sim, &bytes, use_cert, clock::now()) {
        builder = builder.header(k, v);
    }
    if !bytes.is_empty() {
        builder = builder.header("Content-Type", "application/json; charset=utf-8");
    }
    builder.body(axum::body::Body::from(bytes)).unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Checks the merchant's Authorization header over the request as received.
fn check_auth(
    sim: &PaySim,
    method: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), (u16, Value)> {
    let m = sim.merchant.as_ref().ok_or_else(|| error(401, "SIGN_ERROR", "simulator has no merchant configured"))?;
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    let parts = parse_authorization(auth)
        .ok_or_else(|| error(401, "SIGN_ERROR", "Authorization header missing or malformed"))?;
    if parts.mchid != m.mchid {
        return Err(error(401, "SIGN_ERROR", "mchid does not match"));
    }
    if !parts.serial_no.eq_ignore_ascii_case(&m.serial) {
        return Err(error(401, "SIGN_ERROR", "serial_no is not the merchant certificate's"));
    }
    let ts: i64 = parts.timestamp.parse().map_err(|_| error(401, "SIGN_ERROR", "bad timestamp"))?;
    if (clock::now() - ts).abs() >= MAX_SKEW_SECS {
        return Err(error(401, "SIGN_ERROR", "timestamp expired"));
    }
    let key = PublicKey::from_pem(&m.public_key_pem).map_err(|_| error(500, "SYSTEM_ERROR", "bad merchant key"))?;
    if !key.verify(&request_message(method, path_and_query, ts, &parts.nonce_str, body), &parts.signature) {
        return Err(error(401, "SIGN_ERROR", "signature does not verify"));
    }
    Ok(())
}

/// All `/v3/...` calls.
pub async fn api(State(sim): State<Sim>, req: Request) -> Response {
    let pay = sim.pay.clone();
    let (parts, body) = req.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "").into_response(),
    };
    let (fail, hang) = {
        let mut st = pay.state();
        let fail = st.faults.api_fail > 0;
        if fail {
            st.faults.api_fail -= 1;
        }
        let hang = if st.faults.api_hang > 0 {
            st.faults.api_hang -= 1;
            st.faults.api_hang_ms
        } else {
            0
        };
        (fail, hang)
    };
    if hang > 0 {
        tokio::time::sleep(Duration::from_millis(hang)).await;
    }
    let requested_serial = parts.headers.get("wechatpay-serial").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let pq = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let host = parts.headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1").to_owned();
    let method = parts.method.as_str().to_owned();
    if let Err((status, body)) = check_auth(&pay, &method, &pq, &parts.headers, &body) {
        return signed_response(&pay, status, Some(body), use_cert_for(&pay, requested_serial.as_deref()));
    }
    if fail {
        let (s, b) = error(500, "SYSTEM_ERROR", "系统错误");
        return signed_response(&pay, s, Some(b), use_cert_for(&pay, requested_serial.as_deref()));
    }
    let path = parts.uri.path().to_owned();
    let query: HashMap<String, String> =
        form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if method == "GET" && segs == ["v3", "billdownload", "file"] {
        // The bill file is the one answer WeChat Pay does not sign.
        let token = query.get("token").cloned().unwrap_or_default();
        return match pay.state().bills.get(&token) {
            Some(bytes) => ([("Content-Type", "application/octet-stream")], bytes.clone()).into_response(),
            None => {
                signed_response(&pay, 404, Some(json!({"code": "RESOURCE_NOT_EXISTS", "message": "账单不存在"})), false)
            }
        };
    }
    let use_cert = use_cert_for(&pay, requested_serial.as_deref());
    if method == "GET" && segs == ["v3", "certificates"] {
        // Signed like any answer: with the public key when the merchant asks for it by its
        // id, as WeChat Pay does for a merchant that has one.
        return signed_response(&pay, 200, Some(certificates(&pay)), use_cert);
    }
    let (status, answer) = route(&sim, &method, &segs, &query, &body, &host).await;
    signed_response(&pay, status, answer, use_cert)
}

fn certificates(sim: &PaySim) -> Value {
    let Some(m) = &sim.merchant else { return json!({ "data": [] }) };
    let p = sim.platform.read().unwrap_or_else(|e| e.into_inner());
    let n: String = nonce().chars().take(12).collect();
    let ct = ApiV3Key::new(&m.apiv3_key)
        .and_then(|k| k.encrypt(&n, "certificate", p.cert_pem.as_bytes()))
        .unwrap_or_default();
    json!({ "data": [{
        "serial_no": p.cert_serial,
        "effective_time": rfc3339(clock::now() - 86_400),
        "expire_time": rfc3339(clock::now() + 5 * 365 * 86_400),
        "encrypt_certificate": { "algorithm": "AEAD_AES_256_GCM", "associated_data": "certificate", "nonce": n, "ciphertext": ct },
    }]})
}

fn transaction_json(m: &MerchantConfig, o: &Order) -> Value {
    let mut v = json!({
        "appid": o.request.appid, "mchid": m.mchid, "out_trade_no": o.request.out_trade_no,
        "trade_state": o.state,
        "trade_state_desc": match o.state { "SUCCESS" => "支付成功", "CLOSED" => "已关闭", "REFUND" => "转入退款", _ => "订单未支付" },
        "amount": { "total": o.request.amount.total, "currency": "CNY" },
    });
    if let Some(a) = &o.request.attach {
        v["attach"] = json!(a);
    }
    if let (Some(tid), Some(t)) = (&o.transaction_id, o.success_time) {
        v["transaction_id"] = json!(tid);
        v["trade_type"] = json!("JSAPI");
        v["bank_type"] = json!("OTHERS");
        v["success_time"] = json!(rfc3339(t));
        v["payer"] = json!({ "openid": o.request.payer.openid });
        v["amount"] = json!({ "total": o.request.amount.total, "payer_total": o.request.amount.total, "currency": "CNY", "payer_currency": "CNY" });
    }
    v
}

async fn route(
    sim: &Sim,
    method: &str,
    segs: &[&str],
    query: &HashMap<String, String>,
    body: &[u8],
    host: &str,
) -> (u16, Option<Value>) {
    let pay = &sim.pay;
    let Some(m) = pay.merchant.clone() else { return (401, Some(json!({"code": "SIGN_ERROR"}))) };
    let ok = |v: Value| (200, Some(v));
    let err = |s: u16, c: &str, msg: &str| (s, Some(json!({ "code": c, "message": msg })));
    match (method, segs) {
        ("POST", ["v3", "pay", "transactions", "jsapi"]) => {
            pay.state().prepay_calls += 1;
            let Ok(req) = serde_json::from_slice::<PrepayRequest>(body) else {
                return err(400, "PARAM_ERROR", "请求参数格式错误");
            };
            if req.mchid != m.mchid {
                return err(400, "MCH_NOT_EXISTS", "商户号不存在");
            }
            if req.appid != m.appid {
                return err(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配");
            }
            let no_ok = (6..=32).contains(&req.out_trade_no.len())
                && req.out_trade_no.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-|*".contains(&b));
            if !no_ok || req.amount.total <= 0 || req.description.is_empty() || req.notify_url.contains('?') {
                return err(400, "PARAM_ERROR", "参数错误");
            }
            let mut st = pay.state();
            if let Some(o) = st.orders.get(&req.out_trade_no) {
                return match o.state {
                    "SUCCESS" | "REFUND" => err(400, "ORDERPAID", "该订单已支付"),
                    "CLOSED" => err(400, "ORDER_CLOSED", "订单已关闭"),
                    _ if o.request != req => err(400, "INVALID_REQUEST", "201 商户订单号重复"),
                    _ => ok(json!({ "prepay_id": o.prepay_id })),
                };
            }
            st.counter += 1;
            let prepay_id = format!("wx{}{:010}", clock::now(), st.counter);
            st.orders.insert(
                req.out_trade_no.clone(),
                Order {
                    request: req,
                    prepay_id: prepay_id.clone(),
                    state: "NOTPAY",
                    transaction_id: None,
                    success_time: None,
                    refunded: 0,
                },
            );
            ok(json!({ "prepay_id": prepay_id }))
        }
        ("GET", ["v3", "pay", "transactions", "out-trade-no", no]) => {
            if query.get("mchid") != Some(&m.mchid) {
                return err(400, "PARAM_ERROR", "mchid 参数错误");
            }
            match pay.state().orders.get(*no) {
                Some(o) => ok(transaction_json(&m, o)),
                None => err(404, "ORDER_NOT_EXIST", "订单不存在"),
            }
        }
        ("GET", ["v3", "pay", "transactions", "id", tid]) => {
            let st = pay.state();
            match st.orders.values().find(|o| o.transaction_id.as_deref() == Some(*tid)) {
                Some(o) => ok(transaction_json(&m, o)),
                None => err(404, "ORDER_NOT_EXIST", "订单不存在"),
            }
        }
        ("POST", ["v3", "pay", "transactions", "out-trade-no", no, "close"]) => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            if v["mchid"] != json!(m.mchid) {
                return err(400, "PARAM_ERROR", "mchid 参数错误");
            }
            let mut st = pay.state();
            match st.orders.get_mut(*no) {
                None => err(404, "ORDER_NOT_EXIST", "订单不存在"),
                Some(o) if o.state == "SUCCESS" || o.state == "REFUND" => err(400, "ORDERPAID", "该订单已支付"),
                Some(o) => {
                    o.state = "CLOSED";
                    (204, None)
                }
            }
        }
        ("POST", ["v3", "refund", "domestic", "refunds"]) => {
            let Ok(req) = serde_json::from_slice::<RefundRequest>(body) else {
                return err(400, "PARAM_ERROR", "请求参数格式错误");
            };
            create_refund(sim, &req)
        }
        ("GET", ["v3", "refund", "domestic", "refunds", no]) => match pay.state().refunds.get(*no) {
            Some(r) => ok(refund_json(r)),
            None => err(404, "RESOURCE_NOT_EXISTS", "退款单不存在"),
        },
        ("GET", ["v3", "bill", "tradebill"]) => trade_bill(pay, &m, query, host),
        _ => err(404, "NOT_FOUND", "no such API in the simulator"),
    }
}
