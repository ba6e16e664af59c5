//! concord-infer: the batcher. Every text the server embeds and every article
//! `concord ingest` writes goes through one [`Batcher`]: a bounded queue of jobs (one per
//! request or per group of articles) and one worker thread that owns the model and runs
//! rounds of at most the batch budget in tokens, a window from each waiting job in turn
//! (see [`queue`]). The round is the batch: the embedder runs it as one pass.
//!
//! A [`Batcher`] is an [`Embed`](concord_embed::Embed), so ingestion takes it where it
//! would take the embedder itself; [`Observer`] is how the server's metrics see it.

pub mod queue;

pub use queue::{JobResult, Refused};

use anyhow::Result;
use concord_embed::{Embed, Embedder, Embedding, Fingerprint, Prefix};
use queue::Queue;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// What the batcher reports as it runs (the server turns it into metrics). Every method
/// does nothing unless implemented.
pub trait Observer: Send + Sync {
    /// Tokens of every unfinished job, after a change.
    fn queued_tokens(&self, _tokens: usize) {}
    /// A job refused because the queue was full.
    fn refused(&self) {}
    /// Jobs dropped because their caller went away.
    fn cancelled(&self, _jobs: usize) {}
    /// How long a job waited before its first window ran.
    fn waited(&self, _seconds: f64) {}
    /// A round of this many windows and tokens is starting.
    fn round_started(&self, _windows: usize, _tokens: usize) {}
    /// The round ended after this long.
    fn round_finished(&self, _seconds: f64) {}
    /// Tokens a successful round ran.
    fn embedded_tokens(&self, _tokens: usize) {}
    /// Texts of a job that finished.
    fn embedded_texts(&self, _texts: usize) {}
}

/// Observes nothing.
impl Observer for () {}

/// How a batcher is bounded.
#[derive(Debug, Clone, Copy)]
pub struct BatcherOptions {
    /// Tokens one round runs at most (the model's batch).
    pub batch_tokens: usize,
    /// Tokens of unfinished jobs the queue holds before refusing more.
    pub max_queue_tokens: usize,
    /// Tokens one job may need.
    pub max_request_tokens: usize,
}

impl BatcherOptions {
    /// For one caller that waits for each job (ingestion): no job is refused for size or
    /// for a full queue.
    pub fn unbounded(batch_tokens: usize) -> Self {
        Self {
            batch_tokens,
            max_queue_tokens: usize::MAX,
            max_request_tokens: usize::MAX,
        }
    }
}

/// A queue and the worker thread that runs its jobs on one embedder.
pub struct Batcher {
    embedder: Arc<Embedder>,
    queue: Arc<Queue>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Batcher {
    /// Starts the worker.
    pub fn start(
        embedder: Arc<Embedder>,
        opts: BatcherOptions,
        observer: Arc<dyn Observer>,
    ) -> Self {
        let queue = Arc::new(Queue::new(
            opts.max_queue_tokens,
            opts.max_request_tokens,
            embedder.window(),
            observer,
        ));
        let worker = queue::spawn_worker(queue.clone(), embedder.clone(), opts.batch_tokens);
        Self {
            embedder,
            queue,
            worker: Mutex::new(Some(worker)),
        }
    }

    /// Queues tokenized texts (content ids, as from [`Embedder::tokenize`]); the receiver
    /// answers once they are embedded. Dropping it cancels what has not run yet.
    pub fn submit(&self, ids: Vec<Vec<u32>>) -> Result<oneshot::Receiver<JobResult>, Refused> {
        self.queue.submit(ids)
    }

    /// Stops taking jobs and waits for the worker to finish those already queued.
    /// `false` when the worker had panicked.
    pub fn close(&self) -> bool {
        self.queue.close();
        let worker = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take();
        worker.is_none_or(|w| w.join().is_ok())
    }
}

impl Drop for Batcher {
    fn drop(&mut self) {
        self.close();
    }
}

/// Tokenizes on the calling thread, queues one job and blocks until it is answered.
/// Not for async code: the server awaits [`Batcher::submit`]'s receiver instead.
impl Embed for Batcher {
    fn embed_texts(&self, texts: &[&str], prefix: Prefix) -> Result<Vec<Embedding>> {
        let ids = texts
            .iter()
            .map(|t| self.embedder.tokenize(t, prefix))
            .collect::<Result<Vec<_>>>()?;
        let rx = self.submit(ids)?;
        rx.blocking_recv()
            .map_err(|_| Refused::Stopped)?
            .map_err(anyhow::Error::msg)
    }

    fn fingerprint(&self) -> Result<Fingerprint> {
        self.embedder.fingerprint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batcher_embeds_as_the_embedder_does_and_refuses_once_closed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../concord-embed/tests/fixtures/tiny/bert");
        let e = Arc::new(Embedder::load_cpu(&dir, concord_embed::CpuPrecision::F32).unwrap());
        let b = Batcher::start(e.clone(), BatcherOptions::unbounded(64), Arc::new(()));
        let texts = [
            "a short text",
            "another, somewhat longer text than the first one",
        ];
        let got = b.embed_texts(&texts, Prefix::Passage).unwrap();
        let want = e.embed_texts(&texts, Prefix::Passage).unwrap();
        for (g, w) in got.iter().zip(&want) {
            let cos: f32 = g.vector.iter().zip(&w.vector).map(|(x, y)| x * y).sum();
            assert!(cos > 0.9999, "{cos}");
            assert_eq!(g.tokens, w.tokens);
        }
        assert_eq!(b.fingerprint().unwrap(), e.fingerprint().unwrap());
        assert!(b.close());
        let err = b.embed_texts(&texts, Prefix::Passage).unwrap_err();
        assert_eq!(err.downcast_ref::<Refused>(), Some(&Refused::Closed));
    }
}
