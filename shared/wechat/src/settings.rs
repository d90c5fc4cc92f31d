//! What the shop needs to talk to WeChat and WeChat Pay; read and checked by the
//! application's configuration, never logged in full.

#[derive(Clone)]
pub struct WeChatSettings {
    pub api_base: String,
    pub appid: String,
    pub app_secret: String,
}

impl std::fmt::Debug for WeChatSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeChatSettings")
            .field("api_base", &self.api_base)
            .field("appid", &self.appid)
            .field("app_secret", &"<redacted>")
            .finish()
    }
}

/// WeChat Pay merchant settings. Key material is read from files at start.
#[derive(Clone)]
pub struct PaySettings {
    pub api_base: String,
    pub mchid: String,
    pub mch_serial: String,
    pub mch_key_pem: String,
    pub apiv3_key: String,
    /// The WeChat Pay public key (`PUB_KEY_ID_…`, PEM) in public-key mode.
    pub public_key: Option<(String, String)>,
    pub notify_url: String,
}

impl std::fmt::Debug for PaySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaySettings")
            .field("api_base", &self.api_base)
            .field("mchid", &self.mchid)
            .field("mch_serial", &self.mch_serial)
            .field("public_key_id", &self.public_key.as_ref().map(|(id, _)| id))
            .field("notify_url", &self.notify_url)
            .finish_non_exhaustive()
    }
}
