//! Stand-ins for the platforms' runtime APIs, so the real function binaries run in the tests
//! as Lambda and Tencent SCF run them: started with the platform's environment, they ask the
//! API for the next event and post the answer back.
//!
//! - Lambda's Runtime API (version 2018-06-01): `GET /2018-06-01/runtime/invocation/next`
//!   answers an event with the `Lambda-Runtime-*` headers; the function posts to
//!   `/runtime/invocation/{request id}/response` or `/error`, or `/runtime/init/error`.
//! - SCF's custom runtime API: `POST /runtime/init/ready` first (an event is refused before),
//!   then `GET /runtime/invocation/next` with `request_id`, `memory_limit_in_mb` and
//!   `time_limit_in_ms` headers, and `POST /runtime/invocation/response` or `/error` for the
//!   invocation under way.
//!
//! Each refuses what its platform refuses: an answer for an unknown or already answered
//! request, an answer with no invocation under way.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{Mutex, mpsc, oneshot};

/// How one invocation ended, as the function reported it.
#[derive(Debug)]
pub enum Outcome {
    Answer(Value),
    Error(String),
}

impl Outcome {
    pub fn answer(self) -> Value {
        match self {
            Outcome::Answer(v) => v,
            Outcome::Error(e) => panic!("the invocation failed: {e}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Lambda,
    Scf,
}

type Pending = (Value, oneshot::Sender<Outcome>);

struct Inner {
    platform: Platform,
    queue: Mutex<mpsc::UnboundedReceiver<Pending>>,
    waiting: std::sync::Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    /// SCF: the invocation under way (its answers carry no id).
    current: std::sync::Mutex<Option<String>>,
    ready: std::sync::atomic::AtomicBool,
    init_error: std::sync::Mutex<Option<String>>,
    served: std::sync::atomic::AtomicU64,
    /// When the function first asked for an event (its start is done).
    first_next: std::sync::OnceLock<std::time::Instant>,
    /// The next N `/next` calls answer 500, as an API in trouble does (no event, no id).
    fail_next: std::sync::atomic::AtomicU32,
    /// The next N answers posted are lost (500, nothing recorded).
    lose_answers: std::sync::atomic::AtomicU32,
}

/// Takes one from a fault counter; whether it fired.
fn fault(n: &std::sync::atomic::AtomicU32) -> bool {
    n.fetch_update(std::sync::atomic::Ordering::SeqCst, std::sync::atomic::Ordering::SeqCst, |v| v.checked_sub(1))
        .is_ok()
}

/// A runtime API on a local port.
pub struct RuntimeApi {
    pub addr: std::net::SocketAddr,
    send: mpsc::UnboundedSender<Pending>,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    pub async fn start(platform: Platform) -> RuntimeApi {
        let (send, recv) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            platform,
            queue: Mutex::new(recv),
            waiting: Default::default(),
            current: Default::default(),
            ready: Default::default(),
            init_error: Default::default(),
            served: Default::default(),
            first_next: Default::default(),
            fail_next: Default::default(),
            lose_answers: Default::default(),
        });
        let router = match platform {
            Platform::Lambda => Router::new()
                .route("/2018-06-01/runtime/invocation/next", get(next))
                .route("/2018-06-01/runtime/invocation/{id}/response", post(lambda_response))
                .route("/2018-06-01/runtime/invocation/{id}/error", post(lambda_error))
                .route("/2018-06-01/runtime/init/error", post(init_error)),
            Platform::Scf => Router::new()
                .route("/runtime/init/ready", post(scf_ready))
                .route("/runtime/invocation/next", get(next))
                .route("/runtime/invocation/response", post(scf_response))
                .route("/runtime/invocation/error", post(scf_error)),
        }
        .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        RuntimeApi { addr, send, inner, server }
    }

    /// Sends `event` to the function and waits for its answer (at most `within`).
    pub async fn invoke(&self, event: Value, within: Duration) -> Outcome {
        let (tx, rx) = oneshot::channel();
        self.send.send((event, tx)).expect("the runtime API runs");
        match tokio::time::timeout(within, rx).await {
            Ok(Ok(o)) => o,
            Ok(Err(_)) => panic!("the runtime API dropped the invocation"),
            Err(_) => panic!(
                "no answer within {within:?} (init error: {:?})",
                self.inner.init_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
            ),
        }
    }

    /// Whether the function said it was ready (SCF) or asked for an event (both).
    pub fn ready(&self) -> bool {
        self.inner.ready.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn init_error(&self) -> Option<String> {
        self.inner.init_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The environment the platform gives the function process.
    pub fn env(&self, function: &str) -> Vec<(String, String)> {
        let host = self.addr.to_string();
        let pairs: Vec<(&str, String)> = match self.inner.platform {
            Platform::Lambda => vec![
                ("AWS_LAMBDA_RUNTIME_API", host),
                ("AWS_LAMBDA_FUNCTION_NAME", function.into()),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
                ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function}")),
                ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/01/[$LATEST]0123456789abcdef".into()),
            ],
            Platform::Scf => vec![
                ("SCF_RUNTIME_API", self.addr.ip().to_string()),
                ("SCF_RUNTIME_API_PORT", self.addr.port().to_string()),
                ("SCF_FUNCTIONNAME", function.into()),
                ("SCF_FUNCTIONVERSION", "$LATEST".into()),
                ("TENCENTCLOUD_REGION", "ap-guangzhou".into()),
            ],
        };
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// When the function first asked for an event.
    pub fn first_next(&self) -> Option<std::time::Instant> {
        self.inner.first_next.get().copied()
    }

    /// The next `n` calls to `/next` answer 500.
    pub fn fail_next(&self, n: u32) {
        self.inner.fail_next.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// The next `n` answers the function posts are lost with a 500.
    pub fn lose_answers(&self, n: u32) {
        self.inner.lose_answers.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn served(&self) -> u64 {
        self.inner.served.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn refuse(status: StatusCode, kind: &str, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({"errorType": kind, "errorMessage": message}))).into_response()
}

async fn next(State(s): State<Arc<Inner>>) -> Response {
    if s.platform == Platform::Scf && !s.ready.load(std::sync::atomic::Ordering::SeqCst) {
        return refuse(StatusCode::FORBIDDEN, "InitNotReady", "report /runtime/init/ready first");
    }
    s.ready.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = s.first_next.set(std::time::Instant::now());
    if fault(&s.fail_next) {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "ServiceException", "the runtime API is in trouble");
    }
    // Long poll: one event at a time, as the platform hands them out.
    let Some((event, tx)) = s.queue.lock().await.recv().await else {
        return refuse(StatusCode::GONE, "Shutdown", "no more events");
    };
    let n = s.served.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    let id = format!("8476a536-e9f4-11e8-9739-{n:012x}");
    s.waiting.lock().unwrap_or_else(|e| e.into_inner()).insert(id.clone(), tx);
    let mut headers = HeaderMap::new();
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let mut put = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(k, v);
        }
    };
    match s.platform {
        Platform::Lambda => {
            put("lambda-runtime-aws-request-id", id);
            put("lambda-runtime-deadline-ms", (now_ms + 30_000).to_string());
            put("lambda-runtime-invoked-function-arn", "arn:aws:lambda:ap-east-1:123456789012:function:shop".into());
            put(
                "lambda-runtime-trace-id",
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".into(),
            );
        }
        Platform::Scf => {
            *s.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(id.clone());
            put("request_id", id);
            put("memory_limit_in_mb", "128".into());
            put("time_limit_in_ms", "30000".into());
        }
    }
    (StatusCode::OK, headers, axum::Json(event)).into_response()
}

fn finish(s: &Inner, id: &str, outcome: Outcome) -> Response {
    match s.waiting.lock().unwrap_or_else(|e| e.into_inner()).remove(id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            StatusCode::ACCEPTED.into_response()
        }
        None => refuse(StatusCode::BAD_REQUEST, "InvalidRequestID", "no invocation under way with this id"),
    }
}

/// The function's answer, which the platform takes only as JSON.
fn json_answer(s: &Inner, id: &str, body: &Bytes) -> Response {
    match serde_json::from_slice(body) {
        Ok(v) => finish(s, id, Outcome::Answer(v)),
        Err(_) => refuse(StatusCode::BAD_REQUEST, "InvalidResponse", "the answer is not JSON"),
    }
}

async fn lambda_response(State(s): State<Arc<Inner>>, Path(id): Path<String>, body: Bytes) -> Response {
    if fault(&s.lose_answers) {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "ServiceException", "the answer was lost");
    }
    json_answer(&s, &id, &body)
}

