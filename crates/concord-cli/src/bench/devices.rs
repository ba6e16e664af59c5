//! `concord bench devices`: one embedding workload run on each device in turn, in
//! one process: model load time; tokens/s and passages/s over the corpus for each batch
//! token budget (min / median / max over repeats); single-text latency p50/p99 at three
//! lengths; peak host memory (VmHWM, reset per device) and, on a GPU, peak device
//! memory as `nvidia-smi` reports it for the whole GPU. Prints Markdown; `--json`
//! writes the same figures.

use crate::cmd_model::{load_embedder_onto, ModelChoice};
use anyhow::{ensure, Result};
use concord_embed::{ComputeDevice, Embedder, Prefix};
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Token counts of the single-text probes (short, paragraph, long paragraph).
const PROBE_TOKENS: [usize; 3] = [14, 54, 142];

#[derive(Serialize)]
struct BudgetRun {
    batch_tokens: usize,
    tokens_per_s: [f64; 3],
    passages_per_s_median: f64,
}

#[derive(Serialize)]
struct LatencyRun {
    tokens: usize,
    p50_ms: f64,
    p99_ms: f64,
}

#[derive(Serialize)]
struct DeviceRun {
    device: String,
    dtype: String,
    load_s: f64,
    budgets: Vec<BudgetRun>,
    latency: Vec<LatencyRun>,
    peak_host_mib: Option<f64>,
    peak_device_mib: Option<f64>,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

/// Samples the GPU's used memory every 100 ms until stopped; the peak, if any sample.
struct DeviceMemory {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Option<f64>>,
}

impl DeviceMemory {
    fn start(ordinal: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut peak: Option<f64> = None;
            while !flag.load(Ordering::Relaxed) {
                let out = std::process::Command::new("nvidia-smi")
                    .args([
                        "--query-gpu=memory.used",
                        "--format=csv,noheader,nounits",
                        "-i",
                        &ordinal.to_string(),
                    ])
                    .output();
                match out.ok().filter(|o| o.status.success()) {
                    Some(o) => {
                        if let Ok(mib) = String::from_utf8_lossy(&o.stdout).trim().parse::<f64>() {
                            peak = Some(peak.map_or(mib, |p: f64| p.max(mib)));
                        }
                    }
                    None => return None,
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            peak
        });
        Self { stop, handle }
    }

    fn finish(self) -> Option<f64> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().ok().flatten()
    }
}

/// The corpus passage whose token count is nearest `target`.
fn probe<'a>(embedder: &Embedder, texts: &[&'a str], target: usize) -> Result<(&'a str, usize)> {
    let mut best = (texts[0], usize::MAX);
    for t in texts {
        let n = embedder.token_count(t, Prefix::Passage)?;
        if n.abs_diff(target) < best.1.abs_diff(target) {
            best = (t, n);
        }
    }
    Ok(best)
}

fn run_device(
    choice: &ModelChoice,
    texts: &[&str],
    budgets: &[usize],
    repeats: usize,
    latency_runs: usize,
) -> Result<DeviceRun> {
    crate::memory::reset_peak();
    let device = ComputeDevice::select(choice.device)?;
    let sampler = device.ordinal.map(DeviceMemory::start);
    let t0 = Instant::now();
    let embedder = load_embedder_onto(choice.model, &device)?;
    let load_s = t0.elapsed().as_secs_f64();
    let tokens: usize = texts
        .iter()
        .map(|t| embedder.token_count(t, Prefix::Passage))
        .sum::<Result<usize>>()?;

    let mut runs = Vec::new();
    for &budget in budgets {
        embedder.embed_detailed(
            &texts[..texts.len().min(16)],
            Prefix::Passage,
            budget,
            &mut |_| {},
        )?;
        let mut secs = Vec::new();
        for _ in 0..repeats.max(1) {
            let t = Instant::now();
            embedder.embed_detailed(texts, Prefix::Passage, budget, &mut |_| {})?;
            secs.push(t.elapsed().as_secs_f64());
        }
        secs.sort_by(f64::total_cmp);
        let med = secs[secs.len() / 2];
        runs.push(BudgetRun {
            batch_tokens: budget,
            tokens_per_s: [
                tokens as f64 / secs[secs.len() - 1],
                tokens as f64 / med,
                tokens as f64 / secs[0],
            ],
            passages_per_s_median: texts.len() as f64 / med,
        });
    }

    let mut latency = Vec::new();
    for target in PROBE_TOKENS {
        let (text, n) = probe(&embedder, texts, target)?;
        embedder.embed(&[text], Prefix::Passage)?;
        let mut ms: Vec<f64> = (0..latency_runs.max(1))
            .map(|_| {
                let t = Instant::now();
                embedder
                    .embed(&[text], Prefix::Passage)
                    .map(|_| t.elapsed().as_secs_f64() * 1e3)
            })
            .collect::<Result<_>>()?;
        ms.sort_by(f64::total_cmp);
        latency.push(LatencyRun {
            tokens: n,
            p50_ms: quantile(&ms, 0.5),
            p99_ms: quantile(&ms, 0.99),
        });
    }
    Ok(DeviceRun {
        device: device.label,
        dtype: embedder.runtime().dtype_label().to_string(),
        load_s,
        budgets: runs,
        latency,
        peak_host_mib: crate::memory::peak_mib(),
        peak_device_mib: sampler.and_then(DeviceMemory::finish),
    })
}

pub fn run(
    model: &ModelChoice,
    corpus: &Path,
    devices: &[String],
    budgets: &[usize],
    repeats: usize,
    latency_runs: usize,
    json: Option<&Path>,
) -> Result<()> {
    ensure!(
        !devices.is_empty() && !budgets.is_empty(),
        "no device or no budget to run"
    );
    let passages = concord_eval::corpus_passages(corpus)?;
    let texts: Vec<&str> = passages.iter().map(String::as_str).collect();
    ensure!(!texts.is_empty(), "no passages in {}", corpus.display());
    let mut results = Vec::new();
    for d in devices {
        let choice = ModelChoice {
            model: model.model,
            device: d,
        };
        results.push(run_device(&choice, &texts, budgets, repeats, latency_runs)?);
    }

    println!(
        "corpus: {} passages; {} repeats per budget; {} single-text calls per probe",
        texts.len(),
        repeats.max(1),
        latency_runs.max(1)
    );
    println!("\n| device | dtype | batch tokens | tokens/s (min / median / max) | passages/s |");
    println!("|---|---|---|---|---|");
    for r in &results {
        for b in &r.budgets {
            let [lo, med, hi] = b.tokens_per_s;
            println!(
                "| {} | {} | {} | {lo:.0} / {med:.0} / {hi:.0} | {:.1} |",
                r.device, r.dtype, b.batch_tokens, b.passages_per_s_median
            );
        }
    }
    println!("\n| device | load s | single text p50 / p99 ms | peak host MiB | peak device MiB |");
    println!("|---|---|---|---|---|");
    for r in &results {
        let lat: Vec<String> = r
            .latency
            .iter()
            .map(|l| format!("{} tok: {:.1} / {:.1}", l.tokens, l.p50_ms, l.p99_ms))
            .collect();
        let mib = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.0}"));
        println!(
            "| {} | {:.2} | {} | {} | {} |",
            r.device,
            r.load_s,
            lat.join("; "),
            mib(r.peak_host_mib),
            mib(r.peak_device_mib)
        );
    }
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_vec_pretty(&results)?)?;
    }
    Ok(())
}
