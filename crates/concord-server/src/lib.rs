//! `concord serve`: the HTTP service over a collection (axum on tokio).
//!
//! - `api_collection`: search, overlaps and live documents;
//! - `api_embed`: OpenAI and text-embeddings-inference embedding routes;
//! - `api_ops`: health, info, metrics and the OpenAPI document;
//! - `api_pages`: the browser page at `/`, its assets, and the clustering view;
//! - `queue`: the one inference worker and its bounded, batching queue;
//! - `state`: what handlers share; `error`: JSON errors; `metrics`: Prometheus.
//!
//! Compute never runs on the async runtime: the model runs on the inference thread,
//! and collection reads, writes and overlap judging on tokio's blocking pool.

mod api_collection;
mod api_embed;
mod api_ops;
mod api_pages;
mod error;
mod metrics;
mod queue;
mod state;

pub use api_ops::ApiDoc;
pub use state::Limits;

use anyhow::{Context, Result};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, Method};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use concord_embed::Embedder;
use concord_index::Collection;
use error::ApiError;
use metrics::Metrics;
use queue::Queue;
use state::{AppState, Live, ServedModel};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;

/// Which requests need the API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protect {
    /// Changes to the collection (`POST /documents`, `DELETE /documents/{id}`).
    Writes,
    /// Every route but `/health`.
    All,
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub limits: Limits,
    /// Tokens the inference queue holds (every unfinished job) before refusing with 429.
    pub max_queue_tokens: usize,
    /// Tokens one request may ask the model to run; 413 above.
    pub max_request_tokens: usize,
    /// Overlap queries admitted at once (running or waiting for a thread); 429 above.
    pub max_overlap_queries: usize,
    /// Token budget of one inference batch.
    pub batch_tokens: usize,
    /// Bearer token; `None` leaves every route open.
    pub api_key: Option<String>,
    pub protect: Protect,
    /// Logged changes that trigger a commit.
    pub commit_after: usize,
    /// How often pending changes are committed.
    pub commit_interval: Duration,
    /// The compute device's name for `/info`.
    pub device: String,
    /// Host names (the `Host` header without its port) answered besides the loopback
    /// names; `*` allows any. `None`: on a loopback bind only loopback names
    /// (`localhost`, `127.x.x.x`, `[::1]`), on any other bind every name.
    pub allowed_hosts: Option<Vec<String>>,
    /// Longest a client may take to send a request's line and headers (slowloris).
    pub header_timeout: Duration,
    /// Longest a client may take to send a whole request body; then 408 and close.
    pub body_timeout: Duration,
    /// Longest a keep-alive connection may sit with no request before it is closed.
    pub idle_timeout: Duration,
    /// Most connections open at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// Longest open connections get to finish at shutdown before they are closed
    /// (the final commit happens either way).
    pub shutdown_timeout: Duration,
    /// Latin names of Chinese proper nouns for the overlap engine's lexical features
    /// (`None`: names are not bridged).
    pub names: Option<Arc<concord_text::names::NameBridge>>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            max_queue_tokens: 262_144,
            max_request_tokens: 65_536,
            max_overlap_queries: 32,
            batch_tokens: concord_embed::DEFAULT_BATCH_TOKENS,
            api_key: None,
            protect: Protect::Writes,
            commit_after: 256,
            commit_interval: Duration::from_secs(30),
            device: "cpu".into(),
            allowed_hosts: None,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            shutdown_timeout: Duration::from_secs(20),
            names: None,
        }
    }
}

struct Auth {
    key: Option<Vec<u8>>,
    protect: Protect,
}

