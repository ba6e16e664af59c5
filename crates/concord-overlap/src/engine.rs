//! Overlap queries over a collection: for a passage or a free text, the passages of
//! other articles that duplicate, overlap or agree with it; every such pair in the
//! collection; two articles aligned passage by passage; and the article pairs that share
//! the most.
//!
//! Passages are claims (sentences or clauses, see `concord_text::segment`); each side of
//! a reported pair also carries its paragraph as context.
//!
//! Candidates come from two retrievers, merged: the HNSW index (the `k` nearest passages
//! of other articles) and the lexical postings of rare grams (passages of other articles
//! sharing at least [`LEXICAL_MIN_SHARED`] rare character bigrams, numbers or names), so
//! a shared figure, name or quote is a candidate however far apart the embeddings are.
//! Each candidate is then judged by [`crate::score::judge`].
//!
//! A free text that is a verbatim span of an ingested paragraph (six CJK characters or
//! three words and up, in either script) finds that paragraph's passages directly, on
//! folded text, as `duplicate` (the whole passage) or `overlap` (part of it), with the
//! span's offsets. The semantic signal is a z-score:
//! the cosine measured against each passage's background, the mean and spread of its
//! cosines to a fixed sample of other articles' passages, so a topical corpus where
//! every cosine is high does not make everything agree.
//!
//! Backgrounds and nearest neighbours are kept per script group (Chinese and other):
//! e5 puts unrelated passages of one language closer together (about 0.83 for Chinese)
//! than a passage and its translation sits to unrelated passages of the other language
//! (about 0.73), so a cross-language pair is measured against the other language's
//! background and neighbours, not its own. Each group has its own in-memory HNSW graph
//! for those neighbours: in the collection's one graph, a search filtered to the other
//! language walks through most passages of the query's own language before it reaches
//! any (at 10k passages that made deriving neighbourhoods ten times slower than
//! judging every pair).
//!
//! What is derived per passage (features, background, nearest cosines) lives in
//! [`Neighbourhoods`], which a long-running process keeps and refreshes after changes.
//! Up to [`EXACT_REFRESH_MAX`] live passages, a refresh derives everything again, so a
//! server answers exactly as a fresh `concord overlaps` does (a test compares them).
//! Above that, a refresh derives the new passages and drops removed ones, leaving the
//! older passages' backgrounds and neighbours as they were (a new article's passages are
//! missing from them, so a pair can differ from a fresh build's until the next full
//! pass); everything is derived again once the collection has grown or shrunk by a
//! quarter since the last full pass, or its slots were renumbered.

use crate::features::{Features, Lexicon};
use crate::score::{judge, Label, Semantic, Side, Verdict};
use concord_index::{Collection, GraphParams, HnswGraph, StoredPassage};
use concord_text::names::NameBridge;
use rayon::prelude::*;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Passages sampled from other articles to estimate a passage's background.
const BACKGROUND_SAMPLE: usize = 256;
/// With fewer samples than this the estimate leans on the prior below.
const BACKGROUND_PRIOR_WEIGHT: f32 = 16.0;
/// Background of multilingual-e5-small for unrelated passages of one language ...
const PRIOR_MEAN: f32 = 0.80;
const PRIOR_STD: f32 = 0.035;
/// ... and of two languages (Chinese and English sentences of ../shared/eval: 0.726,
/// spread 0.032).
const PRIOR_CROSS_MEAN: f32 = 0.73;
/// Script groups: passages mostly in Chinese characters, and the rest.
const GROUPS: usize = 2;
/// Smallest spread used, so a near-constant background cannot inflate z-scores.
const MIN_STD: f32 = 0.015;
/// Nearest other-article passages whose mean similarity is a passage's margin base.
const KNN: usize = 4;
/// Rank within which two passages count as mutual nearest neighbours.
const MUTUAL_RANK: usize = 2;
/// Build beam of the per-group graphs: they only give the few nearest cosines of each
/// passage. Against the collection's beam (200) this derived neighbourhoods 1.8x
/// faster at 20k passages, and changed 17 of 176,891 judged pairs (benches/RESULTS.md).
const GROUP_EF_CONSTRUCTION: usize = 64;

/// Passages of other articles sharing at least this many rare grams are candidates.
const LEXICAL_MIN_SHARED: usize = 3;
/// Lexical candidates kept per passage (those sharing the most rare grams).
const LEXICAL_CANDIDATES: usize = 16;
/// A gram is rare enough to retrieve by when at most this share of passages hold it,
/// and at most [`LEXICAL_RARE_MAX`] of them (so the postings walked per passage stay
/// bounded however large the collection).
const LEXICAL_RARE_SHARE: f32 = 0.01;
const LEXICAL_RARE_MAX: u32 = 64;
/// Shortest verbatim quote looked up on folded text: CJK characters, or Latin words.
const QUOTE_MIN_CJK: usize = 6;
const QUOTE_MIN_WORDS: usize = 3;

/// Query options.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// Weakest label reported.
    pub min_label: Label,
    /// Candidates drawn from the index per passage.
    pub candidates: usize,
    /// Also report `boilerplate` pairs (apart from findings; below every `min_label`).
    pub boilerplate: bool,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self {
            min_label: Label::Agree,
            candidates: 24,
            boilerplate: false,
        }
    }
}

impl QueryOptions {
    fn keeps(&self, label: Label) -> bool {
        label >= self.min_label || (self.boilerplate && label == Label::Boilerplate)
    }
}

