//! `concord bench store`: the PostgreSQL store as it grows, beside the in-memory
//! collection the folder store holds: write rate with one and with two writers, query
//! latency (p50/p99) on the primary and on a replica, recall@k against exact search,
//! and sizes (table and index on disk; this process's resident memory, which holds the
//! whole synthetic collection and the exact-search rows; for the in-memory collection,
//! what building it added).
//!
//! The collection is the synthetic one of `bench cluster` (perturbed copies of real
//! embeddings, 20 passages an article), filled step by step up to each size in an empty
//! database. At each step its first [`SOLO_ARTICLES`] articles are written by one
//! writer, the rest by two at once, each on its own connection, through the store's
//! own write path (one transaction per article). Queries are perturbed copies of other
//! real sentences, the same for every size and store.

use super::cluster::{synthetic_articles, Shape};
use crate::memory;
use anyhow::{bail, ensure, Result};
use concord_index::{Collection, DocRecord, IndexParams, ModelStamp};
use concord_postgres::PgStore;
use concord_text::Passage;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// Articles of each step written by one writer alone.
const SOLO_ARTICLES: usize = 100;

pub struct Options<'a> {
    pub embeddings: &'a Path,
    pub store: &'a str,
    pub replica: Option<&'a str>,
    pub sizes: &'a [usize],
    pub queries: usize,
    pub k: usize,
    pub ef: &'a [usize],
    pub shape: Shape,
    /// Leave out the in-memory collection (its build is as long as the store's fill).
    pub no_folder: bool,
}

type Article = (DocRecord, Vec<Passage>, Vec<f32>);

pub fn run(o: &Options) -> Result<()> {
    ensure!(
        !o.sizes.is_empty() && o.k > 0 && o.queries > 0,
        "nothing to measure"
    );
    let mut sizes = o.sizes.to_vec();
    sizes.sort_unstable();
    let largest = *sizes.last().unwrap_or(&0);
    let (texts, base) = crate::input::read_embedded(o.embeddings)?;
    ensure!(
        !base.is_empty(),
        "{}: no embeddings",
        o.embeddings.display()
    );
    let dim = base[0].len();
    let stamp = ModelStamp {
        name: "synthetic".into(),
        dim,
        fingerprint: String::new(),
    };
    let sources = largest.div_ceil(o.shape.copies).min(base.len());
    let articles: Vec<Article> =
        synthetic_articles(&texts, &base, largest, sources, o.shape)?.collect();
    let queries = make_queries(&base, o.queries, o.shape.noise)?;

    let mut primary = PgStore::open_writable(o.store, &stamp)?;
    if primary.counts()?.0 > 0 {
        bail!(
            "bench store needs an empty database; {} holds articles",
            concord_postgres::redact(o.store)
        );
    }
    let mut replica: Option<PgStore> = None;
    println!(
        "synthetic collection from {}: {} copies of each sentence, {} passages an article; {} queries, recall@{}; {} threads",
        o.embeddings.display(),
        o.shape.copies,
        o.shape.per_article,
        queries.len(),
        o.k,
        rayon::current_num_threads()
    );
    println!(
        "| store | passages | writes/s, 1 writer | writes/s, 2 writers | ef | recall@{} | p50 ms | p99 ms | table MiB | index MiB | bench RSS MiB |",
        o.k
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut done = 0; // articles written
    let per = o.shape.per_article;
    for &size in &sizes {
        let upto = size.div_ceil(per);
        let step = &articles[done..upto];
        let solo = step.len().min(SOLO_ARTICLES);
        let (rate1, rate2) = {
            let t = Instant::now();
            write(&mut primary, &step[..solo])?;
            let r1 = passages(&step[..solo]) as f64 / t.elapsed().as_secs_f64();
            let rest = &step[solo..];
            let r2 = if rest.is_empty() {
                "-".to_string()
            } else {
                let half = rest.len() / 2;
                let t = Instant::now();
                std::thread::scope(|s| -> Result<()> {
                    let a = s.spawn(|| -> Result<()> {
                        write(&mut PgStore::open_writable(o.store, &stamp)?, &rest[..half])
                    });
                    let b = s.spawn(|| -> Result<()> {
                        write(&mut PgStore::open_writable(o.store, &stamp)?, &rest[half..])
                    });
                    a.join()
                        .map_err(|_| anyhow::anyhow!("a writer panicked"))??;
                    b.join()
                        .map_err(|_| anyhow::anyhow!("a writer panicked"))??;
                    Ok(())
                })?;
                format!("{:.0}", passages(rest) as f64 / t.elapsed().as_secs_f64())
            };
            (r1, r2)
        };
        done = upto;
        let stored = &articles[..done];
        let n = passages(stored);
        let exact = exact_top(stored, &queries, o.k, dim);
        let (table_mib, index_mib) = primary.sizes_mib()?;
        let position = primary.position()?;
        for &ef in o.ef {
            let (recall, p50, p99) = measure(&queries, &exact, o.k, |q| {
                Ok(primary
                    .search(q, o.k, ef, &[])?
                    .into_iter()
                    .map(|h| global(&h.doc, h.passage.index, per))
                    .collect())
            })?;
            println!(
                "| postgres primary | {n} | {rate1:.0} | {rate2} | {ef} | {recall:.3} | {p50:.2} | {p99:.2} | {table_mib:.0} | {index_mib:.0} | {:.0} |",
                memory::rss_mib().unwrap_or(f64::NAN)
            );
            if let Some(url) = o.replica {
                let wait = Duration::from_secs(600);
                let r = match replica.as_mut() {
                    Some(r) => {
                        r.wait_for(&position, wait)?;
                        r
                    }
                    None => replica.insert(PgStore::connect_after(url, Some(&position), wait)?),
                };
                let (recall, p50, p99) = measure(&queries, &exact, o.k, |q| {
                    Ok(r.search(q, o.k, ef, &[])?
                        .into_iter()
                        .map(|h| global(&h.doc, h.passage.index, per))
                        .collect())
                })?;
                println!(
                    "| postgres replica | {n} | | | {ef} | {recall:.3} | {p50:.2} | {p99:.2} | | | |"
                );
            }
        }
        if o.no_folder {
            continue;
        }
        // The folder store's in-memory collection, built from scratch at this size.
        let rss_before = memory::rss_mib().unwrap_or(f64::NAN);
        let t = Instant::now();
        let mut c = Collection::in_memory(&stamp, IndexParams::default());
        for (doc, ps, v) in stored {
            c.upsert(doc.clone(), ps.clone(), v)?;
        }
        let rate = n as f64 / t.elapsed().as_secs_f64();
        let (recall, p50, p99) = measure(&queries, &exact, o.k, |q| {
            Ok(c.search(q, o.k, &|_| true)
                .into_iter()
                .filter_map(|h| c.passage(h.slot))
                .map(|p| global(&p.doc, p.passage.index, per))
                .collect())
        })?;
        println!(
            "| folder (in memory) | {n} | {rate:.0} | | {} | {recall:.3} | {p50:.2} | {p99:.2} | | | +{:.0} |",
            IndexParams::default().ef_search,
            memory::rss_mib().unwrap_or(f64::NAN) - rss_before
        );
    }
    Ok(())
}

fn passages(articles: &[Article]) -> usize {
    articles.iter().map(|a| a.1.len()).sum()
}

fn write(store: &mut PgStore, articles: &[Article]) -> Result<()> {
    for (doc, ps, v) in articles {
        store.put(doc, ps, v)?;
    }
    Ok(())
}

/// The number of passage `index` of article `synthetic-NNNNNN` in generation order.
fn global(doc: &str, index: u32, per_article: usize) -> usize {
    let a: usize = doc
        .strip_prefix("synthetic-")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX / 2);
    a * per_article + index as usize
}

