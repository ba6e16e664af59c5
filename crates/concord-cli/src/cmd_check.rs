//! `concord check` (verify a collection, changing nothing) and `concord repair`
//! (rebuild what can be rebuilt, report what was lost).

use crate::cmd_collection::CollectionArg;
use crate::cmd_model::{load_embedder, ModelChoice};
use anyhow::{bail, Result};
use clap::Args;
use concord_embed::{Embedder, Prefix};

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    collection: CollectionArg,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RepairArgs {
    #[command(flatten)]
    collection: CollectionArg,
}

/// Exits with an error when anything is damaged, so scripts can act on it.
pub fn run_check(args: CheckArgs) -> Result<()> {
    let dir = &args.collection.collection;
    let r = concord_index::check(dir)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "{}: generation {}, {} articles, {} passages, {} change records pending",
            dir.display(),
            r.generation,
            r.articles,
            r.passages,
            r.log_records
        );
        for f in &r.files {
            println!("  {:<10} {}", f.status, f.file);
        }
        if r.torn_bytes > 0 {
            println!(
                "  the change log ends with {} bytes of a record a crash cut short (never acknowledged)",
                r.torn_bytes
            );
        }
        for p in &r.problems {
            println!("problem: {p}");
        }
    }
    if !r.is_sound() {
        bail!(
            "{} is damaged ({} problems); `concord repair --collection {}` rebuilds what can be rebuilt",
            dir.display(),
            r.problems.len(),
            dir.display()
        );
    }
    if !args.json {
        println!("sound");
    }
    Ok(())
}

pub fn run_repair(args: RepairArgs, model: &ModelChoice) -> Result<()> {
    let dir = &args.collection.collection;
    // The model is loaded only if the vectors have to be embedded again.
    let mut embedder: Option<Embedder> = None;
    let mut reembed = |texts: &[&str]| -> Result<Vec<Vec<f32>>> {
        if embedder.is_none() {
            embedder = Some(load_embedder(model)?);
        }
        let e = embedder.as_ref().expect("loaded above");
        e.embed(texts, Prefix::Passage)
    };
    let r = concord_index::repair(dir, Some(&mut reembed))?;
    for a in &r.actions {
        println!("repaired: {a}");
    }
    for l in &r.lost {
        println!("lost: {l}");
    }
    if r.lost.is_empty() {
        println!("nothing was lost");
    }
    Ok(())
}
