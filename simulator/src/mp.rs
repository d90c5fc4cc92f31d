//! The mini-program server API: code2Session, stable access tokens, getPhoneNumber.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Sim;

#[derive(Debug, Default)]
pub struct MpState {
    used_codes: HashSet<String>,
    pub(crate) valid_tokens: HashSet<String>,
    current_token: Option<String>,
    issued: u64,
    pub code2session_calls: u64,
    pub token_calls: u64,
    pub phone_calls: u64,
}

pub(crate) fn routes() -> axum::Router<Sim> {
    axum::Router::new()
        .route("/sns/jscode2session", get(code2session))
        .route("/cgi-bin/stable_token", post(stable_token))
        .route("/wxa/business/getuserphonenumber", post(phone_number))
        .route("/wxa/sec/order/upload_shipping_info", post(crate::shipping::upload_shipping_info))
        .route("/wxa/sec/order/notify_confirm_receive", post(crate::shipping::notify_confirm_receive))
        .route("/wxa/sec/order/get_order", post(crate::shipping::get_order))
        .route("/cgi-bin/message/subscribe/send", post(crate::messages::subscribe_send))
        .route("/wxaapi/newtmpl/gettemplate", get(crate::messages::get_templates))
        .route("/wxa/msg_sec_check", post(crate::security::msg_sec_check))
        .route("/wxa/media_check_async", post(crate::security::media_check_async))
        .route("/sim/push-config", post(crate::security::sim_push_config))
        .route("/sim/push", post(crate::security::sim_push))
        .route("/sim/pushes", get(crate::security::sim_pushes))
        .route("/sim/invalidate-tokens", post(invalidate_tokens))
        .route("/sim/stats", get(stats))
}

/// WeChat's answers are JSON sent as text/plain with status 200, errors included.
pub(crate) fn answer(v: Value) -> Response {
    ([(header::CONTENT_TYPE, "text/plain")], v.to_string()).into_response()
}

pub(crate) fn err(code: i64, msg: &str) -> Response {
    answer(json!({ "errcode": code, "errmsg": format!("{msg}, rid: 6748a1b2-00c0ffee-5a5a5a5a") }))
}

/// Whether the query carries an access token this simulator issued and still honours.
pub(crate) fn token_ok(sim: &Sim, q: &HashMap<String, String>) -> bool {
    sim.mp.lock().map(|st| q.get("access_token").is_some_and(|t| st.valid_tokens.contains(t))).unwrap_or(false)
}

/// The body of a call behind the access token, as WeChat checks it: 40001 without a valid
/// token, 47001 for a body that is not JSON.
pub(crate) fn authorized(sim: &Sim, q: &HashMap<String, String>, body: &[u8]) -> Result<Value, (i64, &'static str)> {
    if !token_ok(sim, q) {
        return Err((40001, "invalid credential, access_token is invalid or not latest"));
    }
    serde_json::from_slice(body).map_err(|_| (47001, "data format error"))
}

pub(crate) fn answer_ok() -> Response {
    answer(json!({ "errcode": 0, "errmsg": "ok" }))
}

fn digest(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize().into()
}

pub(crate) fn openid_for(appid: &str, user: &str) -> String {
    let d = URL_SAFE_NO_PAD.encode(digest(&["openid", appid, user]));
    format!("o{}", &d[..27])
}

fn scripted_error(code: &str) -> Option<Response> {
    let c = code.to_ascii_lowercase();
    if c.is_empty() || c.starts_with("invalid") {
        Some(err(40029, "invalid code"))
    } else if c.starts_with("ratelimit") {
        Some(err(45011, "api minute-quota reach limit  mustslower  retry next minute"))
    } else if c.starts_with("blocked") {
        Some(err(40226, "code blocked"))
    } else if c.starts_with("busy") {
        Some(err(-1, "system error"))
    } else {
        None
    }
}

