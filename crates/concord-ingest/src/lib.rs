//! concord-ingest: the one way an article enters a collection, for `concord ingest` and
//! the server's `POST /documents` alike. An article is segmented and compared with what
//! the collection holds under its id ([`prepare`]: an unchanged one is not embedded
//! again), its claims are embedded through an [`Embed`] (the embedder, or the batcher
//! that queues for it) and written with [`apply`].
//!
//! [`ingest`] writes many articles into any [`Store`] (the collection, or a database
//! such as the PostgreSQL store), several short ones per embedding call so the
//! batches are full, committing every few articles so a long run interrupted midway
//! keeps what it finished. [`write_article`] writes one into a collection that others
//! read meanwhile (the server's), logging it before it answers.

use anyhow::{ensure, Context, Result};
use concord_embed::{Embed, Embedding, Prefix};
use concord_index::{Collection, DocRecord, ModelStamp};
use concord_text::{segment, Article, Passage, SegmentOptions};
use std::collections::HashSet;
use std::ops::{Deref, DerefMut};

#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub segment: SegmentOptions,
    /// Articles between commits.
    pub commit_every: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            segment: SegmentOptions::default(),
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

/// The stamp a collection records for the model behind `embed` (its fingerprint).
pub fn model_stamp(embed: &dyn Embed) -> Result<ModelStamp> {
    let f = embed.fingerprint()?;
    Ok(ModelStamp {
        name: f.name,
        dim: f.dim,
        fingerprint: f.hash,
    })
}

/// Where [`ingest`] writes: the collection (folder or in memory) or a database.
pub trait Store {
    /// Whether the store holds `article` as it is, segmented into `passages` (same
    /// title, metadata and passages), so it need not be embedded again.
    fn holds(&mut self, article: &Article, passages: &[Passage]) -> Result<bool>;
    /// Adds or replaces one article; `vectors` holds one unit-length row per passage.
    /// `true` when the article is new to the store.
    fn put(&mut self, doc: DocRecord, passages: Vec<Passage>, vectors: &[f32]) -> Result<bool>;
    /// Makes everything put so far durable (a store whose every put is durable on
    /// return has nothing to do).
    fn commit(&mut self) -> Result<()>;
}

impl Store for Collection {
    fn holds(&mut self, article: &Article, passages: &[Passage]) -> Result<bool> {
        Ok(unchanged(self, article, passages))
    }

    fn put(&mut self, doc: DocRecord, passages: Vec<Passage>, vectors: &[f32]) -> Result<bool> {
        let created = self.doc(&doc.id).is_none();
        self.upsert(doc, passages, vectors)?;
        Ok(created)
    }

    fn commit(&mut self) -> Result<()> {
        Collection::commit(self)
    }
}