/// One side of a reported pair: a claim, and the paragraph it sits in.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PassageRef {
    pub doc: String,
    /// The article's title, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The article's outlet, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outlet: Option<String>,
    /// When the article was published, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    pub passage: String,
    /// Character offsets of the claim in the article.
    pub start: u32,
    pub end: u32,
    pub text: String,
    /// Position of the paragraph among the article's paragraphs.
    pub paragraph: u32,
    /// Character offset of the paragraph in the article, and its text (the claim is
    /// `context[start - context_start .. end - context_start]`).
    pub context_start: u32,
    pub context: String,
}

/// A judged pair of passages from different articles.
#[derive(Debug, Clone, Serialize)]
pub struct PairMatch {
    pub a: PassageRef,
    pub b: PassageRef,
    pub label: Label,
    pub score: f32,
    pub evidence: crate::score::Evidence,
}

/// What two articles share.
#[derive(Debug, Clone, Serialize)]
pub struct ArticlePair {
    pub a: String,
    pub b: String,
    /// Sum of pair scores weighted by label (duplicate 1, overlap 1, agree and conflict
    /// 0.5; boilerplate 0).
    pub shared: f32,
    pub duplicate: usize,
    pub overlap: usize,
    pub agree: usize,
    pub conflict: usize,
}

/// Articles up to this many passages are searched whole to rank a pair within them.
const RANK_MAX_PASSAGES: usize = 1024;

/// The signals of a pair that come from its two articles (see [`Semantic`]).
#[derive(Debug, Clone, Copy)]
struct ArticleSignals {
    affinity: f32,
    best: u8,
    gap: f32,
    /// Cosine of the two passages once each has its article's mean vector taken away.
    residual: f32,
}

/// What an article holds, for [`Neighbourhoods::affinity`].
#[derive(Clone, Default)]
struct DocGrams {
    slots: Vec<usize>,
    grams: Vec<u64>,
    anchors: Vec<u64>,
    /// Mean of its passages' vectors: what the article says throughout (its topic,
    /// its language), which [`residual_cosine`] takes away.
    mean: Vec<f32>,
}

/// Mean and spread of a passage's cosines to unrelated passages, per script group.
type Background = [(f32, f32); GROUPS];
/// Cosines of a passage's nearest passages of other articles, best first, per group.
type Nearest = [Vec<f32>; GROUPS];
/// Slot, background and nearest cosines of one passage.
type Derived = (usize, Background, Nearest);

/// Per-passage data derived from a collection, indexed by slot.
#[derive(Clone, Default)]
pub struct Neighbourhoods {
    features: Vec<Option<Features>>,
    background: Vec<Background>,
    /// Cosines of each passage's nearest passages of other articles, best first.
    knn: Vec<Nearest>,
    /// Script group of each slot.
    group: Vec<usize>,
    /// Live slots per script group, as of the last derivation.
    by_group: [Vec<usize>; GROUPS],
    /// Per script group, a graph of its passages (ids are slots; removed passages stay
    /// in it until the next full derivation and are filtered out).
    graphs: GroupGraphs,
    lexicon: Lexicon,
    /// Slots holding each gram, for lexical candidates (removed slots are dropped).
    postings: HashMap<u64, Vec<usize>>,
    /// Per article: the slots it had when derived, and the grams and the anchors
    /// (numbers and names, hashed) of all its passages, each sorted and unique, for the
    /// affinity of two articles.
    doc_grams: HashMap<String, DocGrams>,
    /// Articles holding each gram or anchor (their hashes do not collide in practice).
    doc_df: HashMap<u64, u32>,
    /// The collection version and slot epoch this was derived at.
    version: u64,
    slot_epoch: u64,
    /// Live passages at the last full derivation.
    full_at: usize,
    /// Latin names of Chinese proper nouns, for the lexical features.
    names: Option<Arc<NameBridge>>,
}

/// Collections up to this many live passages are derived again in full on every
/// refresh (a few seconds at this size on two cores), so answers never depend on the
/// order articles arrived in.
pub const EXACT_REFRESH_MAX: usize = 10_000;

impl Neighbourhoods {
    /// Derives everything for every live passage of `c`; `names` (the CC-CEDICT table,
    /// when there is one) bridges Chinese proper nouns to their Latin names.
    pub fn build(c: &Collection, names: Option<Arc<NameBridge>>) -> Self {
        let mut n = Self {
            names,
            ..Self::default()
        };
        n.derive_all(c);
        n
    }

    /// Whether this matches the current state of `c`.
    pub fn is_current(&self, c: &Collection) -> bool {
        self.version == c.version() && self.slot_epoch == c.slot_epoch()
    }

    /// Brings this up to date with `c` after changes (see the module notes).
    pub fn refresh(&mut self, c: &Collection) {
        if self.is_current(c) {
            return;
        }
        let live = c.passage_count();
        let drifted = live * 4 > self.full_at * 5 || live * 4 < self.full_at * 3;
        if self.slot_epoch != c.slot_epoch() || drifted || live <= EXACT_REFRESH_MAX {
            self.derive_all(c);
            return;
        }
        for s in 0..self.features.len() {
            if c.passage(s).is_none() {
                if let Some(f) = self.features[s].take() {
                    self.lexicon.remove(&f);
                    for g in &f.grams {
                        if let Some(list) = self.postings.get_mut(g) {
                            list.retain(|&x| x != s);
                        }
                    }
                    self.knn[s] = Nearest::default();
                }
            }
        }
        let new: Vec<usize> = c
            .live_slots()
            .filter(|&s| self.features.get(s).is_none_or(Option::is_none))
            .collect();
        self.derive(c, &new);
        self.derive_docs(c);
        self.version = c.version();
    }

