//! Subscribe messages as WeChat documents `subscribeMessage.send`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::Value;

use crate::Sim;
use crate::mp::{answer_ok, authorized, err};
use crate::shipping::str_of;

/// Subscribe messages (`/cgi-bin/message/subscribe/send`): sent only to a shopper who
/// accepted that template (one message per acceptance, as the device grants them:
/// [`crate::Sim::grant_subscription`]); 43101 otherwise, 40003 for no openid of this app,
/// 40037 for a template id that cannot be one, 47003 for data that breaks the rules (each key
/// `{"value": …}`, a `thing` at most 20 characters).
#[derive(Debug, Default)]
pub struct Subscriptions {
    /// (openid, template) → messages still allowed.
    pub grants: HashMap<(String, String), u32>,
    pub sent: Vec<Value>,
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
    for (k, v) in data {
        let Some(value) = v.get("value").and_then(Value::as_str) else {
            return err(47003, &format!("argument invalid! data.{k}.value invalid"));
        };
        if k.starts_with("thing") && value.chars().count() > 20 {
            return err(47003, &format!("argument invalid! data.{k}.value invalid"));
        }
    }
    let Ok(mut subs) = sim.subscriptions.lock() else {
        return err(-1, "system error");
    };
    let key = (touser.to_owned(), template.to_owned());
    match subs.grants.get_mut(&key) {
        Some(n) if *n > 0 => *n -= 1,
        _ => return err(43101, "user refuse to accept the msg"),
    }
    subs.sent.push(b);
    answer_ok()
}
