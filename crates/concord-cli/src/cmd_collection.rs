//! Collection commands: `concord ingest`, `concord search`, `concord overlaps`,
//! `concord docs` and `concord remove`.

use crate::cmd_model::{load_embedder, load_judging_embedder, ModelChoice};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use concord_embed::{Embedder, Prefix};
use concord_index::{Collection, IndexParams};
use concord_infer::{Batcher, BatcherOptions};
use concord_ingest::{ingest, model_stamp, IngestOptions};
use concord_overlap::{Label, OverlapIndex, PairMatch, QueryOptions};
use concord_text::{read_articles, ReadOptions};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct CollectionArg {
    /// Collection folder.
    #[arg(long, env = "CONCORD_COLLECTION", default_value = "collection")]
    pub collection: PathBuf,
}

#[derive(Args)]
pub struct IngestArgs {
    /// Article files (.txt, .md), JSONL files of {"id","title","text"}, or folders of them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    collection: CollectionArg,
    #[command(flatten)]
    pub inputs: InputArgs,
}

/// How article files are read and embedded.
#[derive(Args)]
pub struct InputArgs {
    /// Largest article accepted, in bytes.
    #[arg(long, default_value_t = ReadOptions::default().max_article_bytes)]
    max_article_bytes: usize,
    /// Report unreadable inputs and go on with the others instead of stopping.
    #[arg(long)]
    skip_invalid: bool,
    /// Articles embedded between two commits.
    #[arg(long, default_value_t = IngestOptions::default().commit_every)]
    commit_every: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Jsonl,
}

#[derive(Args)]
pub struct SearchArgs {
    /// The text to look for.
    text: String,
    #[command(flatten)]
    collection: CollectionArg,
    /// Number of passages returned.
    #[arg(short, default_value_t = 10)]
    k: usize,
    /// Only passages of these articles.
    #[arg(long = "doc")]
    docs: Vec<String>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

#[derive(Args)]
pub struct OverlapsArgs {
    #[command(flatten)]
    collection: CollectionArg,
    /// Only pairs with a passage of this article.
    #[arg(long)]
    doc: Option<String>,
    /// With --doc: align the two articles passage by passage.
    #[arg(long, requires = "doc")]
    with: Option<String>,
    /// Match this free text against the collection instead (a verbatim quote of six
    /// CJK characters or three words and up is always found, as duplicate or overlap).
    #[arg(long, conflicts_with_all = ["doc", "articles", "texts"])]
    text: Option<String>,
    /// Match each line of this file (a claim or quote per line) against the collection;
    /// each result carries `query`, the line's number from 1.
    #[arg(long, conflicts_with_all = ["doc", "articles"])]
    texts: Option<PathBuf>,
    /// Rank article pairs by what they share instead of listing passage pairs.
    #[arg(long)]
    articles: bool,
    /// Weakest label reported: duplicate, overlap, conflict, agree or related.
    #[arg(long, default_value = "agree")]
    min_label: Label,
    /// Also list the pairs of boilerplate (shared notices, disclaimers, prompts),
    /// apart from the findings; they never count as shared claims.
    #[arg(long)]
    boilerplate: bool,
    /// Candidates drawn from the index per passage.
    #[arg(long, default_value_t = QueryOptions::default().candidates)]
    candidates: usize,
    /// At most this many results (all when absent).
    #[arg(long)]
    limit: Option<usize>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Columns the table fits (default: COLUMNS, else the terminal's width, else 100).
    #[arg(long)]
    width: Option<usize>,
}

#[derive(Args)]
pub struct DocsArgs {
    #[command(flatten)]
    collection: CollectionArg,
}

#[derive(Args)]
pub struct RemoveArgs {
    /// Ids of the articles to delete.
    #[arg(required = true)]
    ids: Vec<String>,
    #[command(flatten)]
    collection: CollectionArg,
}

pub fn open_checked(dir: &Path, embedder: &Embedder) -> Result<Collection> {
    let c = Collection::open(dir)?;
    c.check_model(&model_stamp(embedder)?)?;
    Ok(c)
}

pub fn run_ingest(args: IngestArgs, model: &ModelChoice) -> Result<()> {
    let embedder = std::sync::Arc::new(load_embedder(model)?);
    ingest_paths(
        &args.paths,
        &args.inputs,
        &embedder,
        Some(&args.collection.collection),
    )?;
    Ok(())
}

/// Reads every article under `paths` (all checked before the collection is touched),
/// then adds them to the collection in `dir`, created if missing (or to a new one in
/// memory when there is no `dir`), with a progress bar. The claims are embedded
/// through a batcher over `embedder`.
pub fn ingest_paths(
    paths: &[PathBuf],
    inputs: &InputArgs,
    embedder: &std::sync::Arc<Embedder>,
    dir: Option<&Path>,
) -> Result<Collection> {
    let read = ReadOptions {
        max_article_bytes: inputs.max_article_bytes,
    };
    let mut articles = Vec::new();
    for p in paths {
        match read_articles(p, &read) {
            Ok(a) => articles.extend(a),
            Err(e) if inputs.skip_invalid => eprintln!("skipped: {e}"),
            Err(e) => return Err(e).context("nothing was ingested"),
        }
    }
    if articles.is_empty() {
        bail!("no articles to ingest");
    }
    // Every input check comes before the collection folder is created.
    let mut seen = std::collections::HashMap::new();
    for a in &articles {
        let here = a.source.as_deref().unwrap_or("?");
        if let Some(first) = seen.insert(a.id.as_str(), here) {
            bail!(
                "article id {:?} appears twice in the input ({first} and {here}); nothing was ingested",
                a.id
            );
        }
    }
    let stamp = model_stamp(&**embedder)?;
    let mut collection = match dir {
        Some(dir) => Collection::open_or_create(dir, &stamp, IndexParams::default())?,
        None => Collection::in_memory(&stamp, IndexParams::default()),
    };
    let opts = IngestOptions {
        commit_every: inputs.commit_every,
        ..Default::default()
    };
    let batcher = Batcher::start(
        embedder.clone(),
        BatcherOptions::unbounded(concord_embed::DEFAULT_BATCH_TOKENS),
        std::sync::Arc::new(()),
    );
    let bar = ProgressBar::new(articles.len() as u64).with_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} articles, {msg} eta {eta}",
    )?);
    let report = ingest(&batcher, &mut collection, &articles, &opts, &mut |p| {
        bar.set_position(p.articles_done as u64);
        bar.set_message(format!("{} passages", p.passages_done));
    })?;
    bar.finish_and_clear();
    for id in &report.empty {
        eprintln!("warning: article {id} has no passages (only headings, images or short lines)");
    }
    eprintln!(
        "{}: {} added, {} replaced, {} unchanged; {} passages embedded ({} tokens); collection has {} articles, {} passages",
        if collection.on_disk() {
            collection.dir().display().to_string()
        } else {
            "in memory".into()
        },
        report.added,
        report.replaced,
        report.unchanged,
        report.passages,
        report.tokens,
        collection.doc_count(),
        collection.passage_count()
    );
    Ok(collection)
}

