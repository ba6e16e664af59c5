//! Two articles' passage pairs paired one to one (the strongest claim their passages
//! first), and the article pairs ranked by what they share.

use super::{ArticlePair, PairMatch};
use crate::score::Label;
use std::collections::{BTreeMap, HashSet};

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

pub(super) fn swap_spans(spans: Vec<crate::score::SharedSpan>) -> Vec<crate::score::SharedSpan> {
    spans
        .into_iter()
        .map(|s| crate::score::SharedSpan { a: s.b, b: s.a })
        .collect()
}

pub(super) fn sort_pairs(v: &mut [PairMatch]) {
    v.sort_by(|x, y| {
        y.label
            .cmp(&x.label)
            .then(y.score.total_cmp(&x.score))
            .then_with(|| (&x.a.passage, &x.b.passage).cmp(&(&y.a.passage, &y.b.passage)))
    });
}
