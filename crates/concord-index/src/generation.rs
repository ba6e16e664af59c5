//! A collection's generations on disk: the manifest (`collection.json`: the model, the
//! index parameters, the current generation and its files' sums), each generation's
//! files (`docs.jsonl`, `vectors.f32`, the HNSW dump), reading them checked against the
//! manifest and writing a new one crash-safely.

use crate::graph::{GraphParams, HnswGraph};
use crate::store::{self, FileSum};
use anyhow::{ensure, Context, Result};
use concord_text::{ArticleMeta, Passage};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub(crate) const FORMAT: u32 = 1;
pub(crate) const MANIFEST: &str = "collection.json";

/// What to do about a damaged collection.
pub(crate) const REPAIR_HINT: &str =
    "`concord check` reports what is damaged, `concord repair` rebuilds what can be rebuilt";

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

pub(crate) fn graph_params(p: &IndexParams) -> GraphParams {
    GraphParams {
        max_connections: p.max_connections,
        ef_construction: p.ef_construction,
    }
}

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
pub(crate) fn load_graph(
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

/// Writes generation `generation` of the collection in `dir` (a folder written as
/// `.partial`, synced, then renamed into place) and returns its files' sums and whether
/// it holds a graph. The manifest still names the previous generation: the caller swaps
/// it once this returns.
pub(crate) fn write_generation(
    dir: &Path,
    generation: u64,
    docs: impl Iterator<Item = DiskDoc>,
    vectors: &[f32],
    graph_in: &HnswGraph,
) -> Result<(BTreeMap<String, FileSum>, bool)> {
    let final_dir = dir.join(generation_dir(generation));
    let tmp = dir.join(format!("{}.partial", generation_dir(generation)));
    for leftover in [&tmp, &final_dir] {
        if leftover.exists() {
            std::fs::remove_dir_all(leftover)
                .with_context(|| format!("removing stale {}", leftover.display()))?;
        }
    }
    std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut files = BTreeMap::new();
    files.insert(
        DOCS_FILE.to_string(),
        store::write_jsonl_summed(&tmp.join(DOCS_FILE), docs)?,
    );
    files.insert(
        VECTORS_FILE.to_string(),
        store::write_vectors(&tmp.join(VECTORS_FILE), vectors)?,
    );
    let graph = !graph_in.is_empty();
    if graph {
        graph_in.dump(&tmp)?;
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
    store::sync_dir(dir)?;
    Ok((files, graph))
}
