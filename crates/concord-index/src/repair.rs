//! `concord check` and `concord repair`: verifying a collection folder file by file,
//! and rebuilding what can be rebuilt.
//!
//! [`check`] reads everything without changing anything and lists each problem: a
//! generation file whose size or CRC-32C differs from the manifest's, an article line
//! that fails its own checksum, a damaged or missing change record, a torn tail.
//!
//! [`repair`] takes the write lock and then: moves a damaged change log's records from
//! the first bad one on, and a torn tail, into files of their own beside the log (the
//! changes they held are reported lost; nothing is deleted); keeps the article lines
//! that pass their checksums (the others are reported lost); re-embeds every passage
//! when the vectors are damaged (with the model the caller passes); rebuilds the graph
//! from the vectors; and commits the result as a new generation.

use crate::changelog::{move_apart, scan, LOG_FILE};
use crate::collection::{Change, Collection};
use crate::generation::{
    generation_dir, read_manifest, read_verified, DiskDoc, DOCS_FILE, VECTORS_FILE,
};
use crate::graph::HnswGraph;
use crate::lock::take_lock;
use crate::store;
use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;
use std::path::Path;

/// The state of one generation file.
#[derive(Debug, Clone, Serialize)]
pub struct FileCheck {
    pub file: String,
    /// `ok`, `damaged`, `missing`, or `unverified` (written before checksums).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What [`check`] found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub generation: u64,
    pub articles: usize,
    pub passages: usize,
    pub files: Vec<FileCheck>,
    /// Complete change records that pass their checksums.
    pub log_records: usize,
    /// Bytes after the last complete record (a write a crash cut short).
    pub torn_bytes: u64,
    /// Every problem, in words; empty when the collection is sound.
    pub problems: Vec<String>,
}

impl CheckReport {
    pub fn is_sound(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the collection in `dir` without changing it. Fails only when `dir` holds
/// no readable manifest.
pub fn check(dir: &Path) -> Result<CheckReport> {
    let manifest = read_manifest(dir)?;
    let gen = dir.join(generation_dir(manifest.generation));
    let mut report = CheckReport {
        generation: manifest.generation,
        articles: manifest.docs,
        passages: manifest.passages,
        files: Vec::new(),
        log_records: 0,
        torn_bytes: 0,
        problems: Vec::new(),
    };
    let mut names = vec![DOCS_FILE.to_string(), VECTORS_FILE.to_string()];
    if manifest.graph {
        names.extend(HnswGraph::files());
    }
    for name in names {
        let path = gen.join(&name);
        let (status, detail) = if !path.is_file() {
            ("missing", None)
        } else if !manifest.files.contains_key(&name) {
            ("unverified", None)
        } else {
            match read_verified(&gen, &name, &manifest) {
                Ok(_) => ("ok", None),
                Err(e) => ("damaged", Some(format!("{e:#}"))),
            }
        };
        if status == "missing" || status == "damaged" {
            report.problems.push(
                detail
                    .clone()
                    .unwrap_or_else(|| format!("{} is missing", path.display())),
            );
        }
        report.files.push(FileCheck {
            file: format!("{}/{name}", generation_dir(manifest.generation)),
            status,
            detail,
        });
    }
    if let Ok(bytes) = std::fs::read(gen.join(DOCS_FILE)) {
        let lines = store::parse_jsonl_summed::<DiskDoc>(&bytes);
        for (i, l) in lines.iter().enumerate() {
            if let Err(e) = l {
                report.problems.push(format!(
                    "{}:{}: damaged article record ({e})",
                    gen.join(DOCS_FILE).display(),
                    i + 1
                ));
            }
        }
        if lines.len() != manifest.docs {
            report.problems.push(format!(
                "{}: {} article lines, the manifest says {}",
                gen.join(DOCS_FILE).display(),
                lines.len(),
                manifest.docs
            ));
        }
    }
    let log = dir.join(LOG_FILE);
    let bytes = match std::fs::read(&log) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", log.display())),
    };
    let sc = scan::<Change>(&bytes);
    report.log_records = sc.records.len();
    match &sc.damaged {
        Some(d) => report
            .problems
            .push(format!("{}:{}: {}", log.display(), d.line, d.reason)),
        None => report.torn_bytes = (bytes.len() - sc.valid_len) as u64,
    }
    if let Some(first) = sc.records.iter().find(|r| r.0 > manifest.log_seq) {
        if first.0 != manifest.log_seq + 1 {
            report.problems.push(format!(
                "{}: the log goes on at change {} after change {}: changes are missing",
                log.display(),
                first.0,
                manifest.log_seq
            ));
        }
    }
    if report.problems.is_empty() {
        // Whatever else an open checks (slots, the replay itself).
        if let Err(e) = Collection::open(dir) {
            report.problems.push(format!("{e:#}"));
        }
    }
    Ok(report)
}

/// What [`repair`] did, and what could not be saved.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepairReport {
    pub actions: Vec<String>,
    pub lost: Vec<String>,
}

/// Embeds passage texts (one unit vector of the collection's dimension each, in order).
pub type Reembed<'a> = dyn FnMut(&[&str]) -> Result<Vec<Vec<f32>>> + 'a;

