//! Hosting on AWS Lambda behind an API Gateway HTTP API (payload v2).

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderName, HeaderValue};
use base64::Engine;
use lambda_runtime::{LambdaEvent, service_fn};

use crate::Service;
use crate::request::{Handler, Request, Response, dispatch, gateway_body};
use app::AppError;

pub fn from_event(ev: ApiGatewayV2httpRequest) -> Result<Request, AppError> {
    let method = ev.request_context.http.method.as_str().to_owned();
    let path = ev.raw_path.or(ev.request_context.http.path).unwrap_or_else(|| "/".into());
    let mut r = Request::new(&method, &path);
    r.set_raw_query(ev.raw_query_string.as_deref().unwrap_or(""));
    r.headers = ev
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned())))
        .collect();
    r.body = gateway_body(ev.body, ev.is_base64_encoded)?;
    Ok(r)
}

pub fn to_event(resp: Response) -> ApiGatewayV2httpResponse {
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = i64::from(resp.status);
    for (k, v) in resp.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            out.headers.insert(k, v);
        }
    }
    out.body = match String::from_utf8(resp.body) {
        Ok(s) if s.is_empty() => None,
        Ok(s) => Some(Body::Text(s)),
        Err(e) => {
            out.is_base64_encoded = true;
            Some(Body::Text(base64::engine::general_purpose::STANDARD.encode(e.into_bytes())))
        }
    };
    out
}

pub async fn run(app: &Service, handlers: &[Handler]) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<ApiGatewayV2httpRequest>| async move {
        let deadline = deadline_of(&ev.context);
        let resp = match from_event(ev.payload) {
            Ok(req) => wechat::deadline::bounded(deadline, dispatch(app, handlers, &req))
                .await
                .unwrap_or_else(crate::request::out_of_time),
            Err(e) => Response::error(&e),
        };
        Ok::<_, lambda_runtime::Error>(to_event(resp))
    }))
    .await
}

/// When an invocation must have answered: Lambda's deadline, less a margin to write the
/// answer and the logs.
pub fn deadline_of(ctx: &lambda_runtime::Context) -> tokio::time::Instant {
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let left = std::time::Duration::from_millis(ctx.deadline.saturating_sub(now_ms));
    tokio::time::Instant::now() + left.saturating_sub(DEADLINE_MARGIN)
}

/// Kept back from Lambda's deadline for answering.
const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_millis(500);
