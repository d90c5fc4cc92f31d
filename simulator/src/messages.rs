//! Subscribe messages as WeChat documents `subscribeMessage.send` and `getTemplateList`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::Value;

use crate::Sim;
use crate::mp::{answer_ok, authorized, err, token_ok};
use crate::shipping::str_of;

/// Subscribe messages (`/cgi-bin/message/subscribe/send`): sent only to a shopper who
/// accepted that template (one message per acceptance, as the device grants them:
/// [`crate::Sim::grant_subscription`]); 43101 otherwise, 40003 for no openid of this app,
/// 40037 for a template the mini-program has not added, 47003 for data that breaks the rules:
/// each keyword of the template's content filled once as `{"value": …}` and nothing else, a
/// `thing` at most 20 characters, a `name` 10, a `phrase` 5, a `number` digits, a `date` or
/// `time` a date.
#[derive(Debug, Default)]
pub struct Subscriptions {
    /// (openid, template) → messages still allowed.
    pub grants: HashMap<(String, String), u32>,
    pub sent: Vec<Value>,
    /// The templates the merchant added: (priTmplId, title, content).
    pub templates: Vec<(String, String, String)>,
}

/// The keywords of a template's content (`{{thing1.DATA}}` → `thing1`).
fn keywords(content: &str) -> Vec<String> {
    content.split("{{").skip(1).filter_map(|p| p.split_once(".DATA}}").map(|(k, _)| k.to_owned())).collect()
}

/// Whether `value` is what a keyword of this type takes.
fn fits(keyword: &str, value: &str) -> bool {
    let kind = keyword.trim_end_matches(|c: char| c.is_ascii_digit());
    let n = value.chars().count();
    let date = |v: &str| {
        let b = v.as_bytes();
        b.len() >= 8 && b[..4].iter().all(u8::is_ascii_digit) && (b[4] == b'-' || v[4..].starts_with('年'))
    };
    match kind {
        "thing" => (1..=20).contains(&n),
        "name" => (1..=10).contains(&n),
        "phrase" => (1..=5).contains(&n),
        "number" => (1..=32).contains(&n) && value.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
        "character_string" => (1..=32).contains(&n) && value.is_ascii(),
        "date" | "time" => date(value),
        _ => n > 0,
    }
}

/// getTemplateList: the templates the merchant added to the mini-program.
pub(crate) async fn get_templates(State(sim): State<Sim>, Query(q): Query<HashMap<String, String>>) -> Response {
    if !token_ok(&sim, &q) {
        return err(40001, "invalid credential, access_token is invalid or not latest");
    }
    let Ok(subs) = sim.subscriptions.lock() else {
        return err(-1, "system error");
    };
    let data: Vec<Value> = subs
        .templates
        .iter()
        .map(|(id, title, content)| serde_json::json!({ "priTmplId": id, "title": title, "content": content, "example": "", "type": 2 }))
        .collect();
    let v = serde_json::json!({ "errcode": 0, "errmsg": "ok", "data": data });
    axum::response::IntoResponse::into_response(([(axum::http::header::CONTENT_TYPE, "text/plain")], v.to_string()))
}

pub(crate) async fn subscribe_send(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let b = match authorized(&sim, &q, &body) {
        Ok(b) => b,
        Err((code, msg)) => return err(code, msg),
    };
    let Some(touser) = str_of(&b, "touser").filter(|t| t.len() == 28 && t.starts_with('o')) else {
        return err(40003, "invalid openid");
    };
    let Some(template) = str_of(&b, "template_id").filter(|t| {
        (20..=64).contains(&t.len()) && t.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    }) else {
        return err(40037, "invalid template_id");
    };
    let Some(data) = b.get("data").and_then(Value::as_object).filter(|d| !d.is_empty()) else {
        return err(47003, "argument invalid! data");
    };
    let Ok(mut subs) = sim.subscriptions.lock() else {
        return err(-1, "system error");
    };
    let Some(wanted) = subs.templates.iter().find(|(id, _, _)| id == template).map(|(_, _, c)| keywords(c)) else {
        return err(40037, "invalid template_id");
    };
    for k in &wanted {
        if !data.contains_key(k) {
            return err(47003, &format!("argument invalid! data.{k}.value is empty"));
        }
    }
    for (k, v) in data {
        let Some(value) = v.get("value").and_then(Value::as_str) else {
            return err(47003, &format!("argument invalid! data.{k}.value invalid"));
        };
        if !wanted.contains(k) || !fits(k, value) {
            return err(47003, &format!("argument invalid! data.{k}.value invalid"));
        }
    }
    let key = (touser.to_owned(), template.to_owned());
    match subs.grants.get_mut(&key) {
        Some(n) if *n > 0 => *n -= 1,
        _ => return err(43101, "user refuse to accept the msg"),
    }
    subs.sent.push(b);
    answer_ok()
}
