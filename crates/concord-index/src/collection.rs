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

use crate::changelog::{Change, ChangeLog, LOG_FILE};
use crate::graph::{dot, GraphParams, HnswGraph};
use crate::store::{self, FileSum};
use anyhow::{bail, ensure, Context, Result};
use concord_text::{ArticleMeta, Passage};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

const FORMAT: u32 = 1;
const MANIFEST: &str = "collection.json";
const LOCK: &str = "lock";

/// Which model produced the vectors; a collection only accepts vectors from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelStamp {
    pub name: String,
    pub dim: usize,
    /// Content hash of the weights, so a different model under the same name is caught.
    pub fingerprint: String,
}

/// HNSW parameters, fixed when the collection is created (`ef_search` may change later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexParams {
    pub max_connections: usize,
    pub ef_construction: usize,
    pub ef_search: usize,
}

impl Default for IndexParams {
    /// Chosen with `concord bench recall` (benches/RESULTS.md): recall@10 >= 0.99.
    fn default() -> Self {
        Self {
            max_connections: 16,
            ef_construction: 200,
            ef_search: 64,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) format: u32,
    pub(crate) model: ModelStamp,
    pub(crate) params: IndexParams,
    pub(crate) generation: u64,
    pub(crate) slots: usize,
    pub(crate) docs: usize,
    pub(crate) passages: usize,
    /// Whether the generation holds an HNSW dump (not when it has no points).
    pub(crate) graph: bool,
    /// Sequence number of the last change-log record this generation includes.
    #[serde(default)]
    pub(crate) log_seq: u64,
    /// Size and CRC-32C of each file of the generation (absent in collections written
    /// before checksums, whose files are then read unverified).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) files: BTreeMap<String, FileSum>,
}

pub(crate) const DOCS_FILE: &str = "docs.jsonl";
pub(crate) const VECTORS_FILE: &str = "vectors.f32";

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

#[derive(Serialize, Deserialize)]
pub(crate) struct DiskPassage {
    pub(crate) slot: usize,
    #[serde(flatten)]
    pub(crate) passage: Passage,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct DiskDoc {
    pub(crate) id: String,
    pub(crate) title: Option<String>,
    pub(crate) source: Option<String>,
    #[serde(default, skip_serializing_if = "ArticleMeta::is_empty")]
    pub(crate) meta: ArticleMeta,
    pub(crate) passages: Vec<DiskPassage>,
}

pub struct Collection {
    dir: PathBuf,
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
    /// Opens the collection in `dir` for writing, or creates an empty one for `model`.
    /// Either way the write lock is held before anything is read: a collection another
    /// process is writing is refused at once.
    pub fn open_or_create(dir: &Path, model: &ModelStamp, params: IndexParams) -> Result<Self> {
        if dir.join(MANIFEST).exists() {
            let c = Self::open_writable(dir)?;
            c.check_model(model)?;
            Ok(c)
        } else {
            Self::create(dir, model, params)
        }
    }

    /// Creates an empty collection in `dir` (created if missing, must not hold one).
    pub fn create(dir: &Path, model: &ModelStamp, params: IndexParams) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut c = Self {
            dir: dir.to_path_buf(),
            manifest: Manifest {
                format: FORMAT,
                model: model.clone(),
                params,
                generation: 0,
                slots: 0,
                docs: 0,
                passages: 0,
                graph: false,
                log_seq: 0,
                files: BTreeMap::new(),
            },
            docs: BTreeMap::new(),
            passages: Vec::new(),
            vectors: Vec::new(),
            graph: HnswGraph::new(graph_params(&params), 0),
            lock: None,
            dirty: true,
            changes: ChangeLog::read(dir)?.0,
            seq: 0,
            logged: 0,
            version: 0,
            slot_epoch: 0,
            graph_damage: None,
        };
        c.lock = Some(take_lock(dir)?);
        ensure!(
            !dir.join(MANIFEST).exists(),
            "{} already holds a collection",
            dir.display()
        );
        c.changes.clear()?;
        c.commit()?;
        Ok(c)
    }

    /// Opens an existing collection for writing: takes the write lock first (refusing at
    /// once if another process holds it), then reads the generation and replays the log.
    pub fn open_writable(dir: &Path) -> Result<Self> {
        read_manifest(dir)?; // a clear error for a folder that holds no collection
        let lock = take_lock(dir)?;
        let mut c = Self::open(dir)?;
        c.lock = Some(lock);
        Ok(c)
    }

