//! The mini-program server API at `WECHAT_API_BASE`: code2Session, the stable access token
//! (cached, refreshed before expiry and once on an invalid-token answer) and getPhoneNumber.
//! WeChat answers HTTP 200 with an `errcode` on failure, sometimes as text/plain, so bodies
//! are parsed as JSON whatever their content type, and a missing errcode means success.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;

use crate::settings::WeChatSettings;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeChatError {
    #[error("the login code is invalid or already used")]
    InvalidCode,
    #[error("WeChat rate limit reached, retry in a minute")]
    RateLimited,
    #[error("WeChat blocked this user's login as high-risk")]
    Blocked,
    #[error("WeChat is busy, retry shortly")]
    Busy,
    #[error("the user's phone number request was blocked by WeChat")]
    PhoneBlocked,
    #[error("the access token was refused")]
    InvalidToken,
    #[error("the shop's WeChat settings were refused (errcode {0})")]
    Config(i64),
    #[error("WeChat answered errcode {0}")]
    Other(i64),
    #[error("WeChat could not be reached: {0}")]
    Transport(String),
    #[error("WeChat's answer was not understood")]
    BadAnswer,
}

impl WeChatError {
    /// Whether the same call may succeed later: WeChat busy or unreachable, a token to
    /// refresh, a rate limit, a payment WeChat's shipping service has not taken in yet
    /// (10060001 right after payment), or that service's own system errors (10060012,
    /// 10060019), which its documentation asks to retry like -1.
    pub fn transient(&self) -> bool {
        matches!(
            self,
            Self::Busy
                | Self::Transport(_)
                | Self::InvalidToken
                | Self::RateLimited
                | Self::Other(10060001 | 10060012 | 10060019)
        )
    }

    /// The shipping service already holds exactly this information (10060023): an upload
    /// whose first answer was lost, sent again.
    pub fn already_has_it(&self) -> bool {
        *self == Self::Other(SHIPPING_UNCHANGED)
    }

    fn from_code(code: i64) -> Self {
        match code {
            40029 | 40163 => Self::InvalidCode,
            45011 => Self::RateLimited,
            40226 => Self::Blocked,
            -1 => Self::Busy,
            1421102 => Self::PhoneBlocked,
            40001 | 42001 => Self::InvalidToken,
            40013 | 40125 | 40164 | 41002 | 41004 => Self::Config(code),
            other => Self::Other(other),
        }
    }
}

/// 发货信息未更新: what the shipping service answers an upload identical to the one it has.
pub const SHIPPING_UNCHANGED: i64 = 10060023;

/// What the shipping service says of a payment (`get_order`): `order_state` 1 waiting to
/// ship, 2 shipped, 3 receipt confirmed, 4 settled, 5 refunded (other values are read as
/// nothing to act on).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ShippingOrder {
    pub transaction_id: String,
    pub order_state: i64,
    #[serde(default)]
    pub in_complaint: bool,
}

impl ShippingOrder {
    /// The shopper confirmed receipt inside WeChat (or WeChat settled after it).
    pub fn receipt_confirmed(&self) -> bool {
        matches!(self.order_state, 3 | 4)
    }
}

/// One of the mini-program's subscribe-message templates (`priTmplId`, `title`, `content`
/// such as `会员等级:{{thing1.DATA}}\n升级时间:{{date2.DATA}}`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct SubscribeTemplate {
    #[serde(rename = "priTmplId")]
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub content: String,
}

/// WeChat's verdict on a text or an image: `suggest` is `pass`, `review` or `risky`; `label`
/// names the kind of content found (100 normal, 20001 politics, 20002 porn, …).
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
pub struct Verdict {
    pub suggest: String,
    #[serde(default)]
    pub label: i64,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.suggest == "pass"
    }
}

/// The openid named in a content check has not used the mini-program lately (61010).
pub const USER_NOT_RECENT: i64 = 61010;

#[derive(Debug, Deserialize)]
pub struct Session {
    pub openid: String,
    pub session_key: String,
    #[serde(default)]
    pub unionid: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
pub struct PhoneInfo {
    #[serde(rename = "phoneNumber")]
    pub phone_number: String,
    #[serde(rename = "purePhoneNumber")]
    pub pure_phone_number: String,
    /// WeChat documents a number and sends a string; both are read.
    #[serde(rename = "countryCode", deserialize_with = "string_or_number")]
    pub country_code: String,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(serde::de::Error::custom("countryCode must be a string or number")),
    }
}

#[derive(Debug)]
struct CachedToken {
    token: String,
    refresh_at: tokio::time::Instant,
}

pub struct MiniProgram {
    http: reqwest::Client,
    settings: WeChatSettings,
    token: Mutex<Option<CachedToken>>,
}

