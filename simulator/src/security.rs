//! Content security and message push, as WeChat documents them.
//!
//! `msgSecCheck` (version 2) and `mediaCheckAsync` (version 2) need an access token, an
//! `openid` that logged in (code2Session) within the last two hours (61010 otherwise; 40003
//! for one this mini-program never issued), `version` 2 and a `scene` of 1 to 4 (40097). Text
//! is judged by its words: `违禁`/`RISKY` risky (label 20001), `待审`/`REVIEW` review
//! (label 21000), anything else pass (100). An image is fetched from its `media_url` (10 MB at
//! most, as WeChat reads) and judged by its bytes the same way; the verdict is pushed later as
//! a `wxa_media_check` event to the message push URL the merchant configured.
//!
//! Message push (`/sim/push-config` plays the console): saving a URL first checks it as WeChat
//! does, with a signed GET whose `echostr` must come back exactly; events are POSTed as JSON with
//! `signature`, `timestamp` and `nonce` (sha1 of the sorted token, timestamp and nonce), and in
//! safe mode as `{"ToUserName", "Encrypt"}` with `encrypt_type=aes` and `msg_signature` (sha1
//! over the ciphertext too): AES-256-CBC, key = base64(EncodingAESKey + "="), IV its first 16
//! bytes, PKCS#7 padded to 32-byte blocks, plaintext = 16 random bytes ‖ length (4 bytes,
//! big-endian) ‖ JSON ‖ appid. A push not answered 200 (`success` or empty) is tried again,
//! three times in all.

use std::collections::HashMap;
use std::time::Duration;