    /// Opens an existing collection for reading; the first change takes the write lock.
    /// Every file is checked against the manifest's checksums: damaged articles or
    /// vectors refuse the open (naming the file); a damaged graph is rebuilt from the
    /// vectors in memory, with a warning (`concord repair` writes it back).
    pub fn open(dir: &Path) -> Result<Self> {
        let manifest = read_manifest(dir)?;
        let gen = dir.join(generation_dir(manifest.generation));
        let docs_bytes = read_verified(&gen, DOCS_FILE, &manifest)?;
        let mut disk_docs: Vec<DiskDoc> = Vec::with_capacity(manifest.docs);
        for (i, d) in store::parse_jsonl_summed(&docs_bytes)
            .into_iter()
            .enumerate()
        {
            disk_docs.push(d.map_err(|e| {
                anyhow::anyhow!(
                    "{}:{}: damaged article record ({e}); {REPAIR_HINT}",
                    gen.join(DOCS_FILE).display(),
                    i + 1
                )
            })?);
        }
        ensure!(
            disk_docs.len() == manifest.docs,
            "{}: {} articles, the manifest says {}; {REPAIR_HINT}",
            gen.join(DOCS_FILE).display(),
            disk_docs.len(),
            manifest.docs
        );
        let vector_bytes = read_verified(&gen, VECTORS_FILE, &manifest)?;
        let dim = manifest.model.dim;
        ensure!(
            vector_bytes.len() == manifest.slots * dim * 4,
            "{}: {} bytes, expected {} ({} slots of {dim}); {REPAIR_HINT}",
            gen.join(VECTORS_FILE).display(),
            vector_bytes.len(),
            manifest.slots * dim * 4,
            manifest.slots
        );
        let vectors = store::f32_from_le(&vector_bytes);
        let mut c = Self::from_parts(dir, manifest, disk_docs, vectors)?;
        let (changes, records) = ChangeLog::read(dir)?;
        c.changes = changes;
        c.replay(records)?;
        Ok(c)
    }