    fn derive_all(&mut self, c: &Collection) {
        *self = Self {
            names: self.names.take(),
            ..Self::default()
        };
        let slots: Vec<usize> = c.live_slots().collect();
        self.derive(c, &slots);
        self.derive_docs(c);
        self.version = c.version();
        self.slot_epoch = c.slot_epoch();
        self.full_at = slots.len();
    }

    /// Derives `slots` (live passages not derived yet) against every live passage.
    fn derive(&mut self, c: &Collection, slots: &[usize]) {
        let all: Vec<usize> = c.live_slots().collect();
        let n = all
            .iter()
            .max()
            .map_or(0, |m| m + 1)
            .max(self.features.len());
        // Features first: they give each new passage its script group, which the
        // backgrounds and neighbours below need for every passage.
        let features: Vec<Features> = slots
            .par_iter()
            .map(|&s| {
                let text = &c.passage(s).expect("live slot").passage.text;
                Features::new(text, self.names.as_deref())
            })
            .collect();
        self.group.resize(n, 0);
        self.features.resize(n, None);
        for (&s, f) in slots.iter().zip(features) {
            self.group[s] = f.script_group();
            self.lexicon.add(&f);
            for &g in &f.grams {
                self.postings.entry(g).or_default().push(s);
            }
            self.features[s] = Some(f);
        }
        self.by_group = slots_by_group(&all, &self.group);
        self.graphs.insert(c, slots, &self.group, &self.by_group);
        let (groups, by_group, graphs) = (&self.group, &self.by_group, &self.graphs);
        let computed: Vec<Derived> = slots
            .par_iter()
            .map(|&s| {
                let doc = &c.passage(s).expect("live slot").doc;
                let v = c.vector(s);
                let bg = backgrounds(c, v, Some(doc), groups[s], by_group);
                let knn = graphs.nearest(c, v, Some(doc));
                (s, bg, knn)
            })
            .collect();
        self.background
            .resize(n, [(PRIOR_MEAN, PRIOR_STD), (PRIOR_MEAN, PRIOR_STD)]);
        self.knn.resize(n, Nearest::default());
        for (s, bg, knn) in computed {
            self.background[s] = bg;
            self.knn[s] = knn;
        }
    }

    /// Brings the per-article grams up to date: articles whose passages changed are
    /// derived again, removed ones dropped.
    fn derive_docs(&mut self, c: &Collection) {
        let gone: Vec<String> = self
            .doc_grams
            .keys()
            .filter(|id| c.doc(id).is_none())
            .cloned()
            .collect();
        for id in gone {
            if let Some(old) = self.doc_grams.remove(&id) {
                self.count_doc(&old, false);
            }
        }
        for d in c.docs() {
            if self
                .doc_grams
                .get(&d.id)
                .is_some_and(|g| g.slots == d.slots)
            {
                continue;
            }
            let features: Vec<&Features> = d
                .slots
                .iter()
                .filter_map(|&s| self.features.get(s).and_then(Option::as_ref))
                .collect();
            let sorted = |mut v: Vec<u64>| {
                v.sort_unstable();
                v.dedup();
                v
            };
            let mut mean = vec![0f32; c.dim()];
            for &s in &d.slots {
                mean.iter_mut()
                    .zip(c.vector(s))
                    .for_each(|(m, x)| *m += x / d.slots.len() as f32);
            }
            let doc = DocGrams {
                mean,
                slots: d.slots.clone(),
                grams: sorted(
                    features
                        .iter()
                        .flat_map(|f| f.grams.iter().copied())
                        .collect(),
                ),
                anchors: sorted(
                    features
                        .iter()
                        .flat_map(|f| &f.anchors)
                        .filter(|a| a.chars().count() >= 2)
                        .map(|a| crate::features::name_gram(a))
                        .collect(),
                ),
            };
            self.count_doc(&doc, true);
            if let Some(old) = self.doc_grams.insert(d.id.clone(), doc) {
                self.count_doc(&old, false);
            }
        }
    }

    /// Adds an article's grams and anchors to the article frequencies, or takes them out.
    fn count_doc(&mut self, doc: &DocGrams, add: bool) {
        for g in doc.grams.iter().chain(&doc.anchors) {
            let n = self.doc_df.entry(*g).or_default();
            if add {
                *n += 1;
            } else {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.doc_df.remove(g);
                }
            }
        }
    }

    /// How much two articles have in common as a whole: the share of the smaller one's
    /// weight (IDF over articles) found in the other, over their grams when both are in
    /// one script group, else over their anchors (numbers and names, which survive
    /// translation). Two reports of one event share its names, places and figures; two
    /// of one topic share only its vocabulary.
    pub fn affinity(&self, a: &str, b: &str) -> f32 {
        let (Some(da), Some(db)) = (self.doc_grams.get(a), self.doc_grams.get(b)) else {
            return 0.0;
        };
        let group = |d: &DocGrams| {
            let chinese = d
                .slots
                .iter()
                .filter(|&&s| self.group.get(s) == Some(&0))
                .count();
            usize::from(chinese * 2 < d.slots.len())
        };
        let (ga, gb) = if group(da) == group(db) {
            (&da.grams, &db.grams)
        } else {
            (&da.anchors, &db.anchors)
        };
        let n = self.doc_grams.len().max(2) as f32;
        let idf = |g: &u64| (1.0 + n / self.doc_df.get(g).copied().unwrap_or(1).max(1) as f32).ln();
        let weight = |gs: &[u64]| gs.iter().map(idf).sum::<f32>();
        let (mut i, mut j, mut shared) = (0, 0, 0.0f32);
        while i < ga.len() && j < gb.len() {
            match ga[i].cmp(&gb[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    shared += idf(&ga[i]);
                    i += 1;
                    j += 1;
                }
            }
        }
        let denom = weight(ga).min(weight(gb));
        if denom > 0.0 {
            shared / denom
        } else {
            0.0
        }
    }
}

