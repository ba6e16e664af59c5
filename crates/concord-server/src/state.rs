//! What the handlers share: the served models (each an embedder and its batcher; the
//! first is the collection's), the live collection with its derived neighbourhoods,
//! the limits and the metrics; and the two steps most handlers take, checking texts
//! against the limits and embedding them through a model's batcher.

use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use concord_embed::{Embedder, Embedding, Prefix};
use concord_index::Collection;
use concord_infer::{Batcher, Refused};
use concord_overlap::{Neighbourhoods, OverlapIndex};
use concord_text::names::NameBridge;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Per-request limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Most texts in one embedding request.
    pub max_texts: usize,
    /// Longest text to embed or look up, in characters.
    pub max_chars: usize,
    /// Most results one query may ask for.
    pub max_k: usize,
    /// Largest article accepted by `POST /documents`, in bytes of text.
    pub max_article_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 << 20,
            max_texts: 256,
            max_chars: 20_000,
            max_k: 1000,
            max_article_bytes: concord_text::ReadOptions::default().max_article_bytes,
        }
    }
}

/// The collection and what is derived from it, behind locks. Readers share the
/// collection; a writer has it alone. The neighbourhoods are refreshed lazily by the
/// first overlap query after a change.
pub struct Live {
    collection: RwLock<Collection>,
    hoods: RwLock<Neighbourhoods>,
}

