//! How a function binary starts: settings from the environment, logging, the store, then
//! Lambda when `AWS_LAMBDA_RUNTIME_API` is set, a Tencent SCF event function when
//! `SCF_RUNTIME_API` is, else an HTTP server on `0.0.0.0:$PORT` (SCF web functions, WeChat
//! Cloud Hosting, local runs).

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use crate::config::Settings;
pub use crate::config::Uses;
use crate::{Handler, Service, lambda, scf, server};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Libraries whose wire logs print whole requests and answers (items with phone numbers,
/// headers with credentials): kept at `warn` whatever `RUST_LOG` asks.
const WIRE_LOGGERS: &[&str] = &[
    "aws_config",
    "aws_runtime",
    "aws_sdk_dynamodb",
    "aws_sdk_secretsmanager",
    "aws_sigv4",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_types",
    "h2",
    "hyper",
    "hyper_util",
    "reqwest",
    "rustls",
    "tower",
    "tower_http",
    "lambda_runtime",
    "lambda_runtime_api_client",
];

/// The log filter for `spec` (a `RUST_LOG` value: `level` and `target=level` directives):
/// what it asks for, except the wire logs of the HTTP and AWS clients, which never go below
/// `warn`, even when named. (`Targets`, not `EnvFilter`: no regex engine in every binary.)
pub fn log_filter(spec: &str) -> Targets {
    let is_wire = |target: &str| WIRE_LOGGERS.iter().any(|w| target == *w || target.starts_with(&format!("{w}::")));
    let kept: Vec<&str> = spec
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .filter(|d| d.split_once('=').is_none_or(|(target, _)| !is_wire(target)))
        .collect();
    let default = || Targets::new().with_default(LevelFilter::INFO);
    let mut filter = if kept.is_empty() { default() } else { kept.join(",").parse().unwrap_or_else(|_| default()) };
    for target in WIRE_LOGGERS {
        filter = filter.with_target(*target, LevelFilter::WARN);
    }
    filter
}

pub fn init_tracing() {
    // A panic is logged as an error line like any other (JSON in the cloud), not printed raw.
    std::panic::set_hook(Box::new(|info| tracing::error!(panic = %info, "panic")));
    let filter = log_filter(&std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()));
    let registry = tracing_subscriber::registry().with(filter);
    // JSON in the cloud, where logs are parsed; readable lines on a terminal.
    let _ = if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
        || std::env::var_os(crate::scf::RUNTIME_API).is_some()
        || std::env::var("LOG_FORMAT").as_deref() == Ok("json")
    {
        registry.with(fmt::layer().json().with_writer(std::io::stderr)).try_init()
    } else {
        registry.with(fmt::layer().with_writer(std::io::stderr)).try_init()
    };
}

/// Loads settings (and the secrets `SECRETS` names) and the store, and builds the service; on
/// a configuration error prints the missing names and gives the exit code to stop with.
pub async fn service_from_env(uses: Uses) -> Result<Service, ExitCode> {
    let settings = match Settings::from_env_and_secrets(uses).await {
        Ok(s) => s,
        Err(e) => return Err(start_failed(&e.to_string(), 2).await),
    };
    match settings.open_service().await {
        Ok(s) => Ok(s),
        Err(e) => Err(start_failed(&e, 3).await),
    }
}

/// A start that cannot go on: the message on stderr, and on Lambda posted to the runtime
/// API's `/runtime/init/error` as AWS asks (so the platform records why the function could not
/// start); then the exit code.
async fn start_failed(message: &str, code: u8) -> ExitCode {
    eprintln!("{message}");
    if let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") {
        let body = serde_json::json!({ "errorMessage": message, "errorType": "Runtime.InvalidConfiguration", "stackTrace": [] });
        let http = reqwest::Client::new();
        let url = format!("http://{api}/2018-06-01/runtime/init/error");
        let post = || {
            http.post(&url)
                .header("Lambda-Runtime-Function-Error-Type", "Runtime.InvalidConfiguration")
                .json(&body)
                .send()
        };
        if let Err(e) = scf::with_retries("init error", post).await {
            eprintln!("{e}");
        }
    }
    ExitCode::from(code)
}