async fn lambda_error(State(s): State<Arc<Inner>>, Path(id): Path<String>, body: Bytes) -> Response {
    finish(&s, &id, Outcome::Error(String::from_utf8_lossy(&body).into_owned()))
}

async fn init_error(State(s): State<Arc<Inner>>, body: Bytes) -> Response {
    *s.init_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(String::from_utf8_lossy(&body).into_owned());
    StatusCode::ACCEPTED.into_response()
}

async fn scf_ready(State(s): State<Arc<Inner>>) -> Response {
    s.ready.store(true, std::sync::atomic::Ordering::SeqCst);
    StatusCode::OK.into_response()
}

fn scf_current(s: &Inner) -> Option<String> {
    s.current.lock().unwrap_or_else(|e| e.into_inner()).take()
}

async fn scf_response(State(s): State<Arc<Inner>>, body: Bytes) -> Response {
    if fault(&s.lose_answers) {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "ServiceException", "the answer was lost");
    }
    let Some(id) = scf_current(&s) else {
        return refuse(StatusCode::BAD_REQUEST, "NoInvocation", "no invocation under way");
    };
    json_answer(&s, &id, &body)
}

async fn scf_error(State(s): State<Arc<Inner>>, body: Bytes) -> Response {
    let Some(id) = scf_current(&s) else {
        return refuse(StatusCode::BAD_REQUEST, "NoInvocation", "no invocation under way");
    };
    finish(&s, &id, Outcome::Error(String::from_utf8_lossy(&body).into_owned()))
}

