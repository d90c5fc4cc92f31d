//! An offline stand-in for `api.weixin.qq.com` and `api.mch.weixin.qq.com`, so the shop runs
//! and is tested with no WeChat account.
//!
//! Mini-program API (see `mp`): code2Session, stable_token, getPhoneNumber. Codes are
//! scripted by their text:
//!
//! | code                      | answer                                               |
//! |---------------------------|------------------------------------------------------|
//! | `invalid…`                | 40029 invalid code                                   |
//! | `ratelimit…`              | 45011 minute quota reached                           |
//! | `blocked…`                | 40226 high-risk user                                 |
//! | `busy…`                   | -1 system error                                      |
//! | `<user>` or `<user>.<n>`  | a deterministic openid for `<user>`; each code once  |
//! | `u-<user>…`               | as above, with a unionid                             |
//!
//! Phone codes: `phone-<digits>` gives that number, `invalid…` 40029, `blocked…` 1421102,
//! anything else a number derived from the code.
//!
//! Content security and message push (see `security`): msgSecCheck, mediaCheckAsync and the
//! `wxa_media_check` push, signed and (in safe mode) encrypted; `/sim/push-config`,
//! `/sim/push`, `GET /sim/pushes`.
//!
//! Shipping information (see `shipping`): `upload_shipping_info` and `notify_confirm_receive`
//! against the payments the WeChat Pay side holds.
//!
//! WeChat Pay v3 (see `pay`): prepay, query, close, refunds, trade bills, certificates, with
//! real signatures both ways and notifies on WeChat's retry schedule. Test controls:
//! `POST /sim/pay`, `/sim/faults`, `/sim/release`, `/sim/rotate-certificate`,
//! `GET /sim/deliveries`, `/sim/platform`.

pub mod messages;
mod mp;
pub mod pay;
pub mod security;
pub mod shipping;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
pub use mp::MpState;
pub use pay::{Faults, MerchantConfig, PaySim};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub appid: String,
    pub app_secret: String,
    /// `expires_in` of access tokens, seconds.
    pub token_ttl: u64,
    /// The merchant whose WeChat Pay calls are answered; without one they get SIGN_ERROR.
    pub merchant: Option<MerchantConfig>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            appid: "wx0000000000000001".into(),
            app_secret: "sim-app-secret".into(),
            token_ttl: 7200,
            merchant: None,
        }
    }
}

#[derive(Clone)]
pub struct Sim {
    pub config: Arc<SimConfig>,
    pub mp: Arc<Mutex<MpState>>,
    pub pay: Arc<PaySim>,
    pub shipping: Arc<Mutex<shipping::ShippingState>>,
    /// Messages the WeCom group robot accepted.
    pub robot: Arc<Mutex<Vec<serde_json::Value>>>,
    robot_rules: Arc<Mutex<RobotRules>>,
    pub subscriptions: Arc<Mutex<messages::Subscriptions>>,
    /// Content security and message push.
    pub push: Arc<Mutex<security::PushState>>,
}

impl Sim {
    pub fn new(config: SimConfig) -> Result<Self, String> {
        let pay = Arc::new(PaySim::new(config.merchant.clone())?);
        Ok(Self {
            config: Arc::new(config),
            mp: Arc::default(),
            pay,
            shipping: Arc::default(),
            robot: Arc::default(),
            robot_rules: Arc::default(),
            subscriptions: Arc::default(),
            push: Arc::default(),
        })
    }

    pub fn router(&self) -> axum::Router {
        mp::routes()
            .route("/v3/{*rest}", axum::routing::any(pay::api))
            .route("/sim/pay", post(sim_pay))
            .route("/sim/request-payment", post(sim_request_payment))
            .route("/sim/faults", post(sim_faults))
            .route("/sim/release", post(sim_release))
            .route("/sim/deliveries", get(sim_deliveries))
            .route("/sim/rotate-certificate", post(sim_rotate))
            .route("/sim/platform", get(sim_platform))
            .route("/sim/send-notify", post(sim_send_notify))
            .route("/sim/settle-refund", post(sim_settle_refund))
            .route("/cgi-bin/webhook/send", post(robot_send))
            .with_state(self.clone())
    }

