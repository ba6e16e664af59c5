//! `concord bench cluster`: what clustering costs as a collection grows, in time and
//! peak memory, on synthetic collections with a realistic neighbour structure.
//!
//! Each synthetic passage is a perturbed copy of a real embedding (Gaussian noise,
//! renormalised: a copy sits at cosine about 0.95 to its source) with its source's
//! text. Every source is copied a few times into different articles, so each real
//! sentence becomes one cross-article claim carried by a few articles, among
//! neighbours that are real sentences of the same languages and topics.
//!
//! Each size runs in its own child process, so its peak RSS is its own.

use crate::memory;
use anyhow::{bail, ensure, Context, Result};
use concord_index::{Collection, DocRecord, IndexParams, ModelStamp};
use concord_overlap::{OverlapIndex, QueryOptions};
use concord_text::Passage;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Shape of the synthetic collections.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Copies of each real sentence (articles carrying the same claim).
    pub copies: usize,
    /// Passages per article.
    pub per_article: usize,
    /// Standard deviation of the noise added to each coordinate.
    pub noise: f32,
}

/// Measurements for one size.
#[derive(Debug, Serialize, Deserialize)]
struct Row {
    passages: usize,
    articles: usize,
    index_s: f64,
    neighbourhoods_s: f64,
    pairs_s: f64,
    cluster_s: f64,
    rss_before_mib: f64,
    peak_rss_mib: f64,
    pairs: usize,
    claims: usize,
    /// Passages of the largest claim.
    largest_claim: usize,
    clusters: usize,
}

/// Runs every size in a child process and prints the table.
pub fn run(embeddings: &Path, sizes: &[usize], shape: Shape) -> Result<()> {
    let exe = std::env::current_exe()?;
    println!(
        "synthetic collections from {}: {} copies of each sentence, {} passages an article, noise {}",
        embeddings.display(),
        shape.copies,
        shape.per_article,
        shape.noise
    );
    println!(
        "| passages | articles | index s | neighbourhoods s | pairs s | clustering s | total s | pairs | claims | largest claim | clusters | RSS before MiB | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &n in sizes {
        let out = Command::new(&exe)
            .args(["bench", "cluster", "--one"])
            .arg(n.to_string())
            .arg("--copies")
            .arg(shape.copies.to_string())
            .arg("--per-article")
            .arg(shape.per_article.to_string())
            .arg("--noise")
            .arg(shape.noise.to_string())
            .arg(embeddings)
            .output()?;
        if !out.status.success() {
            bail!("size {n} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let r: Row = serde_json::from_slice(&out.stdout).context("child printed no row")?;
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {:.0} | {:.0} |",
            r.passages,
            r.articles,
            r.index_s,
            r.neighbourhoods_s,
            r.pairs_s,
            r.cluster_s,
            r.index_s + r.neighbourhoods_s + r.pairs_s + r.cluster_s,
            r.pairs,
            r.claims,
            r.largest_claim,
            r.clusters,
            r.rss_before_mib,
            r.peak_rss_mib
        );
    }
    Ok(())
}

/// One size, in this process: prints its [`Row`] as JSON.
pub fn run_one(embeddings: &Path, passages: usize, shape: Shape) -> Result<()> {
    if shape.copies == 0 || shape.per_article == 0 {
        bail!("--copies and --per-article must be at least 1");
    }
    let (texts, base) = crate::input::read_embedded(embeddings)?;
    if let Some(i) = texts.iter().position(String::is_empty) {
        bail!("{}:{}: no `text` to copy", embeddings.display(), i + 1);
    }
    let sources = passages.div_ceil(shape.copies);
    if sources > base.len() {
        bail!(
            "{passages} passages with {} copies need {sources} sentences; {} has {}",
            shape.copies,
            embeddings.display(),
            base.len()
        );
    }
    let stamp = ModelStamp {
        name: "synthetic".into(),
        dim: base[0].len(),
        fingerprint: String::new(),
    };
    let rss_before = memory::rss_mib().context("reading /proc/self/status")?;
    // Only what follows counts towards the peak.
    ensure!(memory::reset_peak(), "could not reset the peak RSS");

    let t = Instant::now();
    let mut collection = Collection::in_memory(&stamp, IndexParams::default());
    let articles = passages.div_ceil(shape.per_article);
    for (doc, ps, vectors) in synthetic_articles(&texts, &base, passages, sources, shape)? {
        collection.upsert(doc, ps, &vectors)?;
    }
    let index_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let index = OverlapIndex::new(&collection, crate::cmd_model::names());
    let neighbourhoods_s = t.elapsed().as_secs_f64();
    let opts = QueryOptions::default();
    let t = Instant::now();
    let pairs = index.all_pairs(None, &opts);
    let pairs_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let clustering = concord_cluster::from_pairs(&collection, pairs, opts.min_label);
    let cluster_s = t.elapsed().as_secs_f64();

    let row = Row {
        passages,
        articles,
        index_s,
        neighbourhoods_s,
        pairs_s,
        cluster_s,
        rss_before_mib: rss_before,
        peak_rss_mib: memory::peak_mib().context("reading /proc/self/status")?,
        pairs: clustering.pairs().count(),
        claims: clustering.claims.len(),
        largest_claim: clustering
            .claims
            .iter()
            .map(|c| c.passages.len())
            .max()
            .unwrap_or(0),
        clusters: clustering.clusters.len(),
    };
    println!("{}", serde_json::to_string(&row)?);
    Ok(())
}

/// The synthetic articles of a collection of `passages` passages, `shape.per_article`
/// each, as (record, passages, vectors): passage `i` copies sentence `i % sources` of
/// `base` (its text, its vector plus noise, renormalised), so the copies of one sentence
/// are `sources` passages apart and land in different articles. The same arguments give
/// the same articles; they are made one at a time, as they are taken.
pub fn synthetic_articles<'a>(
    texts: &'a [String],
    base: &'a [Vec<f32>],
    passages: usize,
    sources: usize,
    shape: Shape,
) -> Result<impl Iterator<Item = (DocRecord, Vec<Passage>, Vec<f32>)> + 'a> {
    ensure!(
        sources > 0 && sources <= base.len() && shape.per_article > 0,
        "{sources} sentences asked of {}",
        base.len()
    );
    let dim = base[0].len();
    let mut rng = StdRng::seed_from_u64(7);
    let noise = Normal::new(0.0f32, shape.noise)?;
    let articles = passages.div_ceil(shape.per_article);
    Ok((0..articles).map(move |a| {
        let range = a * shape.per_article..((a + 1) * shape.per_article).min(passages);
        let mut ps = Vec::with_capacity(range.len());
        let mut vectors = Vec::with_capacity(range.len() * dim);
        let mut offset = 0u32;
        for (index, i) in range.enumerate() {
            let s = i % sources;
            let mut v: Vec<f32> = base[s].iter().map(|x| x + noise.sample(&mut rng)).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            vectors.extend_from_slice(&v);
            let len = texts[s].chars().count() as u32;
            ps.push(Passage {
                index: index as u32,
                start: offset,
                end: offset + len,
                text: texts[s].clone(),
                section: None,
                paragraph: None,
            });
            offset += len + 2;
        }
        let doc = DocRecord {
            id: format!("synthetic-{a:06}"),
            title: None,
            source: None,
            meta: Default::default(),
            slots: Vec::new(),
        };
        (doc, ps, vectors)
    }))
}