/// Runs the Lambda runtime loop of `lambda_runtime`, again when it stops on a failure of the
/// runtime API (a `/next` it could not read, an answer it could not post), a bounded number
/// of times in a row with backoff; lambda_runtime 1.5 panics on a `/next` answer without a
/// request id (a 500), which is caught here and counted the same. Past the bound the process
/// exits 1 and Lambda starts a fresh one.
async fn lambda_loop<F, Fut>(start: F) -> ExitCode
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), lambda_runtime::Error>>,
{
    use futures_util::FutureExt;
    let mut failures = 0;
    let mut wait = std::time::Duration::from_millis(100);
    loop {
        let began = std::time::Instant::now();
        let why = match std::panic::AssertUnwindSafe(start()).catch_unwind().await {
            Ok(Ok(())) => return ExitCode::SUCCESS,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "the runtime API's answer could not be read".to_owned(),
        };
        if began.elapsed() > std::time::Duration::from_secs(60) {
            // It ran a while: this is a new failure, not the same one again.
            failures = 0;
            wait = std::time::Duration::from_millis(100);
        }
        failures += 1;
        if failures >= scf::RUNTIME_API_ATTEMPTS {
            tracing::error!(error = %why, failures, "lambda runtime stopped");
            return ExitCode::FAILURE;
        }
        tracing::warn!(error = %why, failures, "lambda runtime loop stopped; starting it again");
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
}

/// The whole `main` of an HTTP function binary `name`: serves `f`'s handlers, with the
/// settings `f` says it uses.
pub async fn run_function(name: &str, f: &crate::routes::Function) -> ExitCode {
    if let Err(code) = named(name, f) {
        return code;
    }
    run(f.handlers, f.uses).await
}

/// A binary must run the function it is named after (the deployments name binaries).
fn named(name: &str, f: &crate::routes::Function) -> Result<(), ExitCode> {
    if name == f.name {
        return Ok(());
    }
    eprintln!("the {name} binary was given the {} function", f.name);
    Err(ExitCode::from(2))
}

/// The whole `main` of a function binary.
pub async fn run(handlers: &[Handler], uses: Uses) -> ExitCode {
    init_tracing();
    let app = match service_from_env(uses).await {
        Ok(a) => a,
        Err(code) => return code,
    };
    serve(app, handlers.to_vec()).await
}

pub async fn serve(app: Service, handlers: Vec<Handler>) -> ExitCode {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        let (app, handlers) = (&app, &handlers);
        return lambda_loop(|| lambda::run(app, handlers)).await;
    }
    if std::env::var_os(scf::RUNTIME_API).is_some() {
        return stopped(scf::run(&app, scf::Events::Http(&handlers)).await);
    }
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, app.edge.port));
    match server::serve(app, handlers, addr).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cannot serve on {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The whole `main` of a scheduled function: on Lambda each EventBridge event (or stream
/// batch) runs the job once; an error that may pass fails the invocation, so it is visible
/// and retried, and one that will not (bad input) is logged and answered. Elsewhere the job
/// is served over HTTP for a timer or an operator to trigger.
pub async fn run_job(name: &str, f: &crate::routes::Function, job: crate::routes::jobs::Job) -> ExitCode {
    if let Err(code) = named(name, f) {
        return code;
    }
    init_tracing();
    let app = match service_from_env(f.uses).await {
        Ok(a) => a,
        Err(code) => return code,
    };
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        let app = &app;
        return lambda_loop(|| {
            lambda_runtime::run(lambda_runtime::service_fn(
                move |ev: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
                    let deadline = lambda::deadline_of(&ev.context);
                    wechat::deadline::bounded(deadline, job_invocation(app, job, ev.payload))
                        .await
                        .unwrap_or_else(|| Err("the run ran out of time; the next one goes on".to_owned()))
                        .map_err(lambda_runtime::Error::from)
                },
            ))
        })
        .await;
    }
    if std::env::var_os(scf::RUNTIME_API).is_some() {
        return stopped(scf::run(&app, scf::Events::Job(job)).await);
    }
    serve(app, vec![crate::routes::jobs::handler]).await
}

/// The exit of an event loop that only ends when its runtime API goes away.
fn stopped(end: Result<(), String>) -> ExitCode {
    match end {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "SCF runtime stopped");
            ExitCode::FAILURE
        }
    }
}

/// One Lambda invocation of a scheduled function: an API Gateway (payload v2) event is one of
/// its operator routes; anything else (a schedule, a stream batch, `{"day": …}`) runs the
/// job. `Err` fails the invocation so Lambda or the stream tries again: only for a cause that
/// may pass; a job that refuses its input answers with the error instead.
pub async fn job_invocation(
    app: &Service,
    job: crate::routes::jobs::Job,
    payload: serde_json::Value,
) -> Result<serde_json::Value, String> {
    if payload.get("requestContext").is_some() && payload.get("rawPath").is_some() {
        return Ok(http_event(app, payload).await);
    }
    match job(app, &payload).await {
        Ok(v) => Ok(v),
        Err(e) if e.retryable() => Err(e.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "job refused its input; not retried");
            Ok(serde_json::json!({ "error": { "code": e.code.as_str(), "message": e.message } }))
        }
    }
}

/// Answers an API Gateway (payload v2) event with the jobs' routes.
async fn http_event(app: &Service, payload: serde_json::Value) -> serde_json::Value {
    let resp = match serde_json::from_value(payload) {
        Ok(ev) => match lambda::from_event(ev) {
            Ok(req) => crate::request::dispatch(app, &[crate::routes::jobs::handler], &req).await,
            Err(e) => crate::Response::error(&e),
        },
        Err(_) => crate::Response::error(&app::AppError::bad_request("not an API Gateway event")),
    };
    serde_json::to_value(lambda::to_event(resp)).unwrap_or(serde_json::Value::Null)
}