    /// The openid this simulator gives `user` (the part of a code before any `.`).
    pub fn openid_for(&self, user: &str) -> String {
        mp::openid_for(&self.config.appid, user)
    }

    /// Replaces the fault switches.
    pub fn set_faults(&self, f: Faults) {
        if let Ok(mut st) = self.pay.state.lock() {
            st.faults = f;
        }
    }

    /// Every refund request received (its out_refund_no), repeats included.
    pub fn refund_calls(&self) -> Vec<String> {
        self.pay.state.lock().map(|st| st.refund_calls.clone()).unwrap_or_default()
    }

    /// How many JSAPI prepay requests arrived.
    pub fn prepay_count(&self) -> u64 {
        self.pay.state.lock().map(|st| st.prepay_calls).unwrap_or_default()
    }

    /// What the shipping service holds for a payment: every upload it accepted, whether
    /// everything shipped, and the reminder to confirm.
    pub fn shipping_of(&self, transaction_id: &str) -> Option<shipping::Shipping> {
        self.shipping.lock().ok()?.payments.get(transaction_id).cloned()
    }

    /// The next `n` shipping uploads answer `errcode` (-1: system busy).
    pub fn fail_shipping_uploads(&self, n: u32, errcode: i64) {
        if let Ok(mut st) = self.shipping.lock() {
            st.fail_next = n;
            st.fail_with = errcode;
        }
    }

    /// The next `n` shipping uploads are taken but their answers are lost (a 504).
    pub fn lose_shipping_answers(&self, n: u32) {
        if let Ok(mut st) = self.shipping.lock() {
            st.lose_answers = n;
        }
    }

    /// The merchant adds a subscribe-message template to the mini-program (its content names
    /// its keywords, e.g. `会员等级:{{thing1.DATA}}`).
    pub fn add_subscribe_template(&self, id: &str, title: &str, content: &str) {
        if let Ok(mut s) = self.subscriptions.lock() {
            s.templates.push((id.to_owned(), title.to_owned(), content.to_owned()));
        }
    }

    /// The shopper accepted one message of `template_id` (what `wx.requestSubscribeMessage`
    /// records on WeChat's side).
    pub fn grant_subscription(&self, openid: &str, template_id: &str) {
        if let Ok(mut s) = self.subscriptions.lock() {
            *s.grants.entry((openid.to_owned(), template_id.to_owned())).or_insert(0) += 1;
        }
    }

    /// Every subscribe message WeChat accepted to send.
    pub fn subscribe_messages(&self) -> Vec<serde_json::Value> {
        self.subscriptions.lock().map(|s| s.sent.clone()).unwrap_or_default()
    }

    /// The robot refuses the next `n` messages as a wrong key (93000).
    pub fn refuse_robot_messages(&self, n: u32) {
        if let Ok(mut r) = self.robot_rules.lock() {
            r.refuse_next = n;
        }
    }