impl Live {
    pub fn new(collection: Collection, names: Option<Arc<NameBridge>>) -> Self {
        let hoods = Neighbourhoods::build(&collection, names);
        Self {
            collection: RwLock::new(collection),
            hoods: RwLock::new(hoods),
        }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Collection> {
        // A panic elsewhere never leaves a half-applied change: changes are logged
        // before they are applied, and applying them cannot fail.
        self.collection.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Collection> {
        self.collection.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` over overlap queries on the current collection. Blocking: call it from
    /// a blocking thread.
    pub fn overlaps<R>(&self, f: impl FnOnce(&OverlapIndex) -> R) -> R {
        let c = self.read();
        {
            let h = self.hoods.read().unwrap_or_else(|e| e.into_inner());
            if let Some(index) = OverlapIndex::with(&c, &h) {
                return f(&index);
            }
        }
        self.hoods
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .refresh(&c);
        let h = self.hoods.read().unwrap_or_else(|e| e.into_inner());
        // The collection is read-locked, so nothing changed since the refresh.
        let index = OverlapIndex::with(&c, &h).expect("refreshed under the same read lock");
        f(&index)
    }
}

/// Collection version, slot epoch and weakest label a view was computed for.
pub type ViewKey = (u64, u64, concord_overlap::Label);

/// The last clustering view `GET /clusters` served, for the collection state it was
/// computed at.
#[derive(Default)]
pub struct ClustersCache(pub std::sync::Mutex<Option<(ViewKey, Arc<String>)>>);

/// A model the server runs, with its own batcher (inference queue and worker).
pub struct ServedModel {
    /// What requests name it by (the `model` field).
    pub name: String,
    pub embedder: Arc<Embedder>,
    pub batcher: Arc<Batcher>,
    /// Why the pair judge will not label pairs with this model, if it will not.
    pub judge_refusal: Option<String>,
}

impl concord_ingest::Shared for Live {
    fn read(&self) -> impl std::ops::Deref<Target = Collection> + '_ {
        Live::read(self)
    }

    fn write(&self) -> impl std::ops::DerefMut<Target = Collection> + '_ {
        Live::write(self)
    }
}

/// Commits once the change log holds `commit_after` changes. A failure here loses
/// nothing (the changes stay in the log) and is retried by the next write or the
/// periodic commit.
pub fn fold_log(c: &mut concord_index::Collection, commit_after: usize) {
    if c.pending_changes() >= commit_after {
        if let Err(e) = c.commit() {
            tracing::warn!("commit failed, changes stay in the log: {e:#}");
        }
    }
}

/// The answer to a job the batcher would not queue.
fn refused(r: Refused) -> ApiError {
    match r {
        Refused::Full => ApiError::overloaded(),
        Refused::TooLarge(..) => ApiError::too_large(r.to_string()),
        Refused::Closed => ApiError::unavailable("the server is shutting down"),
        Refused::Stopped => ApiError::unavailable("the inference worker stopped"),
    }
}

/// Shared by every handler.
pub struct AppState {
    /// The served models; the first is the collection's (its articles and queries are
    /// embedded with it), the others answer the embedding routes that name them.
    pub models: Vec<ServedModel>,
    pub live: Arc<Live>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    pub device: String,
    pub batch_tokens: usize,
    pub max_queue_tokens: usize,
    pub max_request_tokens: usize,
    /// Overlap queries admitted at once (running or waiting for a thread); more get 429.
    pub overlap_slots: Arc<tokio::sync::Semaphore>,
    /// Logged changes that trigger a commit.
    pub commit_after: usize,
    /// The last clustering view served by `GET /clusters`.
    pub clusters: ClustersCache,
}

impl AppState {
    /// Refuses too many, empty or too long texts (413 for size, 422 for emptiness).
    pub fn check_texts(&self, texts: &[String], what: &str) -> ApiResult<()> {
        if texts.is_empty() {
            return Err(ApiError::validation(format!("{what} is empty")));
        }
        if texts.len() > self.limits.max_texts {
            return Err(ApiError::too_large(format!(
                "{what} has {} texts; at most {} per request",
                texts.len(),
                self.limits.max_texts
            )));
        }
        for (i, t) in texts.iter().enumerate() {
            self.check_text(t, &format!("{what}[{i}]"))?;
        }
        Ok(())
    }

    pub fn check_text(&self, text: &str, what: &str) -> ApiResult<()> {
        if text.trim().is_empty() {
            return Err(ApiError::validation(format!("{what} is empty")));
        }
        let chars = text.chars().count();
        if chars > self.limits.max_chars {
            return Err(ApiError::too_large(format!(
                "{what} has {chars} characters; at most {}",
                self.limits.max_chars
            )));
        }
        Ok(())
    }

    pub fn check_k(&self, k: usize) -> ApiResult<usize> {
        if k == 0 || k > self.limits.max_k {
            return Err(ApiError::validation(format!(
                "k must be between 1 and {}",
                self.limits.max_k
            )));
        }
        Ok(k)
    }

    /// The collection's model.
    pub fn collection_model(&self) -> &ServedModel {
        &self.models[0]
    }

    /// The model a request names, or the collection's when it names none. A server
    /// that runs one model answers with it whatever is named (OpenAI clients always
    /// send a name, often another service's); one that runs several answers 404 for
    /// a name it does not run.
    pub fn model(&self, name: Option<&str>) -> ApiResult<&ServedModel> {
        let Some(name) = name.filter(|n| !n.is_empty() && self.models.len() > 1) else {
            return Ok(self.collection_model());
        };
        self.models.iter().find(|m| m.name == name).ok_or_else(|| {
            let served: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "model_not_found",
                format!(
                    "no model {name:?} here; this server runs {}",
                    served.join(", ")
                ),
            )
        })
    }

    /// Refuses overlap labelling when the collection's model is not the one the pair
    /// judge was trained with (501: the server cannot do it, however it is asked).
    pub fn check_judge(&self) -> ApiResult<()> {
        match &self.collection_model().judge_refusal {
            None => Ok(()),
            Some(why) => Err(ApiError::new(
                axum::http::StatusCode::NOT_IMPLEMENTED,
                "judge_not_calibrated",
                why.clone(),
            )),
        }
    }

    /// Embeds `texts` with the collection's model ([`AppState::embed_with`]).
    pub async fn embed(&self, texts: Vec<String>, prefix: Prefix) -> ApiResult<Vec<Embedding>> {
        self.embed_with(self.collection_model(), texts, prefix)
            .await
    }

    /// Embeds `texts` through `model`'s inference queue: tokenized on a blocking
    /// thread, then queued; waits for the worker's answer. Dropping the future (a
    /// client that disconnects) leaves the job to be skipped by the worker.
    pub async fn embed_with(
        &self,
        model: &ServedModel,
        texts: Vec<String>,
        prefix: Prefix,
    ) -> ApiResult<Vec<Embedding>> {
        let embedder = model.embedder.clone();
        let ids = tokio::task::spawn_blocking(move || {
            texts
                .iter()
                .map(|t| embedder.tokenize(t, prefix))
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .await
        .map_err(ApiError::internal)??;
        let rx = model.batcher.submit(ids).map_err(refused)?;
        match rx.await {
            Ok(Ok(e)) => Ok(e),
            Ok(Err(message)) => Err(ApiError::internal(message)),
            Err(_) => Err(refused(Refused::Stopped)),
        }
    }

    /// [`AppState::embed`] for one text.
    pub async fn embed_one(&self, text: String, prefix: Prefix) -> ApiResult<Embedding> {
        self.embed(vec![text], prefix)
            .await?
            .pop()
            .ok_or_else(|| ApiError::internal("no embedding returned"))
    }

    /// Writes `article` into the live collection through the one ingestion path, its
    /// claims embedded through the collection model's batcher, on a blocking thread;
    /// logged (durable) before it returns. The write completes even if the client
    /// leaves meanwhile.
    pub async fn write_article(
        &self,
        article: concord_text::Article,
    ) -> ApiResult<concord_ingest::Written> {
        let batcher = self.collection_model().batcher.clone();
        let commit_after = self.commit_after;
        self.blocking(move |live| {
            concord_ingest::write_article(
                live,
                &*batcher,
                &article,
                &concord_text::SegmentOptions::default(),
                |c| fold_log(c, commit_after),
            )
        })
        .await?
        .map_err(|e| match e.downcast::<Refused>() {
            Ok(r) => refused(r),
            Err(e) => ApiError::internal(format!("{e:#}")),
        })
    }

    /// Runs blocking work (collection reads and writes, overlap judging) off the runtime.
    pub async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Live) -> R + Send + 'static,
    ) -> ApiResult<R> {
        let live = self.live.clone();
        tokio::task::spawn_blocking(move || f(&live))
            .await
            .map_err(ApiError::internal)
    }
}