/// Adds or replaces `articles` in `store`, committing as it goes and at the end.
pub fn ingest(
    embed: &dyn Embed,
    store: &mut dyn Store,
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
    let mut pending: Vec<(DocRecord, Vec<Passage>)> = Vec::new();
    let mut pending_claims = 0;
    for (i, a) in articles.iter().enumerate() {
        match prepare_for(store, a, &opts.segment)? {
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
            write_group(embed, store, std::mem::take(&mut pending), &mut report)?;
            pending_claims = 0;
            if since_commit >= opts.commit_every.max(1) {
                store.commit()?;
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
    store.commit()?;
    Ok(report)
}

/// Claims embedded in one call during ingest (several short articles together).
const EMBED_GROUP: usize = 256;

/// Embeds the claims of `group` in one call and upserts each article.
fn write_group(
    embed: &dyn Embed,
    store: &mut dyn Store,
    group: Vec<(DocRecord, Vec<Passage>)>,
    report: &mut IngestReport,
) -> Result<()> {
    let texts: Vec<&str> = group
        .iter()
        .flat_map(|(_, ps)| ps.iter().map(|p| p.text.as_str()))
        .collect();
    let ids: Vec<&str> = group.iter().map(|(d, _)| d.id.as_str()).collect();
    let embedded = embed
        .embed_texts(&texts, Prefix::Passage)
        .with_context(|| format!("embedding article(s) {}", ids.join(", ")))?;
    report.tokens += embedded.iter().map(|e| e.tokens).sum::<usize>();
    let mut rows = embedded.into_iter();
    for (doc, passages) in group {
        let vectors = rows_of(rows.by_ref().take(passages.len()).collect(), &passages)?;
        report.passages += passages.len();
        if store.put(doc, passages, &vectors)? {
            report.added += 1;
        } else {
            report.replaced += 1;
        }
    }
    Ok(())
}

/// The embeddings of `passages` (in passage order) as one row-major block of vectors.
fn rows_of(embedded: Vec<Embedding>, passages: &[Passage]) -> Result<Vec<f32>> {
    ensure!(
        embedded.len() == passages.len(),
        "{} embeddings for {} passages",
        embedded.len(),
        passages.len()
    );
    Ok(embedded.into_iter().flat_map(|e| e.vector).collect())
}

/// Writes one prepared article with its claims' embeddings (in passage order) to the
/// change log (synced) and then to the collection: durable on return. `true` when the
/// article is new to the collection.
pub fn apply(
    collection: &mut Collection,
    doc: DocRecord,
    passages: Vec<Passage>,
    embedded: Vec<Embedding>,
) -> Result<bool> {
    let vectors = rows_of(embedded, &passages)?;
    let created = collection.doc(&doc.id).is_none();
    collection.upsert_logged(doc, passages, &vectors)?;
    Ok(created)
}

/// A collection shared with readers: read access for [`prepare`], write access to apply
/// (the server's live collection behind its lock).
pub trait Shared {
    fn read(&self) -> impl Deref<Target = Collection> + '_;
    fn write(&self) -> impl DerefMut<Target = Collection> + '_;
}

/// What [`write_article`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// No passage in the text.
    Empty,
    /// The collection already held it as it is.
    Unchanged { passages: usize },
    /// Written and logged.
    Stored {
        passages: usize,
        tokens: usize,
        created: bool,
    },
}

/// Writes one article into a collection others read meanwhile: prepared under a read
/// lock, embedded under none, applied under the write lock and logged before this
/// returns. `after` runs under the same write lock after a write (to fold the log).
pub fn write_article(
    shared: &impl Shared,
    embed: &dyn Embed,
    article: &Article,
    opts: &SegmentOptions,
    after: impl FnOnce(&mut Collection),
) -> Result<Written> {
    let prepared = prepare(&shared.read(), article, opts);
    let (doc, passages) = match prepared {
        Prepared::Empty => return Ok(Written::Empty),
        Prepared::Unchanged { passages } => return Ok(Written::Unchanged { passages }),
        Prepared::Write { doc, passages } => (*doc, passages),
    };
    let texts: Vec<&str> = passages.iter().map(|p| p.text.as_str()).collect();
    let embedded = embed.embed_texts(&texts, Prefix::Passage)?;
    let tokens = embedded.iter().map(|e| e.tokens).sum();
    let n = passages.len();
    let mut c = shared.write();
    let created = apply(&mut c, doc, passages, embedded)?;
    after(&mut c);
    Ok(Written::Stored {
        passages: n,
        tokens,
        created,
    })
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
        passages: Vec<Passage>,
    },
}

/// Segments `article` and compares it with what `collection` holds under its id.
pub fn prepare(collection: &Collection, article: &Article, opts: &SegmentOptions) -> Prepared {
    let passages = segment(&article.text, opts);
    let held = !passages.is_empty() && unchanged(collection, article, &passages);
    prepared(article, passages, held)
}

/// [`prepare`] against any [`Store`].
fn prepare_for(
    store: &mut dyn Store,
    article: &Article,
    opts: &SegmentOptions,
) -> Result<Prepared> {
    let passages = segment(&article.text, opts);
    let held = !passages.is_empty() && store.holds(article, &passages)?;
    Ok(prepared(article, passages, held))
}

fn prepared(article: &Article, passages: Vec<Passage>, held: bool) -> Prepared {
    if passages.is_empty() {
        Prepared::Empty
    } else if held {
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

fn unchanged(c: &Collection, a: &Article, passages: &[Passage]) -> bool {
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

#[cfg(test)]
mod tests {
    //! On a stub encoder behind the [`Embed`] trait (a vector from a hash of the text):
    //! no model, so these run in the fast tier.
    use super::*;
    use concord_embed::Fingerprint;
    use concord_index::IndexParams;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::RwLock;

    const DIM: usize = 8;

    /// Counts the texts it is asked to embed, and fails on a text holding "FAIL".
    #[derive(Default)]
    struct Stub {
        texts: AtomicUsize,
        calls: AtomicUsize,
    }

    impl Embed for Stub {
        fn embed_texts(&self, texts: &[&str], _: Prefix) -> Result<Vec<Embedding>> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.texts.fetch_add(texts.len(), Ordering::Relaxed);
            texts
                .iter()
                .map(|t| {
                    ensure!(!t.contains("FAIL"), "the stub refuses {t:?}");
                    let mut v: Vec<f32> = (0..DIM)
                        .map(|k| {
                            let h = t.bytes().fold(k as u32 + 7, |h, b| {
                                h.wrapping_mul(31).wrapping_add(b as u32)
                            });
                            (h % 1000) as f32 + 1.0
                        })
                        .collect();
                    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                    v.iter_mut().for_each(|x| *x /= n);
                    Ok(Embedding {
                        vector: v,
                        norm: 1.0,
                        tokens: t.chars().count() + 2,
                        windows: 1,
                    })
                })
                .collect()
        }

        fn fingerprint(&self) -> Result<Fingerprint> {
            Ok(Fingerprint {
                name: "stub".into(),
                dim: DIM,
                hash: "0".into(),
            })
        }
    }

    fn article(id: &str, text: &str) -> Article {
        Article::new(id.into(), text.into(), None, None, Default::default())
    }

    const ONE: &str =
        "第一篇報道說,颱風在週三晚間登陸,當地已撤離四萬人。\n\n市政府表示,學校停課兩天。";
    const TWO: &str = "A second report says the storm made landfall on Wednesday night.\n\nSchools will close for two days, the city said.";

    fn run(stub: &Stub, c: &mut Collection, articles: &[Article]) -> Result<IngestReport> {
        ingest(stub, c, articles, &IngestOptions::default(), &mut |_| {})
    }

    fn collection(dir: &std::path::Path, stub: &Stub) -> Collection {
        Collection::create(dir, &model_stamp(stub).unwrap(), IndexParams::default()).unwrap()
    }

    #[test]
    fn ingest_embeds_several_articles_per_call_and_skips_what_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let stub = Stub::default();
        let mut c = collection(dir.path(), &stub);
        let articles = [
            article("one", ONE),
            article("two", TWO),
            article("empty", ""),
        ];
        let r = run(&stub, &mut c, &articles).unwrap();
        assert_eq!((r.added, r.replaced, r.unchanged), (2, 0, 0));
        assert_eq!(r.empty, ["empty"]);
        assert_eq!(r.passages, c.passage_count());
        assert_eq!(
            stub.calls.load(Ordering::Relaxed),
            1,
            "both articles in one call"
        );
        assert_eq!(stub.texts.load(Ordering::Relaxed), c.passage_count());
        // Again: nothing changed, nothing embedded.
        let r = run(&stub, &mut c, &articles).unwrap();
        assert_eq!((r.added, r.replaced, r.unchanged), (0, 0, 2));
        assert_eq!(stub.calls.load(Ordering::Relaxed), 1);
        // A changed article is embedded again and replaces the old one.
        let changed = [article("two", &TWO.replace("two days", "three days"))];
        let r = run(&stub, &mut c, &changed).unwrap();
        assert_eq!((r.added, r.replaced), (0, 1));
        assert_eq!(c.doc_count(), 2);
        // Committed: a reopened collection holds the same.
        let passages = c.passage_count();
        drop(c);
        let c = Collection::open(dir.path()).unwrap();
        assert_eq!((c.doc_count(), c.passage_count()), (2, passages));
    }

    #[test]
    fn ingest_refuses_an_id_twice_before_embedding_anything() {
        let dir = tempfile::tempdir().unwrap();
        let stub = Stub::default();
        let mut c = collection(dir.path(), &stub);
        let twice = [article("one", ONE), article("one", TWO)];
        let e = run(&stub, &mut c, &twice).unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
        assert_eq!(stub.calls.load(Ordering::Relaxed), 0);
        assert_eq!(c.doc_count(), 0);
    }

    struct Locked(RwLock<Collection>);

    impl Shared for Locked {
        fn read(&self) -> impl Deref<Target = Collection> + '_ {
            self.0.read().unwrap()
        }
        fn write(&self) -> impl DerefMut<Target = Collection> + '_ {
            self.0.write().unwrap()
        }
    }

    #[test]
    fn write_article_logs_before_it_returns_and_reports_what_it_did() {
        let dir = tempfile::tempdir().unwrap();
        let stub = Stub::default();
        let live = Locked(RwLock::new(collection(dir.path(), &stub)));
        let opts = SegmentOptions::default();
        let mut folded = 0;
        let w = write_article(&live, &stub, &article("one", ONE), &opts, |_| folded += 1).unwrap();
        let Written::Stored {
            passages,
            tokens,
            created: true,
        } = w
        else {
            panic!("{w:?}");
        };
        assert!(passages >= 2 && tokens > passages, "{w:?}");
        assert_eq!(folded, 1);
        let again = write_article(&live, &stub, &article("one", ONE), &opts, |_| folded += 1);
        assert_eq!(again.unwrap(), Written::Unchanged { passages });
        let empty = write_article(&live, &stub, &article("none", ""), &opts, |_| {});
        assert_eq!(empty.unwrap(), Written::Empty);
        // An embedding failure writes nothing.
        let bad = write_article(
            &live,
            &stub,
            &article("bad", "FAIL 這一段。"),
            &opts,
            |_| {},
        );
        assert!(bad.unwrap_err().to_string().contains("refuses"));
        assert_eq!(folded, 1);
        // Never committed, yet a crash now keeps the write: it is in the change log.
        let held = live.0.into_inner().unwrap();
        assert!(held.pending_changes() > 0);
        std::mem::forget(held);
        let c = Collection::open(dir.path()).unwrap();
        assert_eq!(c.doc_count(), 1);
        assert!(c.doc("one").is_some());
    }
}
