//! `concord eval sts FILE.tsv...`: embedding cosine against labelled pairs.

use crate::cmd_model::{load_embedder, ModelChoice};
use anyhow::Result;
use clap::Subcommand;
use concord_embed::{Prefix, DEFAULT_BATCH_TOKENS};
use concord_eval::{best_threshold_accuracy, read_pairs, roc_auc, spearman, LabelKind};
use std::collections::HashMap;
use std::path::PathBuf;

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
}

pub fn run(cmd: EvalCommand, model: &ModelChoice) -> Result<()> {
    let EvalCommand::Sts {
        files,
        prefix,
        json,
    } = cmd;
    let embedder = load_embedder(model)?;
    for file in files {
        let set = read_pairs(&file)?;
        // Embed each distinct text once.
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut texts: Vec<&str> = Vec::new();
        for (a, b, _) in &set.pairs {
            for t in [a.as_str(), b.as_str()] {
                index.entry(t).or_insert_with(|| {
                    texts.push(t);
                    texts.len() - 1
                });
            }
        }
        let vecs = embedder.embed_detailed(&texts, prefix, DEFAULT_BATCH_TOKENS, &mut |_| {})?;
        let cos: Vec<f64> = set
            .pairs
            .iter()
            .map(|(a, b, _)| {
                let (va, vb) = (
                    &vecs[index[a.as_str()]].vector,
                    &vecs[index[b.as_str()]].vector,
                );
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