    /// The messages the operators' group robot received.
    pub fn robot_messages(&self) -> Vec<serde_json::Value> {
        self.robot.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn deliveries(&self) -> Vec<pay::Delivery> {
        self.pay.state.lock().map(|st| st.deliveries.clone()).unwrap_or_default()
    }
}

/// What the robot refuses: scripted refusals, and its per-key count of the minute.
#[derive(Debug, Default)]
struct RobotRules {
    refuse_next: u32,
    per_minute: std::collections::HashMap<(String, i64), u32>,
}

/// WeCom's group robot (`qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`): a key, a
/// `msgtype` and its content (markdown at most 4,096 bytes); 93000 for a key it does not know
/// (the simulator knows every key but `invalid`, and refuses the next messages a test asks it
/// to); 45009 past 20 messages a minute for one key.
async fn robot_send(
    State(sim): State<Sim>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let reply = |code: i64, msg: &str| Json(json!({ "errcode": code, "errmsg": msg })).into_response();
    let key = match q.get("key").map(String::as_str) {
        None | Some("") | Some("invalid") => return reply(93000, "invalid webhook url"),
        Some(k) => k.to_owned(),
    };
    if let Ok(mut r) = sim.robot_rules.lock() {
        if r.refuse_next > 0 {
            r.refuse_next -= 1;
            return reply(93000, "invalid webhook url");
        }
        let minute = time::OffsetDateTime::now_utc().unix_timestamp() / 60;
        let sent = r.per_minute.entry((key, minute)).or_insert(0);
        if *sent >= 20 {
            return reply(45009, "api freq out of limit");
        }
        *sent += 1;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return reply(40008, "invalid message type");
    };
    let ok = match v.get("msgtype").and_then(|t| t.as_str()) {
        Some("markdown") => {
            v.pointer("/markdown/content").and_then(|c| c.as_str()).is_some_and(|c| !c.is_empty() && c.len() <= 4096)
        }
        Some("text") => {
            v.pointer("/text/content").and_then(|c| c.as_str()).is_some_and(|c| !c.is_empty() && c.len() <= 2048)
        }
        _ => false,
    };
    if !ok {
        return reply(40008, "invalid message type");
    }
    if let Ok(mut m) = sim.robot.lock() {
        m.push(v);
    }
    reply(0, "ok")
}

async fn sim_pay(State(sim): State<Sim>, Json(body): Json<pay::PayBody>) -> Response {
    match pay::pay(&sim, &body) {
        Ok(tx) => Json(tx).into_response(),
        Err((status, msg)) => {
            (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), Json(json!({ "error": msg })))
                .into_response()
        }
    }
}

async fn sim_request_payment(State(sim): State<Sim>, Json(body): Json<pay::RequestPayment>) -> Response {
    match pay::request_payment(&sim, &body) {
        Ok(v) => Json(v).into_response(),
        Err((status, msg)) => {
            (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), Json(json!({ "errMsg": msg })))
                .into_response()
        }
    }
}

async fn sim_faults(State(sim): State<Sim>, Json(f): Json<Faults>) -> Response {
    sim.set_faults(f);
    Json(json!({ "ok": true })).into_response()
}

#[derive(Deserialize, Default)]
struct Release {
    #[serde(default)]
    reverse: bool,
}

async fn sim_release(State(sim): State<Sim>, Json(r): Json<Release>) -> Response {
    Json(json!({ "released": pay::release(&sim, r.reverse) })).into_response()
}

async fn sim_send_notify(State(sim): State<Sim>, Json(n): Json<pay::CustomNotify>) -> Response {
    pay::send_custom(&sim, n);
    Json(json!({ "ok": true })).into_response()
}

async fn sim_settle_refund(State(sim): State<Sim>, Json(s): Json<pay::Settle>) -> Response {
    match pay::settle_refund(&sim, &s) {
        Ok(()) => Json(json!({ "ok": true })).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({ "error": e }))).into_response(),
    }
}

async fn sim_deliveries(State(sim): State<Sim>) -> Response {
    Json(json!({ "deliveries": sim.deliveries() })).into_response()
}

async fn sim_rotate(State(sim): State<Sim>) -> Response {
    match pay::rotate_certificate(&sim) {
        Ok(serial) => Json(json!({ "serial": serial })).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

async fn sim_platform(State(sim): State<Sim>) -> Response {
    let p = sim.pay.platform.read().unwrap_or_else(|e| e.into_inner());
    Json(json!({
        "public_key_id": p.public_key_id, "public_key_pem": p.public_key_pem,
        "cert_serial": p.cert_serial, "cert_pem": p.cert_pem,
    }))
    .into_response()
}

pub struct Running {
    pub addr: SocketAddr,
    pub sim: Sim,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the simulator on `addr` (port 0 picks a free one) in this runtime.
pub async fn start(config: SimConfig, addr: SocketAddr) -> std::io::Result<Running> {
    let sim = Sim::new(config).map_err(std::io::Error::other)?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let router = sim.router();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(Running { addr, sim, task })
}
