//! Changing a collection: upserts and removals (applied in memory, or logged durably
//! first), the write lock, and commits of new generations with compaction.

use super::change::Change;
use super::{Collection, DocRecord, StoredPassage};
use crate::changelog::ChangeLog;
use crate::generation::{
    generation_dir, graph_params, read_manifest, write_generation, DiskDoc, DiskPassage, Manifest,
    MANIFEST,
};
use crate::graph::HnswGraph;
use crate::lock::take_lock;
use crate::store;
use anyhow::{ensure, Result};
use concord_text::Passage;

impl Collection {
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
        ensure!(
            self.on_disk,
            "an in-memory collection has no change log: nothing it holds is durable"
        );
        self.changes.append(self.seq + 1, change)?;
        self.seq += 1;
        self.logged += 1;
        Ok(())
    }

    /// Applies a replayed change.
    pub(super) fn apply(&mut self, change: Change) -> Result<()> {
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

    pub(super) fn lock(&mut self) -> Result<()> {
        if self.lock.is_some() || !self.on_disk {
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
        if !self.on_disk {
            self.dirty = false;
            return Ok(());
        }
        let generation = self.manifest.generation + 1;
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
        let (files, graph) =
            write_generation(&self.dir, generation, disk_docs, &self.vectors, &self.graph)?;

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
