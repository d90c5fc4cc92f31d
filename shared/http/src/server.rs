//! Hosting as a plain HTTP server: Tencent SCF web functions (port 9000 from `scf_bootstrap`),
//! WeChat Cloud Hosting (port 80) and the local all-in-one server.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;

use crate::request::{Handler, MAX_BODY, Request, Response, dispatch};
use app::App;
use app::AppError;

/// How long one request may take, WeChat calls included: within what a mini-program's
/// `wx.request` and WeChat Pay's notify wait for.
const REQUEST_BUDGET: std::time::Duration = std::time::Duration::from_secs(9);

struct Served {
    app: App,
    handlers: Vec<Handler>,
}

pub fn router(app: App, handlers: Vec<Handler>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(Arc::new(Served { app, handlers }))
}

async fn handle(State(served): State<Arc<Served>>, req: axum::extract::Request) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let resp = match axum::body::to_bytes(body, MAX_BODY).await {
        Err(_) => Response::error(&AppError::new(
            app::Code::BodyTooLarge,
            format!("request bodies are limited to {MAX_BODY} bytes"),
        )),
        Ok(bytes) => {
            let mut r = Request::new(parts.method.as_str(), parts.uri.path());
            r.set_raw_query(parts.uri.query().unwrap_or(""));
            r.headers = parts
                .headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned())))
                .collect();
            r.body = bytes.to_vec();
            let deadline = tokio::time::Instant::now() + REQUEST_BUDGET;
            wechat::deadline::within(deadline, dispatch(&served.app, &served.handlers, &r)).await
        }
    };
    into_axum(resp)
}

fn into_axum(resp: Response) -> axum::response::Response {
    let mut b = axum::response::Response::builder().status(resp.status);
    for (k, v) in &resp.headers {
        b = b.header(k, v);
    }
    b.body(Body::from(resp.body)).unwrap_or_else(|_| {
        let mut r = axum::response::Response::new(Body::from(crate::errors::body(&AppError::internal())));
        *r.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// Serves until the process is told to stop (Ctrl-C or SIGTERM), with the outbox worker
/// beside it.
pub async fn serve(app: App, handlers: Vec<Handler>, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "listening");
    crate::worker::spawn(app.clone());
    axum::serve(listener, router(app, handlers)).with_graceful_shutdown(shutdown()).await
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
