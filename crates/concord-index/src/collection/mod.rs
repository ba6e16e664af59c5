//! The collection folder and its in-memory form.
//!
//! ```text
//! DIR/collection.json       manifest: model, index parameters, current generation
//! DIR/gen-000042/docs.jsonl one line per article with its passages and their slots
//! DIR/gen-000042/vectors.f32 one row per slot, little-endian f32
//! DIR/gen-000042/index.hnsw.{graph,data}  the hnsw_rs dump
//! DIR/changes.log           changes since that generation, replayed on open
//! DIR/lock                  held by the one process allowed to write
//! ```
//!
//! A writer takes the lock before it reads anything ([`Collection::open_writable`]);
//! a handle opened for reading takes it at its first change and then replays whatever
//! the change log gained since it was read, so a change another writer logged (and
//! acknowledged) before it stopped is never folded away unseen.
//!
//! A commit writes a complete new generation folder, syncs it, then swaps the manifest
//! with a rename; only then are older generations removed. A process killed at any
//! point leaves the previous manifest and the generation it names intact.
//!
//! A long-running writer (the server) makes each change durable on its own instead:
//! [`Collection::upsert_logged`] and [`Collection::remove_logged`] append the change to
//! the change log and sync it before returning, and a later commit folds the log into a
//! generation. The manifest records the last log sequence number a generation includes,
//! so a crash between the manifest swap and emptying the log replays nothing twice.
//!
//! Every passage ever inserted owns a slot (its HNSW point id). Replacing or deleting an
//! article tombstones its slots, which searches skip; when tombstones reach a quarter of
//! the slots, the next commit renumbers the live slots and rebuilds the graph.
//!
//! A collection can also live in memory only ([`Collection::in_memory`]): the same
//! searches and changes, no folder, nothing durable (scratch collections for
//! evaluation and one-off clustering).
//!
//! Here: the in-memory collection (what it holds, its searches); `open` creates, opens
//! and replays; `write` changes, logs and commits; `change` is what it logs. The crate's
//! other modules hold the parts a collection is made of: `generation` (the manifest and
//! a generation's files, read checked and written crash-safely), `lock` (the write
//! lock), `changelog` (the durable log of changes, of any record type), `graph` (HNSW).

mod change;
mod open;
mod write;

pub use crate::generation::{IndexParams, ModelStamp};
pub(crate) use change::Change;

use crate::changelog::ChangeLog;
use crate::generation::Manifest;
use crate::graph::{dot, HnswGraph};
use anyhow::{ensure, Result};
use concord_text::{ArticleMeta, Passage};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

/// One article of the collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocRecord {
    pub id: String,
    pub title: Option<String>,
    pub source: Option<String>,
    /// Outlet, publication time, URL, language, author, where known.
    #[serde(default, skip_serializing_if = "ArticleMeta::is_empty")]
    pub meta: ArticleMeta,
    /// Slots of its passages, in passage order.
    pub slots: Vec<usize>,
}

/// A live passage and the article it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPassage {
    pub doc: String,
    pub passage: Passage,
}

impl StoredPassage {
    /// Stable public id: `doc#index`.
    pub fn id(&self) -> String {
        format!("{}#{}", self.doc, self.passage.index)
    }
}

/// One search result: a slot and its cosine similarity to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub slot: usize,
    pub cosine: f32,
}

pub struct Collection {
    /// Empty for a collection [`Collection::in_memory`].
    dir: PathBuf,
    /// Has a folder: commits write generations, changes can be logged.
    on_disk: bool,
    manifest: Manifest,
    docs: BTreeMap<String, DocRecord>,
    passages: Vec<Option<StoredPassage>>,
    vectors: Vec<f32>,
    graph: HnswGraph,
    lock: Option<File>,
    dirty: bool,
    changes: ChangeLog,
    /// Sequence number of the last change logged or replayed.
    seq: u64,
    /// Changes in the log since the last commit.
    logged: usize,
    /// Counts in-memory changes, so derived data can tell whether it is current.
    version: u64,
    /// Counts renumberings of slots (compactions).
    slot_epoch: u64,
    /// Why the generation's graph could not be loaded (it was rebuilt from the vectors).
    graph_damage: Option<String>,
}

impl Collection {
    /// The collection's folder (empty for one [`Collection::in_memory`]).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the collection has a folder (it is not [`Collection::in_memory`]).
    pub fn on_disk(&self) -> bool {
        self.on_disk
    }

