//! `concord embed [FILE]`: JSONL `{"id","text","embedding"}` on stdout, in input order.

use crate::cmd_model::{load_embedder, ModelChoice};
use crate::input::{open_input, read_records};
use anyhow::Result;
use clap::Args;
use concord_embed::{Prefix, DEFAULT_BATCH_TOKENS};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

#[derive(Args)]
pub struct EmbedArgs {
    /// Input file (text lines or JSONL); stdin when absent or `-`.
    file: Option<PathBuf>,
    /// e5 prefix: passage (documents), query (questions, symmetric tasks) or none.
    #[arg(long, default_value = "passage")]
    prefix: Prefix,
    /// Token budget of one forward pass.
    #[arg(long, default_value_t = DEFAULT_BATCH_TOKENS)]
    batch_tokens: usize,
}

/// Texts embedded per output flush; bounds memory on large inputs.
const CHUNK: usize = 1024;

pub fn run(args: EmbedArgs, model: &ModelChoice) -> Result<()> {
    let records = read_records(open_input(args.file.as_deref())?)?;
    let embedder = load_embedder(model)?;

    let bar = ProgressBar::new(records.len() as u64).with_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} texts {per_sec} eta {eta}",
    )?);
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (c, chunk) in records.chunks(CHUNK).enumerate() {
        let texts: Vec<&str> = chunk.iter().map(|r| r.text.as_str()).collect();
        let base = (c * CHUNK) as u64;
        let n = chunk.len() as u64;
        let embs =
            embedder.embed_detailed(&texts, args.prefix, args.batch_tokens.max(1), &mut |p| {
                bar.set_position(base + n * p.tokens_done as u64 / p.tokens_total.max(1) as u64)
            })?;
        for (r, e) in chunk.iter().zip(embs) {
            let line = serde_json::json!({"id": r.id, "text": r.text, "embedding": e.vector});
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")?;
        }
        bar.set_position(base + n);
    }
    out.flush()?;
    bar.finish_and_clear();
    Ok(())
}
