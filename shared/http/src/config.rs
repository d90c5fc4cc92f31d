//! Every setting comes from the environment into one typed struct, validated at start: a
//! missing or malformed setting stops the start with a message naming it, never a request.
//! The README's configuration table lists the same names and defaults. The shop's business
//! rules among them go to the application as [`app::Rules`]; the rest (where the store is,
//! secrets, WeChat's addresses) stays with the host, which builds the [`app::App`]
//! ([`Settings::app`]).

use std::sync::Arc;

use crate::service::{Edge, Service};
use app::{App, Rules};
pub use store::{StoreKind, StoreSettings};
use wechat::MiniProgram;
use wechat::pay::{PayClient, PayError};
use wechat::robot::Robot;
pub use wechat::settings::{PaySettings, WeChatSettings};

/// What a function talks to and does, and so which settings (and secrets) it cannot start
/// without. A function is given no secret it does not use (`template.yaml` follows this).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Uses {
    /// WeChat's server API (login, phone numbers): `WECHAT_APP_SECRET`.
    pub wechat: bool,
    /// WeChat Pay: the merchant settings and keys.
    pub pay: bool,
    /// Shopper sessions (issued or checked): `SESSION_SECRET`.
    pub sessions: bool,
    /// The bootstrap token that makes the first operator account: `ADMIN_TOKEN`.
    pub bootstrap: bool,
    /// The mini-program's message push: `WECHAT_PUSH_TOKEN` (and `WECHAT_PUSH_AES_KEY`).
    pub push: bool,
}

impl Uses {
    /// The store only: no secret at all.
    pub const STORE_ONLY: Uses = Uses { wechat: false, pay: false, sessions: false, bootstrap: false, push: false };

    pub const fn wechat(self) -> Uses {
        Uses { wechat: true, ..self }
    }

    pub const fn pay(self) -> Uses {
        Uses { pay: true, ..self }
    }

    pub const fn sessions(self) -> Uses {
        Uses { sessions: true, ..self }
    }

    pub const fn bootstrap(self) -> Uses {
        Uses { bootstrap: true, ..self }
    }

    pub const fn push(self) -> Uses {
        Uses { push: true, ..self }
    }
}

#[derive(Clone)]
pub struct Settings {
    pub store: StoreSettings,
    pub port: u16,
    pub wechat: WeChatSettings,
    pub session_secret: Vec<u8>,
    pub session_ttl_secs: i64,
    pub admin_token: String,
    pub trust_wx_context: bool,
    /// The WeChat Cloud Hosting environment this process runs in (`CBR_ENV_ID`, set by the
    /// platform): a trusted request's `X-WX-ENV` must name it.
    pub cloud_env: Option<String>,
    pub pay: Option<PaySettings>,
    /// The operators' group robot (WeCom `…/cgi-bin/webhook/send?key=…`) stock alerts go to.
    pub operator_webhook: Option<String>,
    /// The shop's business rules, for the application.
    pub rules: Rules,
    /// `MOVABLE_CLOCK=1`: operators may move the shop's clock forward (`POST /admin/clock`),
    /// for local runs and tests; refused on Lambda and SCF.
    pub movable_clock: bool,
    /// `CLIENT_REQUESTS_PER_SEC`: each client's allowance on an HTTP-server host.
    pub client_rate: f64,
    /// `MEDIA_*`: the bucket images are uploaded to and served from; none, no uploads.
    pub media: Option<store::objects::ObjectSettings>,
    /// `WECHAT_PUSH_TOKEN` (and `WECHAT_PUSH_AES_KEY` in safe mode): the mini-program's
    /// message push; none, the push URL refuses every request.
    pub push: Option<wechat::push::PushSettings>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The webhook URL carries the robot's key: never shown.
        f.debug_struct("Settings")
            .field("store", &self.store)
            .field("port", &self.port)
            .field("wechat", &self.wechat)
            .field("trust_wx_context", &self.trust_wx_context)
            .field("pay", &self.pay)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("configuration: {}", .0.join("; "))]
pub struct ConfigError(pub Vec<String>);

/// The shortest secret accepted for signing session tokens.
const MIN_SECRET_BYTES: usize = 32;

impl Settings {
    /// Settings from the environment, with the secrets `SECRETS` names read first from AWS
    /// Secrets Manager ([`crate::secrets`]); a value there wins over the environment. `uses`
    /// says what the function talks to: each secret is required only where it is used.
    pub async fn from_env_and_secrets(uses: Uses) -> Result<Self, ConfigError> {
        Self::with_secrets(|k| std::env::var(k).ok(), uses).await
    }

