//! Claims: one fact or claim and the passages, in several articles, that carry it, from
//! the graph of judged passage pairs (connected components split by average linkage).

use crate::{average_linkage, link_weight, Claim, FirstSeen, CLAIM_DENSE_MAX, CLAIM_MAX_DISTANCE};
use concord_overlap::{Label, PairMatch, PassageRef};
use petgraph::unionfind::UnionFind;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Claims from the passage graph whose edges are `pairs`: its connected components,
/// each split by average-linkage clustering so that a claim's passages are, on
/// average, at least agreeing with one another (an `overlap` or `duplicate` pair is
/// at distance 0, `agree` or `conflict` at 0.5, no pair at 1). A chain of passages
/// each agreeing only with the next is not one claim. A claim holding a `conflict`
/// pair is labelled `conflict`; a `conflict` pair split across claims (or left out of
/// any) is a claim of its own, so that no disagreement goes unlisted.
pub(crate) fn claims<'p>(pairs: impl IntoIterator<Item = &'p PairMatch>) -> Vec<Claim> {
    let pairs: Vec<&PairMatch> = pairs
        .into_iter()
        .filter(|m| m.label != Label::Boilerplate)
        .collect();
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut refs = Vec::new();
    for m in &pairs {
        for p in [&m.a, &m.b] {
            ids.entry(p.passage.as_str()).or_insert_with(|| {
                refs.push(p);
                refs.len() - 1
            });
        }
    }
    let edges: Vec<(usize, usize, &PairMatch)> = pairs
        .iter()
        .map(|m| (ids[m.a.passage.as_str()], ids[m.b.passage.as_str()], *m))
        .collect();
    let mut groups = Vec::new();
    let found = components(refs.len(), &edges, Label::Agree);
    let inside = edges_by_component(refs.len(), &found, &edges);
    for (component, inside) in found.into_iter().zip(&inside) {
        split_claim(component, inside, &mut groups);
    }

    let mut group_of = vec![usize::MAX; refs.len()];
    for (g, members) in groups.iter().enumerate() {
        for &i in members {
            group_of[i] = g;
        }
    }
    let mut strongest: Vec<Option<(Label, f32)>> = vec![None; groups.len()];
    let mut conflicts: Vec<Vec<(usize, usize)>> = vec![Vec::new(); groups.len()];
    let mut apart: BTreeMap<(usize, usize), f32> = BTreeMap::new();
    for &(i, j, m) in &edges {
        if group_of[i] == group_of[j] && group_of[i] != usize::MAX {
            let g = group_of[i];
            let e = strongest[g].get_or_insert((m.label, m.score));
            e.0 = e.0.max(m.label);
            e.1 = e.1.max(m.score);
            if m.label == Label::Conflict {
                conflicts[g].push((i.min(j), i.max(j)));
            }
        } else if m.label == Label::Conflict {
            let e = apart.entry((i.min(j), i.max(j))).or_insert(m.score);
            *e = e.max(m.score);
        }
    }
    let claim = |members: Vec<usize>, label: Label, score: f32, conflicts: Vec<(usize, usize)>| {
        let mut passages: Vec<PassageRef> = members.into_iter().map(|i| refs[i].clone()).collect();
        passages.sort_by(|x, y| (&x.doc, x.start).cmp(&(&y.doc, y.start)));
        let articles: BTreeSet<String> = passages.iter().map(|p| p.doc.clone()).collect();
        let mut conflicts: Vec<[String; 2]> = conflicts
            .into_iter()
            .map(|(i, j)| {
                let (x, y) = (refs[i], refs[j]);
                let [x, y] = if (&x.doc, x.start) <= (&y.doc, y.start) {
                    [x, y]
                } else {
                    [y, x]
                };
                [x.passage.clone(), y.passage.clone()]
            })
            .collect();
        conflicts.sort();
        conflicts.dedup();
        let first_seen = passages
            .iter()
            .filter_map(|p| p.published.as_ref().map(|t| (t, p)))
            .min_by(|x, y| x.0.cmp(y.0))
            .map(|(t, p)| FirstSeen {
                doc: p.doc.clone(),
                passage: p.passage.clone(),
                published: t.clone(),
            });
        Claim {
            id: 0,
            label: if conflicts.is_empty() {
                label
            } else {
                Label::Conflict
            },
            score,
            articles: articles.into_iter().collect(),
            passages,
            conflicts,
            first_seen,
        }
    };
    let mut out: Vec<Claim> = groups
        .into_iter()
        .zip(strongest)
        .zip(conflicts)
        .filter_map(|((members, strongest), conflicts)| {
            let (label, score) = strongest?;
            Some(claim(members, label, score, conflicts))
        })
        .collect();
    out.extend(
        apart
            .into_iter()
            .map(|((i, j), score)| claim(vec![i, j], Label::Conflict, score, vec![(i, j)])),
    );
    out.sort_by(|x, y| {
        y.articles
            .len()
            .cmp(&x.articles.len())
            .then(y.label.cmp(&x.label))
            .then(y.score.total_cmp(&x.score))
            .then_with(|| x.passages[0].passage.cmp(&y.passages[0].passage))
            .then_with(|| x.passages.len().cmp(&y.passages.len()))
            .then_with(|| {
                let ids = |c: &Claim| -> Vec<String> {
                    c.passages.iter().map(|p| p.passage.clone()).collect()
                };
                ids(x).cmp(&ids(y))
            })
    });
    for (i, c) in out.iter_mut().enumerate() {
        c.id = i;
    }
    out
}

