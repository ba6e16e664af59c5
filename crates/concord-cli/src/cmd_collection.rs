//! Collection commands: `concord ingest`, `concord search`, `concord overlaps`,
//! `concord docs` and `concord remove`, on a collection folder or (`--store`) on a
//! PostgreSQL store.

use crate::cmd_model::{load_embedder, load_judging_embedder, ModelChoice};
use anyhow::{bail, ensure, Context, Result};
use clap::{Args, ValueEnum};
use concord_embed::{Embedder, Prefix};
use concord_index::{Collection, IndexParams};
use concord_infer::{Batcher, BatcherOptions};
use concord_ingest::{ingest, model_stamp, IngestOptions, IngestReport, Store};
use concord_overlap::{Label, OverlapIndex, PairMatch, QueryOptions};
use concord_postgres::PgStore;
use concord_text::{read_articles, ReadOptions};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Args)]
pub struct CollectionArg {
    /// Collection folder.
    #[arg(long, env = "CONCORD_COLLECTION", default_value = "collection")]
    pub collection: PathBuf,
}

/// Where a command's articles are: a collection folder, or a PostgreSQL store.
#[derive(Args)]
pub struct StoreArgs {
    #[command(flatten)]
    collection: CollectionArg,
    /// A PostgreSQL + pgvector store instead of the folder:
    /// postgres://user@host:port/database (several hosts comma-separated; with
    /// target_session_attrs=read-write the primary is found among them).
    #[arg(long, env = "CONCORD_STORE")]
    store: Option<String>,
    /// With --store: first wait until the server has replayed the writes up to this WAL
    /// position (`concord ingest --store` prints it), to read them on a replica.
    #[arg(long, requires = "store")]
    after: Option<String>,
}

impl StoreArgs {
    /// The PostgreSQL URL, when the store is one.
    fn postgres(&self) -> Result<Option<&str>> {
        match self.store.as_deref() {
            None => Ok(None),
            Some(url) if concord_postgres::is_postgres_url(url) => Ok(Some(url)),
            Some(other) => {
                bail!("--store takes a postgres:// URL, not {other:?}; a folder is --collection")
            }
        }
    }

    /// Connects to the PostgreSQL store for reading, waiting for `--after`.
    fn connect(&self, url: &str) -> Result<PgStore> {
        PgStore::connect_after(url, self.after.as_deref(), Duration::from_secs(60))
    }

    /// The articles as the overlap engine reads them: the folder's collection, or one
    /// built in memory from the PostgreSQL store.
    fn open_for_engine(&self, embedder: &Embedder) -> Result<Collection> {
        match self.postgres()? {
            Some(url) => {
                let mut store = self.connect(url)?;
                store.check_model(&model_stamp(embedder)?)?;
                store.load()
            }
            None => open_checked(&self.collection.collection, embedder),
        }
    }

    /// The folder or the URL (password left out), for messages.
    fn name(&self) -> String {
        match self.store.as_deref() {
            Some(url) => concord_postgres::redact(url),
            None => self.collection.collection.display().to_string(),
        }
    }
}

#[derive(Args)]
pub struct IngestArgs {
    /// Article files (.txt, .md), JSONL files of {"id","title","text"}, or folders of them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Ingest only shard I of N of the inputs (`--shard 0/2` and `--shard 1/2` from two
    /// processes or machines share them out): an article belongs to the shard its id's
    /// hash picks, so every writer agrees without talking to the others.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(u64, u64)>,
}