    pub fn model(&self) -> &ModelStamp {
        &self.manifest.model
    }

    pub fn params(&self) -> IndexParams {
        self.manifest.params
    }

    pub fn dim(&self) -> usize {
        self.manifest.model.dim
    }

    pub fn generation(&self) -> u64 {
        self.manifest.generation
    }

    /// Changes since the collection was loaded; derived data built at another version
    /// is stale.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Changes whenever slots are renumbered; slot-indexed data must then be rebuilt.
    pub fn slot_epoch(&self) -> u64 {
        self.slot_epoch
    }

    /// Changes made durable in the change log but not yet committed to a generation.
    pub fn pending_changes(&self) -> usize {
        self.logged
    }

    /// Whether there is anything for [`Collection::commit`] to write.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Takes the write lock now, so this process stays the only writer until it drops
    /// the collection (otherwise the first change takes it).
    pub fn lock_for_writes(&mut self) -> Result<()> {
        self.lock()
    }

    /// Refuses vectors from a model other than the one the collection was built with.
    pub fn check_model(&self, model: &ModelStamp) -> Result<()> {
        let have = &self.manifest.model;
        ensure!(
            have == model,
            "{} was built with model {} (dim {}, {}), not {} (dim {}, {}); use that model or a new collection",
            self.dir.display(),
            have.name,
            have.dim,
            &have.fingerprint[..have.fingerprint.len().min(12)],
            model.name,
            model.dim,
            &model.fingerprint[..model.fingerprint.len().min(12)],
        );
        Ok(())
    }

    pub fn docs(&self) -> impl Iterator<Item = &DocRecord> {
        self.docs.values()
    }

    pub fn doc(&self, id: &str) -> Option<&DocRecord> {
        self.docs.get(id)
    }

    pub fn doc_count(&self) -> usize {
        self.docs.len()
    }

    pub fn passage_count(&self) -> usize {
        self.docs.values().map(|d| d.slots.len()).sum()
    }

    /// Slots holding live passages, in slot order.
    pub fn live_slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.passages
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.as_ref().map(|_| i))
    }

    pub fn passage(&self, slot: usize) -> Option<&StoredPassage> {
        self.passages.get(slot).and_then(Option::as_ref)
    }

    /// Slot of the passage with public id `doc#index`.
    pub fn find_passage(&self, id: &str) -> Option<usize> {
        let (doc, index) = id.rsplit_once('#')?;
        let index: usize = index.parse().ok()?;
        let rec = self.docs.get(doc)?;
        rec.slots.iter().copied().find(|&s| {
            self.passage(s)
                .is_some_and(|p| p.passage.index as usize == index)
        })
    }

    pub fn vector(&self, slot: usize) -> &[f32] {
        let d = self.dim();
        &self.vectors[slot * d..(slot + 1) * d]
    }

    /// Up to `k` live passages nearest to `query` among those `keep` accepts, by HNSW.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        keep: &dyn Fn(&StoredPassage) -> bool,
    ) -> Vec<Hit> {
        self.search_slots(query, k, &|slot| self.passage(slot).is_some_and(keep))
    }

    /// [`Collection::search`] with the filter on slots, for callers that keep their own
    /// per-slot data. Only live slots are returned, whatever `keep` says.
    pub fn search_slots(&self, query: &[f32], k: usize, keep: &dyn Fn(usize) -> bool) -> Vec<Hit> {
        if k == 0 || self.graph.is_empty() {
            return Vec::new();
        }
        let live = |slot: usize| self.passage(slot).is_some() && keep(slot);
        self.graph
            .search(query, k, self.manifest.params.ef_search, &live)
            .into_iter()
            .map(|(slot, cosine)| Hit { slot, cosine })
            .collect()
    }

    /// The same as [`Collection::search`], by comparing with every passage.
    pub fn search_exact(
        &self,
        query: &[f32],
        k: usize,
        keep: &dyn Fn(&StoredPassage) -> bool,
    ) -> Vec<Hit> {
        let mut hits: Vec<Hit> = self
            .live_slots()
            .filter(|&s| self.passage(s).is_some_and(keep))
            .map(|slot| Hit {
                slot,
                cosine: dot(query, self.vector(slot)),
            })
            .collect();
        hits.sort_by(|a, b| b.cosine.total_cmp(&a.cosine).then(a.slot.cmp(&b.slot)));
        hits.truncate(k);
        hits
    }
}