/// Repairs the collection in `dir` (see the module doc) and commits it. `reembed` is
/// needed only when the vectors are damaged.
pub fn repair(dir: &Path, reembed: Option<&mut Reembed>) -> Result<RepairReport> {
    let manifest = read_manifest(dir)?;
    let lock = take_lock(dir)?;
    let mut report = RepairReport::default();
    let gen = dir.join(generation_dir(manifest.generation));

    // The change log: keep the records up to the first bad one; move the rest apart.
    let log = dir.join(LOG_FILE);
    if let Ok(bytes) = std::fs::read(&log) {
        let sc = scan::<Change>(&bytes);
        let mut keep = sc.valid_len;
        let mut why = None;
        if let Some(d) = &sc.damaged {
            why = Some(format!("line {}: {}", d.line, d.reason));
        }
        // A gap between the generation and the first record beyond it.
        if let Some(first) = sc.records.iter().position(|r| r.0 > manifest.log_seq) {
            let seq = sc.records[first].0;
            if seq != manifest.log_seq + 1 {
                keep = if first == 0 {
                    0
                } else {
                    sc.records[first - 1].2
                };
                why = Some(format!(
                    "change {seq} follows change {}: changes are missing",
                    manifest.log_seq
                ));
            }
        }
        if keep < bytes.len() {
            let kind = if why.is_some() { "damaged" } else { "torn" };
            let apart = move_apart(&log, keep as u64, kind)?;
            let name = apart.file_name().map(|n| n.to_string_lossy().into_owned());
            let name = name.unwrap_or_default();
            match why {
                Some(w) => report.lost.push(format!(
                    "{LOG_FILE}: {w}; the {} bytes from there on are in {name}, and the \
                     changes they held are not in the collection",
                    bytes.len() - keep
                )),
                None => report.actions.push(format!(
                    "{LOG_FILE}: a record a crash cut short (never acknowledged), {} bytes, \
                     moved to {name}",
                    bytes.len() - keep
                )),
            }
        }
    }

    // The articles: every line that passes its checksum.
    let docs_bytes = std::fs::read(gen.join(DOCS_FILE))
        .with_context(|| format!("reading {}", gen.join(DOCS_FILE).display()))?;
    let mut docs = Vec::new();
    for (i, l) in store::parse_jsonl_summed::<DiskDoc>(&docs_bytes)
        .into_iter()
        .enumerate()
    {
        match l {
            Ok(d) => docs.push(d),
            Err(e) => report
                .lost
                .push(format!("{DOCS_FILE} line {}: damaged article ({e})", i + 1)),
        }
    }
    if docs.len()
        + report
            .lost
            .iter()
            .filter(|l| l.starts_with(DOCS_FILE))
            .count()
        < manifest.docs
    {
        report.lost.push(format!(
            "{DOCS_FILE}: {} article lines are gone (the manifest counted {})",
            manifest.docs.saturating_sub(docs.len()),
            manifest.docs
        ));
    }
    let mut seen = vec![false; manifest.slots];
    docs.retain(|d| {
        let fits = d
            .passages
            .iter()
            .all(|p| p.slot < manifest.slots && !seen[p.slot]);
        if fits {
            d.passages.iter().for_each(|p| seen[p.slot] = true);
        } else {
            report.lost.push(format!(
                "article {:?}: its slots do not fit the vectors",
                d.id
            ));
        }
        fits
    });

    // The vectors: as they are, or embedded again from the texts.
    let dim = manifest.model.dim;
    let vectors = match read_verified(&gen, VECTORS_FILE, &manifest) {
        Ok(b) if b.len() == manifest.slots * dim * 4 => store::f32_from_le(&b),
        other => {
            let why = match other {
                Ok(b) => format!("{} bytes for {} slots", b.len(), manifest.slots),
                Err(e) => format!("{e:#}"),
            };
            let Some(embed) = reembed else {
                bail!("{why}: the vectors must be embedded again, which needs the model");
            };
            let mut vectors = vec![0f32; manifest.slots * dim];
            let mut slots = Vec::new();
            let mut texts = Vec::new();
            for d in &docs {
                for p in &d.passages {
                    slots.push(p.slot);
                    texts.push(p.passage.text.as_str());
                }
            }
            for (chunk_slots, chunk) in slots.chunks(256).zip(texts.chunks(256)) {
                let got = embed(chunk)?;
                ensure!(
                    got.len() == chunk.len(),
                    "the model embedded {} of {} texts",
                    got.len(),
                    chunk.len()
                );
                for (&s, v) in chunk_slots.iter().zip(got) {
                    ensure!(
                        v.len() == dim,
                        "the model gives {} dimensions, the collection {dim}",
                        v.len()
                    );
                    vectors[s * dim..(s + 1) * dim].copy_from_slice(&v);
                }
            }
            report.actions.push(format!(
                "{VECTORS_FILE} was damaged ({why}): {} passages embedded again",
                texts.len()
            ));
            vectors
        }
    };

    let mut m = manifest.clone();
    m.docs = docs.len();
    let c = Collection::from_parts(dir, m, docs, vectors)?;
    if let Some(d) = c.graph_damage() {
        report
            .actions
            .push(format!("graph rebuilt from the vectors ({d})"));
    }
    let c = c.commit_repaired(lock)?;
    report.actions.push(format!(
        "committed generation {}: {} articles, {} passages",
        c.generation(),
        c.doc_count(),
        c.passage_count()
    ));
    Ok(report)
}