/// Connected components (of two or more) of the graph on `0..n` whose edges are the
/// pairs at `min` or above.
fn components(n: usize, edges: &[(usize, usize, &PairMatch)], min: Label) -> Vec<Vec<usize>> {
    let mut graph = UnionFind::<usize>::new(n);
    let mut touched = vec![false; n];
    for &(i, j, m) in edges {
        if m.label >= min {
            graph.union(i, j);
            touched[i] = true;
            touched[j] = true;
        }
    }
    let mut out: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in (0..n).filter(|&i| touched[i]) {
        out.entry(graph.find(i)).or_default().push(i);
    }
    out.into_values().filter(|c| c.len() >= 2).collect()
}

/// `edges` bucketed by the component (of `found`, over nodes `0..n`) that holds both
/// ends; edges between components or outside them are dropped.
fn edges_by_component<'p>(
    n: usize,
    found: &[Vec<usize>],
    edges: &[(usize, usize, &'p PairMatch)],
) -> Vec<Vec<(usize, usize, &'p PairMatch)>> {
    let mut component_of = vec![usize::MAX; n];
    for (c, members) in found.iter().enumerate() {
        for &i in members {
            component_of[i] = c;
        }
    }
    let mut out = vec![Vec::new(); found.len()];
    for &e in edges {
        let c = component_of[e.0];
        if c != usize::MAX && c == component_of[e.1] {
            out[c].push(e);
        }
    }
    out
}

/// Splits one connected `component` (`edges` holds its pairs) into claims (see
/// [`claims`]), appending them to `out`. Components too large for a dense distance matrix are first cut down to
/// their `overlap`-or-stronger parts.
fn split_claim(
    component: Vec<usize>,
    edges: &[(usize, usize, &PairMatch)],
    out: &mut Vec<Vec<usize>>,
) {
    if component.len() <= 2 {
        out.push(component);
        return;
    }
    let local: HashMap<usize, usize> = component.iter().enumerate().map(|(k, &i)| (i, k)).collect();
    let inside: Vec<(usize, usize, &PairMatch)> = edges
        .iter()
        .filter_map(|&(i, j, m)| Some((*local.get(&i)?, *local.get(&j)?, m)))
        .collect();
    if component.len() > CLAIM_DENSE_MAX {
        // Cut down to the parts held together by overlapping (else duplicated) text.
        let smaller = |min| {
            let parts = components(component.len(), &inside, min);
            let split = !parts.is_empty() && parts.iter().all(|c| c.len() < component.len());
            split.then_some(parts)
        };
        let Some(strong) = smaller(Label::Overlap).or_else(|| smaller(Label::Duplicate)) else {
            // Nothing smaller to split into: keep it whole rather than drop it.
            out.push(component);
            return;
        };
        let strong: Vec<Vec<usize>> = strong
            .into_iter()
            .map(|c| c.into_iter().map(|k| component[k]).collect())
            .collect();
        let n = edges.iter().map(|e| e.0.max(e.1) + 1).max().unwrap_or(0);
        let by_part = edges_by_component(n, &strong, edges);
        for (part, inside) in strong.into_iter().zip(&by_part) {
            split_claim(part, inside, out);
        }
        return;
    }
    let distances = inside
        .iter()
        .map(|&(i, j, m)| (i, j, 1.0 - link_weight(m.label)));
    for group in average_linkage(component.len(), distances, CLAIM_MAX_DISTANCE) {
        if group.len() >= 2 {
            out.push(group.into_iter().map(|k| component[k]).collect());
        }
    }
}
