//! The overlap queries: the matches of one passage or of a free text, every
//! cross-article pair of the collection (or of one article), two articles aligned, and
//! the article pairs that share the most.

use super::align::{align_pairs, sort_pairs, summarize, swap_spans};
use super::neighbourhoods::{backgrounds, residual_cosine};
use super::{ArticlePair, ArticleSignals, OverlapIndex, PairMatch, PassageRef, QueryOptions};
use crate::features::Features;
use crate::score::{judge, Label, Side, Verdict};
use rayon::prelude::*;
use std::collections::HashSet;

impl<'c> OverlapIndex<'c> {
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
        let mut out = one_claim_per_article(out);
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

/// Pairs each claim with at most one claim of every other article for `agree` and
/// `conflict`: a claim restates or disputes one claim there, not every claim on the same
/// subject (a passage that "agrees" with six passages of one article is a topic, not a
/// claim). Strongest pairs first: one is kept when neither side has a partner in the
/// other's article yet. Other labels are kept as they are. On the held-out stories this
/// removes about 2% of findings, most of them wrong (benches/RESULTS.md).
pub(super) fn one_claim_per_article(pairs: Vec<PairMatch>) -> Vec<PairMatch> {
    let claim = |l: Label| matches!(l, Label::Agree | Label::Conflict);
    let mut order: Vec<usize> = (0..pairs.len())
        .filter(|&i| claim(pairs[i].label))
        .collect();
    order.sort_by(|&x, &y| pairs[y].score.total_cmp(&pairs[x].score).then(x.cmp(&y)));
    let mut taken: HashSet<(&str, &str)> = HashSet::new();
    let mut keep: Vec<bool> = pairs.iter().map(|m| !claim(m.label)).collect();
    for i in order {
        let m = &pairs[i];
        let ends = [
            (m.a.passage.as_str(), m.b.doc.as_str()),
            (m.b.passage.as_str(), m.a.doc.as_str()),
        ];
        if ends.iter().all(|e| !taken.contains(e)) {
            taken.extend(ends);
            keep[i] = true;
        }
    }
    pairs
        .into_iter()
        .zip(keep)
        .filter_map(|(m, k)| k.then_some(m))
        .collect()
}
