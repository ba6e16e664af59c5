//! The query index over a collection and its [`Neighbourhoods`], and how it judges
//! one candidate pair: the embedding signals in each side's neighbourhood, the
//! signals from the two articles, the lexical and semantic candidates of a passage,
//! verbatim quotes, and each side's paragraph as context.

use super::neighbourhoods::{residual_cosine, Neighbourhoods};
use super::{
    ArticleSignals, PairMatch, PassageRef, QueryOptions, GROUPS, LEXICAL_CANDIDATES,
    LEXICAL_MIN_SHARED, LEXICAL_RARE_MAX, LEXICAL_RARE_SHARE, MUTUAL_RANK, QUOTE_MIN_CJK,
    QUOTE_MIN_WORDS, RANK_MAX_PASSAGES, RELATED_ARTICLES, RELATED_NOTICES,
};
use crate::features::Features;
use crate::score::{judge, Semantic, Side, Verdict};
use concord_index::{Collection, StoredPassage};
use concord_text::names::NameBridge;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// Overlap queries over a collection and its [`Neighbourhoods`].
pub struct OverlapIndex<'c> {
    pub(super) collection: &'c Collection,
    pub(super) n: Cow<'c, Neighbourhoods>,
    /// Affinities of article pairs computed so far (see [`Neighbourhoods::affinity`]).
    pub(super) affinity: std::sync::Mutex<HashMap<(String, String), f32>>,
    /// Related articles of the articles asked about so far (see [`Self::related_docs`]).
    pub(super) related: std::sync::Mutex<HashMap<String, Arc<[String]>>>,
}

impl<'c> OverlapIndex<'c> {
    /// Derives what the queries need from `collection` (see [`Neighbourhoods::build`]).
    pub fn new(collection: &'c Collection, names: Option<Arc<NameBridge>>) -> Self {
        Self {
            collection,
            n: Cow::Owned(Neighbourhoods::build(collection, names)),
            affinity: Default::default(),
            related: Default::default(),
        }
    }

    /// Queries over data derived earlier; `None` when `n` is not current for `collection`.
    pub fn with(collection: &'c Collection, n: &'c Neighbourhoods) -> Option<Self> {
        n.is_current(collection).then_some(Self {
            collection,
            n: Cow::Borrowed(n),
            affinity: Default::default(),
            related: Default::default(),
        })
    }

    pub fn collection(&self) -> &Collection {
        self.collection
    }

    pub(super) fn passage(&self, slot: usize) -> &StoredPassage {
        self.collection.passage(slot).expect("live slot")
    }