/// The cosine of `a - mean_a` and `b - mean_b`: how alike two passages are beyond
/// what their articles say throughout (a missing mean counts as zero).
fn residual_cosine(a: &[f32], mean_a: Option<&[f32]>, b: &[f32], mean_b: Option<&[f32]>) -> f32 {
    let less = |v: &[f32], m: Option<&[f32]>| -> Vec<f32> {
        match m {
            Some(m) => v.iter().zip(m).map(|(x, y)| x - y).collect(),
            None => v.to_vec(),
        }
    };
    let (x, y) = (less(a, mean_a), less(b, mean_b));
    let norm = |v: &[f32]| concord_index::dot(v, v).sqrt();
    let d = norm(&x) * norm(&y);
    if d > 1e-6 {
        concord_index::dot(&x, &y) / d
    } else {
        0.0
    }
}

/// Overlap queries over a collection and its [`Neighbourhoods`].
pub struct OverlapIndex<'c> {
    collection: &'c Collection,
    n: Cow<'c, Neighbourhoods>,
    /// Affinities of article pairs computed so far (see [`Neighbourhoods::affinity`]).
    affinity: std::sync::Mutex<HashMap<(String, String), f32>>,
}

impl<'c> OverlapIndex<'c> {
    /// Derives what the queries need from `collection` (see [`Neighbourhoods::build`]).
    pub fn new(collection: &'c Collection, names: Option<Arc<NameBridge>>) -> Self {
        Self {
            collection,
            n: Cow::Owned(Neighbourhoods::build(collection, names)),
            affinity: Default::default(),
        }
    }

    /// Queries over data derived earlier; `None` when `n` is not current for `collection`.
    pub fn with(collection: &'c Collection, n: &'c Neighbourhoods) -> Option<Self> {
        n.is_current(collection).then_some(Self {
            collection,
            n: Cow::Borrowed(n),
            affinity: Default::default(),
        })
    }

    pub fn collection(&self) -> &Collection {
        self.collection
    }

    fn passage(&self, slot: usize) -> &StoredPassage {
        self.collection.passage(slot).expect("live slot")
    }

    /// The embedding signals of a pair, from each side's background and neighbours.
    fn semantic(
        &self,
        cosine: f32,
        a: ((f32, f32), &[f32]),
        b: ((f32, f32), &[f32]),
        article: ArticleSignals,
    ) -> Semantic {
        let ((bga, knna), (bgb, knnb)) = (a, b);
        let mean = (bga.0 + bgb.0) / 2.0;
        let std = ((bga.1 * bga.1 + bgb.1 * bgb.1) / 2.0).sqrt();
        let base = |k: &[f32], bg: (f32, f32)| {
            if k.is_empty() {
                bg.0
            } else {
                k.iter().sum::<f32>() / k.len() as f32
            }
        };
        let within = |k: &[f32]| k.len() < MUTUAL_RANK || cosine >= k[MUTUAL_RANK - 1] - 1e-6;
        Semantic {
            cosine,
            z: (cosine - mean) / std,
            margin: cosine / ((base(knna, bga) + base(knnb, bgb)) / 2.0),
            mutual: within(knna) && within(knnb),
            affinity: article.affinity,
            best_in_article: article.best as f32,
            article_gap: article.gap,
            residual: article.residual,
        }
    }

    /// The verdict on the passages in slots `a` and `b`, whatever their articles.
    pub fn judge_pair(&self, a: usize, b: usize) -> Verdict {
        let cosine = concord_index::dot(self.collection.vector(a), self.collection.vector(b));
        self.judge_slots(a, b, cosine)
    }

    /// [`Neighbourhoods::affinity`] of two articles, computed once per pair.
    fn doc_affinity(&self, a: &str, b: &str) -> f32 {
        let key = if a <= b { (a, b) } else { (b, a) };
        let key = (key.0.to_string(), key.1.to_string());
        let mut cache = self.affinity.lock().unwrap_or_else(|e| e.into_inner());
        *cache.entry(key).or_insert_with(|| self.n.affinity(a, b))
    }

    /// How `vector` (at `cosine` from the passage in `slot`) ranks among the passages of
    /// `slot`'s article: whether none is closer, and by how much it beats the next one.
    fn rank_in_article(&self, vector: &[f32], slot: usize, cosine: f32) -> (bool, f32) {
        let doc = &self.passage(slot).doc;
        let Some(d) = self
            .collection
            .doc(doc)
            .filter(|d| d.slots.len() <= RANK_MAX_PASSAGES)
        else {
            return (false, 0.0);
        };
        let next = d
            .slots
            .iter()
            .filter(|&&s| s != slot)
            .map(|&s| concord_index::dot(vector, self.collection.vector(s)))
            .fold(f32::NEG_INFINITY, f32::max);
        if next == f32::NEG_INFINITY {
            return (true, 0.0);
        }
        (cosine >= next, cosine - next)
    }

    /// The signals of a pair that come from its two articles.
    fn article_signals(&self, a: usize, b: usize, cosine: f32) -> ArticleSignals {
        let (pa, pb) = (self.passage(a), self.passage(b));
        let (best_a, gap_a) = self.rank_in_article(self.collection.vector(a), b, cosine);
        let (best_b, gap_b) = self.rank_in_article(self.collection.vector(b), a, cosine);
        let mean = |doc: &str| self.n.doc_grams.get(doc).map(|g| g.mean.as_slice());
        ArticleSignals {
            affinity: self.doc_affinity(&pa.doc, &pb.doc),
            best: u8::from(best_a) + u8::from(best_b),
            gap: (gap_a + gap_b) / 2.0,
            residual: residual_cosine(
                self.collection.vector(a),
                mean(&pa.doc),
                self.collection.vector(b),
                mean(&pb.doc),
            ),
        }
    }