/// Perturbed copies of sentences spread over `base`, unit length.
fn make_queries(base: &[Vec<f32>], n: usize, noise: f32) -> Result<Vec<Vec<f32>>> {
    let mut rng = StdRng::seed_from_u64(11);
    let normal = Normal::new(0.0f32, noise)?;
    Ok((0..n)
        .map(|_| {
            let b = &base[rng.random_range(0..base.len())];
            let mut v: Vec<f32> = b.iter().map(|x| x + normal.sample(&mut rng)).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            v
        })
        .collect())
}

/// The exact `k` nearest passages (generation numbers) of each query.
fn exact_top(articles: &[Article], queries: &[Vec<f32>], k: usize, dim: usize) -> Vec<Vec<usize>> {
    let rows: Vec<&[f32]> = articles
        .iter()
        .flat_map(|a| a.2.chunks_exact(dim))
        .collect();
    queries
        .par_iter()
        .map(|q| {
            let mut d: Vec<(f32, usize)> = rows
                .iter()
                .enumerate()
                .map(|(i, v)| (concord_index::dot(q, v), i))
                .collect();
            let k = k.min(d.len());
            if k > 0 {
                d.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
            }
            d.truncate(k);
            d.into_iter().map(|x| x.1).collect()
        })
        .collect()
}

/// Runs every query one after another: recall@k against `exact`, p50 and p99 in ms.
fn measure(
    queries: &[Vec<f32>],
    exact: &[Vec<usize>],
    k: usize,
    mut search: impl FnMut(&[f32]) -> Result<Vec<usize>>,
) -> Result<(f64, f64, f64)> {
    let mut times = Vec::with_capacity(queries.len());
    let (mut found, mut wanted) = (0usize, 0usize);
    for (q, truth) in queries.iter().zip(exact) {
        let t = Instant::now();
        let got = search(q)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        found += got.iter().take(k).filter(|g| truth.contains(g)).count();
        wanted += truth.len();
    }
    times.sort_by(f64::total_cmp);
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    Ok((found as f64 / wanted.max(1) as f64, at(0.5), at(0.99)))
}
