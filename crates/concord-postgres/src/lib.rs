//! concord-postgres: a collection kept in PostgreSQL with pgvector, for collections
//! that outgrow one folder on one machine. Articles, their claims with offsets and
//! vectors, and the history of changes live in tables; the claims' vectors carry
//! pgvector's HNSW index (inner product: concord's vectors have unit length).
//!
//! ```text
//! concord_model     one row: the model the vectors come from (name, dimension, hash)
//! concord_articles  id, title, source, metadata, passage count, version, written at
//! concord_claims    (article, index) -> offsets, text, section, paragraph, vector
//! concord_changes   one row per write or removal, in commit order
//! ```
//!
//! Every write of an article is one transaction (its row, all its claims, its change
//! row), so what a [`PgStore::put`] acknowledged is durable and whole, and a process
//! killed mid-batch leaves only whole articles behind. Any number of processes may
//! write at once: two writes of one article serialise on its row, and the last wins.
//! The schema is created once, under an advisory lock, by whichever writer comes first.
//!
//! Reads may go to a streaming replica. After a write, [`PgStore::position`] gives the
//! primary's flushed WAL position; a reader given it ([`PgStore::wait_for`]) waits until
//! its server has replayed that far, so it reads its own writes.
//!
//! The overlap engine works on an in-memory collection: [`PgStore::load`] builds one
//! from the tables (articles in id order), which answers exactly as the folder store
//! holding the same articles does.

use anyhow::{bail, ensure, Context, Result};
use concord_index::{Collection, DocRecord, IndexParams, ModelStamp};
use concord_text::{Article, ArticleMeta, Passage};
use pgvector::Vector;
use postgres::{Client, NoTls, Transaction};
use std::time::{Duration, Instant};

/// Whether `location` names a PostgreSQL store rather than a folder.
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// Key of the advisory lock under which the schema is created ("concord" in ASCII).
const SCHEMA_LOCK: i64 = 0x0063_6f6e_636f_7264;

/// A connection to a PostgreSQL store.
pub struct PgStore {
    client: Client,
    model: Option<ModelStamp>,
}

/// One passage nearest to a query vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub doc: String,
    pub passage: Passage,
    pub cosine: f32,
}

/// One article as [`PgStore::docs`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocRow {
    pub id: String,
    pub title: Option<String>,
    pub source: Option<String>,
    pub meta: ArticleMeta,
    pub passages: usize,
    /// How many times it was written.
    pub version: i64,
}

impl PgStore {
    /// Connects for reading (a primary or a replica). The store must exist.
    pub fn connect(url: &str) -> Result<Self> {
        Self::connect_after(url, None, Duration::ZERO)
    }

    /// [`PgStore::connect`], first waiting (up to `timeout`) until the server has
    /// replayed the WAL up to `position`, so a replica holds what was written before it,
    /// the store itself included.
    pub fn connect_after(url: &str, position: Option<&str>, timeout: Duration) -> Result<Self> {
        let client = Client::connect(url, NoTls)
            .with_context(|| format!("connecting to {}", redact(url)))?;
        let mut store = Self {
            client,
            model: None,
        };
        if let Some(p) = position {
            store.wait_for(p, timeout)?;
        }
        store.model = store.read_model()?;
        if store.model.is_none() {
            bail!(
                "{} holds no concord collection (nothing was ingested into it yet)",
                redact(url)
            );
        }
        Ok(store)
    }

    /// Connects for writing: the server must be a primary; creates the schema for
    /// `model` if the database has none, else checks that it holds the same model.
    pub fn open_writable(url: &str, model: &ModelStamp) -> Result<Self> {
        let mut client = Client::connect(url, NoTls)
            .with_context(|| format!("connecting to {}", redact(url)))?;
        let replica: bool = client.query_one("SELECT pg_is_in_recovery()", &[])?.get(0);
        if replica {
            bail!(
                "{} is a read-only replica; write to the primary (a multi-host URL with \
                 target_session_attrs=read-write finds it)",
                redact(url)
            );
        }
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
        create_schema(&mut tx, model)?;
        tx.commit()?;
        let mut store = Self {
            client,
            model: None,
        };
        store.model = store.read_model()?;
        store.check_model(model)?;
        Ok(store)
    }