    fn judge_slots(&self, a: usize, b: usize, cosine: f32) -> Verdict {
        let (pa, pb) = (self.passage(a), self.passage(b));
        let article = self.article_signals(a, b, cosine);
        judge(
            Side {
                text: &pa.passage.text,
                features: self.n.features[a].as_ref().expect("live slot"),
            },
            Side {
                text: &pb.passage.text,
                features: self.n.features[b].as_ref().expect("live slot"),
            },
            &self.n.lexicon,
            self.semantic(
                cosine,
                (
                    self.n.background[a][self.n.group[b]],
                    &self.n.knn[a][self.n.group[b]],
                ),
                (
                    self.n.background[b][self.n.group[a]],
                    &self.n.knn[b][self.n.group[a]],
                ),
                article,
            ),
        )
    }

    fn reference(&self, slot: usize) -> PassageRef {
        let p = self.passage(slot);
        let (context_start, context) = self.context(slot);
        let record = self.collection.doc(&p.doc);
        PassageRef {
            doc: p.doc.clone(),
            title: record.and_then(|d| d.title.clone()),
            outlet: record.and_then(|d| d.meta.outlet.clone()),
            published: record.and_then(|d| d.meta.published.clone()),
            passage: p.id(),
            start: p.passage.start,
            end: p.passage.end,
            text: p.passage.text.clone(),
            paragraph: p.passage.paragraph(),
            context_start,
            context,
        }
    }

    /// The slots of the paragraph holding `slot`, in order.
    fn paragraph_slots(&self, slot: usize) -> Vec<usize> {
        let p = self.passage(slot);
        let para = p.passage.paragraph();
        self.collection
            .doc(&p.doc)
            .map(|d| {
                d.slots
                    .iter()
                    .copied()
                    .filter(|&s| self.passage(s).passage.paragraph() == para)
                    .collect()
            })
            .unwrap_or_else(|| vec![slot])
    }

    /// The paragraph holding `slot`: its offset in the article and its text, rebuilt
    /// from its passages (a space where the article had whitespace between them).
    fn context(&self, slot: usize) -> (u32, String) {
        let slots = self.paragraph_slots(slot);
        let mut text = String::new();
        let mut end = None;
        for s in &slots {
            let p = &self.passage(*s).passage;
            if end.is_some_and(|e| p.start > e) {
                text.push(' ');
            }
            text.push_str(&p.text);
            end = Some(p.end);
        }
        let start = slots.first().map_or(0, |&s| self.passage(s).passage.start);
        (start, text)
    }

    /// Passages of other articles than `own` sharing the most rare grams with
    /// `features` (at least [`LEXICAL_MIN_SHARED`]).
    fn lexical_candidates(&self, features: &Features, own: Option<&str>) -> Vec<usize> {
        let rare = ((self.n.lexicon.passages() as f32 * LEXICAL_RARE_SHARE).ceil() as u32)
            .clamp(3, LEXICAL_RARE_MAX);
        let mut shared: HashMap<usize, usize> = HashMap::new();
        for g in &features.grams {
            if self.n.lexicon.df(*g) > rare {
                continue;
            }
            for &s in self.n.postings.get(g).into_iter().flatten() {
                *shared.entry(s).or_default() += 1;
            }
        }
        let mut found: Vec<(usize, usize)> = shared
            .into_iter()
            .filter(|&(s, n)| {
                n >= LEXICAL_MIN_SHARED
                    && self
                        .collection
                        .passage(s)
                        .is_some_and(|p| own.is_none_or(|d| p.doc != d))
            })
            .collect();
        found.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        found.truncate(LEXICAL_CANDIDATES);
        found.into_iter().map(|(s, _)| s).collect()
    }

    /// Candidates for the passage in `slot`, from other articles, each once with its
    /// cosine: its nearest passages in each script group (a translation sits further
    /// from its source than unrelated text of the source's own language, so each
    /// language is searched on its own) and its lexical candidates.
    fn candidates(&self, slot: usize, opts: &QueryOptions) -> Vec<(usize, f32)> {
        let own = &self.passage(slot).doc;
        let v = self.collection.vector(slot);
        let mut out: Vec<(usize, f32)> = (0..GROUPS)
            .flat_map(|g| {
                self.n
                    .graphs
                    .nearest_in(self.collection, g, v, Some(own), opts.candidates)
            })
            .collect();
        let features = self.n.features[slot].as_ref().expect("live slot");
        for s in self.lexical_candidates(features, Some(own)) {
            if !out.iter().any(|&(x, _)| x == s) {
                out.push((s, concord_index::dot(v, self.collection.vector(s))));
            }
        }
        out
    }

