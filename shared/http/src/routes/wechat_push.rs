//! The mini-program's message push URL (消息推送): WeChat checks the URL with a signed GET
//! (answered with its `echostr`) and POSTs events, signed, JSON, encrypted in safe mode. The
//! shop acts on `wxa_media_check` (the verdict of an image check it asked for); a push that
//! fails verification changes nothing. A verdict applies once, to the pending check it names,
//! so a repeat or a replay inside the timestamp window changes nothing either.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde::Deserialize;

use crate::Service;
use crate::{Request, Response};
use app::AppError;
use app::catalog::media;
use wechat::push::{PushError, Signed};

pub fn handler<'a>(app: &'a Service, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

fn text(status: u16, body: &str) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn refused(e: &PushError) -> Response {
    tracing::warn!(error = %e, "message push refused");
    let status = match e {
        PushError::BadBody => 400,
        _ => 401,
    };
    Response::json(status, &serde_json::json!({ "code": "FAIL", "message": e.to_string() }))
        .unwrap_or_else(|_| text(status, "FAIL"))
}

/// The part of a pushed event the shop reads.
#[derive(Deserialize)]
struct Pushed {
    #[serde(rename = "Event", default)]
    event: String,
    #[serde(default)]
    trace_id: String,
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    result: Option<wechat::mp::Verdict>,
}

async fn handle(app: &Service, req: &Request) -> Result<Response, AppError> {
    if req.segments() != ["wechat", "push"] || !(req.method == "GET" || req.method == "POST") {
        return Err(AppError::no_route(&req.method, &req.path));
    }
    let Some(settings) = app.edge.push.as_ref() else {
        return Err(AppError::unavailable("message push is not configured (WECHAT_PUSH_TOKEN)"));
    };
    let q = |k: &str| req.query(k).unwrap_or("");
    let signed = Signed {
        signature: q("signature"),
        timestamp: q("timestamp"),
        nonce: q("nonce"),
        msg_signature: req.query("msg_signature"),
    };
    let now = domain::clock::wall();
    if req.method == "GET" {
        // The URL check: answer the echostr, exactly, once the signature holds.
        return Ok(match settings.verify(&signed, now) {
            Ok(()) => text(200, q("echostr")),
            Err(e) => refused(&e),
        });
    }
    let message = match settings.open(&signed, &req.body, now) {
        Ok(m) => m,
        Err(e) => return Ok(refused(&e)),
    };
    let Ok(pushed) = serde_json::from_value::<Pushed>(message) else {
        return Ok(refused(&PushError::BadBody));
    };
    match (pushed.event.as_str(), pushed.result) {
        ("wxa_media_check", Some(verdict)) if pushed.errcode == 0 && !pushed.trace_id.is_empty() => {
            if let Err(e) = media::on_verdict(app, &pushed.trace_id, &verdict).await {
                tracing::error!(error = %e, "a media verdict could not be recorded; WeChat will push it again");
                return Ok(text(500, "retry"));
            }
        }
        ("wxa_media_check", _) => {
            // WeChat could not finish the check (errcode set): the image stays pending and
            // blocks publishing until an operator replaces it.
            tracing::warn!(errcode = pushed.errcode, "WeChat could not check an image");
        }
        (other, _) => tracing::info!(event = other, "a pushed event the shop does not act on"),
    }
    // WeChat reads "success" (or an empty body) as received.
    Ok(text(200, "success"))
}
