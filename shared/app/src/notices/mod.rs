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
use domain::notice::{Notice, NoticeTemplate, keywords_of};
use store::repo;

/// The template a notice goes out with: the operators' setting, else the template id of its
/// `SUBSCRIBE_TEMPLATE_*` setting with the keywords it was written for; none, no notice.
pub async fn template_for(app: &App, notice: Notice) -> Result<Option<NoticeTemplate>, AppError> {
    if let Some(t) = repo::catalog::notice_templates(app.store.as_ref()).await?.remove(&notice) {
        return Ok(Some(t));
    }
    let preset = match notice {
        Notice::LevelUp => app.rules.subscribe_level_up.as_deref(),
        Notice::PointsExpiry => app.rules.subscribe_points_expiry.as_deref(),
    };
    Ok(preset.map(|id| notice.preset(id)))
}

/// Every notice with the template it goes out with, and the values it carries.
pub async fn templates(app: &App) -> Result<Vec<Value>, AppError> {
    let mut out = Vec::new();
    for n in Notice::ALL {
        let values: Vec<&str> = n.values().iter().map(|(v, _)| *v).collect();
        out.push(serde_json::json!({ "notice": n, "values": values, "template": template_for(app, n).await? }));
    }
    Ok(out)
}

/// Sets the template of a notice, checked against the keyword list WeChat gives for the
/// mini-program's templates (`getTemplateList`): a template the mini-program does not have, a
/// keyword it does not list or a value in a keyword that cannot show it is refused.
pub async fn set_template(app: &App, notice: Notice, t: NoticeTemplate) -> Result<NoticeTemplate, AppError> {
    let listed = app.wechat.subscribe_templates().await?;
    let Some(found) = listed.iter().find(|l| l.id == t.template_id) else {
        return Err(AppError::field("template_id", "the mini-program has no such subscribe-message template"));
    };
    let checked = t.checked(notice, &keywords_of(&found.content))?;
    let mut all = repo::catalog::notice_templates(app.store.as_ref()).await?;
    all.insert(notice, checked.clone());
    repo::catalog::put_notice_templates(app.store.as_ref(), &all).await?;
    Ok(checked)
}

/// The message's `data` as WeChat takes it.
fn data_of(t: &NoticeTemplate, values: &[(&str, String)]) -> Value {
    let data: serde_json::Map<String, Value> =
        t.data(values).into_iter().map(|(k, v)| (k, serde_json::json!({ "value": v }))).collect();
    Value::Object(data)
}

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

/// Sends `notice` with its values, when a template is set for it.
async fn notify(app: &App, openid: &OpenId, notice: Notice, values: &[(&str, String)]) -> Result<(), AppError> {
    let Some(t) = template_for(app, notice).await? else {
        return Ok(());
    };
    if !app.wechat.has_secret() {
        return Err(AppError::unavailable("this function holds no WeChat app secret; the outbox function sends"));
    }
    send(app, openid, &t.template_id, &t.page, &data_of(&t, values)).await.map(|_| ())
}

/// The outbox consumer of [`domain::events::Event::LevelUp`]: the level-up notice, when the
/// operator set its template.
pub async fn level_up(app: &App, openid: &OpenId, level: &str) -> Result<(), AppError> {
    let day = domain::clock::business_day(domain::clock::now()).map(|d| d.to_string()).unwrap_or_default();
    notify(app, openid, Notice::LevelUp, &[("level", level.to_owned()), ("day", day)]).await
}

/// The outbox consumer of [`domain::events::Event::PointsExpiring`]: the reminder, when the
/// operator set its template and the shopper allowed one.
pub async fn points_expiring(app: &App, openid: &OpenId, points: i64, expires_on: &str) -> Result<(), AppError> {
    let values = [("points", points.to_string()), ("expires_on", expires_on.to_owned())];
    notify(app, openid, Notice::PointsExpiry, &values).await
}