    /// As [`Settings::from_lookup`], with the secrets `get("SECRETS")` names read first.
    pub async fn with_secrets(get: impl Fn(&str) -> Option<String>, uses: Uses) -> Result<Self, ConfigError> {
        let secrets = crate::secrets::of(&get).await.map_err(|e| ConfigError(vec![e]))?;
        Self::from_lookup(|k| secrets.get(k).cloned().or_else(|| get(k)), uses)
    }

    /// Reads settings through `get`, so tests can pass a map instead of the process
    /// environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>, uses: Uses) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let mut problems = Vec::new();
        let mut required = |k: &str| {
            get(k).unwrap_or_else(|| {
                problems.push(format!("{k} is required"));
                String::new()
            })
        };
        let appid = required("WECHAT_APPID");
        let mut required_if = |needed: bool, k: &str| if needed { required(k) } else { get(k).unwrap_or_default() };
        let app_secret = required_if(uses.wechat, "WECHAT_APP_SECRET");
        let session_secret = required_if(uses.sessions, "SESSION_SECRET");
        let admin_token = required_if(uses.bootstrap, "ADMIN_TOKEN");
        if !session_secret.is_empty() && session_secret.len() < MIN_SECRET_BYTES {
            problems.push(format!("SESSION_SECRET must be at least {MIN_SECRET_BYTES} bytes"));
        }
        if !admin_token.is_empty() && admin_token.len() < 16 {
            problems.push("ADMIN_TOKEN must be at least 16 characters".into());
        }
        let kind = match get("STORE").as_deref() {
            None | Some("embedded") => StoreKind::Embedded,
            Some("dynamodb") => StoreKind::Dynamodb,
            Some("mysql") => StoreKind::Mysql,
            Some(other) => {
                problems.push(format!("STORE must be embedded, dynamodb or mysql, not {other:?}"));
                StoreKind::Embedded
            }
        };
        // Event functions run as many instances, each with its own file: orders and stock
        // would diverge.
        if kind == StoreKind::Embedded && get("AWS_LAMBDA_RUNTIME_API").is_some() {
            problems.push("the embedded store serves one instance only; on Lambda set STORE=dynamodb".into());
        }
        if kind == StoreKind::Embedded && get("SCF_RUNTIME_API").is_some() {
            problems.push("the embedded store serves one instance only; on SCF set STORE=dynamodb".into());
        }
        let mysql = if kind == StoreKind::Mysql { mysql_settings(&get, &mut problems) } else { None };
        let port = match get("PORT").map(|p| p.parse::<u16>()) {
            None => 9000,
            Some(Ok(p)) => p,
            Some(Err(_)) => {
                problems.push("PORT must be a port number".into());
                9000
            }
        };
        let session_ttl_secs = match get("SESSION_TTL_SECS").map(|p| p.parse::<i64>()) {
            None => 7 * 24 * 3600,
            Some(Ok(s)) if s > 0 => s,
            Some(_) => {
                problems.push("SESSION_TTL_SECS must be a positive number of seconds".into());
                0
            }
        };
        let mut secs = |k: &str, default: i64, min: i64, max: i64| match get(k).map(|v| v.parse::<i64>()) {
            None => default,
            Some(Ok(n)) if (min..=max).contains(&n) => n,
            Some(_) => {
                problems.push(format!("{k} must be a number of seconds from {min} to {max}"));
                default
            }
        };
        // WeChat Pay's time_expire must lie at least a minute ahead; a day is plenty.
        let order_ttl_secs = secs("ORDER_EXPIRY_SECS", 1800, 60, 86_400);
        let pay_verify_window_secs = secs("PAY_VERIFY_WINDOW_SECS", 600, 30, 86_400);
        let defaults = domain::placing::Limits::default();
        let mut count = |k: &str, default: i64, max: i64| match get(k).map(|v| v.parse::<i64>()) {
            None => default,
            Some(Ok(n)) if (1..=max).contains(&n) => n,
            Some(_) => {
                problems.push(format!("{k} must be a whole number from 1 to {max}"));
                default
            }
        };
        let limits = domain::placing::Limits {
            open_orders: count("MAX_OPEN_ORDERS", defaults.open_orders, 1_000),
            units_per_sku: count("MAX_HELD_UNITS", defaults.units_per_sku, 100_000),
            places_per_minute: count("PLACE_ORDERS_PER_MINUTE", defaults.places_per_minute, 100_000),
            pays_per_minute: count("PAY_ATTEMPTS_PER_MINUTE", defaults.pays_per_minute, 100_000),
        };
        let policy = domain::operator::RefundPolicy::default();
        let mut fen = |k: &str, default: domain::Fen| match get(k).map(|v| v.parse::<i64>()) {
            None => default,
            Some(Ok(n)) if (0..=10_000_000_000).contains(&n) => domain::Fen::new(n),
            Some(_) => {
                problems.push(format!("{k} must be an amount in fen from 0 to 10000000000"));
                default
            }
        };
        let refund_policy = domain::operator::RefundPolicy {
            finance_over: fen("REFUND_FINANCE_OVER_FEN", policy.finance_over),
            two_person_over: fen("REFUND_TWO_PERSON_OVER_FEN", policy.two_person_over),
            shopper_daily: fen("REFUND_SHOPPER_DAILY_FEN", policy.shopper_daily),
            operator_daily: fen("REFUND_OPERATOR_DAILY_FEN", policy.operator_daily),
        };
        let allowed = domain::operator::Allowances::default();
        let coupon_exposure = fen("COUPON_OPERATOR_MAX_FEN", allowed.coupon_exposure);
        let write_off = fen("WRITE_OFF_OPERATOR_MAX_FEN", allowed.write_off);
        let write_off_daily = fen("WRITE_OFF_OPERATOR_DAILY_FEN", allowed.write_off_daily);
        if refund_policy.two_person_over < refund_policy.finance_over {
            problems.push("REFUND_TWO_PERSON_OVER_FEN must not be below REFUND_FINANCE_OVER_FEN".into());
        }
        let mut points = |k: &str, default: i64| match get(k).map(|v| v.parse::<i64>()) {
            None => default,
            Some(Ok(n)) if (0..=100_000_000).contains(&n) => n,
            Some(_) => {
                problems.push(format!("{k} must be a number of points from 0 to 100000000"));
                default
            }
        };
        let allowances = domain::operator::Allowances {
            points_grant: points("POINTS_GRANT_OPERATOR_MAX", allowed.points_grant),
            points_daily: points("POINTS_GRANT_OPERATOR_DAILY", allowed.points_daily),
            points_daily_finance: points("POINTS_GRANT_FINANCE_DAILY", allowed.points_daily_finance),
            coupon_exposure,
            write_off,
            write_off_daily,
        };
        let mut days = |k: &str, default: i64| match get(k).map(|v| v.parse::<i64>()) {
            None => default,
            Some(Ok(n)) if (1..=90).contains(&n) => n,
            Some(_) => {
                problems.push(format!("{k} must be a whole number of days from 1 to 90"));
                default
            }
        };
        let auto_confirm_days = days("AUTO_CONFIRM_DAYS", 15);
        let refund_window_days = days("REFUND_WINDOW_DAYS", 7);
        let return_send_days = days("RETURN_SEND_DAYS", 7);
        let replenish_days = days("REPLENISH_DAYS", 7);
        let operator_webhook = get("OPERATOR_WEBHOOK_URL");
        let subscribe_level_up = get("SUBSCRIBE_TEMPLATE_LEVEL_UP");
        let subscribe_points_expiry = get("SUBSCRIBE_TEMPLATE_POINTS_EXPIRY");
        if operator_webhook.as_deref().is_some_and(|u| !(u.starts_with("https://") || u.starts_with("http://"))) {
            problems.push("OPERATOR_WEBHOOK_URL must be an http(s) URL".into());
        }
        let trust_wx_context = match get("TRUST_WX_CONTEXT").as_deref() {
            None | Some("0") | Some("false") => false,
            Some("1") | Some("true") if get("AWS_LAMBDA_RUNTIME_API").is_some() || get("SCF_RUNTIME_API").is_some() => {
                // Behind API Gateway anyone can send X-WX-OPENID: only WeChat Cloud Hosting
                // sets it (and strips a client's).
                problems.push("TRUST_WX_CONTEXT=1 is for WeChat Cloud Hosting, never behind API Gateway".into());
                false
            }
            Some("1") | Some("true") if get("CBR_ENV_ID").is_none() => {
                // The platform sets CBR_ENV_ID in every Cloud Hosting container; without it
                // this process is not on Cloud Hosting, and nothing vouches for X-WX-OPENID.
                problems.push("TRUST_WX_CONTEXT=1 needs CBR_ENV_ID, which WeChat Cloud Hosting sets".into());
                false
            }
            Some("1") | Some("true") => true,
            Some(_) => {
                problems.push("TRUST_WX_CONTEXT must be 1 or 0".into());
                false
            }
        };
        let cloud_env = get("CBR_ENV_ID");
        let client_rate = match get("CLIENT_REQUESTS_PER_SEC").map(|v| v.parse::<u32>()) {
            None => 20.0,
            Some(Ok(n)) if (1..=1_000_000).contains(&n) => f64::from(n),
            Some(_) => {
                problems.push("CLIENT_REQUESTS_PER_SEC must be a whole number from 1 to 1,000,000".into());
                20.0
            }
        };
        let movable_clock = match get("MOVABLE_CLOCK").as_deref() {
            None | Some("0") | Some("false") => false,
            Some("1") | Some("true") if get("AWS_LAMBDA_RUNTIME_API").is_some() || get("SCF_RUNTIME_API").is_some() => {
                problems.push("MOVABLE_CLOCK=1 is for local runs and tests, never on Lambda or SCF".into());
                false
            }
            Some("1") | Some("true") => true,
            Some(_) => {
                problems.push("MOVABLE_CLOCK must be 1 or 0".into());
                false
            }
        };
        if trust_wx_context && !uses.sessions {
            // The pay notify, and every service shoppers do not call, takes no one's word on who
            // calls: it may be reachable from the public internet.
            problems.push("TRUST_WX_CONTEXT=1 is for the service shoppers call, not for this one".into());
        }
        let api_base = get("WECHAT_API_BASE").unwrap_or_else(|| "https://api.weixin.qq.com".into());
        if !(api_base.starts_with("https://") || api_base.starts_with("http://")) {
            problems.push("WECHAT_API_BASE must be an http(s) URL".into());
        }
        let pay = if uses.pay || get("WECHATPAY_MCHID").is_some() { pay_settings(&get, &mut problems) } else { None };
        let media = media_settings(&get, &mut problems);
        let push = match (get("WECHAT_PUSH_TOKEN"), get("WECHAT_PUSH_AES_KEY")) {
            (None, None) => None,
            (None, Some(_)) => {
                problems.push("WECHAT_PUSH_AES_KEY needs WECHAT_PUSH_TOKEN".into());
                None
            }
            (Some(token), key) => {
                if !(3..=32).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    problems
                        .push("WECHAT_PUSH_TOKEN must be 3 to 32 letters or digits, as WeChat's console asks".into());
                }
                let aes_key = key.and_then(|k| {
                    let decoded = wechat::push::decode_aes_key(&k);
                    if decoded.is_none() {
                        problems.push("WECHAT_PUSH_AES_KEY must be the 43-character EncodingAESKey".into());
                    }
                    decoded
                });
                Some(wechat::push::PushSettings { token, aes_key, appid: appid.clone() })
            }
        };
        if !problems.is_empty() {
            return Err(ConfigError(problems));
        }
        let rules = Rules {
            order_ttl_secs,
            pay_verify_window_secs,
            limits,
            refund_policy,
            allowances,
            auto_confirm_days,
            refund_window_days,
            return_send_days,
            replenish_days: u32::try_from(replenish_days).unwrap_or(7),
            subscribe_level_up,
            subscribe_points_expiry,
        };
        Ok(Self {
            store: StoreSettings {
                kind,
                path: get("STORE_PATH").unwrap_or_else(|| "data/shop.db".into()).into(),
                table: get("TABLE_NAME").unwrap_or_else(|| "shop".into()),
                endpoint: get("DYNAMODB_ENDPOINT"),
                mysql,
            },
            port,
            wechat: WeChatSettings { api_base: api_base.trim_end_matches('/').to_owned(), appid, app_secret },
            session_secret: session_secret.into_bytes(),
            session_ttl_secs,
            admin_token,
            trust_wx_context,
            cloud_env,
            pay,
            operator_webhook,
            rules,
            movable_clock,
            client_rate,
            media,
            push,
        })
    }

    /// The application over `store`: WeChat's clients (sharing one HTTP client) and the
    /// operators' robot as these settings configure them. Fails only on unusable WeChat Pay key
    /// material.
    pub fn app(&self, store: store::SharedStore) -> Result<App, PayError> {
        let http = http_client();
        let wechat = MiniProgram::new(http.clone(), self.wechat.clone());
        let pay = match &self.pay {
            Some(p) => Some(PayClient::new(http.clone(), &self.wechat.appid, p)?),
            None => None,
        };
        let robot = self.operator_webhook.as_ref().map(|url| Robot::new(http, url.clone()));
        let app = App::new(store, self.rules.clone(), wechat, pay, robot);
        Ok(match &self.media {
            Some(m) => app.with_objects(store::objects::ObjectStore::new(m.clone())),
            None => app,
        })
    }

    /// The application over `store`, with what this host's edge needs beside it.
    pub fn service(&self, store: store::SharedStore) -> Result<Service, PayError> {
        let edge = Edge {
            session_secret: self.session_secret.clone(),
            session_ttl_secs: self.session_ttl_secs,
            admin_token: self.admin_token.clone(),
            trust_wx_context: self.trust_wx_context,
            cloud_env: self.cloud_env.clone(),
            appid: self.wechat.appid.clone(),
            port: self.port,
            movable_clock: self.movable_clock,
            client_rate: self.client_rate,
            push: self.push.clone(),
        };
        Ok(Service { app: self.app(store)?, edge: Arc::new(edge) })
    }

    /// Opens the configured store and builds the service over it.
    pub async fn open_service(&self) -> Result<Service, String> {
        let store = store::open(&self.store).await.map_err(|e| format!("store: {e}"))?;
        self.service(store).map_err(|e| format!("WeChat Pay: {e}"))
    }
}

