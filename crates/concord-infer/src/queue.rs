//! The inference queue and its worker. One OS thread owns the model's compute: callers
//! (request handlers, ingestion) tokenize their texts, queue them as a job and await
//! the answer, never running the model themselves.
//!
//! A job is cut into the model's windows (510 content ids each; a longer text spans
//! several). The worker runs rounds of at most the batch budget in tokens, taking one
//! window from each unfinished job in turn, in arrival order, until the round is full:
//! a short request arriving while a long one runs is served in the next round, not
//! after the long one. A job whose client went away (its handler was dropped) loses
//! its remaining windows before the next round. The queue is bounded in tokens (those
//! of every unfinished job) and each request in tokens too; a full queue refuses new
//! jobs at once, so the handler can answer 429 instead of holding memory.

use crate::Observer;
use concord_embed::embedder::{fed_tokens, windows_of};
use concord_embed::{Embedder, Embedding};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;
use tokio::sync::oneshot;

/// What a job gets back: one embedding per text, or the error that stopped it.
pub type JobResult = Result<Vec<Embedding>, String>;

/// One window of one text of a job: its content ids.
struct Window {
    text: usize,
    ids: Vec<u32>,
}

struct Job {
    windows: VecDeque<Window>,
    /// Per text, its windows' embeddings so far, with their content lengths.
    parts: Vec<Vec<(Embedding, usize)>>,
    /// Tokens of the windows not yet run (`<s>`/`</s>` included).
    tokens_left: usize,
    queued: Instant,
    started: bool,
    reply: oneshot::Sender<JobResult>,
}

impl Job {
    fn finish(self) {
        let out = self.parts.iter().map(|p| Embedding::combine(p)).collect();
        // A client that left meanwhile simply gets nothing.
        let _ = self.reply.send(Ok(out));
    }
}

#[derive(Default)]
struct Waiting {
    jobs: VecDeque<Job>,
    /// Tokens of every job not finished yet, queued or being run.
    tokens: usize,
    closed: bool,
}

/// Why a job was not queued (or, for [`Refused::Stopped`], never answered).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the inference queue is full")]
    Full,
    #[error("the inference queue is closed")]
    Closed,
    /// The request alone is over the per-request limit: (its tokens, the limit).
    #[error("the request needs {0} tokens of inference; at most {1} per request")]
    TooLarge(usize, usize),
    /// The worker went away before it answered (it stopped or panicked).
    #[error("the inference worker stopped")]
    Stopped,
}

pub struct Queue {
    waiting: Mutex<Waiting>,
    ready: Condvar,
    max_tokens: usize,
    max_request_tokens: usize,
    window: usize,
    observer: Arc<dyn Observer>,
}

impl Queue {
    /// A queue holding at most `max_tokens` tokens of unfinished jobs, each at most
    /// `max_request_tokens`, cut into windows of `window` content ids.
    pub fn new(
        max_tokens: usize,
        max_request_tokens: usize,
        window: usize,
        observer: Arc<dyn Observer>,
    ) -> Self {
        Self {
            waiting: Mutex::new(Waiting::default()),
            ready: Condvar::new(),
            max_tokens,
            max_request_tokens,
            window: window.max(1),
            observer,
        }
    }

    /// Tokens the model runs for texts of these content ids (specials of every window).
    pub fn tokens_of(&self, ids: &[Vec<u32>]) -> usize {
        ids.iter().map(|t| fed_tokens(t.len(), self.window)).sum()
    }

    /// Queues tokenized texts; the receiver answers once they are embedded. A job larger
    /// than the whole queue is taken only when the queue is empty, so it cannot starve.
    pub fn submit(&self, ids: Vec<Vec<u32>>) -> Result<oneshot::Receiver<JobResult>, Refused> {
        let tokens = self.tokens_of(&ids);
        if tokens > self.max_request_tokens {
            return Err(Refused::TooLarge(tokens, self.max_request_tokens));
        }
        let (tx, rx) = oneshot::channel();
        let mut windows = VecDeque::new();
        for (text, t) in ids.iter().enumerate() {
            for chunk in windows_of(t, self.window) {
                windows.push_back(Window {
                    text,
                    ids: chunk.to_vec(),
                });
            }
        }
        let mut w = self.waiting.lock().expect("queue lock");
        if w.closed {
            return Err(Refused::Closed);
        }
        if w.tokens > 0 && w.tokens + tokens > self.max_tokens {
            self.observer.refused();
            return Err(Refused::Full);
        }
        w.tokens += tokens;
        w.jobs.push_back(Job {
            windows,
            parts: vec![Vec::new(); ids.len()],
            tokens_left: tokens,
            queued: Instant::now(),
            started: false,
            reply: tx,
        });
        self.observer.queued_tokens(w.tokens);
        drop(w);
        self.ready.notify_one();
        Ok(rx)
    }

