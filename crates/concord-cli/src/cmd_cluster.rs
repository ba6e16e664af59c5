//! `concord cluster`: groups articles that tell the same story and passages into
//! cross-article claims, writing `clusters.json`, `pairs.csv` and `report.html`.

use crate::cmd_collection::{ingest_paths, open_checked, InputArgs};
use crate::cmd_model::{load_judging_embedder, ModelChoice};
use anyhow::{bail, Context, Result};
use clap::Args;
use concord_cluster::report::{html, View};
use concord_cluster::{cluster, write_pairs_csv};
use concord_overlap::{Label, OverlapIndex, QueryOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct ClusterArgs {
    /// Articles to add first (files or folders, as for `concord ingest`); without any,
    /// the collection is clustered as it is.
    paths: Vec<PathBuf>,
    /// Collection folder; without it the articles go into a temporary collection.
    #[arg(long, env = "CONCORD_COLLECTION")]
    collection: Option<PathBuf>,
    /// Folder for clusters.json, pairs.csv and report.html (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Weakest label of the passage pairs that link articles and form claims.
    #[arg(long, default_value = "agree")]
    min_label: Label,
    /// Candidates drawn from the index per passage.
    #[arg(long, default_value_t = QueryOptions::default().candidates)]
    candidates: usize,
    /// Title of the report (default: the collection or input folder's name).
    #[arg(long)]
    title: Option<String>,
    #[command(flatten)]
    inputs: InputArgs,
}

pub fn run(args: ClusterArgs, model: &ModelChoice) -> Result<()> {
    if args.paths.is_empty() && args.collection.is_none() {
        bail!("give articles to cluster, a --collection, or both");
    }
    if args.min_label == Label::Related {
        bail!("--min-label related would link articles by topic alone; use agree or stronger");
    }
    let embedder = std::sync::Arc::new(load_judging_embedder(model)?);
    // Without --collection the articles are clustered in a collection in memory.
    let collection = match &args.collection {
        Some(dir) if args.paths.is_empty() => open_checked(dir, &embedder)?,
        dir => ingest_paths(&args.paths, &args.inputs, &embedder, dir.as_deref())?,
    };
    let opts = QueryOptions {
        min_label: args.min_label,
        candidates: args.candidates.max(1),

        ..Default::default()
    };
    let index = OverlapIndex::new(&collection, crate::cmd_model::names());
    let clustering = cluster(&index, &opts);

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let title = args.title.unwrap_or_else(|| {
        let named = args.collection.as_ref().or(args.paths.first());
        let name = named
            .and_then(|p| p.canonicalize().ok())
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "articles".into());
        format!("concord: {name}")
    });
    let view = View::new(title, &clustering, &collection);
    write_file(&args.out.join("clusters.json"), |w| {
        serde_json::to_writer_pretty(&mut *w, &clustering)?;
        writeln!(w)?;
        Ok(())
    })?;
    write_file(&args.out.join("pairs.csv"), |w| {
        write_pairs_csv(w, clustering.pairs())
    })?;
    let page = html(&view)?;
    write_file(&args.out.join("report.html"), |w| {
        w.write_all(page.as_bytes())?;
        Ok(())
    })?;

    println!(
        "{} articles, {} clusters, {} cross-article claims, {} passage pairs",
        clustering.articles.len(),
        clustering.clusters.len(),
        clustering.claims.len(),
        clustering.pairs().count()
    );
    if let Some(p) = clustering.article_pairs.first().map(|p| &p.pair) {
        println!(
            "shares the most: {} <> {} ({} duplicate, {} overlap, {} agree)",
            p.a, p.b, p.duplicate, p.overlap, p.agree
        );
    }
    for c in &clustering.clusters {
        println!("cluster {}: {}", c.id + 1, c.articles.join(", "));
    }
    println!(
        "wrote {}/{{clusters.json,pairs.csv,report.html}}",
        args.out.display()
    );
    Ok(())
}

/// Writes a file through a temporary sibling renamed into place, so a failed run never
/// leaves half a report.
fn write_file(
    path: &Path,
    f: impl FnOnce(&mut BufWriter<std::fs::File>) -> Result<()>,
) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mut w = BufWriter::new(tmp.reopen()?);
    f(&mut w)?;
    w.flush()?;
    w.get_ref().sync_all()?;
    // Readable like any other output file (temporary files start private).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