    /// A collection from a generation's manifest, articles and vectors (its graph
    /// loaded from the generation folder, or rebuilt where that is damaged).
    pub(crate) fn from_parts(
        dir: &Path,
        manifest: Manifest,
        disk_docs: Vec<DiskDoc>,
        vectors: Vec<f32>,
    ) -> Result<Self> {
        let gen = dir.join(generation_dir(manifest.generation));
        let mut passages: Vec<Option<StoredPassage>> = vec![None; manifest.slots];
        let mut docs = BTreeMap::new();
        for d in disk_docs {
            let mut slots = Vec::with_capacity(d.passages.len());
            for p in d.passages {
                ensure!(
                    p.slot < manifest.slots && passages[p.slot].is_none(),
                    "{}: slot {} out of range or used twice",
                    gen.display(),
                    p.slot
                );
                slots.push(p.slot);
                passages[p.slot] = Some(StoredPassage {
                    doc: d.id.clone(),
                    passage: p.passage,
                });
            }
            docs.insert(
                d.id.clone(),
                DocRecord {
                    id: d.id,
                    title: d.title,
                    source: d.source,
                    meta: d.meta,
                    slots,
                },
            );
        }
        let (graph, graph_damage) = load_graph(&gen, &manifest, &vectors)?;
        let seq = manifest.log_seq;
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            docs,
            passages,
            vectors,
            graph,
            lock: None,
            dirty: false,
            changes: ChangeLog::empty(dir),
            seq,
            logged: 0,
            version: 0,
            slot_epoch: 0,
            graph_damage,
        })
    }

    /// Ends a repair: with the write lock held, replays the (trimmed) change log and
    /// commits everything as a new generation, its graph included.
    pub(crate) fn commit_repaired(mut self, lock: File) -> Result<Self> {
        self.lock = Some(lock);
        let (changes, records) = ChangeLog::read(&self.dir)?;
        self.changes = changes;
        self.replay(records)?;
        self.dirty = true;
        self.commit()?;
        Ok(self)
    }

    /// Why the graph on disk could not be used, if it was rebuilt at the open.
    pub fn graph_damage(&self) -> Option<&str> {
        self.graph_damage.as_deref()
    }

    /// Applies the logged changes this handle has not seen yet (those after `self.seq`).
    fn replay(&mut self, records: Vec<(u64, Change)>) -> Result<()> {
        for (seq, change) in records {
            if seq <= self.seq {
                continue; // already part of the generation, or already replayed
            }
            ensure!(
                seq == self.seq + 1,
                "{}: the change log goes on at change {seq} after change {}: changes are \
                 missing; {REPAIR_HINT}",
                self.dir.join(LOG_FILE).display(),
                self.seq
            );
            self.apply(change)
                .with_context(|| format!("replaying change {seq} of {}", self.dir.display()))?;
            self.seq = seq;
            self.logged += 1;
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
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

    /// Adds an article, replacing any article with the same id. `vectors` holds one
    /// unit-length row per passage. Nothing reaches disk before [`Collection::commit`].
    pub fn upsert(
        &mut self,
        doc: DocRecord,
        passages: Vec<Passage>,
        vectors: &[f32],
    ) -> Result<()> {
        self.upsert_with(doc, passages, vectors, false)
    }

    /// [`Collection::upsert`], made durable before it returns: the change is appended
    /// to the change log and synced, then applied. A later commit folds it in.
    pub fn upsert_logged(
        &mut self,
        doc: DocRecord,
        passages: Vec<Passage>,
        vectors: &[f32],
    ) -> Result<()> {
        self.upsert_with(doc, passages, vectors, true)
    }

    fn upsert_with(
        &mut self,
        doc: DocRecord,
        passages: Vec<Passage>,
        vectors: &[f32],
        durable: bool,
    ) -> Result<()> {
        self.check_upsert(&doc, &passages, vectors)?;
        self.lock()?;
        if durable {
            self.log(&Change::Upsert {
                id: doc.id.clone(),
                title: doc.title.clone(),
                source: doc.source.clone(),
                meta: Box::new(doc.meta.clone()),
                passages: passages.clone(),
                vectors: Change::encode_vectors(vectors),
            })?;
        }
        self.apply_upsert(doc, passages, vectors);
        Ok(())
    }

    /// Deletes an article; returns whether it existed.
    pub fn remove(&mut self, id: &str) -> Result<bool> {
        self.remove_with(id, false)
    }

    /// [`Collection::remove`], made durable before it returns.
    pub fn remove_logged(&mut self, id: &str) -> Result<bool> {
        self.remove_with(id, true)
    }

    fn remove_with(&mut self, id: &str, durable: bool) -> Result<bool> {
        if !self.docs.contains_key(id) {
            return Ok(false);
        }
        self.lock()?;
        if durable {
            self.log(&Change::Remove { id: id.to_string() })?;
        }
        self.apply_remove(id);
        Ok(true)
    }

    fn log(&mut self, change: &Change) -> Result<()> {
        self.changes.append(self.seq + 1, change)?;
        self.seq += 1;
        self.logged += 1;
        Ok(())
    }

    /// Applies a replayed change.
    fn apply(&mut self, change: Change) -> Result<()> {
        match change {
            Change::Upsert {
                id,
                title,
                source,
                meta,
                passages,
                vectors,
            } => {
                let doc = DocRecord {
                    id,
                    title,
                    source,
                    meta: *meta,
                    slots: Vec::new(),
                };
                let vectors = Change::decode_vectors(&vectors)?;
                self.check_upsert(&doc, &passages, &vectors)?;
                self.apply_upsert(doc, passages, &vectors);
            }
            Change::Remove { id } => self.apply_remove(&id),
        }
        Ok(())
    }

    fn check_upsert(&self, doc: &DocRecord, passages: &[Passage], vectors: &[f32]) -> Result<()> {
        let dim = self.dim();
        ensure!(
            vectors.len() == passages.len() * dim,
            "{} passages but {} floats of vectors (dim {dim})",
            passages.len(),
            vectors.len()
        );
        ensure!(!doc.id.is_empty(), "article id must not be empty");
        ensure!(
            vectors.iter().all(|x| x.is_finite()),
            "article {}: vectors contain NaN or infinity",
            doc.id
        );
        Ok(())
    }

    fn apply_upsert(&mut self, doc: DocRecord, passages: Vec<Passage>, vectors: &[f32]) {
        let dim = self.dim();
        self.remove_slots(&doc.id);
        let first = self.passages.len();
        let slots: Vec<usize> = (first..first + passages.len()).collect();
        self.vectors.extend_from_slice(vectors);
        for p in passages {
            self.passages.push(Some(StoredPassage {
                doc: doc.id.clone(),
                passage: p,
            }));
        }
        let points: Vec<(&[f32], usize)> = slots
            .iter()
            .map(|&s| (&self.vectors[s * dim..(s + 1) * dim], s))
            .collect();
        self.graph.insert(points);
        self.docs.insert(doc.id.clone(), DocRecord { slots, ..doc });
        self.dirty = true;
        self.version += 1;
    }

    fn apply_remove(&mut self, id: &str) {
        self.remove_slots(id);
        self.dirty = true;
        self.version += 1;
    }

    fn remove_slots(&mut self, id: &str) {
        if let Some(old) = self.docs.remove(id) {
            for s in old.slots {
                self.passages[s] = None;
            }
        }
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

    fn lock(&mut self) -> Result<()> {
        if self.lock.is_some() {
            return Ok(());
        }
        let f = take_lock(&self.dir)?;
        // Another writer may have committed since this process read the collection ...
        if let Ok(m) = read_manifest(&self.dir) {
            ensure!(
                m.generation == self.manifest.generation,
                "{} changed on disk since it was opened; reopen it",
                self.dir.display()
            );
        }
        // ... or logged changes and stopped without committing them: they were
        // acknowledged, so they are replayed here before this handle changes anything.
        let (changes, records) = ChangeLog::read(&self.dir)?;
        // Every change goes through here before it is applied, so nothing this handle
        // did is overtaken by the replay.
        self.replay(records)?;
        self.changes = changes;
        self.lock = Some(f);
        Ok(())
    }

    /// Writes the collection as a new generation and makes it current.
    pub fn commit(&mut self) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        self.lock()?;
        let tombstones = self.passages.iter().filter(|p| p.is_none()).count();
        if tombstones > 0 && tombstones * 4 >= self.passages.len() {
            self.compact();
        }
        let generation = self.manifest.generation + 1;
        let final_dir = self.dir.join(generation_dir(generation));
        let tmp = self
            .dir
            .join(format!("{}.partial", generation_dir(generation)));
        for leftover in [&tmp, &final_dir] {
            if leftover.exists() {
                std::fs::remove_dir_all(leftover)
                    .with_context(|| format!("removing stale {}", leftover.display()))?;
            }
        }
        std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let disk_docs = self.docs.values().map(|d| DiskDoc {
            id: d.id.clone(),
            title: d.title.clone(),
            source: d.source.clone(),
            meta: d.meta.clone(),
            passages: d
                .slots
                .iter()
                .filter_map(|&s| {
                    self.passage(s).map(|p| DiskPassage {
                        slot: s,
                        passage: p.passage.clone(),
                    })
                })
                .collect(),
        });
        let mut files = BTreeMap::new();
        files.insert(
            DOCS_FILE.to_string(),
            store::write_jsonl_summed(&tmp.join(DOCS_FILE), disk_docs)?,
        );
        files.insert(
            VECTORS_FILE.to_string(),
            store::write_vectors(&tmp.join(VECTORS_FILE), &self.vectors)?,
        );
        let graph = !self.graph.is_empty();
        if graph {
            self.graph.dump(&tmp)?;
            // hnsw_rs wrote these itself: their sums are read back from disk.
            for f in HnswGraph::files() {
                store::sync_file(&tmp.join(&f))?;
                let sum = FileSum::of_file(&tmp.join(&f))?;
                files.insert(f, sum);
            }
        }
        store::sync_dir(&tmp)?;
        std::fs::rename(&tmp, &final_dir)
            .with_context(|| format!("renaming {} into place", tmp.display()))?;
        store::sync_dir(&self.dir)?;

        let manifest = Manifest {
            generation,
            slots: self.passages.len(),
            docs: self.docs.len(),
            passages: self.passage_count(),
            graph,
            log_seq: self.seq,
            files,
            ..self.manifest.clone()
        };
        store::write_atomic(
            &self.dir.join(MANIFEST),
            &serde_json::to_vec_pretty(&manifest)?,
        )?;
        self.manifest = manifest;
        self.dirty = false;
        self.graph_damage = None;
        // The generation now holds every logged change (log_seq says so even if this
        // fails), so the log can go.
        self.changes.clear()?;
        self.logged = 0;
        self.remove_old_generations();
        Ok(())
    }

    /// Renumbers live passages into consecutive slots and rebuilds the graph.
    fn compact(&mut self) {
        let dim = self.dim();
        let mut remap = vec![usize::MAX; self.passages.len()];
        let mut passages = Vec::new();
        let mut vectors = Vec::new();
        for (old, p) in std::mem::take(&mut self.passages).into_iter().enumerate() {
            if let Some(p) = p {
                remap[old] = passages.len();
                passages.push(Some(p));
                vectors.extend_from_slice(&self.vectors[old * dim..(old + 1) * dim]);
            }
        }
        for d in self.docs.values_mut() {
            for s in &mut d.slots {
                *s = remap[*s];
            }
        }
        let graph = HnswGraph::new(graph_params(&self.manifest.params), passages.len());
        let points: Vec<(&[f32], usize)> = (0..passages.len())
            .map(|s| (&vectors[s * dim..(s + 1) * dim], s))
            .collect();
        graph.insert(points);
        self.passages = passages;
        self.vectors = vectors;
        self.graph = graph;
        self.slot_epoch += 1;
        self.version += 1;
    }

    /// Best effort: a leftover folder costs disk space, never correctness.
    fn remove_old_generations(&self) {
        let current = generation_dir(self.manifest.generation);
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("gen-") && name != current {
                if let Err(err) = std::fs::remove_dir_all(e.path()) {
                    tracing::warn!("could not remove {}: {err}", e.path().display());
                }
            }
        }
    }
}