/// An id as typed, in the stored form (NFC) when it follows the id rule; one that does
/// not is kept as typed and so is simply not found.
fn lookup_id(id: &str) -> String {
    concord_text::check_article_id(id).unwrap_or_else(|_| id.to_string())
}

pub fn run_search(args: SearchArgs, model: &ModelChoice) -> Result<()> {
    if args.text.trim().is_empty() {
        bail!("the search text is empty: give the claim or phrase to look for");
    }
    let embedder = load_embedder(model)?;
    let collection = open_checked(&args.collection.collection, &embedder)?;
    let mut args = args;
    args.docs = args.docs.iter().map(|d| lookup_id(d)).collect();
    for d in &args.docs {
        if collection.doc(d).is_none() {
            bail!("no article {d:?} in {}", collection.dir().display());
        }
    }
    let v = embedder
        .embed(&[args.text.as_str()], Prefix::Query)?
        .pop()
        .context("no embedding")?;
    let hits = collection.search(&v, args.k, &|p| {
        args.docs.is_empty() || args.docs.contains(&p.doc)
    });
    let rows: Vec<serde_json::Value> = hits
        .iter()
        .filter_map(|h| {
            let p = collection.passage(h.slot)?;
            Some(serde_json::json!({
                "doc": p.doc, "passage": p.id(), "score": h.cosine,
                "start": p.passage.start, "end": p.passage.end, "text": p.passage.text,
            }))
        })
        .collect();
    let mut out = BufWriter::new(std::io::stdout().lock());
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?,
        Format::Jsonl => {
            for r in &rows {
                writeln!(out, "{r}")?;
            }
        }
        Format::Table => {
            for r in &rows {
                writeln!(
                    out,
                    "{:.3}  {:<28} {}",
                    r["score"].as_f64().unwrap_or(0.0),
                    r["passage"].as_str().unwrap_or(""),
                    crate::table::clip(r["text"].as_str().unwrap_or(""), 70)
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

pub fn run_overlaps(args: OverlapsArgs, model: &ModelChoice) -> Result<()> {
    let embedder = load_judging_embedder(model)?;
    let collection = open_checked(&args.collection.collection, &embedder)?;
    let mut args = args;
    args.doc = args.doc.as_deref().map(lookup_id);
    args.with = args.with.as_deref().map(lookup_id);
    for d in args.doc.iter().chain(&args.with) {
        if collection.doc(d).is_none() {
            bail!("no article {d:?} in {}", collection.dir().display());
        }
    }
    let index = OverlapIndex::new(&collection, crate::cmd_model::names());
    let opts = QueryOptions {
        min_label: args.min_label,
        candidates: args.candidates.max(1),
        boilerplate: args.boilerplate,
    };
    let limit = args.limit.unwrap_or(usize::MAX);
    // Colour reaches a terminal only; anstream drops it for pipes, files and NO_COLOR.
    let mut out = BufWriter::new(anstream::stdout().lock());
    if args.articles {
        let mut pairs = index.article_pairs(&opts);
        if let Some(d) = &args.doc {
            pairs.retain(|p| &p.a == d || &p.b == d);
        }
        pairs.truncate(limit);
        if pairs.is_empty() {
            if args.format == Format::Table {
                writeln!(
                    out,
                    "no article pairs share a claim at or above the label asked for"
                )?;
            } else {
                writeln!(out, "[]")?;
            }
            out.flush()?;
            return Err(NothingFound.into());
        }
        match args.format {
            Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&pairs)?)?,
            Format::Jsonl => {
                for p in &pairs {
                    writeln!(out, "{}", serde_json::to_string(p)?)?;
                }
            }
            Format::Table => {
                let cols = crate::table::width(args.width);
                let name = |id: &str| match collection.doc(id).and_then(|d| d.title.as_deref()) {
                    Some(t) => crate::table::clip(t, cols.saturating_sub(32) / 2),
                    None => id.to_string(),
                };
                writeln!(out, "shared  dup  ovl  con  agr  articles")?;
                for p in &pairs {
                    writeln!(
                        out,
                        "{:6.2} {:4} {:4} {:4} {:4}  {} <> {}",
                        p.shared,
                        p.duplicate,
                        p.overlap,
                        p.conflict,
                        p.agree,
                        name(&p.a),
                        name(&p.b)
                    )?;
                }
            }
        }
        out.flush()?;
        return Ok(());
    }
    if let Some(file) = &args.texts {
        let lines =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let queries: Vec<(usize, &str)> = lines
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty())
            .collect();
        if queries.is_empty() {
            bail!("{}: no lines to look up", file.display());
        }
        let texts: Vec<&str> = queries.iter().map(|q| q.1).collect();
        let vectors = embedder.embed(&texts, Prefix::Passage)?;
        for ((n, text), v) in queries.iter().zip(&vectors) {
            let mut pairs = index.for_text(text, v, &opts);
            pairs.truncate(limit);
            match args.format {
                Format::Table => {
                    let cols = crate::table::width(args.width);
                    writeln!(out, "== {n}: {}", crate::table::clip(text, cols - 8))?;
                    crate::table::write_pairs(&mut out, &pairs, cols)?;
                }
                Format::Json | Format::Jsonl => {
                    for p in &pairs {
                        let mut row = serde_json::to_value(p)?;
                        row["query"] = serde_json::json!(n);
                        writeln!(out, "{row}")?;
                    }
                }
            }
        }
        out.flush()?;
        return Ok(());
    }
    let mut pairs = match (&args.text, &args.doc, &args.with) {
        (Some(text), _, _) => {
            let v = embedder
                .embed(&[text.as_str()], Prefix::Passage)?
                .pop()
                .context("no embedding")?;
            index.for_text(text, &v, &opts)
        }
        (None, Some(a), Some(b)) => index.align(a, b, &opts),
        (None, doc, None) => index.all_pairs(doc.as_deref(), &opts),
        (None, None, Some(_)) => unreachable!("clap requires --doc with --with"),
    };
    pairs.truncate(limit);
    write_pairs(
        &mut out,
        &pairs,
        args.format,
        crate::table::width(args.width),
    )?;
    out.flush()?;
    if pairs.iter().all(|p| p.label == Label::Boilerplate) {
        return Err(NothingFound.into());
    }
    Ok(())
}

/// No pair was found: the table says so and the exit status is 1, as grep's is.
#[derive(Debug)]
pub struct NothingFound;

impl std::fmt::Display for NothingFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("nothing found")
    }
}

