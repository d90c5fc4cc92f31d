//! Hosting as a plain HTTP server: Tencent SCF web functions (port 9000 from `scripts/scf/scf_bootstrap`),
//! WeChat Cloud Hosting (port 80) and the local all-in-one server.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;

use crate::Service;
use crate::request::{Handler, MAX_BODY, Request, Response, dispatch};
use app::AppError;

/// How long one request may take, WeChat calls included: within what a mini-program's
/// `wx.request` and WeChat Pay's notify wait for.
const REQUEST_BUDGET: std::time::Duration = std::time::Duration::from_secs(9);

/// Requests handled at once. The rest wait for a turn before their body is read, so a burst
/// costs little memory and bounds the store's connections; see [`WAITING`] and [`WAIT`].
pub const IN_FLIGHT: usize = 32;
/// Open connections: four for each request handled at once, so a freed turn always finds a
/// request already read. Further ones wait in the kernel's accept queue ([`BACKLOG`]),
/// costing this process nothing (256 cost 3-4 MB more at the peak of a stampede, for no
/// gain); a connection that moves no byte for [`IDLE`] is closed, so an idle keep-alive
/// connection (or a slow client) does not hold its place for long.
pub const CONNECTIONS: usize = 4 * IN_FLIGHT;
/// Connections the kernel holds, handshake done, until one of the [`CONNECTIONS`] places
/// frees. Linux caps it at `net.core.somaxconn` (4096 by default since 5.4). Tokio's default
/// of 128 was too few for a stampede: past it the kernel leaves handshakes unfinished, and a
/// phone whose handshake stays unfinished for about a minute (while the shop works through the
/// queue on a slow store) gets "connection reset by peer" for its request.
pub const BACKLOG: u32 = 4_096;
/// Longer than any request may take ([`REQUEST_BUDGET`]).
const IDLE: std::time::Duration = std::time::Duration::from_secs(30);
/// A request's line and headers arrive within this, or its connection is closed (hyper's
/// header read timeout): a client sending them a byte at a time holds no place for long.
pub const HEADER_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);
/// A request's body (at most [`MAX_BODY`]) arrives within this, before the request takes a
/// turn; a slower one is answered 408 `REQUEST_TIMEOUT` and never held a turn.
pub const BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);
/// WeChat Pay's notifies are handled apart, with turns of their own: a flood of other
/// requests never keeps a payment waiting, and no client's allowance applies to them (WeChat
/// Pay sends from a few addresses; each notify is verified by its signature).
pub const NOTIFY_IN_FLIGHT: usize = 8;
const NOTIFY_PATH: &str = "/pay/notify";
/// Clients remembered at most; past it those idle long enough to be full again are forgotten.
const CLIENTS: usize = 100_000;
/// Requests that may wait for a turn; beyond them the answer is 503 `OVERLOADED` at once.
pub const WAITING: usize = 4_096;
/// How long a request waits for its turn before 503 `OVERLOADED`: as long as one may run, so
/// a stampede is served in turn rather than refused (`wx.request` waits 60 s by default).
const WAIT: std::time::Duration = REQUEST_BUDGET;

struct Served {
    app: Service,
    handlers: Vec<Handler>,
    turns: tokio::sync::Semaphore,
    notify_turns: tokio::sync::Semaphore,
    waiting: std::sync::atomic::AtomicUsize,
    clients: std::sync::Mutex<Clients>,
}

/// Each client's token bucket: (tokens, when last filled).
#[derive(Default)]
struct Clients {
    buckets: std::collections::HashMap<String, (f64, std::time::Instant)>,
}

impl Clients {
    /// Takes one request from `who`'s allowance of `rate` a second (bursts of twice that);
    /// `false` when it is spent.
    fn take(&mut self, who: String, rate: f64, now: std::time::Instant) -> bool {
        let burst = 2.0 * rate;
        if self.buckets.len() >= CLIENTS {
            self.buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs_f64() < 2.0);
        }
        let (tokens, at) = self.buckets.entry(who).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *tokens < 1.0 {
            return false;
        }
        *tokens -= 1.0;
        true
    }
}

pub fn router(app: Service, handlers: Vec<Handler>) -> axum::Router {
    let served = Served {
        app,
        handlers,
        turns: tokio::sync::Semaphore::new(IN_FLIGHT),
        notify_turns: tokio::sync::Semaphore::new(NOTIFY_IN_FLIGHT),
        waiting: std::sync::atomic::AtomicUsize::new(0),
        clients: std::sync::Mutex::new(Clients::default()),
    };
    axum::Router::new().fallback(handle).with_state(Arc::new(served))
}