async fn code2session(State(sim): State<Sim>, Query(q): Query<HashMap<String, String>>) -> Response {
    let cfg = &sim.config;
    let p = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if let Ok(mut st) = sim.mp.lock() {
        st.code2session_calls += 1;
    }
    if p("appid") != cfg.appid {
        return err(40013, "invalid appid");
    }
    if p("secret") != cfg.app_secret {
        return err(40125, "invalid appsecret");
    }
    if p("grant_type") != "authorization_code" {
        return err(40002, "invalid grant_type");
    }
    let code = p("js_code");
    if let Some(e) = scripted_error(code) {
        return e;
    }
    let fresh = sim.mp.lock().map(|mut st| st.used_codes.insert(code.to_owned())).unwrap_or(false);
    if !fresh {
        return err(40163, "code been used");
    }
    let user = code.split('.').next().unwrap_or(code);
    let session_key = STANDARD.encode(&digest(&["session", code])[..16]);
    let openid = openid_for(&cfg.appid, user);
    if let Ok(mut st) = sim.push.lock() {
        st.logins.insert(openid.clone(), time::OffsetDateTime::now_utc().unix_timestamp());
    }
    let mut v = json!({ "session_key": session_key, "openid": openid });
    if user.starts_with("u-") {
        v["unionid"] = json!(format!("U{}", &URL_SAFE_NO_PAD.encode(digest(&["unionid", user]))[..27]));
    }
    answer(v)
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: String,
    appid: String,
    secret: String,
    #[serde(default)]
    force_refresh: bool,
}

async fn stable_token(State(sim): State<Sim>, Json(r): Json<TokenRequest>) -> Response {
    let cfg = &sim.config;
    if r.grant_type != "client_credential" {
        return err(40002, "invalid grant_type");
    }
    if r.appid != cfg.appid {
        return err(40013, "invalid appid");
    }
    if r.secret != cfg.app_secret {
        return err(40125, "invalid appsecret");
    }
    let Ok(mut st) = sim.mp.lock() else {
        return err(-1, "system error");
    };
    st.token_calls += 1;
    let reuse = st.current_token.clone().filter(|t| !r.force_refresh && st.valid_tokens.contains(t));
    let token = match reuse {
        Some(t) => t,
        None => {
            st.issued += 1;
            let t = format!(
                "SIM_ACCESS_TOKEN_{}_{}",
                st.issued,
                URL_SAFE_NO_PAD.encode(&digest(&["token", &st.issued.to_string()])[..12])
            );
            if r.force_refresh {
                st.valid_tokens.clear();
            }
            st.valid_tokens.insert(t.clone());
            st.current_token = Some(t.clone());
            t
        }
    };
    answer(json!({ "access_token": token, "expires_in": cfg.token_ttl }))
}

#[derive(Deserialize)]
struct PhoneRequest {
    code: String,
}

async fn phone_number(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
    Json(r): Json<PhoneRequest>,
) -> Response {
    if let Ok(mut st) = sim.mp.lock() {
        st.phone_calls += 1;
    }
    if !token_ok(&sim, &q) {
        return err(40001, "invalid credential, access_token is invalid or not latest");
    }
    let c = r.code.to_ascii_lowercase();
    if c.is_empty() || c.starts_with("invalid") {
        return err(40029, "invalid code");
    }
    if c.starts_with("blocked") {
        return err(1421102, "user getPhoneNumber blocked");
    }
    let phone = match r.code.strip_prefix("phone-") {
        Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => d.to_owned(),
        _ => {
            let d = digest(&["phone", &r.code]);
            let n = u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]) % 100_000_000;
            format!("138{n:08}")
        }
    };
    answer(json!({
        "errcode": 0, "errmsg": "ok",
        "phone_info": {
            "phoneNumber": phone, "purePhoneNumber": phone, "countryCode": "86",
            "watermark": { "timestamp": 1_700_000_000, "appid": sim.config.appid },
        }
    }))
}

async fn invalidate_tokens(State(sim): State<Sim>) -> Response {
    if let Ok(mut st) = sim.mp.lock() {
        st.valid_tokens.clear();
    }
    answer(json!({ "errcode": 0, "errmsg": "ok" }))
}

async fn stats(State(sim): State<Sim>) -> Response {
    let Ok(st) = sim.mp.lock() else {
        return err(-1, "system error");
    };
    answer(json!({
        "code2session_calls": st.code2session_calls,
        "token_calls": st.token_calls,
        "phone_calls": st.phone_calls,
    }))
}