    /// Stops taking jobs; the worker finishes those already queued, then exits.
    pub fn close(&self) {
        self.waiting.lock().expect("queue lock").closed = true;
        self.ready.notify_all();
    }

    /// Moves newly queued jobs into `active`, blocking while there is nothing to do.
    /// `false` once the queue is closed and everything is done.
    fn take_new(&self, active: &mut Vec<Job>) -> bool {
        let mut w = self.waiting.lock().expect("queue lock");
        while w.jobs.is_empty() && active.is_empty() {
            if w.closed {
                return false;
            }
            w = self.ready.wait(w).expect("queue lock");
        }
        active.extend(w.jobs.drain(..));
        true
    }

    /// Takes `tokens` off the queue's count (run, or dropped with a cancelled job).
    fn release(&self, tokens: usize) {
        let mut w = self.waiting.lock().expect("queue lock");
        w.tokens = w.tokens.saturating_sub(tokens);
        self.observer.queued_tokens(w.tokens);
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
            let mut active: Vec<Job> = Vec::new();
            while queue.take_new(&mut active) {
                // Clients that went away lose their remaining windows.
                let before = active.len();
                let mut dropped = 0;
                active.retain(|j| {
                    let gone = j.reply.is_closed();
                    if gone {
                        dropped += j.tokens_left;
                    }
                    !gone
                });
                if active.len() < before {
                    queue.observer.cancelled(before - active.len());
                    queue.release(dropped);
                }
                if active.is_empty() {
                    continue;
                }
                let ran = run_round(&*queue.observer, &embedder, &mut active, batch_tokens);
                queue.release(ran);
            }
        })
        .expect("spawning the inference thread")
}