fn parse_shard(s: &str) -> std::result::Result<(u64, u64), String> {
    let bad = || format!("{s:?} is not a shard I/N with 0 <= I < N (like 0/2)");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// The shard (of `n`) an article id belongs to: the first 8 bytes of its SHA-256.
fn shard_of(id: &str, n: u64) -> u64 {
    let h = Sha256::digest(id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&h[..8]);
    u64::from_le_bytes(first) % n
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
    store: StoreArgs,
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
    store: StoreArgs,
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
    store: StoreArgs,
}

#[derive(Args)]
pub struct RemoveArgs {
    /// Ids of the articles to delete.
    #[arg(required = true)]
    ids: Vec<String>,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn open_checked(dir: &Path, embedder: &Embedder) -> Result<Collection> {
    let c = Collection::open(dir)?;
    c.check_model(&model_stamp(embedder)?)?;
    Ok(c)
}

pub fn run_ingest(args: IngestArgs, model: &ModelChoice) -> Result<()> {
    let embedder = std::sync::Arc::new(load_embedder(model)?);
    let Some(url) = args.store.postgres()? else {
        ensure!(
            args.shard.is_none(),
            "--shard shares inputs among writers of one PostgreSQL store (--store); a \
             folder has one writer"
        );
        ingest_paths(
            &args.paths,
            &args.inputs,
            &embedder,
            Some(&args.store.collection.collection),
        )?;
        return Ok(());
    };
    let mut articles = read_inputs(&args.paths, &args.inputs)?;
    let total = articles.len();
    if let Some((i, n)) = args.shard {
        articles.retain(|a| shard_of(&a.id, n) == i);
    }
    let mut store = PgStore::open_writable(url, &model_stamp(&*embedder)?)?;
    let report = ingest_into(&mut store, &articles, &args.inputs, &embedder)?;
    let position = store.position()?;
    let (docs, passages) = store.counts()?;
    eprintln!(
        "{}: {} added, {} replaced, {} unchanged{}; {} passages embedded ({} tokens); store has {} articles, {} passages",
        args.store.name(),
        report.added,
        report.replaced,
        report.unchanged,
        match args.shard {
            Some((i, n)) => format!(" (shard {i}/{n}: {} of {total} inputs)", articles.len()),
            None => String::new(),
        },
        report.passages,
        report.tokens,
        docs,
        passages
    );
    // The last line, for readers of a replica: `--after POSITION` reads these writes.
    eprintln!("position: {position}");
    Ok(())
}

/// Reads every article under `paths` and checks that no id appears twice.
fn read_inputs(paths: &[PathBuf], inputs: &InputArgs) -> Result<Vec<concord_text::Article>> {
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
    Ok(articles)
}

/// Embeds `articles` through a batcher over `embedder` into `store`, with a progress bar.
fn ingest_into(
    store: &mut dyn Store,
    articles: &[concord_text::Article],
    inputs: &InputArgs,
    embedder: &std::sync::Arc<Embedder>,
) -> Result<IngestReport> {
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
    let report = ingest(&batcher, store, articles, &opts, &mut |p| {
        bar.set_position(p.articles_done as u64);
        bar.set_message(format!("{} passages", p.passages_done));
    })?;
    bar.finish_and_clear();
    for id in &report.empty {
        eprintln!("warning: article {id} has no passages (only headings, images or short lines)");
    }
    Ok(report)
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
    // Every input check comes before the collection folder is created.
    let articles = read_inputs(paths, inputs)?;
    let stamp = model_stamp(&**embedder)?;
    let mut collection = match dir {
        Some(dir) => Collection::open_or_create(dir, &stamp, IndexParams::default())?,
        None => Collection::in_memory(&stamp, IndexParams::default()),
    };
    let report = ingest_into(&mut collection, &articles, inputs, embedder)?;
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
    let mut args = args;
    args.docs = args.docs.iter().map(|d| lookup_id(d)).collect();
    let query = |embedder: &Embedder| -> Result<Vec<f32>> {
        embedder
            .embed(&[args.text.as_str()], Prefix::Query)?
            .pop()
            .context("no embedding")
    };
    let rows: Vec<serde_json::Value> = match args.store.postgres()? {
        Some(url) => {
            let mut store = args.store.connect(url)?;
            store.check_model(&model_stamp(&embedder)?)?;
            for d in &args.docs {
                if !store.has_doc(d)? {
                    bail!("no article {d:?} in {}", args.store.name());
                }
            }
            let ef = IndexParams::default().ef_search;
            store
                .search(&query(&embedder)?, args.k, ef, &args.docs)?
                .into_iter()
                .map(|h| {
                    serde_json::json!({
                        "doc": h.doc, "passage": format!("{}#{}", h.doc, h.passage.index),
                        "score": h.cosine, "start": h.passage.start, "end": h.passage.end,
                        "text": h.passage.text,
                    })
                })
                .collect()
        }
        None => {
            let collection = open_checked(&args.store.collection.collection, &embedder)?;
            for d in &args.docs {
                if collection.doc(d).is_none() {
                    bail!("no article {d:?} in {}", collection.dir().display());
                }
            }
            let hits = collection.search(&query(&embedder)?, args.k, &|p| {
                args.docs.is_empty() || args.docs.contains(&p.doc)
            });
            hits.iter()
                .filter_map(|h| {
                    let p = collection.passage(h.slot)?;
                    Some(serde_json::json!({
                        "doc": p.doc, "passage": p.id(), "score": h.cosine,
                        "start": p.passage.start, "end": p.passage.end, "text": p.passage.text,
                    }))
                })
                .collect()
        }
    };
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
    let collection = args.store.open_for_engine(&embedder)?;
    let mut args = args;
    args.doc = args.doc.as_deref().map(lookup_id);
    args.with = args.with.as_deref().map(lookup_id);
    for d in args.doc.iter().chain(&args.with) {
        if collection.doc(d).is_none() {
            bail!("no article {d:?} in {}", args.store.name());
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
    let mut out = BufWriter::new(std::io::stdout().lock());
    fn row(
        id: &str,
        title: &Option<String>,
        source: &Option<String>,
        passages: usize,
        meta: &concord_text::ArticleMeta,
    ) -> Result<serde_json::Value> {
        let mut row = serde_json::json!({
            "id": id, "title": title, "source": source, "passages": passages,
        });
        if let (Some(row), serde_json::Value::Object(meta)) =
            (row.as_object_mut(), serde_json::to_value(meta)?)
        {
            row.extend(meta);
        }
        Ok(row)
    }
    if let Some(url) = args.store.postgres()? {
        for d in args.store.connect(url)?.docs()? {
            writeln!(
                out,
                "{}",
                row(&d.id, &d.title, &d.source, d.passages, &d.meta)?
            )?;
        }
    } else {
        let c = Collection::open(&args.store.collection.collection)?;
        for d in c.docs() {
            writeln!(
                out,
                "{}",
                row(&d.id, &d.title, &d.source, d.slots.len(), &d.meta)?
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

pub fn run_remove(args: RemoveArgs) -> Result<()> {
    let mut missing = Vec::new();
    if let Some(url) = args.store.postgres()? {
        let model = PgStore::connect(url)?.model().clone();
        let mut store = PgStore::open_writable(url, &model)?;
        for id in &args.ids {
            if !store.remove(&lookup_id(id))? {
                missing.push(id.as_str());
            }
        }
    } else {
        let mut c = Collection::open_writable(&args.store.collection.collection)?;
        for id in &args.ids {
            if !c.remove(&lookup_id(id))? {
                missing.push(id.as_str());
            }
        }
        c.commit()?;
    }
    if !missing.is_empty() {
        bail!("no such article: {}", missing.join(", "));
    }
    eprintln!("removed {} article(s)", args.ids.len());
    Ok(())
}
