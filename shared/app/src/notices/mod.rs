//! Subscribe messages (订阅消息), the channel for reminders and notices. The mini-program asks
//! the shopper (`wx.requestSubscribeMessage`) and reports what was accepted; each acceptance
//! is one message the shop may send of that template. Sending spends one (a conditional
//! decrement: no permission, no call); WeChat's 43101 (no permission after all) sets the count
//! to zero; a call that failed on the way gives the permission back.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::App;
use crate::error::{AppError, Code};
use domain::ids::OpenId;
use store::repo;

/// Counts the templates a `wx.requestSubscribeMessage` result accepted (`"accept"`), e.g.
/// `{"errMsg": "requestSubscribeMessage:ok", "<template id>": "accept"}`; the rest are
/// ignored. Answers the templates counted.
pub async fn report(app: &App, openid: &OpenId, result: BTreeMap<String, Value>) -> Result<Vec<String>, AppError> {
    let mut counted = Vec::new();
    for (template, answer) in result {
        if template == "errMsg" || answer.as_str() != Some("accept") {
            continue;
        }
        let plain = (1..=64).contains(&template.len())
            && template.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !plain {
            return Err(AppError::field("template", "template ids are 1 to 64 letters, digits, '-' or '_'"));
        }
        repo::members::grant(app.store.as_ref(), openid, &template, 1).await?;
        counted.push(template);
    }
    Ok(counted)
}

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Sent,
    /// No permission left: WeChat was not called.
    NoPermission,
    /// WeChat refused it (no permission after all, bad data); logged.
    Refused,
}

/// Sends one message of `template_id` to the shopper, spending one permission.
pub async fn send(app: &App, openid: &OpenId, template_id: &str, page: &str, data: &Value) -> Result<Sent, AppError> {
    let store = app.store.as_ref();
    if !repo::members::take_permission(store, openid, template_id).await? {
        return Ok(Sent::NoPermission);
    }
    match app.wechat.send_subscribe_message(openid, template_id, page, data).await {
        Ok(()) => Ok(Sent::Sent),
        Err(wechat::WeChatError::Other(43101)) => {
            repo::members::revoke(store, openid, template_id).await?;
            tracing::warn!("WeChat says the shopper allows no more of this template");
            Ok(Sent::Refused)
        }
        Err(e) if e.transient() => {
            repo::members::grant(store, openid, template_id, 1).await?;
            Err(AppError::new(Code::WechatUnavailable, e.to_string()))
        }
        Err(e) => {
            repo::members::grant(store, openid, template_id, 1).await?;
            tracing::warn!(error = %e, "WeChat refused a subscribe message");
            Ok(Sent::Refused)
        }
    }
}

/// The outbox consumer of [`domain::events::Event::LevelUp`]: the level-up notice, when the
/// operator set its template.
pub async fn level_up(app: &App, openid: &OpenId, level: &str) -> Result<(), AppError> {
    let Some(template) = app.rules.subscribe_level_up.clone() else {
        return Ok(());
    };
    if !app.wechat.has_secret() {
        return Err(AppError::unavailable("this function holds no WeChat app secret; the outbox function sends"));
    }
    let day = domain::clock::business_day(domain::clock::now()).map(|d| d.to_string()).unwrap_or_default();
    let data = serde_json::json!({
        "thing1": { "value": level.chars().take(20).collect::<String>() },
        "date2": { "value": day },
    });
    send(app, openid, &template, "pages/me/index", &data).await.map(|_| ())
}

/// The outbox consumer of [`domain::events::Event::PointsExpiring`]: the reminder, when the
/// operator set its template and the shopper allowed one.
pub async fn points_expiring(app: &App, openid: &OpenId, points: i64, expires_on: &str) -> Result<(), AppError> {
    let Some(template) = app.rules.subscribe_points_expiry.clone() else {
        return Ok(());
    };
    if !app.wechat.has_secret() {
        return Err(AppError::unavailable("this function holds no WeChat app secret; the outbox function sends"));
    }
    let data = serde_json::json!({
        "number1": { "value": points.to_string() },
        "date2": { "value": expires_on },
    });
    send(app, openid, &template, "pages/me/index", &data).await.map(|_| ())
}
