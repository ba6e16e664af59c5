//! Overlap queries over a collection: for a passage or a free text, the passages of
//! other articles that duplicate, overlap or agree with it; every such pair in the
//! collection; two articles aligned passage by passage; and the article pairs that share
//! the most.
//!
//! Candidates come from the HNSW index (the `k` nearest passages of other articles);
//! each is then judged by [`crate::score::judge`]. The semantic signal is a z-score:
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
//! [`Neighbourhoods`], which a long-running process keeps and refreshes after changes:
//! new passages are derived, removed ones dropped, and everything is derived again once
//! the collection has grown or shrunk by a quarter since the last full pass (so
//! backgrounds and neighbours stay representative) or its slots were renumbered.

use crate::features::{Features, Lexicon};
use crate::score::{judge, Label, Semantic, Side, Verdict};
use concord_index::{Collection, GraphParams, HnswGraph, StoredPassage};
use rayon::prelude::*;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
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

/// Query options.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// Weakest label reported.
    pub min_label: Label,
    /// Candidates drawn from the index per passage.
    pub candidates: usize,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self {
            min_label: Label::Agree,
            candidates: 24,
        }
    }
}

/// One side of a reported pair.
#[derive(Debug, Clone, Serialize)]
pub struct PassageRef {
    pub doc: String,
    pub passage: String,
    pub start: u32,
    pub end: u32,
    pub text: String,
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
    /// Sum of pair scores weighted by label (duplicate 1, overlap 1, agree 0.5).
    pub shared: f32,
    pub duplicate: usize,
    pub overlap: usize,
    pub agree: usize,
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
    /// The collection version and slot epoch this was derived at.
    version: u64,
    slot_epoch: u64,
    /// Live passages at the last full derivation.
    full_at: usize,
}

impl Neighbourhoods {
    /// Derives everything for every live passage of `c`.
    pub fn build(c: &Collection) -> Self {
        let mut n = Self::default();
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
        if self.slot_epoch != c.slot_epoch() || drifted {
            self.derive_all(c);
            return;
        }
        for s in 0..self.features.len() {
            if c.passage(s).is_none() {
                if let Some(f) = self.features[s].take() {
                    self.lexicon.remove(&f);
                    self.knn[s] = Nearest::default();
                }
            }
        }
        let new: Vec<usize> = c
            .live_slots()
            .filter(|&s| self.features.get(s).is_none_or(Option::is_none))
            .collect();
        self.derive(c, &new);
        self.version = c.version();
    }

    fn derive_all(&mut self, c: &Collection) {
        *self = Self::default();
        let slots: Vec<usize> = c.live_slots().collect();
        self.derive(c, &slots);
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
            .map(|&s| Features::new(&c.passage(s).expect("live slot").passage.text))
            .collect();
        self.group.resize(n, 0);
        self.features.resize(n, None);
        for (&s, f) in slots.iter().zip(features) {
            self.group[s] = f.script_group();
            self.lexicon.add(&f);
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
}

/// Overlap queries over a collection and its [`Neighbourhoods`].
pub struct OverlapIndex<'c> {
    collection: &'c Collection,
    n: Cow<'c, Neighbourhoods>,
}

impl<'c> OverlapIndex<'c> {
    /// Derives what the queries need from `collection` (see [`Neighbourhoods::build`]).
    pub fn new(collection: &'c Collection) -> Self {
        Self {
            collection,
            n: Cow::Owned(Neighbourhoods::build(collection)),
        }
    }

    /// Queries over data derived earlier; `None` when `n` is not current for `collection`.
    pub fn with(collection: &'c Collection, n: &'c Neighbourhoods) -> Option<Self> {
        n.is_current(collection).then_some(Self {
            collection,
            n: Cow::Borrowed(n),
        })
    }

    pub fn collection(&self) -> &Collection {
        self.collection
    }

    fn passage(&self, slot: usize) -> &StoredPassage {
        self.collection.passage(slot).expect("live slot")
    }

    /// The embedding signals of a pair, from each side's background and neighbours.
    fn semantic(&self, cosine: f32, a: ((f32, f32), &[f32]), b: ((f32, f32), &[f32])) -> Semantic {
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
        }
    }

    /// The verdict on the passages in slots `a` and `b`, whatever their articles.
    pub fn judge_pair(&self, a: usize, b: usize) -> Verdict {
        let cosine = concord_index::dot(self.collection.vector(a), self.collection.vector(b));
        self.judge_slots(a, b, cosine)
    }

    fn judge_slots(&self, a: usize, b: usize, cosine: f32) -> Verdict {
        let (pa, pb) = (self.passage(a), self.passage(b));
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
            ),
        )
    }

    fn reference(&self, slot: usize) -> PassageRef {
        let p = self.passage(slot);
        PassageRef {
            doc: p.doc.clone(),
            passage: p.id(),
            start: p.passage.start,
            end: p.passage.end,
            text: p.passage.text.clone(),
        }
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
        let own = &self.passage(slot).doc;
        self.collection
            .search(self.collection.vector(slot), opts.candidates, &|p| {
                &p.doc != own
            })
            .into_iter()
            .map(|h| (h.slot, self.judge_slots(slot, h.slot, h.cosine)))
            .filter(|(_, v)| v.label.is_some_and(|l| l >= opts.min_label))
            .collect()
    }

    /// Passages matching a free `text` whose embedding is `vector`, best first.
    pub fn for_text(&self, text: &str, vector: &[f32], opts: &QueryOptions) -> Vec<PairMatch> {
        let features = Features::new(text);
        let group = features.script_group();
        let bg = backgrounds(self.collection, vector, None, group, &self.n.by_group);
        let knn = self.n.graphs.nearest(self.collection, vector, None);
        let hits = self.collection.search(vector, opts.candidates, &|_| true);
        let query = PassageRef {
            doc: String::new(),
            passage: String::new(),
            start: 0,
            end: text.chars().count() as u32,
            text: text.to_string(),
        };
        let mut out: Vec<PairMatch> = hits
            .into_iter()
            .filter_map(|h| {
                let pb = self.passage(h.slot);
                let v = judge(
                    Side {
                        text,
                        features: &features,
                    },
                    Side {
                        text: &pb.passage.text,
                        features: self.n.features[h.slot].as_ref().expect("live slot"),
                    },
                    &self.n.lexicon,
                    self.semantic(
                        h.cosine,
                        (bg[self.n.group[h.slot]], &knn[self.n.group[h.slot]]),
                        (self.n.background[h.slot][group], &self.n.knn[h.slot][group]),
                    ),
                );
                let label = v.label.filter(|l| *l >= opts.min_label)?;
                Some(PairMatch {
                    a: query.clone(),
                    b: self.reference(h.slot),
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
        // A pair found from both sides is judged twice; it is built once.
        let found: Vec<Vec<(usize, usize, Verdict)>> = slots
            .par_iter()
            .map(|&s| {
                self.verdicts_for_slot(s, opts)
                    .into_iter()
                    .map(|(b, v)| (s, b, v))
                    .collect()
            })
            .collect();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (a, b, v) in found.into_iter().flatten() {
            if !seen.insert((a.min(b), a.max(b))) {
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
            Label::Related => {}
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
        let ef = c.params().ef_search;
        std::array::from_fn(|g| match &self.0[g] {
            None => Vec::new(),
            Some(graph) => graph
                .search(vector, KNN, ef, &|s| {
                    c.passage(s).is_some_and(|p| own.is_none_or(|d| p.doc != d))
                })
                .into_iter()
                .map(|(_, cosine)| cosine)
                .collect(),
        })
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