use aws_lc_rs::cipher::{AES_256, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use aws_lc_rs::iv::FixedLength;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Sim;
use crate::mp::{authorized, err};

/// Where and how pushes go: the console's 消息推送 settings.
#[derive(Debug, Clone, Default)]
pub struct PushConfig {
    pub url: String,
    pub token: String,
    /// The EncodingAESKey (43 characters) in safe mode.
    pub aes_key: Option<String>,
}

/// What the push side holds: its settings, the logins that make an openid recent, and every
/// push sent (with the shop's answers) for tests to read.
#[derive(Debug, Default)]
pub struct PushState {
    pub config: Option<PushConfig>,
    /// openid → unix seconds of its last code2Session.
    pub logins: HashMap<String, i64>,
    pub sent: Vec<Value>,
    pub checks: u64,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The verdict on text or image bytes, by the words in them.
fn judge(bytes: &[u8]) -> (&'static str, i64) {
    let has = |w: &str| bytes.windows(w.len()).any(|x| x == w.as_bytes());
    if has("违禁") || has("RISKY") {
        ("risky", 20001)
    } else if has("待审") || has("REVIEW") {
        ("review", 21000)
    } else {
        ("pass", 100)
    }
}

/// The checks both calls make of `openid`, `version` and `scene`.
/// The errcode and errmsg WeChat answers a call it refuses.
type Refusal = (i64, &'static str);

fn check_caller(sim: &Sim, body: &Value) -> Result<String, Refusal> {
    if body.get("version").and_then(Value::as_i64) != Some(2) {
        return Err((40097, "invalid args, version must be 2"));
    }
    if !body.get("scene").and_then(Value::as_i64).is_some_and(|s| (1..=4).contains(&s)) {
        return Err((40097, "invalid args, scene must be 1 to 4"));
    }
    let Some(openid) = body.get("openid").and_then(Value::as_str).filter(|o| !o.is_empty()) else {
        return Err((40097, "invalid args, openid missing"));
    };
    let login = sim.push.lock().ok().and_then(|st| st.logins.get(openid).copied());
    match login {
        None => Err((40003, "invalid openid")),
        Some(at) if now() - at > 7200 => Err((61010, "code is expired")),
        Some(_) => Ok(openid.to_owned()),
    }
}

pub(crate) async fn msg_sec_check(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let body = match authorized(&sim, &q, &body) {
        Ok(b) => b,
        Err((code, msg)) => return err(code, msg),
    };
    let Some(content) = body.get("content").and_then(Value::as_str) else {
        return err(47001, "data format error");
    };
    if let Err((code, msg)) = check_caller(&sim, &body) {
        return err(code, msg);
    }
    if content.chars().count() > 2500 {
        return err(40097, "invalid args, content is longer than 2500 characters");
    }
    if let Ok(mut st) = sim.push.lock() {
        st.checks += 1;
    }
    let (suggest, label) = judge(content.as_bytes());
    crate::mp::answer(json!({
        "errcode": 0, "errmsg": "ok",
        "result": { "suggest": suggest, "label": label },
        "detail": [{ "strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90 }],
        "trace_id": uuid::Uuid::new_v4().to_string(),
    }))
}

pub(crate) async fn media_check_async(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let body = match authorized(&sim, &q, &body) {
        Ok(b) => b,
        Err((code, msg)) => return err(code, msg),
    };
    let Some(url) = body.get("media_url").and_then(Value::as_str).filter(|u| u.starts_with("http")) else {
        return err(47001, "data format error");
    };
    if !body.get("media_type").and_then(Value::as_i64).is_some_and(|t| t == 1 || t == 2) {
        return err(40097, "invalid args, media_type must be 1 or 2");
    }
    let openid = match check_caller(&sim, &body) {
        Ok(o) => o,
        Err((code, msg)) => return err(code, msg),
    };
    let trace_id = format!("{:016x}-{}", now(), uuid::Uuid::new_v4().simple());
    let (url, tid) = (url.to_owned(), trace_id.clone());
    tokio::spawn(async move {
        let Some(verdict) = fetch_and_judge(&url).await else {
            tracing::warn!("the simulator could not fetch a media_url; no verdict pushed");
            return;
        };
        let (suggest, label) = verdict;
        let event = json!({
            "ToUserName": "gh_0000000000sim", "FromUserName": openid, "CreateTime": now(),
            "MsgType": "event", "Event": "wxa_media_check", "appid": sim.config.appid,
            "trace_id": tid, "version": 2,
            "detail": [{ "strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90 }],
            "errcode": 0, "errmsg": "ok",
            "result": { "suggest": suggest, "label": label },
        });
        // WeChat's verdict comes a moment after its answer.
        tokio::time::sleep(Duration::from_millis(30)).await;
        deliver(&sim, &event, &Tamper::default()).await;
    });
    crate::mp::answer(json!({ "errcode": 0, "errmsg": "ok", "trace_id": trace_id }))
}

/// The image's verdict, or `None` when it cannot be read (or passes 10 MB).
async fn fetch_and_judge(url: &str) -> Option<(&'static str, i64)> {
    let resp = reqwest::get(url).await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let bytes = resp.bytes().await.ok()?;
    (bytes.len() <= 10 * 1024 * 1024).then(|| judge(&bytes))
}

fn sha1_hex(parts: &[&str]) -> String {
    let mut v = parts.to_vec();
    v.sort_unstable();
    digest(&SHA1_FOR_LEGACY_USE_ONLY, v.concat().as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Safe mode's ciphertext of `message`, as WeChat makes it.
pub fn encrypt(aes_key: &str, appid: &str, message: &[u8]) -> Option<String> {
    // The key's last character carries two spare bits, which WeChat does not zero.
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    let key = lenient.decode(format!("{aes_key}=")).ok().filter(|k| k.len() == 32)?;
    let mut random = [0u8; 16];
    aws_lc_rs::rand::fill(&mut random).ok()?;
    let mut plain = random.to_vec();
    plain.extend_from_slice(&u32::try_from(message.len()).ok()?.to_be_bytes());
    plain.extend_from_slice(message);
    plain.extend_from_slice(appid.as_bytes());
    let pad = 32 - plain.len() % 32;
    plain.extend(std::iter::repeat_n(u8::try_from(pad).ok()?, pad));
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&key[..16]);
    let cbc = EncryptingKey::cbc(UnboundCipherKey::new(&AES_256, &key).ok()?).ok()?;
    cbc.less_safe_encrypt(&mut plain, EncryptionContext::Iv128(FixedLength::from(iv))).ok()?;
    Some(STANDARD.encode(plain))
}

/// How a test push departs from WeChat's: a timestamp moved by this many seconds, a
/// signature made with another token.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Tamper {
    #[serde(default)]
    pub timestamp_offset: i64,
    #[serde(default)]
    pub wrong_token: bool,
}

/// One push as sent: its URL (with the signed query) and body, and the shop's answers.
async fn deliver(sim: &Sim, event: &Value, tamper: &Tamper) -> Value {
    let Some(cfg) = sim.push.lock().ok().and_then(|st| st.config.clone()) else {
        return json!({ "error": "no message push URL configured" });
    };
    let token = if tamper.wrong_token { format!("{}x", cfg.token) } else { cfg.token.clone() };
    let timestamp = (now() + tamper.timestamp_offset).to_string();
    let nonce = (u64::from_be_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap_or([7; 8])) % 1_000_000_000)
        .to_string();
    let signature = sha1_hex(&[&token, &timestamp, &nonce]);
    let mut query = vec![("signature", signature), ("timestamp", timestamp.clone()), ("nonce", nonce.clone())];
    let body = match &cfg.aes_key {
        None => event.to_string(),
        Some(key) => {
            let Some(encrypted) = encrypt(key, &sim.config.appid, event.to_string().as_bytes()) else {
                return json!({ "error": "the EncodingAESKey is not 43 characters of base64" });
            };
            query.push(("encrypt_type", "aes".into()));
            query.push(("msg_signature", sha1_hex(&[&token, &timestamp, &nonce, &encrypted])));
            json!({ "ToUserName": "gh_0000000000sim", "Encrypt": encrypted }).to_string()
        }
    };
    let qs = form_urlencoded::Serializer::new(String::new()).extend_pairs(&query).finish();
    let url = format!("{}?{qs}", cfg.url);
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for _ in 0..3 {
        let r = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone())
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        let (status, text) = match r {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(_) => (0, String::new()),
        };
        answers.push(json!({ "status": status, "body": text }));
        if status == 200 && (text.is_empty() || text == "success") {
            break;
        }
    }
    let record = json!({ "url": url, "body": body, "event": event, "answers": answers });
    if let Ok(mut st) = sim.push.lock() {
        st.sent.push(record.clone());
    }
    record
}

#[derive(Deserialize)]
pub(crate) struct ConfigBody {
    url: String,
    token: String,
    #[serde(default)]
    aes_key: Option<String>,
}

/// The console's 消息推送 form: the URL is checked (signed GET, echostr back) before it is kept.
pub(crate) async fn sim_push_config(State(sim): State<Sim>, Json(c): Json<ConfigBody>) -> Response {
    let timestamp = now().to_string();
    let nonce = "4815162342".to_owned();
    let echostr = format!("sim{}", uuid::Uuid::new_v4().simple());
    let signature = sha1_hex(&[&c.token, &timestamp, &nonce]);
    let qs = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("signature", &signature), ("timestamp", &timestamp), ("nonce", &nonce), ("echostr", &echostr)])
        .finish();
    let answer = reqwest::get(format!("{}?{qs}", c.url)).await;
    let ok = match answer {
        Ok(r) if r.status().is_success() => r.text().await.is_ok_and(|t| t == echostr),
        _ => false,
    };
    if !ok {
        return (axum::http::StatusCode::BAD_REQUEST, Json(json!({ "ok": false, "error": "Token验证失败" })))
            .into_response();
    }
    if let Ok(mut st) = sim.push.lock() {
        st.config = Some(PushConfig { url: c.url, token: c.token, aes_key: c.aes_key });
    }
    Json(json!({ "ok": true })).into_response()
}

#[derive(Deserialize)]
pub(crate) struct PushBody {
    event: Value,
    #[serde(default)]
    tamper: Tamper,
}

/// Sends `event` now as WeChat would (or tampered as asked); answers what was sent and how
/// the shop answered.
pub(crate) async fn sim_push(State(sim): State<Sim>, Json(p): Json<PushBody>) -> Response {
    Json(deliver(&sim, &p.event, &p.tamper).await).into_response()
}

/// Every push sent so far.
pub(crate) async fn sim_pushes(State(sim): State<Sim>) -> Response {
    let sent = sim.push.lock().map(|st| st.sent.clone()).unwrap_or_default();
    Json(json!({ "items": sent })).into_response()
}
