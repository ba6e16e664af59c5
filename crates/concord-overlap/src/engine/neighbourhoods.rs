//! What the overlap queries derive per passage, kept by a long-running process and
//! refreshed after changes (see the module notes of [`crate::engine`]): lexical
//! features and postings, each passage's background similarity and nearest neighbours
//! per script group (each group with its own HNSW graph), and per article its grams,
//! anchors and mean vector.

use super::{
    BACKGROUND_PRIOR_WEIGHT, BACKGROUND_SAMPLE, GROUPS, GROUP_EF_CONSTRUCTION, KNN, MIN_STD,
    PRIOR_CROSS_MEAN, PRIOR_MEAN, PRIOR_STD,
};
use crate::features::{Features, Lexicon};
use concord_index::{Collection, GraphParams, HnswGraph};
use concord_text::names::NameBridge;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

/// What an article holds, for [`Neighbourhoods::affinity`].
#[derive(Clone, Default)]
pub(super) struct DocGrams {
    pub(super) slots: Vec<usize>,
    pub(super) grams: Vec<u64>,
    pub(super) anchors: Vec<u64>,
    /// Mean of its passages' vectors: what the article says throughout (its topic,
    /// its language), which [`residual_cosine`] takes away.
    pub(super) mean: Vec<f32>,
    /// The script group most of its passages are in.
    pub(super) group: usize,
}

/// Mean and spread of a passage's cosines to unrelated passages, per script group.
pub(super) type Background = [(f32, f32); GROUPS];
/// Cosines of a passage's nearest passages of other articles, best first, per group.
pub(super) type Nearest = [Vec<f32>; GROUPS];
/// Slot, background and nearest cosines of one passage.
pub(super) type Derived = (usize, Background, Nearest);

/// Per-passage data derived from a collection, indexed by slot.
#[derive(Clone, Default)]
pub struct Neighbourhoods {
    pub(super) features: Vec<Option<Features>>,
    pub(super) background: Vec<Background>,
    /// Cosines of each passage's nearest passages of other articles, best first.
    pub(super) knn: Vec<Nearest>,
    /// Script group of each slot.
    pub(super) group: Vec<usize>,
    /// Live slots per script group, as of the last derivation.
    pub(super) by_group: [Vec<usize>; GROUPS],
    /// Per script group, a graph of its passages (ids are slots; removed passages stay
    /// in it until the next full derivation and are filtered out).
    pub(super) graphs: GroupGraphs,
    pub(super) lexicon: Lexicon,
    /// Slots holding each gram, for lexical candidates (removed slots are dropped).
    pub(super) postings: HashMap<u64, Vec<usize>>,
    /// Per article: the slots it had when derived, and the grams and the anchors
    /// (numbers and names, hashed) of all its passages, each sorted and unique, for the
    /// affinity of two articles.
    pub(super) doc_grams: HashMap<String, DocGrams>,
    /// Articles holding each gram or anchor (their hashes do not collide in practice).
    pub(super) doc_df: HashMap<u64, u32>,
    /// The collection version and slot epoch this was derived at.
    pub(super) version: u64,
    pub(super) slot_epoch: u64,
    /// Live passages at the last full derivation.
    pub(super) full_at: usize,
    /// Latin names of Chinese proper nouns, for the lexical features.
    pub(super) names: Option<Arc<NameBridge>>,
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
        self.refresh_with(c, EXACT_REFRESH_MAX);
    }

    /// [`Self::refresh`], deriving everything again up to `exact_max` live passages.
    pub(super) fn refresh_with(&mut self, c: &Collection, exact_max: usize) {
        if self.is_current(c) {
            return;
        }
        let live = c.passage_count();
        let drifted = live * 4 > self.full_at * 5 || live * 4 < self.full_at * 3;
        if self.slot_epoch != c.slot_epoch() || drifted || live <= exact_max {
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

    pub(super) fn derive_all(&mut self, c: &Collection) {
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
    pub(super) fn derive(&mut self, c: &Collection, slots: &[usize]) {
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
    pub(super) fn derive_docs(&mut self, c: &Collection) {
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
            let chinese = d
                .slots
                .iter()
                .filter(|&&s| self.group.get(s) == Some(&0))
                .count();
            let doc = DocGrams {
                mean,
                group: usize::from(chinese * 2 < d.slots.len()),
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
    pub(super) fn count_doc(&mut self, doc: &DocGrams, add: bool) {
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
        let (ga, gb) = if da.group == db.group {
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
pub(super) fn residual_cosine(
    a: &[f32],
    mean_a: Option<&[f32]>,
    b: &[f32],
    mean_b: Option<&[f32]>,
) -> f32 {
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

/// Live slots split by script group.
pub(super) fn slots_by_group(slots: &[usize], group: &[usize]) -> [Vec<usize>; GROUPS] {
    let mut out: [Vec<usize>; GROUPS] = Default::default();
    for &s in slots {
        out[group[s]].push(s);
    }
    out
}

/// One HNSW graph per script group, over the collection's vectors.
#[derive(Clone, Default)]
pub(super) struct GroupGraphs([Option<Arc<HnswGraph>>; GROUPS]);

impl GroupGraphs {
    /// Adds `slots` to their groups' graphs (a graph is created on first use).
    pub(super) fn insert(
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
    pub(super) fn nearest(&self, c: &Collection, vector: &[f32], own: Option<&str>) -> Nearest {
        std::array::from_fn(|g| {
            self.nearest_in(c, g, vector, own, KNN)
                .into_iter()
                .map(|(_, cosine)| cosine)
                .collect()
        })
    }

    /// The `k` live passages of group `g` nearest to `vector` outside article `own`,
    /// with their cosines, best first.
    pub(super) fn nearest_in(
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
pub(super) fn backgrounds(
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
pub(super) fn background(
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