fn graph_params(p: &IndexParams) -> GraphParams {
    GraphParams {
        max_connections: p.max_connections,
        ef_construction: p.ef_construction,
    }
}

/// Takes the collection's write lock, or says who holds it.
pub(crate) fn take_lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK);
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    if f.try_lock().is_err() {
        bail!(
            "{} is being changed by another concord process (a running `concord serve` holds it \
             until it stops); try again when it is done, or send the change to the server's API",
            dir.display()
        );
    }
    Ok(f)
}

/// What to do about a damaged collection.
const REPAIR_HINT: &str =
    "`concord check` reports what is damaged, `concord repair` rebuilds what can be rebuilt";

/// The bytes of generation file `name`, checked against the manifest's sum.
pub(crate) fn read_verified(gen: &Path, name: &str, manifest: &Manifest) -> Result<Vec<u8>> {
    let path = gen.join(name);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    if let Some(want) = manifest.files.get(name) {
        let got = FileSum::of(&bytes);
        ensure!(
            got == *want,
            "{} is damaged: {} bytes with CRC-32C {:08x}, the manifest recorded {} bytes with \
             {:08x}; {REPAIR_HINT}",
            path.display(),
            got.bytes,
            got.crc32c,
            want.bytes,
            want.crc32c
        );
    }
    Ok(bytes)
}

