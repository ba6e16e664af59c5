//! `concord`: finds which passages of a set of articles agree with or overlap each other.
//!
//! The binary only parses arguments and dispatches; each subcommand lives in its own
//! module over the library crates.

mod bench;
mod cmd_check;
mod cmd_cluster;
mod cmd_collection;
mod cmd_embed;
mod cmd_eval;
mod cmd_gold;
mod cmd_model;
mod cmd_serve;
mod cmd_similar;
mod input;
mod memory;
mod table;

use anyhow::Result;
use clap::{Parser, Subcommand};

// Inference allocates and frees large activation buffers on every step; mimalloc
// keeps them mapped instead of returning them to the OS and faulting them back in.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "concord", version, about)]
struct Cli {
    /// Model directory or Hugging Face Hub id (default: models/multilingual-e5-small).
    #[arg(long, global = true, env = "CONCORD_MODEL")]
    model: Option<String>,
    /// Where the model runs: auto (a GPU when this build has CUDA and one answers),
    /// cpu, cuda or cuda:N.
    #[arg(long, global = true, env = "CONCORD_DEVICE", default_value = "auto")]
    device: String,
    /// Worker threads for inference (default: all cores).
    #[arg(long, global = true, env = "CONCORD_THREADS")]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install, import or inspect the embedding model.
    #[command(subcommand)]
    Model(cmd_model::ModelCommand),
    /// Embed text lines or JSONL records, writing JSONL with vectors.
    Embed(cmd_embed::EmbedArgs),
    /// For each input text, the most similar other texts.
    Similar(cmd_similar::SimilarArgs),
    /// Add or replace articles in a collection.
    Ingest(cmd_collection::IngestArgs),
    /// Passages of a collection nearest to a text.
    Search(cmd_collection::SearchArgs),
    /// Passages of different articles that duplicate, overlap or agree.
    Overlaps(cmd_collection::OverlapsArgs),
    /// List the articles of a collection (JSONL).
    Docs(cmd_collection::DocsArgs),
    /// Delete articles from a collection.
    Remove(cmd_collection::RemoveArgs),
    /// Verify every file of a collection against its checksums (changes nothing).
    Check(cmd_check::CheckArgs),
    /// Rebuild what can be rebuilt of a damaged collection and report what was lost.
    Repair(cmd_check::RepairArgs),
    /// Group articles telling the same story and passages into cross-article claims;
    /// writes clusters.json, pairs.csv and report.html.
    Cluster(cmd_cluster::ClusterArgs),
    /// Serve a collection over HTTP (search, overlaps, documents, embeddings).
    Serve(cmd_serve::ServeArgs),
    /// Evaluate embeddings on labelled data.
    #[command(subcommand)]
    Eval(cmd_eval::EvalCommand),
    /// Measure throughput and latency.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Errors are printed as one line of causes and exit 1; never with a backtrace, whatever
/// `RUST_BACKTRACE` says (a user error is not a crash).
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // The output already said so; the status tells scripts, as grep's does.
        Err(e) if e.is::<cmd_collection::NothingFound>() => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A command whose reader has gone (`concord cluster ... | head`) stops there, as `cat`
/// and `grep` do, instead of panicking in `println!`: the default action of SIGPIPE,
/// which the Rust runtime sets to ignore. Not for `serve`, whose sockets must never
/// take the process down.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restores a signal's default disposition; no handler runs Rust code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn run() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONCORD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        quiet_on_closed_pipe();
    }
    if let Some(n) = cli.threads {
        // Both pools get the same size: rayon's (the fused CPU pass, gemm, candle's
        // matmul) and candle's own worker pool (its element-wise and quantised
        // kernels), which otherwise sizes itself from the machine.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        std::env::set_var("CANDLE_NUM_THREADS", n.to_string());
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()?;
    }
    let model = &cmd_model::ModelChoice {
        model: cli.model.as_deref(),
        device: &cli.device,
    };
    match cli.command {
        Command::Model(c) => cmd_model::run(c, model),
        Command::Embed(a) => cmd_embed::run(a, model),
        Command::Similar(a) => cmd_similar::run(a, model),
        Command::Ingest(a) => cmd_collection::run_ingest(a, model),
        Command::Search(a) => cmd_collection::run_search(a, model),
        Command::Overlaps(a) => cmd_collection::run_overlaps(a, model),
        Command::Docs(a) => cmd_collection::run_docs(a),
        Command::Remove(a) => cmd_collection::run_remove(a),
        Command::Check(a) => cmd_check::run_check(a),
        Command::Repair(a) => cmd_check::run_repair(a, model),
        Command::Cluster(a) => cmd_cluster::run(a, model),
        Command::Serve(a) => cmd_serve::run(a, model),
        Command::Eval(c) => cmd_eval::run(c, model),
        Command::Bench(c) => bench::run(c, model),
    }
}