async fn guard(State(auth): State<Arc<Auth>>, req: Request, next: Next) -> Response {
    let Some(key) = &auth.key else {
        return next.run(req).await;
    };
    let path = req.uri().path();
    let needed = match auth.protect {
        // The page and its assets hold no data; the page asks for the key itself.
        Protect::All => path != "/health" && path != "/" && !path.starts_with("/assets/"),
        Protect::Writes => {
            path.starts_with("/documents") && !matches!(*req.method(), Method::GET | Method::HEAD)
        }
    };
    if !needed {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    match given {
        None => ApiError::unauthorized("this route needs an API key: Authorization: Bearer KEY")
            .into_response(),
        Some(t) if bool::from(t.as_bytes().ct_eq(key)) => next.run(req).await,
        Some(_) => ApiError::unauthorized("wrong API key").into_response(),
    }
}

/// The token of an `Authorization: Bearer TOKEN` value; the scheme is case-insensitive
/// (RFC 7235), so `bearer` and `BEARER` are the same.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start())
}

/// Refuses a body whose declared length is over the limit before reading any of it
/// (bodies without a length are cut off at the limit while being read).
async fn refuse_oversized(State(limit): State<usize>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => {
            ApiError::too_large(format!("the request body has {n} bytes; at most {limit}"))
                .into_response()
        }
        _ => next.run(req).await,
    }
}

/// Which `Host` values are answered: the guard against DNS rebinding, where a page on
/// another origin points its own name at 127.0.0.1 and talks to the service with the
/// browser's help. Such requests carry the attacker's name in `Host`.
#[derive(Debug)]
struct Hosts {
    /// Normalised names from `--allowed-hosts`; a leading `.` also allows subdomains.
    allowed: Option<Vec<String>>,
    /// Whether the listener is on a loopback address.
    loopback_bind: bool,
}

impl Hosts {
    fn new(allowed: Option<&[String]>, loopback_bind: bool) -> Self {
        let allowed = allowed.map(|names| {
            names
                .iter()
                .map(|n| match n.trim().strip_prefix('.') {
                    Some(domain) => format!(".{}", host_name(domain)),
                    None => host_name(n),
                })
                .filter(|n| !n.is_empty() && n != ".")
                .collect()
        });
        Self {
            allowed,
            loopback_bind,
        }
    }

    fn permits(&self, name: &str) -> bool {
        if is_loopback_name(name) {
            return true;
        }
        match &self.allowed {
            Some(names) => names.iter().any(|a| {
                a == "*"
                    || a == name
                    || a.strip_prefix('.').is_some_and(|domain| {
                        name == domain
                            || name
                                .strip_suffix(domain)
                                .is_some_and(|sub| sub.ends_with('.'))
                    })
            }),
            None => !self.loopback_bind,
        }
    }
}