/// Who a request is from, for its allowance: the shopper's openid when WeChat Cloud Hosting
/// vouches for it or their session token verifies, else the address it came from (behind a
/// gateway on a private address, the address the gateway appended to `X-Forwarded-For`).
fn client_of(served: &Served, parts: &axum::http::request::Parts) -> String {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let edge = &served.app.edge;
    if edge.trust_wx_context
        && let Some(openid) = header("x-wx-openid")
    {
        return format!("openid:{openid}");
    }
    if let Some(token) = header("authorization").and_then(|a| a.strip_prefix("Bearer ")) {
        if let Ok(claims) = crate::session::verify(&edge.session_secret, token, domain::clock::now()) {
            return format!("openid:{}", claims.sub);
        }
        // An operator's token (checked by its route): the operator. Made-up tokens each get
        // an allowance of their own, and each answers 401.
        return format!("token:{}", domain::hex::hex(&<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes())[..8]));
    }
    let peer = parts.extensions.get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let behind_gateway = peer.is_some_and(|ip| match ip {
        std::net::IpAddr::V4(v4) => v4.is_private() || v4.is_loopback(),
        std::net::IpAddr::V6(v6) => v6.is_loopback(),
    });
    let forwarded = header("x-forwarded-for").and_then(|f| f.rsplit(',').next()).map(str::trim);
    match (behind_gateway, forwarded) {
        (true, Some(f)) if !f.is_empty() => format!("addr:{f}"),
        _ => format!("addr:{}", peer.map(|p| p.to_string()).unwrap_or_default()),
    }
}

fn overloaded() -> axum::response::Response {
    into_axum(Response::error(&AppError::new(app::Code::Overloaded, "the shop is very busy; please retry in a moment")))
}

async fn handle(State(served): State<Arc<Served>>, req: axum::extract::Request) -> axum::response::Response {
    use std::sync::atomic::Ordering;
    let (parts, body) = req.into_parts();
    let notify = parts.uri.path() == NOTIFY_PATH;
    if !notify {
        let who = client_of(&served, &parts);
        let rate = served.app.edge.client_rate;
        let allowed = served.clients.lock().map(|mut c| c.take(who, rate, std::time::Instant::now())).unwrap_or(true);
        if !allowed {
            return into_axum(Response::error(&AppError::new(
                app::Code::ClientRateLimited,
                "too many requests from you at once; please slow down",
            )));
        }
    }
    // The body is read before the request takes a turn, under its own deadline: a slow
    // client holds its connection, never one of the turns.
    let bytes = match tokio::time::timeout(BODY_DEADLINE, axum::body::to_bytes(body, MAX_BODY)).await {
        Err(_) => {
            return into_axum(Response::error(&AppError::new(
                app::Code::RequestTimeout,
                format!("the request's body did not arrive within {} s", BODY_DEADLINE.as_secs()),
            )));
        }
        Ok(Err(_)) => {
            return into_axum(Response::error(&AppError::new(
                app::Code::BodyTooLarge,
                format!("request bodies are limited to {MAX_BODY} bytes"),
            )));
        }
        Ok(Ok(b)) => b,
    };
    if served.waiting.fetch_add(1, Ordering::AcqRel) >= WAITING {
        served.waiting.fetch_sub(1, Ordering::AcqRel);
        return overloaded();
    }
    let turns = if notify { &served.notify_turns } else { &served.turns };
    let turn = tokio::time::timeout(WAIT, turns.acquire()).await;
    served.waiting.fetch_sub(1, Ordering::AcqRel);
    let Ok(Ok(_turn)) = turn else { return overloaded() };
    let mut r = Request::new(parts.method.as_str(), parts.uri.path());
    r.set_raw_query(parts.uri.query().unwrap_or(""));
    r.set_headers(parts.headers.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))));
    r.body = bytes.to_vec();
    let deadline = tokio::time::Instant::now() + REQUEST_BUDGET;
    let answer = wechat::deadline::bounded(deadline, dispatch(&served.app, &served.handlers, &r)).await;
    into_axum(answer.unwrap_or_else(crate::request::out_of_time))
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
pub async fn serve(app: Service, handlers: Vec<Handler>, addr: SocketAddr) -> std::io::Result<()> {
    let listener = listen(addr)?;
    tracing::info!(%addr, "listening");
    crate::worker::spawn(app.app.clone());
    if std::env::var("SCHEDULE_JOBS").as_deref() == Ok("1") {
        crate::timetable::spawn(app.app.clone());
    }
    let listener = Limited { listener, open: Arc::new(tokio::sync::Semaphore::new(CONNECTIONS)), idle: IDLE };
    serve_on(listener, router(app, handlers), shutdown()).await;
    Ok(())
}

/// Serves on a listener bound by the caller (the test suites), as [`serve`] does, until the
/// task is dropped.
pub async fn serve_listener(listener: tokio::net::TcpListener, app: Service, handlers: Vec<Handler>) {
    let listener = Limited { listener, open: Arc::new(tokio::sync::Semaphore::new(CONNECTIONS)), idle: IDLE };
    serve_on(listener, router(app, handlers), std::future::pending()).await;
}

