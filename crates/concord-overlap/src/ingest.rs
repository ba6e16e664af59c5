//! Ingestion: articles are segmented, their passages embedded (several short articles
//! in one call, so the model's batches are full) and the collection updated,
//! committing every few articles so a long run interrupted midway keeps what it
//! finished. An article whose passages are unchanged is not embedded again
//! ([`prepare`], which the server's writes go through too).

use anyhow::{ensure, Context, Result};
use concord_embed::{Embedder, Prefix, DEFAULT_BATCH_TOKENS};
use concord_index::{Collection, DocRecord, ModelStamp};
use concord_text::{segment, Article, SegmentOptions};
use sha2::{Digest, Sha256};
use std::collections::HashSet;

#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub segment: SegmentOptions,
    pub batch_tokens: usize,
    /// Articles between commits.
    pub commit_every: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            segment: SegmentOptions::default(),
            batch_tokens: DEFAULT_BATCH_TOKENS,
            commit_every: 32,
        }
    }
}

/// Reported after each article.
#[derive(Debug, Clone, Copy)]
pub struct IngestProgress {
    pub articles_done: usize,
    pub articles_total: usize,
    pub passages_done: usize,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IngestReport {
    pub added: usize,
    pub replaced: usize,
    pub unchanged: usize,
    /// Articles without a single passage (only headings, images or very short lines).
    pub empty: Vec<String>,
    pub passages: usize,
    pub tokens: usize,
}

/// Identifies the model in a collection: its folder name, dimension and a hash of its
/// configuration, vocabulary and weight checksums.
pub fn model_stamp(embedder: &Embedder) -> Result<ModelStamp> {
    let dir = embedder.model_dir();
    let mut h = Sha256::new();
    for name in [
        concord_embed::config::CONFIG_FILE,
        concord_embed::config::TOKENIZER_FILE,
    ] {
        let path = dir.join(name);
        h.update(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
    }
    match concord_embed::import::Manifest::load(dir) {
        Ok(m) => {
            for (name, sha) in &m.files {
                h.update(name.as_bytes());
                h.update(sha.as_bytes());
            }
        }
        // A Hub snapshot folder is named after its commit, which pins the weights.
        Err(_) => h.update(dir.display().to_string().as_bytes()),
    }
    h.update(format!("{:?}", embedder.weights_format()).as_bytes());
    // Pooling and prompts change the vectors too. e5's own hash as nothing, so
    // collections stamped before the profile was read keep their fingerprint.
    let profile = embedder.profile();
    if !profile.is_e5_default() {
        h.update(serde_json::to_string(profile)?.as_bytes());
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(ModelStamp {
        name,
        dim: embedder.dim(),
        fingerprint: hex::encode(h.finalize()),
    })
}

/// Adds or replaces `articles` in `collection`, committing as it goes and at the end.
pub fn ingest(
    embedder: &Embedder,
    collection: &mut Collection,
    articles: &[Article],
    opts: &IngestOptions,
    progress: &mut dyn FnMut(IngestProgress),
) -> Result<IngestReport> {
    let mut ids = HashSet::new();
    for a in articles {
        // Readers normalise ids; one built elsewhere must already follow the rule.
        match concord_text::check_article_id(&a.id) {
            Ok(id) => ensure!(id == a.id, "article id {:?} is not in NFC", a.id),
            Err(e) => anyhow::bail!("{e} ({})", a.source.as_deref().unwrap_or("?")),
        }
        ensure!(
            ids.insert(a.id.as_str()),
            "article id {:?} appears twice in the input ({})",
            a.id,
            a.source.as_deref().unwrap_or("?")
        );
    }
    let mut report = IngestReport::default();
    let mut since_commit = 0;
    // Articles to write, embedded together once they hold EMBED_GROUP claims (or at a
    // commit boundary): short articles alone would leave the model's batches half full.
    let mut pending: Vec<(DocRecord, Vec<concord_text::Passage>)> = Vec::new();
    let mut pending_claims = 0;
    for (i, a) in articles.iter().enumerate() {
        match prepare(collection, a, &opts.segment) {
            Prepared::Empty => report.empty.push(a.id.clone()),
            Prepared::Unchanged { .. } => report.unchanged += 1,
            Prepared::Write { doc, passages } => {
                pending_claims += passages.len();
                pending.push((*doc, passages));
            }
        }
        let last = i + 1 == articles.len();
        let boundary = since_commit + pending.len() >= opts.commit_every.max(1);
        if !pending.is_empty() && (last || boundary || pending_claims >= EMBED_GROUP) {
            since_commit += pending.len();
            write_group(
                embedder,
                collection,
                std::mem::take(&mut pending),
                opts,
                &mut report,
            )?;
            pending_claims = 0;
            if since_commit >= opts.commit_every.max(1) {
                collection.commit()?;
                since_commit = 0;
            }
        }
        if pending.is_empty() {
            progress(IngestProgress {
                articles_done: i + 1,
                articles_total: articles.len(),
                passages_done: report.passages,
            });
        }
    }
    collection.commit()?;
    Ok(report)
}

/// Claims embedded in one call during ingest (several short articles together).
const EMBED_GROUP: usize = 256;

/// Embeds the claims of `group` in one call and upserts each article.
fn write_group(
    embedder: &Embedder,
    collection: &mut Collection,
    group: Vec<(DocRecord, Vec<concord_text::Passage>)>,
    opts: &IngestOptions,
    report: &mut IngestReport,
) -> Result<()> {
    let texts: Vec<&str> = group
        .iter()
        .flat_map(|(_, ps)| ps.iter().map(|p| p.text.as_str()))
        .collect();
    let ids: Vec<&str> = group.iter().map(|(d, _)| d.id.as_str()).collect();
    let embedded = embedder
        .embed_detailed(&texts, Prefix::Passage, opts.batch_tokens, &mut |_| {})
        .with_context(|| format!("embedding article(s) {}", ids.join(", ")))?;
    report.tokens += embedded.iter().map(|e| e.tokens).sum::<usize>();
    let mut rows = embedded.into_iter();
    for (doc, passages) in group {
        let vectors: Vec<f32> = rows
            .by_ref()
            .take(passages.len())
            .flat_map(|e| e.vector)
            .collect();
        if collection.doc(&doc.id).is_some() {
            report.replaced += 1;
        } else {
            report.added += 1;
        }
        report.passages += passages.len();
        collection.upsert(doc, passages, &vectors)?;
    }
    Ok(())
}

/// What writing an article into a collection takes, decided before anything is
/// embedded: the one step every way in (`ingest` here, the server's `POST /documents`)
/// goes through, so both skip an article the collection already holds as it is.
pub enum Prepared {
    /// No passage in the text (only headings, images or very short lines).
    Empty,
    /// The collection holds the article with the same title and these many passages.
    Unchanged { passages: usize },
    /// Embed these passages and upsert them under `doc` (boxed: the record is large
    /// beside the other variants).
    Write {
        doc: Box<DocRecord>,
        passages: Vec<concord_text::Passage>,
    },
}

/// Segments `article` and compares it with what `collection` holds under its id.
pub fn prepare(collection: &Collection, article: &Article, opts: &SegmentOptions) -> Prepared {
    let passages = segment(&article.text, opts);
    if passages.is_empty() {
        Prepared::Empty
    } else if unchanged(collection, article, &passages) {
        Prepared::Unchanged {
            passages: passages.len(),
        }
    } else {
        Prepared::Write {
            doc: Box::new(DocRecord {
                id: article.id.clone(),
                title: article.title.clone(),
                source: article.source.clone(),
                meta: article.meta.clone(),
                slots: Vec::new(),
            }),
            passages,
        }
    }
}

fn unchanged(c: &Collection, a: &Article, passages: &[concord_text::Passage]) -> bool {
    let Some(rec) = c.doc(&a.id) else {
        return false;
    };
    rec.title == a.title
        && rec.meta == a.meta
        && rec.slots.len() == passages.len()
        && rec
            .slots
            .iter()
            .zip(passages)
            .all(|(&s, p)| c.passage(s).is_some_and(|sp| &sp.passage == p))
}
