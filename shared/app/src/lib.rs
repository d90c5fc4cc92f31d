//! The shop's use cases, one folder per context: each reads what it needs through the store,
//! asks the domain to decide, and writes the outcome. [`App`] holds what they share, built
//! once at start. HTTP, Lambda and authentication live above this crate (`hosting`); rules
//! without I/O live below it (`domain`).

pub mod cart;
pub mod cases;
pub mod catalog;
pub mod config;
pub mod coupons;
pub mod error;
pub mod fulfilment;
pub mod members;
pub mod notices;
pub mod operators;
pub mod ordering;
pub mod outbox;
pub mod payments;
pub mod reconciliation;
pub mod refunds;
pub mod returns;
pub mod sample;
pub mod secrets;
pub mod session;
pub mod stock_alerts;
pub mod users;

use std::sync::Arc;

pub use domain::clock;
pub use error::{AppError, Code};

use config::Settings;
use store::SharedStore;
use wechat::MiniProgram;
use wechat::pay::{PayClient, PayError};

#[derive(Clone)]
pub struct App {
    pub store: SharedStore,
    pub settings: Arc<Settings>,
    pub wechat: Arc<MiniProgram>,
    /// WeChat Pay, when the merchant settings are present.
    pub pay: Option<Arc<PayClient>>,
    /// Wakes this process's outbox worker, if it runs one ([`outbox::poke`]).
    pub outbox_signal: Arc<tokio::sync::Notify>,
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
        Ok(Self { store, settings: Arc::new(settings), wechat, pay, outbox_signal: Arc::default() })
    }

    /// Opens the configured store and builds the app.
    pub async fn from_settings(settings: Settings) -> Result<Self, String> {
        let store = store::open(&settings.store).await.map_err(|e| format!("store: {e}"))?;
        Self::new(store, settings).map_err(|e| format!("WeChat Pay: {e}"))
    }

    pub fn pay(&self) -> Result<&PayClient, AppError> {
        self.pay.as_deref().ok_or_else(|| AppError::unavailable("WeChat Pay is not configured for this shop"))
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
