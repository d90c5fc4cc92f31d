//! An offline stand-in for `api.weixin.qq.com`: it answers as WeChat does (HTTP 200 with an
//! `errcode` on failure, `text/plain` content type, single-use codes), so the shop runs and is
//! tested with no WeChat account. Codes are scripted by their text:
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

mod mp;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub use mp::MpState;

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub appid: String,
    pub app_secret: String,
    /// `expires_in` of access tokens, seconds.
    pub token_ttl: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            appid: "wx0000000000000001".into(),
            app_secret: "sim-app-secret".into(),
            token_ttl: 7200,
        }
    }
}

#[derive(Clone)]
pub struct Sim {
    pub config: Arc<SimConfig>,
    pub mp: Arc<Mutex<MpState>>,
}

impl Sim {
    pub fn new(config: SimConfig) -> Self {
        Self {
            config: Arc::new(config),
            mp: Arc::default(),
        }
    }

    pub fn router(&self) -> axum::Router {
        mp::routes().with_state(self.clone())
    }

    /// The openid this simulator gives `user` (the part of a code before any `.`).
    pub fn openid_for(&self, user: &str) -> String {
        mp::openid_for(&self.config.appid, user)
    }
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
    let sim = Sim::new(config);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let router = sim.router();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(Running { addr, sim, task })
}