/// One round: a window from each active job in turn until `budget` tokens (at least
/// one window). Finished jobs are answered and removed. Returns the tokens run.
fn run_round(
    observer: &dyn Observer,
    embedder: &Embedder,
    active: &mut Vec<Job>,
    budget: usize,
) -> usize {
    let started = Instant::now();
    // (job index, window) in the order they are embedded.
    let mut round: Vec<(usize, Window)> = Vec::new();
    let mut tokens = 0;
    'fill: loop {
        let mut took = false;
        for (j, job) in active.iter_mut().enumerate() {
            let Some(next) = job.windows.front() else {
                continue;
            };
            let cost = next.ids.len() + 2;
            if !round.is_empty() && tokens + cost > budget {
                break 'fill;
            }
            let w = job.windows.pop_front().expect("front exists");
            tokens += cost;
            job.tokens_left = job.tokens_left.saturating_sub(cost);
            if !job.started {
                job.started = true;
                observer.waited(started.duration_since(job.queued).as_secs_f64());
            }
            round.push((j, w));
            took = true;
        }
        if !took {
            break;
        }
    }
    let ids: Vec<Vec<u32>> = round.iter().map(|(_, w)| w.ids.clone()).collect();
    observer.round_started(ids.len(), tokens);
    // A panic in the model must not take the worker (and every later request) down.
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| embedder.embed_batch(&ids)))
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the model panicked on this batch")));
    observer.round_finished(started.elapsed().as_secs_f64());
    match result {
        Ok(embeddings) => {
            observer.embedded_tokens(tokens);
            for ((j, w), e) in round.into_iter().zip(embeddings) {
                let len = w.ids.len();
                active[j].parts[w.text].push((e, len));
            }
            let mut k = 0;
            while k < active.len() {
                if active[k].windows.is_empty() {
                    let job = active.remove(k);
                    observer.embedded_texts(job.parts.len());
                    job.finish();
                } else {
                    k += 1;
                }
            }
        }
        Err(e) => {
            let message = format!("inference failed: {e:#}");
            tracing::error!("{message}");
            // Every job with a window in this round fails; the others go on.
            let mut failed: Vec<usize> = round.iter().map(|(j, _)| *j).collect();
            failed.sort_unstable();
            failed.dedup();
            for &j in failed.iter().rev() {
                let job = active.remove(j);
                tokens += job.tokens_left;
                let _ = job.reply.send(Err(message.clone()));
            }
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    //! On the tiny BERT model of concord-embed's parity fixtures: no download, and fast
    //! enough for the fast test tier.
    use super::*;
    use concord_embed::CpuPrecision;

    fn tiny() -> Arc<Embedder> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../concord-embed/tests/fixtures/tiny/bert");
        Arc::new(Embedder::load_cpu(&dir, CpuPrecision::F32).unwrap())
    }

    /// Content ids of about `n` tokens (any ids of the vocabulary do).
    fn ids(n: usize, seed: u32) -> Vec<u32> {
        (0..n as u32).map(|i| 5 + (i * 7 + seed) % 150).collect()
    }

    /// Counts the jobs cancelled.
    #[derive(Default)]
    struct Cancelled(std::sync::atomic::AtomicUsize);

    impl Observer for Cancelled {
        fn cancelled(&self, jobs: usize) {
            self.0.fetch_add(jobs, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn queue(e: &Embedder, max_tokens: usize, max_request: usize) -> Queue {
        Queue::new(
            max_tokens,
            max_request,
            e.window(),
            Arc::new(Cancelled::default()),
        )
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn a_round_takes_one_window_from_each_job_and_answers_the_finished_ones() {
        let e = tiny();
        let q = queue(&e, 1 << 20, 1 << 20);
        let window = e.window();
        let long = ids(window * 5, 1);
        let short = ids(10, 2);
        let mut long_rx = q.submit(vec![long.clone()]).unwrap();
        let mut short_rx = q.submit(vec![short.clone()]).unwrap();
        let mut active = Vec::new();
        assert!(q.take_new(&mut active));
        // A budget of two windows: the long job's first and the short job's only one.
        let ran = run_round(&*q.observer, &e, &mut active, 2 * (window + 2));
        assert_eq!(ran, (window + 2) + (short.len() + 2));
        let got = short_rx
            .try_recv()
            .expect("the short job is answered")
            .unwrap();
        let want = e.embed_ids(&[short], 1024, &mut |_| {}).unwrap();
        assert!(cosine(&got[0].vector, &want[0].vector) > 0.9999);
        assert!(long_rx.try_recv().is_err(), "the long job has windows left");
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].windows.len(), 4);
        while !active.is_empty() {
            run_round(&*q.observer, &e, &mut active, 2 * (window + 2));
        }
        // The long text's windows, run in four rounds, combine as one call would.
        let got = long_rx.try_recv().unwrap().unwrap();
        let want = e.embed_ids(&[long], 1024, &mut |_| {}).unwrap();
        assert_eq!(got[0].windows, 5);
        assert!(cosine(&got[0].vector, &want[0].vector) > 0.9999);
    }

    #[test]
    fn limits_refuse_before_any_work_and_a_closed_queue_takes_nothing() {
        let e = tiny();
        let q = queue(&e, 100, 60);
        // 70 ids are two windows of the tiny model's 62: 70 + 2 x 2 tokens.
        assert_eq!(
            q.submit(vec![ids(70, 0)]).unwrap_err(),
            Refused::TooLarge(74, 60)
        );
        let _held = q.submit(vec![ids(50, 0)]).unwrap();
        // The queue holds 52 tokens; 52 more would pass its 100.
        assert_eq!(q.submit(vec![ids(50, 1)]).unwrap_err(), Refused::Full);
        assert!(q.submit(vec![ids(40, 1)]).is_ok());
        q.close();
        assert_eq!(q.submit(vec![ids(5, 1)]).unwrap_err(), Refused::Closed);
    }

    #[test]
    fn a_job_whose_client_left_is_dropped_and_its_tokens_released() {
        let e = tiny();
        let cancelled = Arc::new(Cancelled::default());
        let q = Arc::new(Queue::new(1 << 20, 1 << 20, e.window(), cancelled.clone()));
        let gone = q.submit(vec![ids(e.window() * 3, 3)]).unwrap();
        drop(gone);
        let kept = q.submit(vec![ids(20, 4)]).unwrap();
        let worker = spawn_worker(q.clone(), e.clone(), 64);
        assert!(kept.blocking_recv().unwrap().is_ok());
        q.close();
        worker.join().unwrap();
        assert_eq!(cancelled.0.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(q.waiting.lock().unwrap().tokens, 0);
    }
}
