//! The platform-neutral request and response every handler sees, and the dispatch that turns
//! a handler's error into the JSON error body. `lambda` and `server` adapt Lambda events and
//! HTTP servers to these types; nothing else knows how the code is hosted.

use std::collections::HashMap;

use futures_util::future::BoxFuture;
use serde::{Serialize, de::DeserializeOwned};

use app::AppError;

use crate::Service;

/// Largest request body accepted (WeChat Cloud Hosting allows 100 KiB of text).
pub const MAX_BODY: usize = 64 * 1024;

/// The body of an API Gateway event (Lambda's or SCF's): base64 when the event says so,
/// at most [`MAX_BODY`] bytes.
pub fn gateway_body(body: Option<String>, base64: bool) -> Result<Vec<u8>, AppError> {
    use base64::Engine;
    let bytes = match body {
        None => Vec::new(),
        Some(b) if base64 => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|_| AppError::bad_request("body is not valid base64"))?,
        Some(b) => b.into_bytes(),
    };
    if bytes.len() > MAX_BODY {
        return Err(AppError::new(app::Code::BodyTooLarge, format!("request bodies are limited to {MAX_BODY} bytes")));
    }
    Ok(bytes)
}

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    /// Names of headers that came more than once ([`Request::set_headers`]).
    pub repeated: Vec<String>,
    pub body: Vec<u8>,
    /// The operator this request was authenticated as ([`crate::auth::operator`]).
    pub operator: std::sync::OnceLock<domain::operator::Caller>,
    /// The audit entry recording this operator write's attempt, written before anything
    /// changed ([`crate::auth::operator`]); [`dispatch`] appends its outcome.
    pub attempt: std::sync::OnceLock<u64>,
}

impl Request {
    pub fn new(method: &str, path: &str) -> Self {
        Self { method: method.to_ascii_uppercase(), path: path.to_owned(), ..Self::default() }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// Sets the headers from `(name, value)` pairs as they came: a name that comes more than
    /// once keeps its values joined by `, ` (as API Gateway passes them) and is noted.
    pub fn set_headers<'a>(&mut self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) {
        for (name, value) in pairs {
            let name = name.to_ascii_lowercase();
            match self.headers.get_mut(&name) {
                Some(v) => {
                    v.push_str(", ");
                    v.push_str(value);
                    self.repeated.push(name);
                }
                None => {
                    self.headers.insert(name, value.to_owned());
                }
            }
        }
    }

    /// Whether the header `name` came more than once.
    pub fn repeated(&self, name: &str) -> bool {
        self.repeated.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn segments(&self) -> Vec<&str> {
        self.path.split('/').filter(|s| !s.is_empty()).collect()
    }

    /// The body as `T`, with serde's message (which names the field and position) on failure.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, AppError> {
        if self.body.is_empty() {
            return Err(AppError::bad_request("a JSON body is required"));
        }
        serde_json::from_slice(&self.body).map_err(|e| AppError::bad_request(format!("invalid JSON body: {e}")))
    }

    pub fn set_raw_query(&mut self, raw: &str) {
        self.query = parse_query(raw);
    }
}

/// Longest path segment: every id the shop issues or accepts (order numbers, refund numbers,
/// catalog ids, dates) fits in 64 characters.
pub const MAX_SEGMENT: usize = 64;

/// A path segment that can be an id: 1 to 64 letters, digits or `-_.|*@`.
pub fn plain_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SEGMENT
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'|' | b'*' | b'@'))
}

/// An id from a path, typed; one that cannot be valid names nothing: 404 for `what`.
pub fn path_id<T: TryFrom<String>>(segment: &str, what: &str) -> Result<T, AppError> {
    T::try_from(segment.to_owned()).map_err(|_| AppError::not_found(what))
}

pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes()).into_owned().collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json<T: Serialize>(status: u16, value: &T) -> Result<Response, AppError> {
        let body = serde_json::to_vec(value).map_err(|e| {
            tracing::error!(error = %e, "response did not serialise");
            AppError::internal()
        })?;
        Ok(Response { status, headers: vec![("content-type".into(), "application/json".into())], body })
    }

    pub fn ok<T: Serialize>(value: &T) -> Result<Response, AppError> {
        Self::json(200, value)
    }

    pub fn error(e: &AppError) -> Response {
        Response {
            status: crate::errors::status(e.code),
            headers: vec![("content-type".into(), "application/json".into())],
            body: crate::errors::body(e),
        }
    }
}

