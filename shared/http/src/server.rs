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
/// Requests that may wait for a turn; beyond them the answer is 503 `OVERLOADED` at once.
pub const WAITING: usize = 4_096;
/// How long a request waits for its turn before 503 `OVERLOADED`: as long as one may run, so
/// a stampede is served in turn rather than refused (`wx.request` waits 60 s by default).
const WAIT: std::time::Duration = REQUEST_BUDGET;

struct Served {
    app: Service,
    handlers: Vec<Handler>,
    turns: tokio::sync::Semaphore,
    waiting: std::sync::atomic::AtomicUsize,
}

pub fn router(app: Service, handlers: Vec<Handler>) -> axum::Router {
    let served = Served {
        app,
        handlers,
        turns: tokio::sync::Semaphore::new(IN_FLIGHT),
        waiting: std::sync::atomic::AtomicUsize::new(0),
    };
    axum::Router::new().fallback(handle).with_state(Arc::new(served))
}

fn overloaded() -> axum::response::Response {
    into_axum(Response::error(&AppError::new(app::Code::Overloaded, "the shop is very busy; please retry in a moment")))
}

async fn handle(State(served): State<Arc<Served>>, req: axum::extract::Request) -> axum::response::Response {
    use std::sync::atomic::Ordering;
    if served.waiting.fetch_add(1, Ordering::AcqRel) >= WAITING {
        served.waiting.fetch_sub(1, Ordering::AcqRel);
        return overloaded();
    }
    let turn = tokio::time::timeout(WAIT, served.turns.acquire()).await;
    served.waiting.fetch_sub(1, Ordering::AcqRel);
    let Ok(Ok(_turn)) = turn else { return overloaded() };
    let (parts, body) = req.into_parts();
    let resp = match axum::body::to_bytes(body, MAX_BODY).await {
        Err(_) => Response::error(&AppError::new(
            app::Code::BodyTooLarge,
            format!("request bodies are limited to {MAX_BODY} bytes"),
        )),
        Ok(bytes) => {
            let mut r = Request::new(parts.method.as_str(), parts.uri.path());
            r.set_raw_query(parts.uri.query().unwrap_or(""));
            r.set_headers(parts.headers.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))));
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
pub async fn serve(app: Service, handlers: Vec<Handler>, addr: SocketAddr) -> std::io::Result<()> {
    let listener = listen(addr)?;
    tracing::info!(%addr, "listening");
    crate::worker::spawn(app.app.clone());
    if std::env::var("SCHEDULE_JOBS").as_deref() == Ok("1") {
        crate::timetable::spawn(app.app.clone());
    }
    let listener = Limited { listener, open: Arc::new(tokio::sync::Semaphore::new(CONNECTIONS)), idle: IDLE };
    axum::serve(listener, router(app, handlers)).with_graceful_shutdown(shutdown()).await
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
