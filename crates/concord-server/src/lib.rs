//! `concord serve`: the HTTP service over a collection (axum on tokio).
//!
//! - `api_collection`: search, overlaps and live documents;
//! - `api_embed`: OpenAI and text-embeddings-inference embedding routes;
//! - `api_ops`: health, info, metrics and the OpenAPI document;
//! - `api_pages`: the browser page at `/`, its assets, and the clustering view;
//! - `queue`: the one inference worker and its bounded, batching queue;
//! - `state`: what handlers share; `error`: JSON errors; `metrics`: Prometheus;
//! - `guard`: the API key, body size and `Host` checks every route passes;
//! - `conn`: the accept loop (connection limit, timeouts, bounded shutdown).
//!
//! Compute never runs on the async runtime: the model runs on the inference thread,
//! and collection reads, writes and overlap judging on tokio's blocking pool.

mod api_collection;
mod api_embed;
mod api_ops;
mod api_pages;
mod conn;
mod error;
mod guard;
mod metrics;
mod state;

pub use api_ops::ApiDoc;
pub use state::Limits;

use anyhow::{Context, Result};
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;
use concord_embed::Embedder;
use concord_index::Collection;
use concord_infer::{Batcher, BatcherOptions};
use error::ApiError;
use guard::{check_host, check_key, refuse_oversized, Auth, Hosts};
use metrics::Metrics;
use state::{AppState, Live, ServedModel};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
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
        .layer(from_fn_with_state(auth, check_key))
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
        let batcher = Arc::new(Batcher::start(
            embedder.clone(),
            BatcherOptions {
                batch_tokens: opts.batch_tokens,
                max_queue_tokens: opts.max_queue_tokens,
                max_request_tokens: opts.max_request_tokens,
            },
            metrics.clone(),
        ));
        served.push(ServedModel {
            name,
            embedder,
            batcher,
            judge_refusal,
        });
    }
    if let Some(why) = &served[0].judge_refusal {
        tracing::warn!("overlap routes will answer 501: {why}");
    }
    let batchers: Vec<Arc<Batcher>> = served.iter().map(|m| m.batcher.clone()).collect();
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
    tokio::task::spawn_blocking(move || {
        for batcher in batchers {
            if !batcher.close() {
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