    /// Passages of paragraphs that contain `text` verbatim after folding (script,
    /// width, case; punctuation and spaces ignored), each with the span of it they hold
    /// (in characters of the passage's text, like every evidence span).
    /// `whole` is true when the span holds every letter and digit of the passage.
    fn quoted(&self, text: &str) -> Vec<(usize, crate::score::Span, bool)> {
        let q = concord_text::fold(text).chars;
        let cjk = q.iter().filter(|c| !c.is_ascii()).count();
        let words = text
            .split_whitespace()
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .count();
        if q.is_empty() || (cjk < QUOTE_MIN_CJK && (cjk > 0 || words < QUOTE_MIN_WORDS)) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for d in self.collection.docs() {
            for para in d.slots.chunk_by(|&x, &y| {
                self.passage(x).passage.paragraph() == self.passage(y).passage.paragraph()
            }) {
                // The paragraph's folded text; for each character, its slot and place.
                let mut hay = Vec::new();
                let mut at = Vec::new();
                for &s in para {
                    let f = &self.n.features[s].as_ref().expect("live slot").folded;
                    hay.extend_from_slice(&f.chars);
                    at.extend((0..f.chars.len()).map(|k| (s, k)));
                }
                let hits = hay
                    .windows(q.len())
                    .enumerate()
                    .filter(|(_, w)| *w == &q[..]);
                for (first, _) in hits {
                    let span = &at[first..first + q.len()];
                    for piece in span.chunk_by(|x, y| x.0 == y.0) {
                        let slot = piece[0].0;
                        let sp = &self.passage(slot).passage;
                        let f = &self.n.features[slot].as_ref().expect("live slot").folded;
                        let (first, last) = (piece[0].1, piece[piece.len() - 1].1);
                        let (a, b) = f.original_span(first, last + 1);
                        out.push((
                            slot,
                            crate::score::Span {
                                start: a,
                                end: b,
                                text: sp.text.chars().skip(a).take(b - a).collect(),
                            },
                            first == 0 && last + 1 == f.chars.len(),
                        ));
                    }
                }
            }
        }
        out
    }

    fn pair(&self, a: usize, b: usize, v: Verdict) -> Option<PairMatch> {
        Some(PairMatch {
            a: self.reference(a),
            b: self.reference(b),
            label: v.label?,
            score: v.score,
            evidence: v.evidence,
        })
    }

    /// Passages of other articles matching the passage in `slot`, best first.
    pub fn for_slot(&self, slot: usize, opts: &QueryOptions) -> Vec<PairMatch> {
        let mut out: Vec<PairMatch> = self
            .verdicts_for_slot(slot, opts)
            .into_iter()
            .filter_map(|(b, v)| self.pair(slot, b, v))
            .collect();
        sort_pairs(&mut out);
        out
    }

    /// The slots of other articles' passages that match the passage in `slot` at
    /// `opts.min_label` or above, with their verdicts.
    fn verdicts_for_slot(&self, slot: usize, opts: &QueryOptions) -> Vec<(usize, Verdict)> {
        self.candidates(slot, opts)
            .into_iter()
            .map(|(b, cosine)| (b, self.judge_slots(slot, b, cosine)))
            .filter(|(_, v)| v.label.is_some_and(|l| opts.keeps(l)))
            .collect()
    }

    /// Every candidate pair with one side in `slots`, each pair once as `(a, b)` with
    /// `a < b`, judged.
    fn judged_candidates(
        &self,
        slots: &[usize],
        opts: &QueryOptions,
    ) -> Vec<(usize, usize, Verdict)> {
        let mut pairs: Vec<(usize, usize, f32)> = slots
            .par_iter()
            .flat_map_iter(|&s| {
                self.candidates(s, opts)
                    .into_iter()
                    .map(move |(b, cos)| (s.min(b), s.max(b), cos))
            })
            .collect();
        pairs.sort_by_key(|&(a, b, _)| (a, b));
        pairs.dedup_by_key(|&mut (a, b, _)| (a, b));
        pairs
            .into_par_iter()
            .map(|(a, b, cos)| (a, b, self.judge_slots(a, b, cos)))
            .collect()
    }

    /// Every candidate pair of the collection with its verdict, whatever the label:
    /// what the judge is trained and evaluated on.
    pub fn candidate_verdicts(&self, opts: &QueryOptions) -> Vec<(usize, usize, Verdict)> {
        let slots: Vec<usize> = self.collection.live_slots().collect();
        self.judged_candidates(&slots, opts)
    }

    /// Passages matching a free `text` whose embedding is `vector`, best first.
    pub fn for_text(&self, text: &str, vector: &[f32], opts: &QueryOptions) -> Vec<PairMatch> {
        let features = Features::new(text, self.n.names.as_deref());
        let group = features.script_group();
        let bg = backgrounds(self.collection, vector, None, group, &self.n.by_group);
        let knn = self.n.graphs.nearest(self.collection, vector, None);
        let mut candidates: Vec<(usize, f32)> = self
            .collection
            .search(vector, opts.candidates, &|_| true)
            .into_iter()
            .map(|h| (h.slot, h.cosine))
            .collect();
        for s in self.lexical_candidates(&features, None) {
            if !candidates.iter().any(|&(x, _)| x == s) {
                candidates.push((s, concord_index::dot(vector, self.collection.vector(s))));
            }
        }
        let quoted = self.quoted(text);
        for &(s, _, _) in &quoted {
            if !candidates.iter().any(|&(x, _)| x == s) {
                candidates.push((s, concord_index::dot(vector, self.collection.vector(s))));
            }
        }
        let n = text.chars().count();
        let query = PassageRef {
            doc: String::new(),
            passage: String::new(),
            start: 0,
            end: n as u32,
            text: text.to_string(),
            paragraph: 0,
            context_start: 0,
            context: text.to_string(),
            ..Default::default()
        };
        let mut out: Vec<PairMatch> = candidates
            .into_iter()
            .filter_map(|(slot, cosine)| {
                let pb = self.passage(slot);
                let (best, gap) = self.rank_in_article(vector, slot, cosine);
                let mut v = judge(
                    Side {
                        text,
                        features: &features,
                    },
                    Side {
                        text: &pb.passage.text,
                        features: self.n.features[slot].as_ref().expect("live slot"),
                    },
                    &self.n.lexicon,
                    self.semantic(
                        cosine,
                        (bg[self.n.group[slot]], &knn[self.n.group[slot]]),
                        (self.n.background[slot][group], &self.n.knn[slot][group]),
                        // A free text has no article around it: asking about a claim
                        // is taken as asking about its event, and only the passage's
                        // side of the in-article ranking exists.
                        ArticleSignals {
                            affinity: 1.0,
                            best: 2 * u8::from(best),
                            gap,
                            residual: {
                                let m = self.n.doc_grams.get(&pb.doc).map(|g| g.mean.as_slice());
                                residual_cosine(vector, m, self.collection.vector(slot), m)
                            },
                        },
                    ),
                );
                // A verbatim quote is found whatever the judge makes of the rest.
                if let Some((_, span, whole)) = quoted.iter().find(|(s, _, _)| *s == slot) {
                    let whole = *whole;
                    v.label = Some(if whole {
                        Label::Duplicate
                    } else {
                        Label::Overlap
                    });
                    v.score = 1.0;
                    v.evidence.shared = vec![crate::score::SharedSpan {
                        a: crate::score::Span {
                            start: 0,
                            end: n,
                            text: text.to_string(),
                        },
                        b: span.clone(),
                    }];
                }
                let label = v.label.filter(|l| opts.keeps(*l))?;
                Some(PairMatch {
                    a: query.clone(),
                    b: self.reference(slot),
                    label,
                    score: v.score,
                    evidence: v.evidence,
                })
            })
            .collect();
        sort_pairs(&mut out);
        out
    }