/// The generation's graph, or one rebuilt from `vectors` when its files fail their
/// checksums or cannot be read (with the reason).
fn load_graph(
    gen: &Path,
    manifest: &Manifest,
    vectors: &[f32],
) -> Result<(HnswGraph, Option<String>)> {
    if !manifest.graph {
        ensure!(manifest.slots == 0, "{}: graph missing", gen.display());
        return Ok((HnswGraph::new(graph_params(&manifest.params), 0), None));
    }
    let checked = HnswGraph::files()
        .into_iter()
        .find_map(|f| read_verified(gen, &f, manifest).err());
    let damage = match checked {
        Some(e) => format!("{e:#}"),
        // hnsw_rs panics on some damaged dumps instead of returning an error.
        None => match std::panic::catch_unwind(|| HnswGraph::load(gen)) {
            Ok(Ok(g)) if g.len() == manifest.slots => return Ok((g, None)),
            Ok(Ok(g)) => format!(
                "{}: the graph has {} points, the manifest {} slots",
                gen.display(),
                g.len(),
                manifest.slots
            ),
            Ok(Err(e)) => format!("{e:#}"),
            Err(_) => format!("{}: hnsw_rs could not read the graph", gen.display()),
        },
    };
    tracing::warn!("{damage}; rebuilding the graph from the vectors");
    let dim = manifest.model.dim;
    let graph = HnswGraph::new(graph_params(&manifest.params), manifest.slots);
    graph.insert(
        (0..manifest.slots)
            .map(|s| (&vectors[s * dim..(s + 1) * dim], s))
            .collect(),
    );
    Ok((graph, Some(damage)))
}

pub(crate) fn generation_dir(g: u64) -> String {
    format!("gen-{g:06}")
}

pub(crate) fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "{} is not a concord collection (no {MANIFEST})",
            dir.display()
        )
    })?;
    let m: Manifest = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: corrupt manifest", path.display()))?;
    ensure!(
        m.format == FORMAT,
        "{}: collection format {} is not supported (expected {FORMAT})",
        path.display(),
        m.format
    );
    Ok(m)
}