impl std::error::Error for NothingFound {}

fn write_pairs(
    out: &mut impl Write,
    pairs: &[PairMatch],
    format: Format,
    cols: usize,
) -> Result<()> {
    match format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(pairs)?)?,
        Format::Jsonl => {
            for p in pairs {
                writeln!(out, "{}", serde_json::to_string(p)?)?;
            }
        }
        Format::Table => crate::table::write_pairs(out, pairs, cols)?,
    }
    Ok(())
}

pub fn run_docs(args: DocsArgs) -> Result<()> {
    let c = Collection::open(&args.collection.collection)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for d in c.docs() {
        let mut row = serde_json::json!({
            "id": d.id, "title": d.title, "source": d.source, "passages": d.slots.len(),
        });
        if let (Some(row), serde_json::Value::Object(meta)) =
            (row.as_object_mut(), serde_json::to_value(&d.meta)?)
        {
            row.extend(meta);
        }
        writeln!(out, "{row}")?;
    }
    out.flush()?;
    Ok(())
}

pub fn run_remove(args: RemoveArgs) -> Result<()> {
    let mut c = Collection::open_writable(&args.collection.collection)?;
    let mut missing = Vec::new();
    for id in &args.ids {
        if !c.remove(&lookup_id(id))? {
            missing.push(id.as_str());
        }
    }
    c.commit()?;
    if !missing.is_empty() {
        bail!("no such article: {}", missing.join(", "));
    }
    eprintln!("removed {} article(s)", args.ids.len());
    Ok(())
}
