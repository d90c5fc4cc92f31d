//! What a host serves: the application, and the part of the configuration only the edge uses
//! (session tokens, the bootstrap token, whether the platform's word on a shopper is taken).
//! It reads as the [`App`] it carries, so a route hands it to a use case as it is.

use std::ops::Deref;
use std::sync::Arc;

use app::App;

#[derive(Clone)]
pub struct Service {
    pub app: App,
    pub edge: Arc<Edge>,
}

/// What authentication at the edge needs.
pub struct Edge {
    /// HMAC-SHA256 key of shoppers' session tokens (empty: this function takes none).
    pub session_secret: Vec<u8>,
    pub session_ttl_secs: i64,
    /// The bootstrap token that makes the first operator account (empty: none here).
    pub admin_token: String,
    /// On WeChat Cloud Hosting: take the platform's `X-WX-OPENID`.
    pub trust_wx_context: bool,
    /// The Cloud Hosting environment (`CBR_ENV_ID`) trusted requests name in `X-WX-ENV`.
    pub cloud_env: Option<String>,
    /// The mini-program's AppID, which the platform's requests must name.
    pub appid: String,
    /// The HTTP port when not on Lambda or SCF.
    pub port: u16,
    /// Operators may move the shop's clock forward (local runs and tests only).
    pub movable_clock: bool,
    /// Requests a second each client may make of an HTTP-server host (bursts of twice that).
    pub client_rate: f64,
    /// The mini-program's message push settings.
    pub push: Option<wechat::push::PushSettings>,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keys are never shown.
        f.debug_struct("Edge")
            .field("trust_wx_context", &self.trust_wx_context)
            .field("appid", &self.appid)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Deref for Service {
    type Target = App;

    fn deref(&self) -> &App {
        &self.app
    }
}