    fn read_model(&mut self) -> Result<Option<ModelStamp>> {
        let exists: bool = self
            .client
            .query_one("SELECT to_regclass('concord_model') IS NOT NULL", &[])?
            .get(0);
        if !exists {
            return Ok(None);
        }
        let row = self
            .client
            .query_opt("SELECT name, dim, fingerprint FROM concord_model", &[])?;
        Ok(row.map(|r| ModelStamp {
            name: r.get(0),
            dim: r.get::<_, i32>(1) as usize,
            fingerprint: r.get(2),
        }))
    }

    /// The model the store's vectors come from.
    pub fn model(&self) -> &ModelStamp {
        self.model
            .as_ref()
            .expect("a connected store has read its model row")
    }

    /// Refuses a model other than the store's: its vectors would not be comparable.
    pub fn check_model(&self, model: &ModelStamp) -> Result<()> {
        let mine = self.model();
        ensure!(
            mine == model,
            "the store holds vectors of {} ({} dimensions, {}), not of {} ({} dimensions, {}); \
             use the store's model or another database",
            mine.name,
            mine.dim,
            mine.fingerprint,
            model.name,
            model.dim,
            model.fingerprint
        );
        Ok(())
    }

    /// Adds or replaces one article with its claims and their vectors (one unit-length
    /// row of the model's dimension per passage), in one transaction: durable and
    /// whole when this returns. `true` when the article is new.
    pub fn put(&mut self, doc: &DocRecord, passages: &[Passage], vectors: &[f32]) -> Result<bool> {
        let dim = self.model().dim;
        ensure!(
            vectors.len() == passages.len() * dim,
            "{} vector values for {} passages of {dim} dimensions",
            vectors.len(),
            passages.len()
        );
        let meta = serde_json::to_value(&doc.meta)?;
        let mut tx = self.client.transaction()?;
        let created: bool = tx
            .query_one(
                "INSERT INTO concord_articles AS a (id, title, source, meta, passages)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET title = excluded.title,
                     source = excluded.source, meta = excluded.meta,
                     passages = excluded.passages, version = a.version + 1,
                     written_at = now()
                 RETURNING version = 1",
                &[
                    &doc.id,
                    &doc.title,
                    &doc.source,
                    &meta,
                    &(passages.len() as i32),
                ],
            )?
            .get(0);
        tx.execute("DELETE FROM concord_claims WHERE article = $1", &[&doc.id])?;
        let insert = tx.prepare(
            "INSERT INTO concord_claims
                 (article, idx, start_char, end_char, text, section, paragraph, embedding)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )?;
        for (p, v) in passages.iter().zip(vectors.chunks_exact(dim)) {
            tx.execute(
                &insert,
                &[
                    &doc.id,
                    &(p.index as i32),
                    &(p.start as i32),
                    &(p.end as i32),
                    &p.text,
                    &p.section,
                    &p.paragraph.map(|x| x as i32),
                    &Vector::from(v.to_vec()),
                ],
            )?;
        }
        tx.execute(
            "INSERT INTO concord_changes (article, kind, passages) VALUES ($1, 'put', $2)",
            &[&doc.id, &(passages.len() as i32)],
        )?;
        tx.commit()?;
        Ok(created)
    }

    /// Deletes an article and its claims; `false` when there was none.
    pub fn remove(&mut self, id: &str) -> Result<bool> {
        let mut tx = self.client.transaction()?;
        let n = tx.execute("DELETE FROM concord_articles WHERE id = $1", &[&id])?;
        if n > 0 {
            tx.execute(
                "INSERT INTO concord_changes (article, kind, passages) VALUES ($1, 'remove', 0)",
                &[&id],
            )?;
        }
        tx.commit()?;
        Ok(n > 0)
    }

