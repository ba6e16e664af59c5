//! The accept loop: hyper's HTTP/1 connections with a connection limit, header, body
//! and idle timeouts that axum::serve does not offer, and a bounded graceful shutdown.

use crate::error::ApiError;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{BoxError, Router};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

/// How long clients may take, and how many may be connected at once.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub header: Duration,
    pub body: Duration,
    pub idle: Duration,
    pub max_connections: usize,
    pub shutdown: Duration,
}

const NONE: u64 = u64::MAX;

/// What one connection's watchdog looks at, in milliseconds since `origin`.
struct Activity {
    origin: Instant,
    /// Requests handed to the router whose response is not yet produced.
    busy: AtomicUsize,
    /// When the connection last had nothing to do (or last wrote).
    idle_since: AtomicU64,
    /// When the first byte of a request head not yet complete arrived (or the
    /// connection opened); `NONE` between requests.
    head_since: AtomicU64,
}

impl Activity {
    fn now(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }
}

/// Marks a request done (also when its future is dropped).
struct Done(Arc<Activity>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.idle_since.store(self.0.now(), SeqCst);
        self.0.busy.fetch_sub(1, SeqCst);
    }
}

/// The socket, noting when bytes of a new request head start to arrive and when
/// the last answer bytes went out.
struct Watched {
    io: TcpStream,
    act: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        let act = &self.act;
        if buf.filled().len() > before
            && act.busy.load(SeqCst) == 0
            && act.head_since.load(SeqCst) == NONE
        {
            act.head_since.store(act.now(), SeqCst);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.act.idle_since.store(self.act.now(), SeqCst);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.act.idle_since.store(self.act.now(), SeqCst);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A request body that fails once `deadline` passes before it has all arrived.
struct TimeoutBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timed_out: Arc<AtomicBool>,
}

impl hyper::body::Body for TimeoutBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.timed_out.store(true, SeqCst);
            return Poll::Ready(Some(Err("the request body took too long".into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Resolves when the connection has stalled in a request head past the header
/// timeout, or sat idle past the idle timeout.
async fn watchdog(act: Arc<Activity>, limits: ConnLimits) -> &'static str {
    let header = limits.header.as_millis() as u64;
    let idle = limits.idle.as_millis() as u64;
    let tick = (limits.header.min(limits.idle) / 8)
        .clamp(Duration::from_millis(20), Duration::from_millis(500));
    loop {
        tokio::time::sleep(tick).await;
        let now = act.now();
        let head = act.head_since.load(SeqCst);
        if head != NONE {
            if now.saturating_sub(head) >= header {
                return "header timeout";
            }
        } else if act.busy.load(SeqCst) == 0
            && now.saturating_sub(act.idle_since.load(SeqCst)) >= idle
        {
            return "idle timeout";
        }
    }
}

async fn serve_one(
    sock: TcpStream,
    app: Router,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let _ = sock.set_nodelay(true);
    let act = Arc::new(Activity {
        origin: Instant::now(),
        busy: AtomicUsize::new(0),
        idle_since: AtomicU64::new(0),
        // A new connection owes its first request head at once: one that sends
        // nothing is closed after the header timeout, not the idle timeout.
        head_since: AtomicU64::new(0),
    });
    let io = TokioIo::new(Watched {
        io: sock,
        act: act.clone(),
    });
    let service_act = act.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let act = service_act.clone();
        let mut app = app.clone();
        async move {
            act.head_since.store(NONE, SeqCst);
            act.busy.fetch_add(1, SeqCst);
            let _done = Done(act);
            let timed_out = Arc::new(AtomicBool::new(false));
            let req = req.map(|body| {
                Body::new(TimeoutBody {
                    inner: Body::new(body),
                    deadline: Box::pin(tokio::time::sleep(limits.body)),
                    timed_out: timed_out.clone(),
                })
            });
            let mut response = match tower_service::Service::call(&mut app, req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            if timed_out.load(SeqCst) {
                response = ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    format!(
                        "the request body did not arrive within {} s",
                        limits.body.as_secs_f64()
                    ),
                )
                .into_response();
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<Response, Infallible>(response)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let dog = watchdog(act, limits);
    tokio::pin!(dog);
    let mut draining = false;
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!("connection ended: {e}");
                }
                return;
            }
            why = &mut dog => {
                tracing::debug!("closing a connection: {why}");
                return;
            }
            _ = stop.wait_for(|stop| *stop), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Accepts connections until `shutdown` resolves, at most `max_connections` at a
/// time (further clients wait in the listen backlog); then stops accepting, lets
/// open connections finish for up to the shutdown timeout and closes the rest.
pub async fn accept_loop(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let sock = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((sock, _)) => sock,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        while conns.try_join_next().is_some() {}
        conns.spawn(serve_one(
            sock,
            app.clone(),
            limits,
            stop_rx.clone(),
            permit,
        ));
    }
    drop(listener);
    stop_tx.send_replace(true);
    let open = conns.len();
    let drained = tokio::time::timeout(limits.shutdown, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "{} of {open} connections still open after {} s; closing them",
            conns.len(),
            limits.shutdown.as_secs_f64()
        );
        conns.shutdown().await;
    }
}
