//! Prometheus metrics (`GET /metrics`): requests and latencies by route, the inference
//! queue's depth and refusals, batch sizes, queue waits and tokens embedded.
//!
//! Every label set is bounded by the server itself, never by what a client sends: the
//! method is one of the standard ones or `other`, the route is a route pattern of the
//! router or `other`, and the status is one the server answers.

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// A standard method or `other`.
    pub method: &'static str,
    /// A route pattern (`/documents/{id}`) or `other` for paths no route matched.
    pub route: String,
    pub status: u16,
}

/// The label for a request's method: made-up methods (any token is a valid method in
/// HTTP/1.1) would otherwise make one time series each.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RouteLabels, Counter>,
    pub request_seconds: LatencyFamily,
    /// Tokens of the jobs not finished yet, queued or being run.
    pub queue_tokens: Gauge,
    /// Windows in the round being embedded (0 when the worker is idle).
    pub inference_windows: Gauge,
    pub queue_refused: Counter,
    pub jobs_cancelled: Counter,
    pub queue_wait_seconds: Histogram,
    pub inference_seconds: Histogram,
    pub batch_windows: Histogram,
    pub batch_tokens: Histogram,
    pub tokens_embedded: Counter,
    pub texts_embedded: Counter,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("concord");
        let requests = Family::<RouteLabels, Counter>::default();
        let request_seconds = LatencyFamily::new_with_constructor(latency_histogram);
        let queue_tokens = Gauge::default();
        let inference_windows = Gauge::default();
        let queue_refused = Counter::default();
        let jobs_cancelled = Counter::default();
        let queue_wait_seconds = latency_histogram();
        let inference_seconds = latency_histogram();
        let batch_windows = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        let batch_tokens = Histogram::new(exponential_buckets(16.0, 2.0, 14));
        let tokens_embedded = Counter::default();
        let texts_embedded = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route and status",
            request_seconds.clone(),
        );
        registry.register(
            "queue_tokens",
            "Tokens of the inference jobs not finished yet, queued or running",
            queue_tokens.clone(),
        );
        registry.register(
            "inference_windows",
            "Windows in the round being embedded",
            inference_windows.clone(),
        );
        registry.register(
            "queue_refused",
            "Jobs refused because the inference queue was full",
            queue_refused.clone(),
        );
        registry.register(
            "jobs_cancelled",
            "Jobs whose remaining windows were dropped because their client went away",
            jobs_cancelled.clone(),
        );
        registry.register(
            "queue_wait_seconds",
            "Time a job waited in the queue",
            queue_wait_seconds.clone(),
        );
        registry.register(
            "inference_seconds",
            "Time of one inference batch",
            inference_seconds.clone(),
        );
        registry.register(
            "batch_windows",
            "Windows per inference round",
            batch_windows.clone(),
        );
        registry.register(
            "batch_tokens",
            "Tokens per inference batch",
            batch_tokens.clone(),
        );
        registry.register(
            "tokens_embedded",
            "Tokens run through the model",
            tokens_embedded.clone(),
        );
        registry.register(
            "texts_embedded",
            "Texts run through the model",
            texts_embedded.clone(),
        );
        Self {
            registry,
            requests,
            request_seconds,
            queue_tokens,
            inference_windows,
            queue_refused,
            jobs_cancelled,
            queue_wait_seconds,
            inference_seconds,
            batch_windows,
            batch_tokens,
            tokens_embedded,
            texts_embedded,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("encoding metrics into a string");
        out
    }
}

/// The batchers report into the metrics.
impl concord_infer::Observer for Metrics {
    fn queued_tokens(&self, tokens: usize) {
        self.queue_tokens.set(tokens as i64);
    }

    fn refused(&self) {
        self.queue_refused.inc();
    }

    fn cancelled(&self, jobs: usize) {
        self.jobs_cancelled.inc_by(jobs as u64);
    }

    fn waited(&self, seconds: f64) {
        self.queue_wait_seconds.observe(seconds);
    }

    fn round_started(&self, windows: usize, tokens: usize) {
        self.batch_windows.observe(windows as f64);
        self.batch_tokens.observe(tokens as f64);
        self.inference_windows.set(windows as i64);
    }

    fn round_finished(&self, seconds: f64) {
        self.inference_windows.set(0);
        self.inference_seconds.observe(seconds);
    }

    fn embedded_tokens(&self, tokens: usize) {
        self.tokens_embedded.inc_by(tokens as u64);
    }

    fn embedded_texts(&self, texts: usize) {
        self.texts_embedded.inc_by(texts as u64);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware counting and timing every request under its route pattern (installed
/// with `Router::layer`, so it runs after routing and sees the [`MatchedPath`]).
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |p| p.as_str().to_string());
    let method = method_label(req.method());
    let started = Instant::now();
    let resp = next.run(req).await;
    let labels = RouteLabels {
        method,
        route,
        status: resp.status().as_u16(),
    };
    metrics.requests.get_or_create(&labels).inc();
    metrics
        .request_seconds
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    resp
}
