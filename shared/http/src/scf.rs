//! Hosting on Tencent SCF as an event function (custom runtime). SCF starts `bootstrap`,
//! which execs the function binary with `SCF_RUNTIME_API` and `SCF_RUNTIME_API_PORT` set; the
//! binary reports ready at `/runtime/init/ready`, then long-polls `/runtime/invocation/next`
//! for one event at a time and posts the answer to `/runtime/invocation/response` (or what
//! went wrong to `/runtime/invocation/error`, which SCF counts as a failed invocation and a
//! timer retries).
//!
//! Events: an API Gateway trigger (`httpMethod`, `path`, `queryString`, `headers`, `body`) is
//! one HTTP request to the function's routes, answered in the integration-response shape
//! (`statusCode`, `headers`, `body`, `isBase64Encoded`); a timer trigger (`"Type": "Timer"`)
//! runs a scheduled function's job.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::Service;
use crate::request::{Handler, Request, Response, dispatch, gateway_body};
use app::AppError;

/// Set by SCF for a custom runtime (host, then port in `SCF_RUNTIME_API_PORT`).
pub const RUNTIME_API: &str = "SCF_RUNTIME_API";

/// When SCF gives no time limit (`time_limit_in_ms`), its default function timeout.
const DEFAULT_LIMIT: Duration = Duration::from_secs(3);
/// Kept back from SCF's limit for answering.
const MARGIN: Duration = Duration::from_millis(300);

/// What an event function does with one event: `Err` reports a failed invocation.
pub enum Events<'a> {
    /// An HTTP function: API Gateway events only.
    Http(&'a [Handler]),
    /// A scheduled function: timer events run the job; API Gateway events reach its
    /// operator routes.
    Job(crate::routes::jobs::Job),
}

/// Serves events until the runtime API goes away (SCF then stops the instance).
pub async fn run(app: &Service, events: Events<'_>) -> Result<(), String> {
    let host = std::env::var(RUNTIME_API).map_err(|_| format!("{RUNTIME_API} is not set"))?;
    let port = std::env::var("SCF_RUNTIME_API_PORT").unwrap_or_else(|_| "9001".into());
    let base = format!("http://{host}:{port}/runtime");
    let http = reqwest::Client::builder().no_proxy().build().map_err(|e| e.to_string())?;
    with_retries("ready", || http.post(format!("{base}/init/ready")).body(" ").send()).await?;
    loop {
        let next = with_retries("next invocation", || http.get(format!("{base}/invocation/next")).send()).await?;
        let limit = next
            .headers()
            .get("time_limit_in_ms")
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_LIMIT);
        let deadline = tokio::time::Instant::now() + limit.saturating_sub(MARGIN);
        let body = next.bytes().await.map_err(|e| format!("invocation body: {e}"))?;
        let outcome = match serde_json::from_slice::<Value>(&body) {
            Ok(event) => wechat::deadline::bounded(deadline, invoke(app, &events, event))
                .await
                .unwrap_or_else(|| Err("the invocation ran out of time".to_owned())),
            Err(_) => Err("the event is not JSON".to_owned()),
        };
        let (path, body) = match outcome {
            Ok(v) => ("response", serde_json::to_vec(&v).unwrap_or_default()),
            Err(e) => {
                tracing::error!(error = %e, "SCF invocation failed");
                ("error", e.into_bytes())
            }
        };
        with_retries(path, || http.post(format!("{base}/invocation/{path}")).body(body.clone()).send()).await?;
    }
}

/// Calls to the runtime API tried this many times in all.
pub const RUNTIME_API_ATTEMPTS: u32 = 4;

/// One call to the runtime API, tried again with backoff (100, 200, 400 ms) when it did not
/// get through or the API answered a server error: a blip of SCF's local API does not end the
/// function nor lose an answer. A refusal (4xx) is final.
pub async fn with_retries<F, Fut>(what: &str, call: F) -> Result<reqwest::Response, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = reqwest::Result<reqwest::Response>>,
{
    let mut wait = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        let failure = match call().await {
            Ok(r) if r.status().is_success() => return Ok(r),
            Ok(r) if r.status().is_client_error() => {
                return Err(format!("the runtime API refused the {what}: {}", r.status()));
            }
            Ok(r) => format!("the runtime API answered {} to the {what}", r.status()),
            Err(e) => format!("the {what} did not get through: {}", e.without_url()),
        };
        if attempt >= RUNTIME_API_ATTEMPTS {
            return Err(failure);
        }
        tracing::warn!(attempt, error = %failure, "runtime API call failed; trying again");
        tokio::time::sleep(wait).await;
        wait *= 2;
        attempt += 1;
    }
}