    /// The embedding signals of a pair, from each side's background and neighbours.
    pub(super) fn semantic(
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
    pub(super) fn doc_affinity(&self, a: &str, b: &str) -> f32 {
        let key = if a <= b { (a, b) } else { (b, a) };
        let key = (key.0.to_string(), key.1.to_string());
        let mut cache = self.affinity.lock().unwrap_or_else(|e| e.into_inner());
        *cache.entry(key).or_insert_with(|| self.n.affinity(a, b))
    }

    /// How `vector` (at `cosine` from the passage in `slot`) ranks among the passages of
    /// `slot`'s article: whether none is closer, and by how much it beats the next one.
    pub(super) fn rank_in_article(&self, vector: &[f32], slot: usize, cosine: f32) -> (bool, f32) {
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
    pub(super) fn article_signals(&self, a: usize, b: usize, cosine: f32) -> ArticleSignals {
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

    pub(super) fn judge_slots(&self, a: usize, b: usize, cosine: f32) -> Verdict {
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

    pub(super) fn reference(&self, slot: usize) -> PassageRef {
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
    pub(super) fn paragraph_slots(&self, slot: usize) -> Vec<usize> {
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
    pub(super) fn context(&self, slot: usize) -> (u32, String) {
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
    pub(super) fn lexical_candidates(&self, features: &Features, own: Option<&str>) -> Vec<usize> {
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
    /// language is searched on its own), its lexical candidates and, for a notice, the
    /// closest notices of the related articles ([`Self::related_notices`]).
    pub(super) fn candidates(&self, slot: usize, opts: &QueryOptions) -> Vec<(usize, f32)> {
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
        let notices = match features.notice {
            Some(_) => self.related_notices(own, v),
            None => Vec::new(),
        };
        let lexical = self
            .lexical_candidates(features, Some(own))
            .into_iter()
            .map(|s| (s, concord_index::dot(v, self.collection.vector(s))));
        for (s, cosine) in notices.into_iter().chain(lexical) {
            if !out.iter().any(|&(x, _)| x == s) {
                out.push((s, cosine));
            }
        }
        out
    }

    /// The notices (disclaimers, reprint lines, prompts) of the articles related to
    /// `own` ([`Self::related_docs`]) closest to `vector`, [`RELATED_NOTICES`] from each,
    /// with their cosines. A notice sits far from another outlet's wording of the same
    /// notice and its words are too common to retrieve by, so neither the graph nor the
    /// lexical postings find its counterpart.
    fn related_notices(&self, own: &str, vector: &[f32]) -> Vec<(usize, f32)> {
        let mut out = Vec::new();
        for doc in self.related_docs(own).iter() {
            let Some(d) = self.collection.doc(doc) else {
                continue;
            };
            let mut near: Vec<(usize, f32)> = d
                .slots
                .iter()
                .filter(|&&s| {
                    self.n
                        .features
                        .get(s)
                        .and_then(Option::as_ref)
                        .is_some_and(|f| f.notice.is_some())
                })
                .map(|&s| (s, concord_index::dot(vector, self.collection.vector(s))))
                .collect();
            near.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
            out.extend(near.into_iter().take(RELATED_NOTICES));
        }
        out
    }

    /// The articles nearest `doc` as a whole: the [`RELATED_ARTICLES`] whose mean
    /// vectors are closest to its own in each script group (cross-language cosines
    /// run lower, so each group is ranked on its own), computed once per article.
    pub(super) fn related_docs(&self, doc: &str) -> Arc<[String]> {
        let cached = self
            .related
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(doc)
            .cloned();
        if let Some(r) = cached {
            return r;
        }
        let Some(own) = self.n.doc_grams.get(doc) else {
            return Arc::from(Vec::new());
        };
        let norm = |m: &[f32]| concord_index::dot(m, m).sqrt().max(f32::MIN_POSITIVE);
        let own_norm = norm(&own.mean);
        let mut ranked: [Vec<(f32, &String)>; GROUPS] = Default::default();
        for (id, d) in &self.n.doc_grams {
            if id == doc || d.slots.is_empty() {
                continue;
            }
            let cosine = concord_index::dot(&own.mean, &d.mean) / (own_norm * norm(&d.mean));
            ranked[d.group].push((cosine, id));
        }
        let mut out = Vec::new();
        for mut r in ranked {
            r.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(y.1)));
            out.extend(
                r.into_iter()
                    .take(RELATED_ARTICLES)
                    .map(|(_, id)| id.clone()),
            );
        }
        let out: Arc<[String]> = Arc::from(out);
        self.related
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(doc.to_string(), out.clone());
        out
    }

    /// Passages of paragraphs that contain `text` verbatim after folding (script,
    /// width, case; punctuation and spaces ignored), each with the span of it they hold
    /// (in characters of the passage's text, like every evidence span).
    /// `whole` is true when the span holds every letter and digit of the passage.
    pub(super) fn quoted(&self, text: &str) -> Vec<(usize, crate::score::Span, bool)> {
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

    pub(super) fn pair(&self, a: usize, b: usize, v: Verdict) -> Option<PairMatch> {
        Some(PairMatch {
            a: self.reference(a),
            b: self.reference(b),
            label: v.label?,
            score: v.score,
            evidence: v.evidence,
        })
    }
}