/// The answer to a request whose time ran out before its work was done: stopped where it
/// was (each step is one conditional write or transaction, so a retry finishes it).
pub fn out_of_time() -> Response {
    tracing::warn!("a request ran out of time and was stopped");
    Response::error(&AppError::unavailable("the request ran out of time; please retry"))
}

/// A function's entry: answers the routes it owns and `NO_ROUTE` for the rest, so that one
/// local server can ask several in turn.
pub type Handler = for<'a> fn(&'a Service, &'a Request) -> BoxFuture<'a, Result<Response, AppError>>;

/// Answers `req` with the first of `handlers` that owns its route, within one span that every
/// log line of the request carries (method and path, never a query or a body).
pub async fn dispatch(svc: &Service, handlers: &[Handler], req: &Request) -> Response {
    use tracing::Instrument;
    // The path may carry ids but never a secret; query strings and bodies are not logged,
    // and an openid in a path (an operator reading a member) is logged shortened.
    let plain = req.segments().iter().all(|s| plain_segment(s));
    let path = if plain { logged_path(req) } else { "<not a path of this shop>".to_owned() };
    let span = tracing::info_span!("request", method = %req.method, path);
    answer(svc, handlers, req, plain).instrument(span).await
}

/// The path as logs show it: each segment that is an openid shortened to its last characters.
fn logged_path(req: &Request) -> String {
    let shown: Vec<String> = req
        .segments()
        .iter()
        .map(|s| match domain::ids::OpenId::parse(s) {
            Ok(openid) if s.len() >= 20 && s.starts_with('o') => domain::user::mask_openid(&openid),
            _ => (*s).to_owned(),
        })
        .collect();
    format!("/{}", shown.join("/"))
}

async fn answer(svc: &Service, handlers: &[Handler], req: &Request, plain: bool) -> Response {
    let started = std::time::Instant::now();
    // Every id a path carries is short and plain; anything else names nothing, and is
    // answered here the same whichever store is behind (no oversized key reaches one).
    let mut result = if plain {
        Err(AppError::no_route(&req.method, &req.path))
    } else if req.method == "PUT" {
        // PUT names what it creates: a name that cannot be one is bad input.
        Err(AppError::field("path", "ids are 1 to 64 letters, digits or -_.|*@"))
    } else {
        Err(AppError::not_found("resource"))
    };
    for h in handlers.iter().take(if plain { handlers.len() } else { 0 }) {
        result = h(svc, req).await;
        if !matches!(&result, Err(e) if e.is(app::Code::NoRoute)) {
            break;
        }
    }
    let resp = result.unwrap_or_else(|e| Response::error(&e));
    audit_write(svc, req, &resp).await;
    tracing::info!(status = resp.status, ms = started.elapsed().as_millis() as u64, "request");
    resp
}

/// The outcome of an operator write whose attempt is on the audit trail: its status, whether
/// it succeeded or was refused. Its attempt was recorded before anything changed, so an outcome
/// that cannot be appended (logged here) leaves an attempt without outcome, which
/// `GET /admin/audit/verify` lists; refunds and accounts also write their decision, with
/// before and after, in the transaction that makes it.
async fn audit_write(svc: &Service, req: &Request, resp: &Response) {
    let (Some(by), Some(attempt)) = (req.operator.get(), req.attempt.get()) else { return };
    let after = serde_json::json!({ "phase": "outcome", "attempt": attempt, "status": resp.status });
    let action = format!("{} {}", req.method, req.path);
    if let Err(e) = app::audit::append(svc, by, &action, &req.path, Some(after)).await {
        // The request's span names the path.
        tracing::error!(error = %e, attempt, "audit outcome not written");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = parse_query("keyword=%E8%8B%B9%E6%9E%9C&limit=5&x&bad=%zz&tail=%4");
        assert_eq!(q[0], ("keyword".into(), "苹果".into()));
        assert_eq!(q[1], ("limit".into(), "5".into()));
        assert_eq!(q[2], ("x".into(), "".into()));
        assert_eq!(q[3], ("bad".into(), "%zz".into()));
        assert_eq!(q[4], ("tail".into(), "%4".into()));
    }
}
