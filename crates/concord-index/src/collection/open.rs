//! Creating, opening and replaying a collection, and reading a generation's files
//! checked against the manifest.

use super::change::Change;
use super::{Collection, DocRecord, StoredPassage};
use crate::changelog::{ChangeLog, LOG_FILE};
use crate::generation::{
    generation_dir, graph_params, load_graph, read_manifest, read_verified, DiskDoc, IndexParams,
    Manifest, ModelStamp, DOCS_FILE, FORMAT, MANIFEST, REPAIR_HINT, VECTORS_FILE,
};
use crate::graph::HnswGraph;
use crate::lock::take_lock;
use crate::store;
use anyhow::{ensure, Context, Result};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

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

    /// An empty collection with no folder: it searches and changes as one on disk does,
    /// its commits only compact, and it cannot log (nothing it holds is durable).
    pub fn in_memory(model: &ModelStamp, params: IndexParams) -> Self {
        Self::empty(
            PathBuf::new(),
            false,
            ChangeLog::empty(Path::new("")),
            model,
            params,
        )
    }

    fn empty(
        dir: PathBuf,
        on_disk: bool,
        changes: ChangeLog,
        model: &ModelStamp,
        params: IndexParams,
    ) -> Self {
        Self {
            dir,
            on_disk,
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
            dirty: on_disk,
            changes,
            seq: 0,
            logged: 0,
            version: 0,
            slot_epoch: 0,
            graph_damage: None,
        }
    }

    /// Creates an empty collection in `dir` (created if missing, must not hold one).
    pub fn create(dir: &Path, model: &ModelStamp, params: IndexParams) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let changes = ChangeLog::read::<Change>(dir)?.0;
        let mut c = Self::empty(dir.to_path_buf(), true, changes, model, params);
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
            on_disk: true,
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
    pub(super) fn replay(&mut self, records: Vec<(u64, Change)>) -> Result<()> {
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
}