    /// Every cross-article pair at `opts.min_label` or above, each pair once (the side
    /// from the article that sorts first is `a`), best first. `doc` limits the pairs to
    /// those with one side in that article.
    pub fn all_pairs(&self, doc: Option<&str>, opts: &QueryOptions) -> Vec<PairMatch> {
        let slots: Vec<usize> = match doc {
            Some(d) => self
                .collection
                .doc(d)
                .map(|r| r.slots.clone())
                .unwrap_or_default(),
            None => self.collection.live_slots().collect(),
        };
        let mut out = Vec::new();
        for (a, b, v) in self.judged_candidates(&slots, opts) {
            if !v.label.is_some_and(|l| opts.keeps(l)) {
                continue;
            }
            let Some(mut m) = self.pair(a, b, v) else {
                continue;
            };
            let flip = match doc {
                Some(d) => m.a.doc != d,
                None => (&m.a.doc, m.a.start) > (&m.b.doc, m.b.start),
            };
            if flip {
                std::mem::swap(&mut m.a, &mut m.b);
                m.evidence.shared = swap_spans(std::mem::take(&mut m.evidence.shared));
            }
            out.push(m);
        }
        sort_pairs(&mut out);
        out
    }

    /// The passages of `a` and `b` paired one to one, strongest pairs first claimed,
    /// listed in the order of `a`.
    pub fn align(&self, a: &str, b: &str, opts: &QueryOptions) -> Vec<PairMatch> {
        align_pairs(self.all_pairs(Some(a), opts), a, b)
    }

    /// Article pairs ranked by what they share, from the cross-article pairs.
    pub fn article_pairs(&self, opts: &QueryOptions) -> Vec<ArticlePair> {
        summarize(&self.all_pairs(None, opts))
    }
}

/// The pairs between articles `a` and `b` among `pairs`, oriented with `a`'s passage
/// first and paired one to one (strongest pairs claim their passages first), listed in
/// the order of `a`.
pub fn align_pairs(pairs: impl IntoIterator<Item = PairMatch>, a: &str, b: &str) -> Vec<PairMatch> {
    align_partition(pairs, a, b).0
}

/// [`align_pairs`], also returning the pairs between `a` and `b` left out of the
/// alignment (a passage already paired with a stronger partner).
pub fn align_partition(
    pairs: impl IntoIterator<Item = PairMatch>,
    a: &str,
    b: &str,
) -> (Vec<PairMatch>, Vec<PairMatch>) {
    let mut pairs: Vec<PairMatch> = pairs
        .into_iter()
        .filter(|m| (m.a.doc == a && m.b.doc == b) || (m.a.doc == b && m.b.doc == a))
        .map(|mut m| {
            if m.a.doc != a {
                std::mem::swap(&mut m.a, &mut m.b);
                m.evidence.shared = swap_spans(std::mem::take(&mut m.evidence.shared));
            }
            m
        })
        .collect();
    sort_pairs(&mut pairs);
    let (mut used_a, mut used_b) = (HashSet::new(), HashSet::new());
    let (mut aligned, rest): (Vec<PairMatch>, Vec<PairMatch>) = pairs
        .into_iter()
        .partition(|m| used_a.insert(m.a.passage.clone()) & used_b.insert(m.b.passage.clone()));
    aligned.sort_by_key(|m| m.a.start);
    (aligned, rest)
}

/// Article pairs ranked by what their passage pairs share.
pub fn summarize(pairs: &[PairMatch]) -> Vec<ArticlePair> {
    let mut by: BTreeMap<(String, String), ArticlePair> = BTreeMap::new();
    for m in pairs {
        let key = if m.a.doc <= m.b.doc {
            (m.a.doc.clone(), m.b.doc.clone())
        } else {
            (m.b.doc.clone(), m.a.doc.clone())
        };
        let e = by.entry(key.clone()).or_insert_with(|| ArticlePair {
            a: key.0,
            b: key.1,
            shared: 0.0,
            duplicate: 0,
            overlap: 0,
            agree: 0,
            conflict: 0,
        });
        match m.label {
            Label::Duplicate => {
                e.duplicate += 1;
                e.shared += m.score;
            }
            Label::Overlap => {
                e.overlap += 1;
                e.shared += m.score;
            }
            Label::Agree => {
                e.agree += 1;
                e.shared += 0.5 * m.score;
            }
            Label::Conflict => {
                e.conflict += 1;
                e.shared += 0.5 * m.score;
            }
            Label::Related | Label::Boilerplate => {}
        }
    }
    let mut out: Vec<ArticlePair> = by.into_values().filter(|p| p.shared > 0.0).collect();
    out.sort_by(|x, y| {
        y.shared
            .total_cmp(&x.shared)
            .then_with(|| (&x.a, &x.b).cmp(&(&y.a, &y.b)))
    });
    out
}