/// A function binary of this workspace, built beside the test binaries (`scripts/test.sh`
/// builds them first with `cargo build --workspace --bins`).
pub fn function_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe.parent().and_then(|d| d.parent()).expect("target/<profile>");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A function process, killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `program` with exactly `env` (and `PATH`), as a platform starts a function.
pub fn spawn(program: &std::path::Path, env: &[(String, String)]) -> Process {
    let mut cmd = Command::new(program);
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let quiet = std::env::var_os("FUNCTION_LOGS").is_none();
    cmd.stdout(if quiet { Stdio::null() } else { Stdio::inherit() });
    cmd.stderr(if quiet { Stdio::null() } else { Stdio::inherit() });
    Process(cmd.spawn().unwrap_or_else(|e| panic!("{} starts: {e}", program.display())))
}

/// An API Gateway HTTP API (payload 2.0) event, as Lambda receives it.
pub fn apigw_v2_event(method: &str, path: &str, query: &str, headers: &[(&str, &str)], body: Option<&str>) -> Value {
    let mut h = serde_json::Map::new();
    h.insert("accept".into(), "application/json".into());
    h.insert("host".into(), "abc123.execute-api.ap-east-1.amazonaws.com".into());
    for (k, v) in headers {
        h.insert((*k).to_owned(), (*v).into());
    }
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": h,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.ap-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "test"},
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Dec/2026:08:00:00 +0000",
            "timeEpoch": 1796112000000_i64
        },
        "body": body,
        "isBase64Encoded": false
    })
}