    /// Whether the store holds `article` as it is, segmented into `passages`.
    pub fn holds(&mut self, article: &Article, passages: &[Passage]) -> Result<bool> {
        let Some(row) = self.client.query_opt(
            "SELECT title, meta, passages FROM concord_articles WHERE id = $1",
            &[&article.id],
        )?
        else {
            return Ok(false);
        };
        let title: Option<String> = row.get(0);
        let meta: ArticleMeta = serde_json::from_value(row.get(1))?;
        let count: i32 = row.get(2);
        if title != article.title || meta != article.meta || count as usize != passages.len() {
            return Ok(false);
        }
        let stored = self.passages_of(&article.id)?;
        Ok(stored.as_slice() == passages)
    }

    fn passages_of(&mut self, id: &str) -> Result<Vec<Passage>> {
        let rows = self.client.query(
            "SELECT idx, start_char, end_char, text, section, paragraph
             FROM concord_claims WHERE article = $1 ORDER BY idx",
            &[&id],
        )?;
        Ok(rows.iter().map(|r| passage_at(r, 0)).collect())
    }

    /// Every article, in id order.
    pub fn docs(&mut self) -> Result<Vec<DocRow>> {
        let rows = self.client.query(
            "SELECT id, title, source, meta, passages, version FROM concord_articles ORDER BY id",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                Ok(DocRow {
                    id: r.get(0),
                    title: r.get(1),
                    source: r.get(2),
                    meta: serde_json::from_value(r.get(3))?,
                    passages: r.get::<_, i32>(4) as usize,
                    version: r.get(5),
                })
            })
            .collect()
    }

    /// How many articles and passages are stored.
    pub fn counts(&mut self) -> Result<(usize, usize)> {
        let r = self.client.query_one(
            "SELECT count(*), coalesce(sum(passages), 0)::bigint FROM concord_articles",
            &[],
        )?;
        Ok((r.get::<_, i64>(0) as usize, r.get::<_, i64>(1) as usize))
    }

    /// Whether an article of this id is stored.
    pub fn has_doc(&mut self, id: &str) -> Result<bool> {
        Ok(self
            .client
            .query_opt("SELECT 1 FROM concord_articles WHERE id = $1", &[&id])?
            .is_some())
    }

    /// The `k` passages nearest to `vector` through pgvector's HNSW index, searching
    /// `ef` candidates (at least `k`), only in `docs` when it is not empty.
    pub fn search(
        &mut self,
        vector: &[f32],
        k: usize,
        ef: usize,
        docs: &[String],
    ) -> Result<Vec<Hit>> {
        ensure!(
            vector.len() == self.model().dim,
            "a query of {} dimensions against a store of {}",
            vector.len(),
            self.model().dim
        );
        let ef = ef.max(k).clamp(1, 1000);
        let mut tx = self.client.transaction()?;
        tx.batch_execute(&format!(
            "SET LOCAL hnsw.ef_search = {ef}; SET LOCAL hnsw.iterative_scan = relaxed_order"
        ))?;
        let q = Vector::from(vector.to_vec());
        let limit = k as i64;
        let rows = if docs.is_empty() {
            tx.query(
                "SELECT article, idx, start_char, end_char, text, section, paragraph,
                        -(embedding <#> $1) AS cosine
                 FROM concord_claims ORDER BY embedding <#> $1 LIMIT $2",
                &[&q, &limit],
            )?
        } else {
            tx.query(
                "SELECT article, idx, start_char, end_char, text, section, paragraph,
                        -(embedding <#> $1) AS cosine
                 FROM concord_claims WHERE article = ANY($3)
                 ORDER BY embedding <#> $1 LIMIT $2",
                &[&q, &limit, &docs],
            )?
        };
        tx.commit()?;
        let mut hits: Vec<Hit> = rows
            .iter()
            .map(|r| Hit {
                doc: r.get(0),
                passage: passage_at(r, 1),
                cosine: r.get::<_, f64>(7) as f32,
            })
            .collect();
        // relaxed_order may return rows slightly out of order.
        hits.sort_by(|a, b| b.cosine.total_cmp(&a.cosine));
        Ok(hits)
    }

    /// Builds the in-memory collection the overlap engine reads: every article in id
    /// order, with its claims and vectors as stored, read in one snapshot.
    pub fn load(&mut self) -> Result<Collection> {
        let model = self.model().clone();
        let dim = model.dim;
        let mut collection = Collection::in_memory(&model, IndexParams::default());
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let docs = tx.query(
            "SELECT id, title, source, meta FROM concord_articles ORDER BY id",
            &[],
        )?;
        let claims = tx.query(
            "SELECT article, idx, start_char, end_char, text, section, paragraph, embedding
             FROM concord_claims ORDER BY article, idx",
            &[],
        )?;
        tx.commit()?;
        let mut claims = claims.iter().peekable();
        for d in &docs {
            let id: String = d.get(0);
            let mut passages = Vec::new();
            let mut vectors = Vec::new();
            while let Some(c) = claims.next_if(|c| c.get::<_, &str>(0) == id) {
                passages.push(passage_at(c, 1));
                let v: Vector = c.get(7);
                let v = v.to_vec();
                ensure!(
                    v.len() == dim,
                    "claim {id}#{} has {} dimensions",
                    passages.len() - 1,
                    v.len()
                );
                vectors.extend(v);
            }
            let doc = DocRecord {
                id,
                title: d.get(1),
                source: d.get(2),
                meta: serde_json::from_value(d.get(3))?,
                slots: Vec::new(),
            };
            collection.upsert(doc, passages, &vectors)?;
        }
        Ok(collection)
    }

    /// The primary's WAL position once everything written so far is flushed; give it
    /// to [`PgStore::wait_for`] on a replica to read these writes there.
    pub fn position(&mut self) -> Result<String> {
        Ok(self
            .client
            .query_one("SELECT pg_current_wal_flush_lsn()::text", &[])?
            .get(0))
    }

    /// Waits until this server has replayed the WAL up to `position` (at once on a
    /// primary), for at most `timeout`.
    pub fn wait_for(&mut self, position: &str, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            let row = self.client.query_one(
                "SELECT NOT pg_is_in_recovery() OR pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
                &[&position],
            );
            let caught_up: bool = row
                .with_context(|| format!("{position:?} is not a WAL position (like 0/3000148)"))?
                .get(0);
            if caught_up {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                bail!(
                    "the replica has not replayed up to {position} after {:.1} s",
                    timeout.as_secs_f64()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The claims table (with its TOAST and primary key) and its vector index, in MiB.
    pub fn sizes_mib(&mut self) -> Result<(f64, f64)> {
        let r = self.client.query_one(
            "SELECT pg_total_relation_size('concord_claims')
                        - pg_relation_size('concord_claims_embedding'),
                    pg_relation_size('concord_claims_embedding')",
            &[],
        )?;
        let mib = |b: i64| b as f64 / (1024.0 * 1024.0);
        Ok((mib(r.get(0)), mib(r.get(1))))
    }

    /// Rows of the change history: (sequence number, article, kind), oldest first.
    pub fn changes(&mut self) -> Result<Vec<(i64, String, String)>> {
        let rows = self.client.query(
            "SELECT seq, article, kind FROM concord_changes ORDER BY seq",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }
}

impl concord_ingest::Store for PgStore {
    fn holds(&mut self, article: &Article, passages: &[Passage]) -> Result<bool> {
        PgStore::holds(self, article, passages)
    }

    fn put(&mut self, doc: DocRecord, passages: Vec<Passage>, vectors: &[f32]) -> Result<bool> {
        PgStore::put(self, &doc, &passages, vectors)
    }

    /// Every put is its own committed transaction.
    fn commit(&mut self) -> Result<()> {
        Ok(())
    }
}

/// The passage in columns `at..at + 6` of a row: idx, start_char, end_char, text,
/// section, paragraph (the order every query here selects them in).
fn passage_at(r: &postgres::Row, at: usize) -> Passage {
    Passage {
        index: r.get::<_, i32>(at) as u32,
        start: r.get::<_, i32>(at + 1) as u32,
        end: r.get::<_, i32>(at + 2) as u32,
        text: r.get(at + 3),
        section: r.get(at + 4),
        paragraph: r.get::<_, Option<i32>>(at + 5).map(|x| x as u32),
    }
}

/// Creates the tables and the vector index if missing (under the caller's advisory
/// lock) and records `model` in an empty store.
fn create_schema(tx: &mut Transaction, model: &ModelStamp) -> Result<()> {
    ensure!(
        (1..=16_000).contains(&model.dim),
        "pgvector's HNSW index takes vectors of up to 16,000 dimensions, not {}",
        model.dim
    );
    tx.batch_execute(&format!(
        "CREATE EXTENSION IF NOT EXISTS vector;
         CREATE TABLE IF NOT EXISTS concord_model (
             one boolean PRIMARY KEY DEFAULT true CHECK (one),
             name text NOT NULL, dim integer NOT NULL, fingerprint text NOT NULL);
         CREATE TABLE IF NOT EXISTS concord_articles (
             id text PRIMARY KEY, title text, source text,
             meta jsonb NOT NULL DEFAULT '{{}}', passages integer NOT NULL,
             version bigint NOT NULL DEFAULT 1,
             written_at timestamptz NOT NULL DEFAULT now());
         CREATE TABLE IF NOT EXISTS concord_claims (
             article text NOT NULL REFERENCES concord_articles (id) ON DELETE CASCADE,
             idx integer NOT NULL, start_char integer NOT NULL, end_char integer NOT NULL,
             text text NOT NULL, section text, paragraph integer,
             embedding vector({dim}) NOT NULL,
             PRIMARY KEY (article, idx));
         CREATE INDEX IF NOT EXISTS concord_claims_embedding ON concord_claims
             USING hnsw (embedding vector_ip_ops) WITH (m = 16, ef_construction = 64);
         CREATE TABLE IF NOT EXISTS concord_changes (
             seq bigserial PRIMARY KEY, article text NOT NULL, kind text NOT NULL,
             passages integer NOT NULL, at timestamptz NOT NULL DEFAULT now());",
        dim = model.dim
    ))?;
    tx.execute(
        "INSERT INTO concord_model (name, dim, fingerprint) VALUES ($1, $2, $3)
         ON CONFLICT (one) DO NOTHING",
        &[&model.name, &(model.dim as i32), &model.fingerprint],
    )?;
    Ok(())
}

/// `url` with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let cred = &url[s + 3..at];
            match cred.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &cred[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_left_out_of_messages() {
        assert_eq!(
            redact("postgres://concord:secret@127.0.0.1:5432/db"),
            "postgres://concord:***@127.0.0.1:5432/db"
        );
        assert_eq!(
            redact("postgres://concord@127.0.0.1/db"),
            "postgres://concord@127.0.0.1/db"
        );
        assert_eq!(redact("host=/tmp user=x"), "host=/tmp user=x");
    }

    #[test]
    fn only_postgres_urls_name_the_store() {
        assert!(is_postgres_url("postgres://a@b/c"));
        assert!(is_postgres_url("postgresql://a@b/c"));
        assert!(!is_postgres_url("collection"));
        assert!(!is_postgres_url("./postgres"));
    }
}
