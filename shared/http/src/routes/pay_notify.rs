//! The `pay-notify` function: WeChat Pay's webhook for payment and refund results. WeChat
//! judges by the status alone: 204 once the result is durably recorded, 4xx/5xx otherwise
//! (it retries on its schedule). A notify that fails verification changes nothing.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::Service;
use crate::{Request, Response};
use app::AppError;
use app::{payments, refunds};
use wechat::pay::SignedHeaders;
use wechat::pay::notify::Event;

pub fn handler<'a>(app: &'a Service, req: &'a Request) -> BoxFuture<'a, Result<Response, AppError>> {
    handle(app, req).boxed()
}

fn fail(status: u16, message: &str) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: serde_json::json!({ "code": "FAIL", "message": message }).to_string().into_bytes(),
    }
}

async fn handle(app: &Service, req: &Request) -> Result<Response, AppError> {
    if !(req.method == "POST" && req.segments() == ["pay", "notify"]) {
        return Err(AppError::no_route(&req.method, &req.path));
    }
    let client = app.pay()?;
    let Ok(headers) = SignedHeaders::from_lookup(|n| req.header(n)) else {
        return Ok(fail(400, "missing Wechatpay signature headers"));
    };
    let verified = match client.open_notify(&headers, &req.body).await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "notify refused");
            return Ok(fail(401, "signature verification failed"));
        }
    };
    let result = match &verified.event {
        Event::Paid(tx) => payments::apply(app, tx, payments::PaymentSource::Notify).await.map(|_| ()),
        Event::Refund(n) => refunds::on_notify(app, n).await,
        Event::Other { event_type, .. } => {
            tracing::info!(event_type, "notify of a kind the shop does not act on");
            Ok(())
        }
    };
    match result {
        Ok(()) => Ok(Response { status: 204, headers: vec![], body: vec![] }),
        Err(e) => {
            tracing::error!(error = %e, id = %verified.id, "notify could not be recorded; WeChat will retry");
            Ok(fail(500, "temporarily unable to record the notify"))
        }
    }
}
