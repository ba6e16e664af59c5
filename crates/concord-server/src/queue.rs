//! The inference queue and its worker. One OS thread owns the model's compute: request
//! handlers tokenize their texts, queue them as a job and await the answer, never
//! running the model themselves. The worker takes queued jobs in arrival order until
//! their tokens fill the batch budget, embeds them in one call (which sorts windows by
//! length and packs them into forward passes under the same budget), and answers each
//! job. The queue is bounded by texts waiting; a full queue refuses new jobs at once,
//! so the handler can answer 429 instead of holding memory. A job whose client went
//! away (its handler was dropped) is skipped before it costs any compute.

use crate::metrics::Metrics;
use concord_embed::{Embedder, Embedding};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;
use tokio::sync::oneshot;

/// What a job gets back: one embedding per text, or the error that stopped the batch.
pub type JobResult = Result<Vec<Embedding>, String>;

struct Job {
    /// Content token ids per text, as from `Embedder::tokenize`.
    ids: Vec<Vec<u32>>,
    tokens: usize,
    queued: Instant,
    reply: oneshot::Sender<JobResult>,
}

#[derive(Default)]
struct Waiting {
    jobs: VecDeque<Job>,
    texts: usize,
    closed: bool,
}

/// Why a job was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Full,
    Closed,
}

pub struct Queue {
    waiting: Mutex<Waiting>,
    ready: Condvar,
    max_texts: usize,
    metrics: Arc<Metrics>,
}

impl Queue {
    pub fn new(max_texts: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            waiting: Mutex::new(Waiting::default()),
            ready: Condvar::new(),
            max_texts,
            metrics,
        }
    }

    /// Queues tokenized texts; the receiver answers once they are embedded. A job larger
    /// than the whole queue is taken only when the queue is empty, so it cannot starve.
    pub fn submit(&self, ids: Vec<Vec<u32>>) -> Result<oneshot::Receiver<JobResult>, Refused> {
        let (tx, rx) = oneshot::channel();
        let tokens = ids.iter().map(|t| t.len() + 2).sum();
        let mut w = self.waiting.lock().expect("queue lock");
        if w.closed {
            return Err(Refused::Closed);
        }
        if w.texts > 0 && w.texts + ids.len() > self.max_texts {
            self.metrics.queue_refused.inc();
            return Err(Refused::Full);
        }
        w.texts += ids.len();
        w.jobs.push_back(Job {
            ids,
            tokens,
            queued: Instant::now(),
            reply: tx,
        });
        self.metrics.queue_texts.set(w.texts as i64);
        drop(w);
        self.ready.notify_one();
        Ok(rx)
    }

    /// Stops taking jobs; the worker finishes those already queued, then exits.
    pub fn close(&self) {
        self.waiting.lock().expect("queue lock").closed = true;
        self.ready.notify_all();
    }

    /// Blocks until there is work: queued jobs up to `budget` tokens (at least one).
    /// `None` once the queue is closed and drained.
    fn next_batch(&self, budget: usize) -> Option<Vec<Job>> {
        let mut w = self.waiting.lock().expect("queue lock");
        while w.jobs.is_empty() {
            if w.closed {
                return None;
            }
            w = self.ready.wait(w).expect("queue lock");
        }
        let mut batch = Vec::new();
        let mut tokens = 0;
        while let Some(job) = w.jobs.front() {
            if !batch.is_empty() && tokens + job.tokens > budget {
                break;
            }
            let job = w.jobs.pop_front().expect("front exists");
            w.texts -= job.ids.len();
            if job.reply.is_closed() {
                self.metrics.jobs_cancelled.inc();
                continue;
            }
            tokens += job.tokens;
            batch.push(job);
        }
        self.metrics.queue_texts.set(w.texts as i64);
        Some(batch)
    }
}

/// Runs the worker on its own thread until the queue is closed and drained.
pub fn spawn_worker(
    queue: Arc<Queue>,
    embedder: Arc<Embedder>,
    batch_tokens: usize,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("concord-inference".into())
        .spawn(move || {
            while let Some(batch) = queue.next_batch(batch_tokens) {
                if batch.is_empty() {
                    continue; // every job taken had been cancelled
                }
                run_batch(&queue.metrics, &embedder, batch, batch_tokens);
            }
        })
        .expect("spawning the inference thread")
}

fn run_batch(metrics: &Metrics, embedder: &Embedder, batch: Vec<Job>, batch_tokens: usize) {
    let started = Instant::now();
    for job in &batch {
        metrics
            .queue_wait_seconds
            .observe(started.duration_since(job.queued).as_secs_f64());
    }
    let ids: Vec<Vec<u32>> = batch.iter().flat_map(|j| j.ids.iter().cloned()).collect();
    let tokens: usize = batch.iter().map(|j| j.tokens).sum();
    metrics.batch_texts.observe(ids.len() as f64);
    metrics.batch_tokens.observe(tokens as f64);
    metrics.inference_texts.set(ids.len() as i64);
    // A panic in the model must not take the worker (and every later request) down.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        embedder.embed_ids(&ids, batch_tokens, &mut |_| {})
    }))
    .unwrap_or_else(|_| Err(anyhow::anyhow!("the model panicked on this batch")));
    metrics.inference_texts.set(0);
    metrics
        .inference_seconds
        .observe(started.elapsed().as_secs_f64());
    match result {
        Ok(embeddings) => {
            metrics.tokens_embedded.inc_by(tokens as u64);
            metrics.texts_embedded.inc_by(ids.len() as u64);
            let mut rest = embeddings.into_iter();
            for job in batch {
                let mine: Vec<Embedding> = rest.by_ref().take(job.ids.len()).collect();
                // A client that left meanwhile simply gets nothing.
                let _ = job.reply.send(Ok(mine));
            }
        }
        Err(e) => {
            let message = format!("inference failed: {e:#}");
            tracing::error!("{message}");
            for job in batch {
                let _ = job.reply.send(Err(message.clone()));
            }
        }
    }
}