fn swap_spans(spans: Vec<crate::score::SharedSpan>) -> Vec<crate::score::SharedSpan> {
    spans
        .into_iter()
        .map(|s| crate::score::SharedSpan { a: s.b, b: s.a })
        .collect()
}

fn sort_pairs(v: &mut [PairMatch]) {
    v.sort_by(|x, y| {
        y.label
            .cmp(&x.label)
            .then(y.score.total_cmp(&x.score))
            .then_with(|| (&x.a.passage, &x.b.passage).cmp(&(&y.a.passage, &y.b.passage)))
    });
}

/// Live slots split by script group.
fn slots_by_group(slots: &[usize], group: &[usize]) -> [Vec<usize>; GROUPS] {
    let mut out: [Vec<usize>; GROUPS] = Default::default();
    for &s in slots {
        out[group[s]].push(s);
    }
    out
}

/// One HNSW graph per script group, over the collection's vectors.
#[derive(Clone, Default)]
struct GroupGraphs([Option<Arc<HnswGraph>>; GROUPS]);

impl GroupGraphs {
    /// Adds `slots` to their groups' graphs (a graph is created on first use).
    fn insert(
        &mut self,
        c: &Collection,
        slots: &[usize],
        group: &[usize],
        by_group: &[Vec<usize>; GROUPS],
    ) {
        let params = c.params();
        for (g, graph) in self.0.iter_mut().enumerate() {
            let points: Vec<(&[f32], usize)> = slots
                .iter()
                .filter(|&&s| group[s] == g)
                .map(|&s| (c.vector(s), s))
                .collect();
            if points.is_empty() {
                continue;
            }
            graph
                .get_or_insert_with(|| {
                    Arc::new(HnswGraph::new(
                        GraphParams {
                            max_connections: params.max_connections,
                            ef_construction: GROUP_EF_CONSTRUCTION,
                        },
                        by_group[g].len() * 5 / 4,
                    ))
                })
                .insert(points);
        }
    }

    /// Per group, the cosines of the live passages nearest to `vector` outside
    /// article `own`, best first.
    fn nearest(&self, c: &Collection, vector: &[f32], own: Option<&str>) -> Nearest {
        std::array::from_fn(|g| {
            self.nearest_in(c, g, vector, own, KNN)
                .into_iter()
                .map(|(_, cosine)| cosine)
                .collect()
        })
    }

    /// The `k` live passages of group `g` nearest to `vector` outside article `own`,
    /// with their cosines, best first.
    fn nearest_in(
        &self,
        c: &Collection,
        g: usize,
        vector: &[f32],
        own: Option<&str>,
        k: usize,
    ) -> Vec<(usize, f32)> {
        let ef = c.params().ef_search.max(k);
        match &self.0[g] {
            None => Vec::new(),
            Some(graph) => graph.search(vector, k, ef, &|s| {
                c.passage(s).is_some_and(|p| own.is_none_or(|d| p.doc != d))
            }),
        }
    }
}

/// Per group, the mean and spread of the cosines between `vector` and an evenly
/// spaced sample of that group's passages of other articles, shrunk towards the model
/// prior (same-language or cross-language, from `own_group`) when the sample is small.
/// The cost per passage stays bounded by the sample size however large the collection.
fn backgrounds(
    c: &Collection,
    vector: &[f32],
    own: Option<&str>,
    own_group: usize,
    by_group: &[Vec<usize>; GROUPS],
) -> Background {
    std::array::from_fn(|g| {
        let prior = if g == own_group {
            PRIOR_MEAN
        } else {
            PRIOR_CROSS_MEAN
        };
        background(c, vector, own, &by_group[g], prior)
    })
}

/// Mean and spread of the cosines between `vector` and an evenly spaced sample of
/// `slots` outside article `own`, shrunk towards `(prior_mean, PRIOR_STD)`.
fn background(
    c: &Collection,
    vector: &[f32],
    own: Option<&str>,
    slots: &[usize],
    prior_mean: f32,
) -> (f32, f32) {
    let step = (slots.len() / BACKGROUND_SAMPLE).max(1);
    let cos: Vec<f32> = slots
        .iter()
        .step_by(step)
        .filter(|&&s| own.is_none_or(|d| c.passage(s).is_some_and(|p| p.doc != d)))
        .map(|&s| concord_index::dot(vector, c.vector(s)))
        .collect();
    let n = cos.len() as f32;
    let w = BACKGROUND_PRIOR_WEIGHT;
    let mean_s = if n > 0.0 {
        cos.iter().sum::<f32>() / n
    } else {
        0.0
    };
    let var_s = if n > 1.0 {
        cos.iter().map(|x| (x - mean_s).powi(2)).sum::<f32>() / (n - 1.0)
    } else {
        0.0
    };
    let mean = (n * mean_s + w * prior_mean) / (n + w);
    let var = (n * var_s + w * PRIOR_STD * PRIOR_STD) / (n + w);
    (mean, var.sqrt().max(MIN_STD))
}