/// One HTTP client for all upstream calls, with bounded connect time.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .timeout(std::time::Duration::from_secs(10))
        .user_agent(concat!("wechat-shop/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

fn read_file(var: &str, path: &str, problems: &mut Vec<String>) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| {
        problems.push(format!("{var}: cannot read {path}: {e}"));
        String::new()
    })
}

/// The bucket images go to: `MEDIA_BUCKET`, and where it is served from (`MEDIA_BASE_URL`,
/// a CDN or the bucket's URL). `MEDIA_ENDPOINT` points at COS or a local S3-compatible server.
fn media_settings(
    get: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> Option<store::objects::ObjectSettings> {
    let bucket = get("MEDIA_BUCKET")?;
    let endpoint = get("MEDIA_ENDPOINT").map(|e| e.trim_end_matches('/').to_owned());
    let region = get("MEDIA_REGION").or_else(|| get("AWS_REGION"));
    let path_style = matches!(get("MEDIA_PATH_STYLE").as_deref(), Some("1" | "true"));
    let public_base = match (get("MEDIA_BASE_URL"), &endpoint, &region) {
        (Some(b), _, _) => b.trim_end_matches('/').to_owned(),
        (None, Some(ep), _) if path_style => format!("{ep}/{bucket}"),
        (None, None, Some(r)) => format!("https://{bucket}.s3.{r}.amazonaws.com"),
        _ => {
            problems.push("MEDIA_BASE_URL is required: the URL images are served under (a CDN)".into());
            String::new()
        }
    };
    if !(public_base.starts_with("https://") || public_base.starts_with("http://") || public_base.is_empty()) {
        problems.push("MEDIA_BASE_URL must be an http(s) URL".into());
    }
    let credentials = match (get("MEDIA_ACCESS_KEY_ID"), get("MEDIA_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Some((id, secret)),
        (None, None) => None,
        _ => {
            problems.push("MEDIA_ACCESS_KEY_ID and MEDIA_SECRET_ACCESS_KEY go together".into());
            None
        }
    };
    Some(store::objects::ObjectSettings { bucket, endpoint, region, path_style, public_base, credentials })
}

fn pay_settings(get: &impl Fn(&str) -> Option<String>, problems: &mut Vec<String>) -> Option<PaySettings> {
    let before = problems.len();
    let mut required = |k: &str| {
        get(k).unwrap_or_else(|| {
            problems.push(format!("{k} is required"));
            String::new()
        })
    };
    let mchid = required("WECHATPAY_MCHID");
    let mch_serial = required("WECHATPAY_MCH_SERIAL");
    // The key as a file (a mounted secret) or, where files are awkward (Lambda), as text.
    let key_text = get("WECHATPAY_MCH_KEY");
    let key_file = if key_text.is_some() { String::new() } else { required("WECHATPAY_MCH_KEY_FILE") };
    let apiv3_key = required("WECHATPAY_APIV3_KEY");
    let notify_url = required("WECHATPAY_NOTIFY_URL");
    if !apiv3_key.is_empty() && apiv3_key.len() != 32 {
        problems.push("WECHATPAY_APIV3_KEY must be the 32-character APIv3 key".into());
    }
    if !notify_url.is_empty() && (notify_url.contains('?') || !notify_url.starts_with("http")) {
        problems.push("WECHATPAY_NOTIFY_URL must be an http(s) URL without a query string".into());
    }
    let mch_key_pem = match key_text {
        Some(k) => k,
        None if key_file.is_empty() => String::new(),
        None => read_file("WECHATPAY_MCH_KEY_FILE", &key_file, problems),
    };
    let public_key =
        match (get("WECHATPAY_PUBLIC_KEY_ID"), get("WECHATPAY_PUBLIC_KEY_FILE"), get("WECHATPAY_PUBLIC_KEY")) {
            (Some(id), _, Some(text)) => Some((id, text)),
            (Some(id), Some(file), None) => Some((id, read_file("WECHATPAY_PUBLIC_KEY_FILE", &file, problems))),
            (None, None, None) => None,
            _ => {
                problems.push(
                    "WECHATPAY_PUBLIC_KEY_ID and WECHATPAY_PUBLIC_KEY_FILE (or WECHATPAY_PUBLIC_KEY) go together"
                        .into(),
                );
                None
            }
        };
    let api_base = get("WECHATPAY_API_BASE").unwrap_or_else(|| "https://api.mch.weixin.qq.com".into());
    if problems.len() > before {
        return None;
    }
    Some(PaySettings {
        api_base: api_base.trim_end_matches('/').to_owned(),
        mchid,
        mch_serial,
        mch_key_pem,
        apiv3_key,
        public_key,
        notify_url,
    })
}

/// The MySQL engine's settings: `MYSQL_URL`, or WeChat Cloud Hosting's `MYSQL_ADDRESS`
/// (`host:port`), `MYSQL_USERNAME` and `MYSQL_PASSWORD` with `MYSQL_DATABASE` (default
/// `shop`); `MYSQL_MAX_CONNECTIONS` (default 2 on Lambda and SCF, where an instance serves one
/// request at a time, 10 for a server).
fn mysql_settings(get: &impl Fn(&str) -> Option<String>, problems: &mut Vec<String>) -> Option<store::MySqlSettings> {
    let event_function = get("AWS_LAMBDA_RUNTIME_API").is_some() || get("SCF_RUNTIME_API").is_some();
    let max_connections = match get("MYSQL_MAX_CONNECTIONS").map(|n| n.parse::<u32>()) {
        None => {
            if event_function {
                2
            } else {
                10
            }
        }
        Some(Ok(n)) if (1..=200).contains(&n) => n,
        Some(_) => {
            problems.push("MYSQL_MAX_CONNECTIONS must be 1 to 200".into());
            return None;
        }
    };
    if let Some(url) = get("MYSQL_URL") {
        return Some(store::MySqlSettings { url: Some(url), max_connections, ..Default::default() });
    }
    let Some(address) = get("MYSQL_ADDRESS") else {
        problems.push("STORE=mysql needs MYSQL_URL, or MYSQL_ADDRESS with MYSQL_USERNAME and MYSQL_PASSWORD".into());
        return None;
    };
    let (host, port) = match address.rsplit_once(':') {
        None => (address.clone(), 3306),
        Some((h, p)) => match p.parse::<u16>() {
            Ok(p) => (h.to_owned(), p),
            Err(_) => {
                problems.push("MYSQL_ADDRESS must be host:port".into());
                return None;
            }
        },
    };
    let user = get("MYSQL_USERNAME").unwrap_or_default();
    if user.is_empty() {
        problems.push("MYSQL_ADDRESS needs MYSQL_USERNAME".into());
        return None;
    }
    Some(store::MySqlSettings {
        url: None,
        host,
        port,
        user,
        password: get("MYSQL_PASSWORD").unwrap_or_default(),
        database: get("MYSQL_DATABASE").unwrap_or_else(|| "shop".into()),
        max_connections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    const GOOD: [(&str, &str); 4] = [
        ("WECHAT_APPID", "wx0000000000000001"),
        ("WECHAT_APP_SECRET", "app-secret"),
        ("SESSION_SECRET", "0123456789abcdef0123456789abcdef"),
        ("ADMIN_TOKEN", "admin-token-0123456789"),
    ];

    /// The platform's identity is taken only on Cloud Hosting (`CBR_ENV_ID`), and only by a
    /// service shoppers call.
    #[test]
    fn trusting_the_platform_needs_the_platform() {
        let mut pairs = GOOD.to_vec();
        pairs.push(("TRUST_WX_CONTEXT", "1"));
        let shop = Uses::STORE_ONLY.wechat().sessions().bootstrap();
        let err = Settings::from_lookup(lookup(&pairs), shop).unwrap_err().to_string();
        assert!(err.contains("CBR_ENV_ID"), "{err}");
        pairs.push(("CBR_ENV_ID", "prod-shop"));
        let s = Settings::from_lookup(lookup(&pairs), shop).unwrap();
        assert_eq!((s.trust_wx_context, s.cloud_env.as_deref()), (true, Some("prod-shop")));
        let notify = Settings::from_lookup(lookup(&pairs), Uses::STORE_ONLY).unwrap_err().to_string();
        assert!(notify.contains("not for this one"), "{notify}");
    }

    #[test]
    fn missing_settings_are_all_named() {
        let err = Settings::from_lookup(lookup(&[]), Uses::STORE_ONLY.wechat().sessions().bootstrap()).unwrap_err();
        let text = err.to_string();
        for k in ["WECHAT_APPID", "WECHAT_APP_SECRET", "SESSION_SECRET", "ADMIN_TOKEN"] {
            assert!(text.contains(k), "{text} should name {k}");
        }
    }

    /// Each secret is required exactly where it is used, and a function that uses none
    /// starts with none.
    #[test]
    fn functions_need_only_the_secrets_they_use() {
        let only_appid = [("WECHAT_APPID", "wx0000000000000001")];
        assert!(Settings::from_lookup(lookup(&only_appid), Uses::STORE_ONLY).is_ok());
        for (uses, name) in [
            (Uses::STORE_ONLY.wechat(), "WECHAT_APP_SECRET"),
            (Uses::STORE_ONLY.sessions(), "SESSION_SECRET"),
            (Uses::STORE_ONLY.bootstrap(), "ADMIN_TOKEN"),
        ] {
            let err = Settings::from_lookup(lookup(&only_appid), uses).unwrap_err();
            assert_eq!(err, ConfigError(vec![format!("{name} is required")]), "{uses:?}");
        }
        let s = Settings::from_lookup(lookup(&only_appid), Uses::STORE_ONLY).unwrap();
        assert!(s.session_secret.is_empty() && s.admin_token.is_empty());
    }

    #[test]
    fn pay_settings_are_required_where_pay_is_used() {
        let err = Settings::from_lookup(lookup(&GOOD), Uses::STORE_ONLY.pay()).unwrap_err().to_string();
        for k in [
            "WECHATPAY_MCHID",
            "WECHATPAY_MCH_SERIAL",
            "WECHATPAY_MCH_KEY_FILE",
            "WECHATPAY_APIV3_KEY",
            "WECHATPAY_NOTIFY_URL",
        ] {
            assert!(err.contains(k), "{err} should name {k}");
        }
        let mut pairs = GOOD.to_vec();
        pairs.extend([
            ("WECHATPAY_MCHID", "1900000001"),
            ("WECHATPAY_MCH_SERIAL", "ABC"),
            ("WECHATPAY_MCH_KEY_FILE", "/nonexistent/apiclient_key.pem"),
            ("WECHATPAY_APIV3_KEY", "short"),
            ("WECHATPAY_NOTIFY_URL", "https://shop.example/pay/notify?x=1"),
            ("WECHATPAY_PUBLIC_KEY_ID", "PUB_KEY_ID_01"),
        ]);
        let err = Settings::from_lookup(lookup(&pairs), Uses::STORE_ONLY.pay()).unwrap_err().to_string();
        assert!(err.contains("cannot read /nonexistent/apiclient_key.pem"), "{err}");
        assert!(err.contains("32-character") && err.contains("query string") && err.contains("go together"), "{err}");
        assert!(!err.contains("short"), "the key's value is never echoed");
    }

    #[test]
    fn defaults_apply() {
        let s = Settings::from_lookup(lookup(&GOOD), Uses::STORE_ONLY.wechat().sessions().bootstrap()).unwrap();
        assert_eq!(s.port, 9000);
        assert_eq!(s.store.kind, StoreKind::Embedded);
        assert_eq!(s.store.table, "shop");
        assert_eq!(s.wechat.api_base, "https://api.weixin.qq.com");
        assert!(!s.trust_wx_context);
    }

    #[test]
    fn bad_values_are_refused() {
        let mut pairs = GOOD.to_vec();
        pairs.extend([("STORE", "redis"), ("PORT", "x"), ("TRUST_WX_CONTEXT", "yes")]);
        let text = Settings::from_lookup(lookup(&pairs), Uses::STORE_ONLY.wechat().sessions().bootstrap())
            .unwrap_err()
            .to_string();
        assert!(text.contains("STORE") && text.contains("PORT") && text.contains("TRUST_WX_CONTEXT"));
    }

    #[test]
    fn mysql_takes_a_url_or_cloud_hostings_parts() {
        let uses = Uses::STORE_ONLY.wechat().sessions().bootstrap();
        let mut parts = GOOD.to_vec();
        parts.extend([
            ("STORE", "mysql"),
            ("MYSQL_ADDRESS", "10.0.0.8:3306"),
            ("MYSQL_USERNAME", "shop"),
            ("MYSQL_PASSWORD", "s3cret-pass"),
            ("SCF_RUNTIME_API", "127.0.0.1:9001"),
        ]);
        let s = Settings::from_lookup(lookup(&parts), uses).unwrap();
        let m = s.store.mysql.clone().unwrap();
        assert_eq!(
            (m.host.as_str(), m.port, m.user.as_str(), m.database.as_str(), m.max_connections),
            ("10.0.0.8", 3306, "shop", "shop", 2),
            "an SCF instance keeps two connections"
        );
        assert!(!format!("{m:?}").contains("s3cret"), "the password never shows in Debug");
        let mut url = GOOD.to_vec();
        url.extend([("STORE", "mysql"), ("MYSQL_URL", "mysql://u:p@db:3306/shop2"), ("MYSQL_MAX_CONNECTIONS", "20")]);
        let m = Settings::from_lookup(lookup(&url), uses).unwrap().store.mysql.unwrap();
        assert_eq!((m.url.as_deref(), m.max_connections), (Some("mysql://u:p@db:3306/shop2"), 20));
        let mut none = GOOD.to_vec();
        none.extend([("STORE", "mysql"), ("MYSQL_ADDRESS", "db:x")]);
        let e = Settings::from_lookup(lookup(&none), uses).unwrap_err().to_string();
        assert!(e.contains("MYSQL_ADDRESS"), "{e}");
    }

    #[test]
    fn the_embedded_store_is_refused_on_lambda() {
        let mut pairs = GOOD.to_vec();
        pairs.push(("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"));
        let e = Settings::from_lookup(lookup(&pairs), Uses::STORE_ONLY.wechat().sessions().bootstrap()).unwrap_err();
        assert!(e.to_string().contains("STORE=dynamodb"), "{e}");
        pairs.push(("STORE", "dynamodb"));
        assert!(Settings::from_lookup(lookup(&pairs), Uses::STORE_ONLY.wechat().sessions().bootstrap()).is_ok());
    }

    #[test]
    fn the_clock_moves_only_off_lambda_and_scf() {
        let mut pairs = GOOD.to_vec();
        pairs.push(("MOVABLE_CLOCK", "1"));
        let uses = Uses::STORE_ONLY.wechat().sessions().bootstrap();
        assert!(Settings::from_lookup(lookup(&pairs), uses).unwrap().movable_clock);
        for runtime in ["AWS_LAMBDA_RUNTIME_API", "SCF_RUNTIME_API"] {
            let mut on = pairs.clone();
            on.extend([(runtime, "127.0.0.1:9001"), ("STORE", "dynamodb")]);
            let e = Settings::from_lookup(lookup(&on), uses).unwrap_err();
            assert!(e.to_string().contains("MOVABLE_CLOCK"), "{runtime}: {e}");
        }
        assert!(!Settings::from_lookup(lookup(&GOOD), uses).unwrap().movable_clock, "fixed unless asked");
    }

    #[test]
    fn platform_identity_is_never_trusted_on_lambda() {
        let mut pairs = GOOD.to_vec();
        pairs.extend([("TRUST_WX_CONTEXT", "1"), ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"), ("STORE", "dynamodb")]);
        let e = Settings::from_lookup(lookup(&pairs), Uses::STORE_ONLY.wechat().sessions().bootstrap()).unwrap_err();
        assert!(e.to_string().contains("TRUST_WX_CONTEXT"), "{e}");
    }

    #[test]
    fn debug_hides_secrets() {
        let s = Settings::from_lookup(lookup(&GOOD), Uses::STORE_ONLY.wechat().sessions().bootstrap()).unwrap();
        let d = format!("{s:?}");
        assert!(!d.contains("app-secret") && !d.contains("0123456789abcdef") && !d.contains("admin-token"));
    }
}