/// Serves `router` on every connection `listener` accepts until `stop`, then lets the
/// requests under way finish (at most [`REQUEST_BUDGET`]). HTTP/1.1 connections must send a
/// request's head within [`HEADER_DEADLINE`].
async fn serve_on(mut listener: Limited, router: axum::Router, stop: impl std::future::Future<Output = ()>) {
    use axum::serve::Listener;
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_DEADLINE);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let app = router.clone().layer(axum::Extension(axum::extract::ConnectInfo(peer)));
        let service = hyper_util::service::TowerToHyperService::new(app);
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service).into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
    if tokio::time::timeout(REQUEST_BUDGET, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still under way at shutdown were cut");
    }
}

/// A listening socket with room for [`BACKLOG`] connections in the kernel's queue.
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    // As `TcpListener::bind` does: a restarted server rebinds its port at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// A listener that accepts only while fewer than [`CONNECTIONS`] are open.
struct Limited {
    listener: tokio::net::TcpListener,
    open: Arc<tokio::sync::Semaphore>,
    idle: std::time::Duration,
}

/// A connection holding its place among the open ones until it is dropped or idle too long.
struct Counted {
    io: tokio::net::TcpStream,
    idle: std::pin::Pin<Box<tokio::time::Sleep>>,
    limit: std::time::Duration,
    _place: tokio::sync::OwnedSemaphorePermit,
}

impl Counted {
    fn moved(&mut self) {
        let next = tokio::time::Instant::now() + self.limit;
        self.idle.as_mut().reset(next);
    }
}

impl axum::serve::Listener for Limited {
    type Io = Counted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Counted, SocketAddr) {
        // The semaphore is never closed, so acquiring only waits.
        let place = loop {
            if let Ok(p) = self.open.clone().acquire_owned().await {
                break p;
            }
        };
        loop {
            match self.listener.accept().await {
                Ok((io, addr)) => {
                    let _ = io.set_nodelay(true);
                    let idle = Box::pin(tokio::time::sleep(self.idle));
                    return (Counted { io, idle, limit: self.idle, _place: place }, addr);
                }
                // Out of descriptors or a connection reset before accept: wait a little.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        match std::pin::Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(r) => {
                self.moved();
                Poll::Ready(r)
            }
            Poll::Pending if self.idle.as_mut().poll(cx).is_ready() => {
                Poll::Ready(Err(std::io::ErrorKind::TimedOut.into()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.io).poll_write(cx, buf);
        if r.is_ready() {
            self.moved();
        }
        r
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if r.is_ready() {
            self.moved();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// A stampede's handshakes all complete while the server is busy: the kernel holds them
    /// until a place frees. With tokio's default backlog (128) the connections past it would
    /// not complete within the second (the kernel drops their handshakes and the phone
    /// retries), and on a slow store some were reset.
    #[tokio::test]
    async fn a_stampede_waits_in_the_kernel_queue_not_refused() {
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        // Nothing accepts: every connection must wait in the queue.
        let connects: Vec<_> = (0..400)
            .map(|_| {
                tokio::spawn(tokio::time::timeout(std::time::Duration::from_millis(900), TcpStream::connect(addr)))
            })
            .collect();
        let mut waiting = Vec::new();
        for c in connects {
            if let Ok(Ok(stream)) = c.await.unwrap() {
                waiting.push(stream);
            }
        }
        assert_eq!(waiting.len(), 400, "every handshake completed while nothing was accepted");
        drop(listener);
    }

    #[tokio::test]
    async fn connections_beyond_the_limit_wait_and_idle_ones_are_closed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limited = Limited {
            listener,
            open: Arc::new(tokio::sync::Semaphore::new(2)),
            idle: std::time::Duration::from_millis(400),
        };
        let router = axum::Router::new().fallback(|| async { "ok" });
        tokio::spawn(async move { axum::serve(limited, router).await });
        let mut idle_a = TcpStream::connect(addr).await.unwrap();
        let _idle_b = TcpStream::connect(addr).await.unwrap();
        let mut third = TcpStream::connect(addr).await.unwrap();
        third.write_all(b"GET / HTTP/1.1\r\nhost: shop\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 256];
        let early = tokio::time::timeout(std::time::Duration::from_millis(150), third.read(&mut buf)).await;
        assert!(early.is_err(), "the third waits while two connections hold the places");
        let n = tokio::time::timeout(std::time::Duration::from_secs(3), third.read(&mut buf)).await.unwrap().unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
        let closed = tokio::time::timeout(std::time::Duration::from_secs(3), idle_a.read(&mut buf)).await.unwrap();
        assert!(matches!(closed, Ok(0) | Err(_)), "an idle connection is closed");
    }
}