/// Refresh this long before WeChat's stated expiry.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);

impl MiniProgram {
    pub fn new(http: reqwest::Client, settings: WeChatSettings) -> Self {
        Self { http, settings, token: Mutex::new(None) }
    }

    pub fn appid(&self) -> &str {
        &self.settings.appid
    }

    /// Whether this process holds the app secret, without which no access token can be had
    /// (a function given none leaves token-guarded calls to one that has it).
    pub fn has_secret(&self) -> bool {
        !self.settings.app_secret.is_empty()
    }

    /// Parses a WeChat answer: a non-zero errcode becomes its typed error.
    async fn call<T: for<'de> Deserialize<'de>>(&self, req: reqwest::RequestBuilder) -> Result<T, WeChatError> {
        let resp = req
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| WeChatError::Transport(e.without_url().to_string()))?;
        if !resp.status().is_success() {
            return Err(if resp.status().is_server_error() { WeChatError::Busy } else { WeChatError::BadAnswer });
        }
        let body = resp.bytes().await.map_err(|e| WeChatError::Transport(e.without_url().to_string()))?;
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|_| WeChatError::BadAnswer)?;
        match v.get("errcode").and_then(|c| c.as_i64()) {
            None | Some(0) => {}
            Some(code) => {
                tracing::warn!(errcode = code, "WeChat answered an error");
                return Err(WeChatError::from_code(code));
            }
        }
        serde_json::from_value(v).map_err(|_| WeChatError::BadAnswer)
    }

    /// code2Session: exchanges a `wx.login` code for the user's openid and session_key.
    pub async fn code2session(&self, code: &str) -> Result<Session, WeChatError> {
        let url = format!("{}/sns/jscode2session", self.settings.api_base);
        let req = self.http.get(url).query(&[
            ("appid", self.settings.appid.as_str()),
            ("secret", self.settings.app_secret.as_str()),
            ("js_code", code),
            ("grant_type", "authorization_code"),
        ]);
        self.call(req).await
    }

    async fn fetch_token(&self) -> Result<CachedToken, WeChatError> {
        #[derive(Deserialize)]
        struct Answer {
            access_token: String,
            expires_in: u64,
        }
        let url = format!("{}/cgi-bin/stable_token", self.settings.api_base);
        let req = self.http.post(url).json(&json!({
            "grant_type": "client_credential",
            "appid": self.settings.appid,
            "secret": self.settings.app_secret,
            "force_refresh": false,
        }));
        let a: Answer = self.call(req).await?;
        let life = Duration::from_secs(a.expires_in).saturating_sub(TOKEN_MARGIN).max(Duration::from_secs(30));
        Ok(CachedToken { token: a.access_token, refresh_at: tokio::time::Instant::now() + life })
    }

    /// The cached access token, fetched when absent, near expiry, or when `stale` names the
    /// token that WeChat just refused.
    async fn access_token(&self, stale: Option<&str>) -> Result<String, WeChatError> {
        let mut guard = self.token.lock().await;
        let fresh =
            guard.as_ref().filter(|t| t.refresh_at > tokio::time::Instant::now() && Some(t.token.as_str()) != stale);
        if let Some(t) = fresh {
            return Ok(t.token.clone());
        }
        let t = self.fetch_token().await?;
        let token = t.token.clone();
        *guard = Some(t);
        Ok(token)
    }

    /// A POST of `body` to `path` with the access token, refreshed once if WeChat refuses it.
    async fn post_with_token(&self, path: &str, body: &serde_json::Value) -> Result<serde_json::Value, WeChatError> {
        let mut stale = None;
        for _ in 0..2 {
            let token = self.access_token(stale.as_deref()).await?;
            let url = format!("{}{path}", self.settings.api_base);
            let req = self.http.post(url).query(&[("access_token", token.as_str())]).json(body);
            match self.call::<serde_json::Value>(req).await {
                Err(WeChatError::InvalidToken) => stale = Some(token),
                other => return other,
            }
        }
        Err(WeChatError::InvalidToken)
    }

    /// uploadShippingInfo (小程序发货信息管理服务): tells WeChat a paid order's goods left,
    /// so the payment's settlement is released once the shopper confirms.
    pub async fn upload_shipping_info(&self, info: &crate::shipping::ShippingInfo) -> Result<(), WeChatError> {
        let body = serde_json::to_value(info).map_err(|_| WeChatError::BadAnswer)?;
        self.post_with_token("/wxa/sec/order/upload_shipping_info", &body).await.map(|_| ())
    }

    /// getOrder (查询订单发货状态): what the shipping service holds for a payment, read to
    /// learn of a receipt the shopper confirmed inside WeChat.
    pub async fn shipping_order(&self, transaction_id: &str) -> Result<ShippingOrder, WeChatError> {
        #[derive(Deserialize)]
        struct Answer {
            order: ShippingOrder,
        }
        let body = json!({ "transaction_id": transaction_id });
        let v = self.post_with_token("/wxa/sec/order/get_order", &body).await?;
        serde_json::from_value::<Answer>(v).map(|a| a.order).map_err(|_| WeChatError::BadAnswer)
    }

    /// notifyConfirmReceive: once the carrier reports delivery, WeChat reminds the shopper
    /// to confirm receipt (once per payment).
    pub async fn notify_confirm_receive(&self, transaction_id: &str, received_time: i64) -> Result<(), WeChatError> {
        let body = json!({ "transaction_id": transaction_id, "received_time": received_time });
        self.post_with_token("/wxa/sec/order/notify_confirm_receive", &body).await.map(|_| ())
    }

    /// subscribeMessage.send: one message of an accepted one-time subscription template.
    pub async fn send_subscribe_message(
        &self,
        touser: &str,
        template_id: &str,
        page: &str,
        data: &serde_json::Value,
    ) -> Result<(), WeChatError> {
        let body = json!({ "touser": touser, "template_id": template_id, "page": page, "data": data, "lang": "zh_CN" });
        self.post_with_token("/cgi-bin/message/subscribe/send", &body).await.map(|_| ())
    }

    /// getTemplateList (`/wxaapi/newtmpl/gettemplate`): the subscribe-message templates the
    /// merchant added to the mini-program, each with the content that names its keywords.
    pub async fn subscribe_templates(&self) -> Result<Vec<SubscribeTemplate>, WeChatError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            data: Vec<SubscribeTemplate>,
        }
        let mut stale = None;
        for _ in 0..2 {
            let token = self.access_token(stale.as_deref()).await?;
            let url = format!("{}/wxaapi/newtmpl/gettemplate", self.settings.api_base);
            let req = self.http.get(url).query(&[("access_token", token.as_str())]);
            match self.call::<Answer>(req).await {
                Err(WeChatError::InvalidToken) => stale = Some(token),
                other => return other.map(|a| a.data),
            }
        }
        Err(WeChatError::InvalidToken)
    }

    /// msgSecCheck (version 2): WeChat's verdict on a text `openid` (who used the
    /// mini-program within the last two hours) publishes in `scene` (1 profile, 2 comment,
    /// 3 forum, 4 social log).
    pub async fn msg_sec_check(&self, openid: &str, scene: u8, content: &str) -> Result<Verdict, WeChatError> {
        #[derive(Deserialize)]
        struct Answer {
            result: Verdict,
        }
        let body = json!({ "content": content, "version": 2, "scene": scene, "openid": openid });
        let v = self.post_with_token("/wxa/msg_sec_check", &body).await?;
        serde_json::from_value::<Answer>(v).map(|a| a.result).map_err(|_| WeChatError::BadAnswer)
    }

    /// mediaCheckAsync (version 2): asks WeChat to check the image at `media_url`; the
    /// verdict arrives later as a `wxa_media_check` push naming the trace id answered here.
    pub async fn media_check_async(&self, openid: &str, scene: u8, media_url: &str) -> Result<String, WeChatError> {
        #[derive(Deserialize)]
        struct Answer {
            // Documented as trace_id; answers spelled traceId have been reported.
            #[serde(alias = "traceId")]
            trace_id: String,
        }
        let body = json!({ "media_url": media_url, "media_type": 2, "version": 2, "scene": scene, "openid": openid });
        let v = self.post_with_token("/wxa/media_check_async", &body).await?;
        serde_json::from_value::<Answer>(v).map(|a| a.trace_id).map_err(|_| WeChatError::BadAnswer)
    }

    /// getPhoneNumber: exchanges a phone-number button code for the user's phone.
    pub async fn phone_number(&self, code: &str) -> Result<PhoneInfo, WeChatError> {
        #[derive(Deserialize)]
        struct Answer {
            phone_info: PhoneInfo,
        }
        let mut stale = None;
        for _ in 0..2 {
            let token = self.access_token(stale.as_deref()).await?;
            let url = format!("{}/wxa/business/getuserphonenumber", self.settings.api_base);
            let req = self.http.post(url).query(&[("access_token", token.as_str())]).json(&json!({ "code": code }));
            match self.call::<Answer>(req).await {
                Err(WeChatError::InvalidToken) => stale = Some(token),
                other => return other.map(|a| a.phone_info),
            }
        }
        Err(WeChatError::InvalidToken)
    }
}