/// The host of a `Host` value or authority: without its port and trailing dot,
/// lowercased; an IPv6 literal keeps its brackets (`[::1]`).
fn host_name(host: &str) -> String {
    let h = host.trim();
    let name = match h.strip_prefix('[') {
        Some(rest) => rest.find(']').map_or(h, |end| &h[..end + 2]),
        None => match h.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => h,
        },
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `localhost` (and `*.localhost`, which browsers resolve to loopback themselves),
/// `127.0.0.0/8` and `[::1]`.
fn is_loopback_name(name: &str) -> bool {
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    if let Ok(ip) = name.parse::<std::net::Ipv4Addr>() {
        return ip.is_loopback();
    }
    name.strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .and_then(|n| n.parse::<std::net::Ipv6Addr>().ok())
        .is_some_and(|ip| {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        })
}

/// Answers `421 Misdirected Request` to a request whose `Host` header (or absolute
/// request target) names a host this server does not answer for. A request without
/// either (HTTP/1.0) is answered: browsers always send `Host`.
async fn check_host(State(hosts): State<Arc<Hosts>>, req: Request, next: Next) -> Response {
    let header_host = match req.headers().get(header::HOST).map(|v| v.to_str()) {
        Some(Ok(h)) => Some(h),
        Some(Err(_)) => {
            return ApiError::host_not_allowed("the Host header is not readable text")
                .into_response()
        }
        None => None,
    };
    let uri_host = req.uri().authority().map(|a| a.as_str());
    for host in header_host.into_iter().chain(uri_host) {
        let name = host_name(host);
        if !hosts.permits(&name) {
            return ApiError::host_not_allowed(format!(
                "this server does not answer for host {name:?} \
                 (a name it should answer to is allowed with concord serve --allowed-hosts)"
            ))
            .into_response();
        }
    }
    next.run(req).await
}

async fn no_route(req: Request) -> ApiError {
    ApiError::not_found(format!("no route {} {}", req.method(), req.uri().path()))
}

async fn wrong_method(req: Request) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

fn router(state: Arc<AppState>, auth: Arc<Auth>, hosts: Arc<Hosts>) -> Router {
    use api_collection as c;
    let metrics = state.metrics.clone();
    let body_limit = state.limits.max_body_bytes;
    Router::new()
        .route("/search", post(c::search))
        .route("/overlaps", post(c::overlaps))
        .route("/documents", post(c::put_document).get(c::list_documents))
        .route(
            "/documents/{id}",
            get(c::get_document).delete(c::delete_document),
        )
        .route("/v1/embeddings", post(api_embed::openai_embeddings))
        .route("/embed", post(api_embed::tei_embed))
        .route("/similarity", post(api_embed::tei_similarity))
        .route("/tokenize", post(api_embed::tei_tokenize))
        .route("/decode", post(api_embed::tei_decode))
        .route("/clusters", get(api_pages::clusters))
        .route("/", get(api_pages::index).post(api_embed::tei_compat))
        .route("/assets/{name}", get(api_pages::asset))
        .route("/health", get(api_ops::health))
        .route("/info", get(api_ops::info))
        .route("/metrics", get(api_ops::metrics))
        .route("/openapi.json", get(api_ops::openapi))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        // Layers run outermost (last) first: count, check the host, check the key,
        // refuse oversized bodies, and make every error answer JSON.
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(error::json_errors))
        .layer(from_fn_with_state(body_limit, refuse_oversized))
        .layer(from_fn_with_state(auth, guard))
        .layer(from_fn_with_state(hosts, check_host))
        .layer(from_fn_with_state(metrics, metrics::track))
        .with_state(state)
}

/// Serves `collection` on `listener` until `shutdown` resolves; then stops accepting,
/// lets open connections finish for up to `shutdown_timeout` (closing the rest),
/// drains the inference queues and commits the collection. `models` are the named
/// embedders to run, each with its own queue and worker; the first is the
/// collection's (its stamp was checked by the caller).
pub async fn serve(
    listener: TcpListener,
    models: Vec<(String, Embedder)>,
    mut collection: Collection,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    anyhow::ensure!(!models.is_empty(), "no model to serve");
    for (i, (name, _)) in models.iter().enumerate() {
        anyhow::ensure!(
            models[..i].iter().all(|(n, _)| n != name),
            "two models are named {name:?}"
        );
    }
    let loopback_bind = listener
        .local_addr()
        .context("reading the listening address")?
        .ip()
        .is_loopback();
    let hosts = Arc::new(Hosts::new(opts.allowed_hosts.as_deref(), loopback_bind));
    collection.lock_for_writes()?;
    let metrics = Arc::new(Metrics::new());
    let mut served = Vec::new();
    let mut workers = Vec::new();
    for (name, embedder) in models {
        let embedder = Arc::new(embedder);
        let probe = embedder.clone();
        let judge_refusal = tokio::task::spawn_blocking(move || {
            concord_overlap::PairJudge::shipped()
                .check_model(&probe)
                .err()
                .map(|e| format!("{e:#}"))
        })
        .await
        .context("checking the model against the pair judge")?;
        let queue = Arc::new(Queue::new(
            opts.max_queue_tokens,
            opts.max_request_tokens,
            embedder.window(),
            metrics.clone(),
        ));
        workers.push(queue::spawn_worker(
            queue.clone(),
            embedder.clone(),
            opts.batch_tokens,
        ));
        served.push(ServedModel {
            name,
            embedder,
            queue,
            judge_refusal,
        });
    }
    if let Some(why) = &served[0].judge_refusal {
        tracing::warn!("overlap routes will answer 501: {why}");
    }
    let queues: Vec<Arc<Queue>> = served.iter().map(|m| m.queue.clone()).collect();
    let live = Arc::new(
        tokio::task::spawn_blocking({
            let names = opts.names.clone();
            move || Live::new(collection, names)
        })
        .await
        .context("deriving neighbourhoods")?,
    );
    let state = Arc::new(AppState {
        models: served,
        live: live.clone(),
        metrics,
        limits: opts.limits.clone(),
        device: opts.device.clone(),
        batch_tokens: opts.batch_tokens,
        max_queue_tokens: opts.max_queue_tokens,
        max_request_tokens: opts.max_request_tokens,
        overlap_slots: Arc::new(tokio::sync::Semaphore::new(opts.max_overlap_queries.max(1))),
        commit_after: opts.commit_after.max(1),
        clusters: Default::default(),
    });
    let auth = Arc::new(Auth {
        key: opts.api_key.as_ref().map(|k| k.as_bytes().to_vec()),
        protect: opts.protect,
    });
    let committer = tokio::spawn(commit_periodically(live.clone(), opts.commit_interval));

    let limits = conn::ConnLimits {
        header: opts.header_timeout.max(Duration::from_millis(100)),
        body: opts.body_timeout.max(Duration::from_millis(100)),
        idle: opts.idle_timeout.max(Duration::from_millis(100)),
        max_connections: opts.max_connections.max(1),
        shutdown: opts.shutdown_timeout,
    };
    conn::accept_loop(listener, router(state, auth, hosts), limits, shutdown).await;

    tracing::info!("shutting down: draining the inference queues and committing");
    committer.abort();
    queues.iter().for_each(|q| q.close());
    tokio::task::spawn_blocking(move || {
        for worker in workers {
            if worker.join().is_err() {
                tracing::error!("an inference worker panicked");
            }
        }
        live.write().commit()
    })
    .await
    .context("final commit")??;
    Ok(())
}

