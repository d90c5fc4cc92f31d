//! The functions' handlers: each module parses requests, calls the domain and store, and maps
//! the outcome. [`App`] holds what they share, built once at start.

pub mod cart;
pub mod catalog;
pub mod coupons;
pub mod jobs;
pub mod login;
pub mod orders;
pub mod pay_notify;
pub mod refunds;

use std::sync::Arc;

use crate::config::Settings;
use crate::domain::user::valid_openid;
use crate::error::ApiError;
use crate::http::Request;
use crate::store::SharedStore;
use crate::wechat::MiniProgram;
use crate::wechat::pay::{PayClient, PayError};
use crate::{clock, session, users};

#[derive(Clone)]
pub struct App {
    pub store: SharedStore,
    pub settings: Arc<Settings>,
    pub wechat: Arc<MiniProgram>,
    /// WeChat Pay, when the merchant settings are present.
    pub pay: Option<Arc<PayClient>>,
}

impl App {
    /// Builds the app; fails only on unusable WeChat Pay key material.
    pub fn new(store: SharedStore, settings: Settings) -> Result<Self, PayError> {
        let http = http_client();
        let wechat = Arc::new(MiniProgram::new(http.clone(), settings.wechat.clone()));
        let pay = match &settings.pay {
            Some(p) => Some(Arc::new(PayClient::new(http, &settings.wechat.appid, p)?)),
            None => None,
        };
        Ok(Self { store, settings: Arc::new(settings), wechat, pay })
    }

    /// Opens the configured store and builds the app.
    pub async fn from_settings(settings: Settings) -> Result<Self, String> {
        let store = crate::store::open(&settings.store).await.map_err(|e| format!("store: {e}"))?;
        Self::new(store, settings).map_err(|e| format!("WeChat Pay: {e}"))
    }

    pub fn pay(&self) -> Result<&PayClient, ApiError> {
        self.pay.as_deref().ok_or_else(|| ApiError::unavailable("WeChat Pay is not configured for this shop"))
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

fn bearer(req: &Request) -> Option<&str> {
    req.header("authorization")?.strip_prefix("Bearer ").map(str::trim)
}

/// The shopper making the request: the openid WeChat Cloud Hosting injects when the shop is
/// configured to trust it, else the session token from `login`.
pub async fn shopper(app: &App, req: &Request) -> Result<String, ApiError> {
    if let Some(openid) = req.header("x-wx-openid").filter(|_| app.settings.trust_wx_context) {
        if !valid_openid(openid) {
            return Err(ApiError::unauthorized("X-WX-OPENID is not an openid"));
        }
        // A read first: the conditional create is a write, and this runs on every call.
        if app.store.get(&crate::store::keys::user(openid)).await?.is_none() {
            users::ensure(app, openid, req.header("x-wx-unionid")).await?;
        }
        return Ok(openid.to_owned());
    }
    let token = bearer(req)
        .ok_or_else(|| ApiError::unauthorized("log in first: send Authorization: Bearer <token from /login>"))?;
    match session::verify(&app.settings.session_secret, token, clock::now()) {
        Ok(c) => Ok(c.sub),
        Err(session::TokenError::Expired) => {
            Err(ApiError::new(401, "SESSION_EXPIRED", "the session expired, log in again"))
        }
        Err(e) => Err(ApiError::unauthorized(e.to_string())),
    }
}

/// Operator calls carry `Authorization: Bearer <ADMIN_TOKEN>`.
pub fn operator(app: &App, req: &Request) -> Result<(), ApiError> {
    let given = bearer(req).unwrap_or("");
    if constant_time_eq(given.as_bytes(), app.settings.admin_token.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::unauthorized("operator calls need Authorization: Bearer <ADMIN_TOKEN>"))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A page size from `?limit=`, 1 to 100, default 20.
pub fn page_limit(req: &Request) -> Result<usize, ApiError> {
    match req.query("limit") {
        None => Ok(20),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err(ApiError::field("limit", "must be a whole number from 1 to 100")),
        },
    }
}

/// Every function's handler, for the local all-in-one server and the route tests.
pub const ALL: &[crate::http::Handler] = &[
    login::handler,
    catalog::handler,
    cart::handler,
    orders::handler,
    refunds::handler,
    pay_notify::handler,
    coupons::handler,
    jobs::handler,
];