/// One event: its answer, or why the invocation failed.
pub async fn invoke(app: &Service, events: &Events<'_>, event: Value) -> Result<Value, String> {
    let is_http = event.get("httpMethod").is_some() && event.get("path").is_some();
    match events {
        Events::Http(handlers) if is_http => Ok(http_event(app, handlers, event).await),
        Events::Job(_) if is_http => Ok(http_event(app, &[crate::routes::jobs::handler], event).await),
        Events::Job(job) if is_timer(&event) => crate::run::job_invocation(app, *job, message_of(event)).await,
        Events::Job(_) => Err("a scheduled function takes timer or API Gateway events".into()),
        Events::Http(_) => Err("an HTTP function takes API Gateway events".into()),
    }
}

fn is_timer(event: &Value) -> bool {
    event.get("Type").and_then(Value::as_str) == Some("Timer")
}

/// A timer's `Message` is what the job is given when it holds a JSON object (e.g.
/// `{"day": "2026-11-24"}` for reconciliation); otherwise the job runs with nothing named.
fn message_of(event: Value) -> Value {
    match event.get("Message").and_then(Value::as_str).map(serde_json::from_str::<Value>) {
        Some(Ok(v)) if v.is_object() => v,
        _ => json!({}),
    }
}

/// API Gateway's trigger event (integration request), the fields the routes read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GatewayEvent {
    http_method: String,
    path: String,
    #[serde(default)]
    query_string: HashMap<String, QueryValue>,
    #[serde(default)]
    headers: HashMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: bool,
}

/// A query parameter given once is a string; given more than once, a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum QueryValue {
    One(String),
    Many(Vec<String>),
}

async fn http_event(app: &Service, handlers: &[Handler], event: Value) -> Value {
    let resp = match serde_json::from_value::<GatewayEvent>(event) {
        Ok(ev) => match request_of(ev) {
            Ok(req) => dispatch(app, handlers, &req).await,
            Err(e) => Response::error(&e),
        },
        Err(_) => Response::error(&AppError::bad_request("not an API Gateway event")),
    };
    answer_of(resp)
}

fn request_of(ev: GatewayEvent) -> Result<Request, AppError> {
    let mut r = Request::new(&ev.http_method.to_ascii_uppercase(), &ev.path);
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &ev.query_string {
        match v {
            QueryValue::One(v) => {
                query.append_pair(k, v);
            }
            QueryValue::Many(vs) => {
                for v in vs {
                    query.append_pair(k, v);
                }
            }
        }
    }
    r.set_raw_query(&query.finish());
    r.headers = ev.headers.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
    r.body = gateway_body(ev.body, ev.is_base64_encoded)?;
    Ok(r)
}

/// The integration-response shape API Gateway turns back into HTTP.
fn answer_of(resp: Response) -> Value {
    let headers: Map<String, Value> = resp.headers.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let (body, base64) = match String::from_utf8(resp.body) {
        Ok(s) => (s, false),
        Err(e) => (base64::engine::general_purpose::STANDARD.encode(e.into_bytes()), true),
    };
    json!({ "isBase64Encoded": base64, "statusCode": resp.status, "headers": headers, "body": body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_events_become_requests() {
        let ev: GatewayEvent = serde_json::from_value(json!({
            "requestContext": {"serviceId": "service-1", "path": "/products", "httpMethod": "GET", "stage": "release"},
            "httpMethod": "get",
            "path": "/products",
            "queryString": {"q": "茶", "tag": ["a", "b"]},
            "headers": {"Authorization": "Bearer x"},
            "body": "eyJhIjoxfQ==",
            "isBase64Encoded": true
        }))
        .unwrap();
        let r = request_of(ev).unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/products");
        let mut q = r.query.clone();
        q.sort();
        assert_eq!(q, vec![("q".into(), "茶".into()), ("tag".into(), "a".into()), ("tag".into(), "b".into())]);
        assert_eq!(r.headers.get("authorization").map(String::as_str), Some("Bearer x"));
        assert_eq!(r.body, br#"{"a":1}"#);
    }

    #[test]
    fn bad_base64_is_a_bad_request() {
        let ev: GatewayEvent = serde_json::from_value(
            json!({"httpMethod": "POST", "path": "/orders", "body": "%%%", "isBase64Encoded": true}),
        )
        .unwrap();
        assert_eq!(request_of(ev).unwrap_err().code, app::Code::InvalidInput);
    }

    #[test]
    fn timer_messages_name_what_the_job_does() {
        let day = json!({"Type": "Timer", "TriggerName": "daily", "Time": "2026-12-01T01:00:00Z", "Message": "{\"day\":\"2026-11-30\"}"});
        assert!(is_timer(&day));
        assert_eq!(message_of(day), json!({"day": "2026-11-30"}));
        let plain =
            json!({"Type": "Timer", "TriggerName": "every-5-min", "Time": "2026-12-01T01:00:00Z", "Message": "hello"});
        assert_eq!(message_of(plain), json!({}));
    }

    #[test]
    fn binary_answers_are_base64() {
        let v = answer_of(Response {
            status: 200,
            headers: vec![("content-type".into(), "image/png".into())],
            body: vec![0xff, 0],
        });
        assert_eq!(v["isBase64Encoded"], true);
        assert_eq!(v["body"], "/wA=");
        assert_eq!(v["headers"]["content-type"], "image/png");
    }
}