async fn commit_periodically(live: Arc<Live>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        let live = live.clone();
        let done = tokio::task::spawn_blocking(move || {
            let mut c = live.write();
            if c.is_dirty() {
                c.commit()
            } else {
                Ok(())
            }
        })
        .await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("periodic commit failed (changes stay in the log): {e:#}"),
            Err(e) => tracing::error!("periodic commit panicked: {e}"),
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// The accept loop: hyper's HTTP/1 connections with a connection limit, header, body
/// and idle timeouts that axum::serve does not offer, and a bounded graceful shutdown.
mod conn {
    use super::error::ApiError;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_port_case_and_trailing_dot() {
        assert_eq!(host_name("LocalHost:8080"), "localhost");
        assert_eq!(host_name("localhost."), "localhost");
        assert_eq!(host_name("[::1]:80"), "[::1]");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_name("a.example:x"), "a.example:x");
    }

    #[test]
    fn a_loopback_bind_answers_loopback_names_only() {
        let h = Hosts::new(None, true);
        for ok in [
            "localhost",
            "app.localhost",
            "127.0.0.1",
            "127.9.8.7",
            "[::1]",
        ] {
            assert!(h.permits(ok), "{ok}");
        }
        for bad in [
            "attacker.example",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
            "10.0.0.1",
            "[::2]",
            "",
        ] {
            assert!(!h.permits(bad), "{bad}");
        }
        assert!(Hosts::new(None, false).permits("attacker.example"));
    }

    #[test]
    fn allowed_hosts_add_names_domains_or_everything() {
        let names = ["Search.Example:8080".to_string(), ".corp.example".into()];
        let h = Hosts::new(Some(&names), false);
        assert!(h.permits("search.example"));
        assert!(h.permits("corp.example") && h.permits("a.b.corp.example"));
        assert!(!h.permits("evilcorp.example") && !h.permits("other.example"));
        assert!(h.permits("localhost") && h.permits("127.0.0.1"));
        assert!(Hosts::new(Some(&["*".to_string()]), true).permits("anything.example"));
    }
}
