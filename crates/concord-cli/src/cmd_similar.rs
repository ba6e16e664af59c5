//! `concord similar [FILE]`: for each input text, its most similar other texts by
//! embedding cosine (an exhaustive comparison, meant for small inputs).

use crate::cmd_model::{load_embedder, ModelChoice};
use crate::input::{open_input, read_records};
use anyhow::Result;
use clap::Args;
use concord_embed::{Prefix, DEFAULT_BATCH_TOKENS};
use std::path::PathBuf;

#[derive(Args)]
pub struct SimilarArgs {
    /// Input file (text lines or JSONL); stdin when absent or `-`.
    file: Option<PathBuf>,
    /// Neighbours shown per text.
    #[arg(short, default_value_t = 1)]
    k: usize,
    /// e5 prefix on every text (query: suits symmetric comparison).
    #[arg(long, default_value = "query")]
    prefix: Prefix,
    /// Print JSON lines instead of text.
    #[arg(long)]
    json: bool,
}

fn snippet(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

pub fn run(args: SimilarArgs, model: &ModelChoice) -> Result<()> {
    let records = read_records(open_input(args.file.as_deref())?)?;
    let embedder = load_embedder(model)?;
    let texts: Vec<&str> = records.iter().map(|r| r.text.as_str()).collect();
    let vecs = embedder.embed_detailed(&texts, args.prefix, DEFAULT_BATCH_TOKENS, &mut |_| {})?;
    for (i, r) in records.iter().enumerate() {
        let mut scored: Vec<(f32, usize)> = (0..records.len())
            .filter(|&j| j != i)
            .map(|j| {
                let dot = vecs[i]
                    .vector
                    .iter()
                    .zip(&vecs[j].vector)
                    .map(|(a, b)| a * b)
                    .sum();
                (dot, j)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.truncate(args.k);
        if args.json {
            let nn: Vec<_> = scored
                .iter()
                .map(|(s, j)| serde_json::json!({"id": records[*j].id, "cosine": s}))
                .collect();
            println!("{}", serde_json::json!({"id": r.id, "neighbours": nn}));
        } else {
            println!("{}  {}", r.id, snippet(&r.text));
            for (s, j) in scored {
                println!(
                    "    {s:.3}  {}  {}",
                    records[j].id,
                    snippet(&records[j].text)
                );
            }
        }
    }
    Ok(())
}
