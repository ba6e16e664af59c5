//! Batch clustering over a collection: which articles tell the same story, and which
//! facts or claims several articles carry.
//!
//! Everything starts from the overlap engine's judged passage pairs, which come from
//! each passage's HNSW nearest neighbours (never an all-pairs matrix of passages):
//!
//! - **claims** (one fact or claim and the passages, in several articles, that carry
//!   it) come from the passage graph of those pairs: each connected component is
//!   split by average-linkage clustering (kodama) so that a claim's passages at least
//!   agree with one another on average, and a chain of loosely related passages is
//!   not one claim. A claim whose passages include a `conflict` pair is labelled
//!   `conflict` (the articles disagree on that point), and a `conflict` pair whose two
//!   passages did not end up in one claim is a claim of its own;
//! - **article clusters** come from average-linkage agglomerative clustering (kodama)
//!   of the articles, where two articles are linked as strongly as the pairs between
//!   them: a `duplicate` or `overlap` pair counts 1, an `agree` or `conflict` pair (the
//!   same point, agreed or disputed) one half, and `boilerplate` nothing. A
//!   cluster holds articles linked, on average, by at least one overlapping or
//!   duplicated passage (or two agreeing ones); no other threshold is involved.
//!
//! `boilerplate` pairs (both sides notices, disclaimers, bylines or app prompts) are
//! kept apart in [`Clustering::boilerplate`]: they never form claims, link articles or
//! count in what two articles share.
//!
//! The article distance matrix is condensed and holds one number per article pair, so
//! it grows with the square of the articles, not of the passages.
//!
//! `report` renders the result as one self-contained HTML page.

pub mod report;

use concord_index::Collection;
use concord_overlap::{
    align_partition, summarize, ArticlePair, Label, OverlapIndex, PairMatch, PassageRef,
    QueryOptions,
};
use petgraph::unionfind::UnionFind;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Two articles joined in a cluster share, on average, at least this much: one
/// passage pair at `overlap` or above, or two at `agree`.
const LINK_MIN_WEIGHT: f64 = 1.0;
/// A claim's passages are on average no further apart than an `agree` pair.
const CLAIM_MAX_DISTANCE: f64 = 0.5;
/// Largest connected component clustered with a dense distance matrix (8M entries).
const CLAIM_DENSE_MAX: usize = 4096;

/// An article of the clustered collection.
#[derive(Debug, Clone, Serialize)]
pub struct Article {
    pub id: String,
    pub title: Option<String>,
    /// Outlet, publication time, URL, language and author, where known.
    #[serde(skip_serializing_if = "concord_text::ArticleMeta::is_empty")]
    pub meta: concord_text::ArticleMeta,
    pub passages: usize,
    /// Index into [`Clustering::clusters`], when the article is in one.
    pub cluster: Option<usize>,
}

/// Articles that tell the same story or argue the same line.
#[derive(Debug, Clone, Serialize)]
pub struct ArticleCluster {
    pub id: usize,
    pub articles: Vec<String>,
    /// Sum of what its article pairs share (see [`concord_overlap::ArticlePair::shared`]).
    pub shared: f32,
    /// Claims carried by at least two of its articles.
    pub claims: Vec<usize>,
}

/// One fact or claim and the passages, in several articles, that carry it.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    pub id: usize,
    /// `conflict` when some of its passages contradict each other (the articles
    /// disagree on this point), else the strongest label among the pairs that joined it.
    pub label: Label,
    /// The best pair score within it.
    pub score: f32,
    pub articles: Vec<String>,
    pub passages: Vec<PassageRef>,
    /// Pairs of its passages (ids, as in [`PassageRef::passage`]) judged `conflict`.
    pub conflicts: Vec<[String; 2]>,
    /// The passage published first, when any of its articles has a publication time;
    /// the others repeated it (each passage carries its `published`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<FirstSeen>,
}

/// Where and when a claim first appeared.
#[derive(Debug, Clone, Serialize)]
pub struct FirstSeen {
    pub doc: String,
    pub passage: String,
    pub published: String,
}

/// Two articles, what they share and their aligned passage pairs.
#[derive(Debug, Clone, Serialize)]
pub struct SharedArticles {
    /// The articles (`a` sorts first) and their pair counts per label.
    #[serde(flatten)]
    pub pair: ArticlePair,
    /// Passages of `a` and `b` paired one to one, in the order of `a`.
    pub aligned: Vec<PairMatch>,
    /// Their other pairs (a passage already aligned with a stronger partner); in
    /// `pairs.csv`, not in `clusters.json`.
    #[serde(skip)]
    pub unaligned: Vec<PairMatch>,
}

/// The whole result, as written to `clusters.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Clustering {
    pub min_label: Label,
    pub articles: Vec<Article>,
    /// Clusters of two articles or more, strongest first.
    pub clusters: Vec<ArticleCluster>,
    /// Cross-article claims, the most widely carried first.
    pub claims: Vec<Claim>,
    /// Article pairs that share anything, most first.
    pub article_pairs: Vec<SharedArticles>,
    /// Pairs of `boilerplate` (shared notices, disclaimers, bylines, app prompts),
    /// strongest first: reported apart, never in claims, clusters or pair counts.
    pub boilerplate: Vec<PairMatch>,
}

impl Clustering {
    /// Every judged passage pair (no boilerplate), grouped by article pair (most
    /// shared first).
    pub fn pairs(&self) -> impl Iterator<Item = &PairMatch> {
        self.article_pairs
            .iter()
            .flat_map(|p| p.aligned.iter().chain(&p.unaligned))
    }
}

/// Clusters the articles of `index`'s collection from its pairs at `opts.min_label`
/// or above, and lists its boilerplate pairs apart.
pub fn cluster(index: &OverlapIndex, opts: &QueryOptions) -> Clustering {
    // One query returns both: the findings are exactly those of a query without
    // boilerplate, and the candidates are judged once.
    let with_boilerplate = QueryOptions {
        boilerplate: true,
        ..opts.clone()
    };
    let pairs = index.all_pairs(None, &with_boilerplate);
    from_pairs(index.collection(), pairs, opts.min_label)
}

/// Clusters the articles of `collection` from already judged `pairs`; any
/// `boilerplate` pairs among them go to [`Clustering::boilerplate`] and nowhere else.
pub fn from_pairs(collection: &Collection, pairs: Vec<PairMatch>, min_label: Label) -> Clustering {
    let articles: Vec<Article> = collection
        .docs()
        .map(|d| Article {
            id: d.id.clone(),
            title: d.title.clone(),
            meta: d.meta.clone(),
            passages: d.slots.len(),
            cluster: None,
        })
        .collect();
    build(articles, pairs, min_label)
}

/// [`from_pairs`] for `articles` (in any order, none in a cluster yet).
fn build(mut articles: Vec<Article>, pairs: Vec<PairMatch>, min_label: Label) -> Clustering {
    let (boilerplate, pairs): (Vec<PairMatch>, Vec<PairMatch>) = pairs
        .into_iter()
        .partition(|m| m.label == Label::Boilerplate);
    articles.sort_by(|x, y| x.id.cmp(&y.id));
    let groups = article_groups(&articles, &pairs);
    let shared = summarize(&pairs);

    let mut by_article_pair: BTreeMap<(String, String), Vec<PairMatch>> = BTreeMap::new();
    for m in pairs {
        let key = if m.a.doc <= m.b.doc {
            (m.a.doc.clone(), m.b.doc.clone())
        } else {
            (m.b.doc.clone(), m.a.doc.clone())
        };
        by_article_pair.entry(key).or_default().push(m);
    }
    let article_pairs: Vec<SharedArticles> = shared
        .iter()
        .map(|p| {
            let found = by_article_pair
                .remove(&(p.a.clone(), p.b.clone()))
                .unwrap_or_default();
            let (aligned, unaligned) = align_partition(found, &p.a, &p.b);
            SharedArticles {
                pair: p.clone(),
                aligned,
                unaligned,
            }
        })
        .collect();
    let claims = claims(
        article_pairs
            .iter()
            .flat_map(|p| p.aligned.iter().chain(&p.unaligned)),
    );

    let article_index: HashMap<String, usize> = articles
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.clone(), i))
        .collect();
    let mut clusters: Vec<ArticleCluster> = groups
        .into_iter()
        .map(|members| {
            let set: BTreeSet<&str> = members.iter().map(|&i| articles[i].id.as_str()).collect();
            let shared = shared
                .iter()
                .filter(|p| set.contains(p.a.as_str()) && set.contains(p.b.as_str()))
                .map(|p| p.shared)
                .sum();
            let claims = claims
                .iter()
                .filter(|c| {
                    c.articles
                        .iter()
                        .filter(|a| set.contains(a.as_str()))
                        .count()
                        >= 2
                })
                .map(|c| c.id)
                .collect();
            ArticleCluster {
                id: 0,
                articles: set.into_iter().map(String::from).collect(),
                shared,
                claims,
            }
        })
        .collect();
    clusters.sort_by(|x, y| {
        y.shared
            .total_cmp(&x.shared)
            .then_with(|| x.articles.cmp(&y.articles))
    });
    for (i, c) in clusters.iter_mut().enumerate() {
        c.id = i;
        for a in &c.articles {
            articles[article_index[a]].cluster = Some(i);
        }
    }
    Clustering {
        min_label,
        articles,
        clusters,
        claims,
        article_pairs,
        boilerplate,
    }
}

/// How strongly one passage pair links its two articles.
fn link_weight(label: Label) -> f64 {
    match label {
        Label::Duplicate | Label::Overlap => 1.0,
        Label::Agree | Label::Conflict => 0.5,
        Label::Related | Label::Boilerplate => 0.0,
    }
}

/// Article clusters of two or more, as indices into `articles`.
fn article_groups(articles: &[Article], pairs: &[PairMatch]) -> Vec<Vec<usize>> {
    let n = articles.len();
    if n < 2 {
        return Vec::new();
    }
    let index: HashMap<&str, usize> = articles
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.as_str(), i))
        .collect();
    let mut weight: HashMap<(usize, usize), f64> = HashMap::new();
    for m in pairs {
        let (Some(&i), Some(&j)) = (index.get(m.a.doc.as_str()), index.get(m.b.doc.as_str()))
        else {
            continue;
        };
        *weight.entry((i.min(j), i.max(j))).or_default() += link_weight(m.label);
    }
    let cut = 1.0 / (1.0 + LINK_MIN_WEIGHT);
    average_linkage(
        n,
        weight
            .into_iter()
            .map(|((i, j), w)| (i, j, 1.0 / (1.0 + w))),
        cut,
    )
    .into_iter()
    .filter(|g| g.len() >= 2)
    .collect()
}

/// Groups of `0..n` from average-linkage agglomerative clustering (kodama), cut where
/// the average distance between two groups exceeds `cut`. `distances` lists the pairs
/// closer than 1; every other pair is at distance 1. Groups come out in order of
/// their smallest member, each sorted.
fn average_linkage(
    n: usize,
    distances: impl IntoIterator<Item = (usize, usize, f64)>,
    cut: f64,
) -> Vec<Vec<usize>> {
    if n < 2 {
        return (0..n).map(|i| vec![i]).collect();
    }
    // Condensed upper triangle, row by row: (i, j) with i < j sits at
    // n*i - i*(i+1)/2 + j - i - 1.
    let mut condensed = vec![1.0f64; n * (n - 1) / 2];
    for (i, j, d) in distances {
        let (i, j) = (i.min(j), i.max(j));
        if i != j {
            condensed[n * i - i * (i + 1) / 2 + j - i - 1] = d;
        }
    }
    let dendrogram = kodama::linkage(&mut condensed, n, kodama::Method::Average);
    // Clusters formed by merge step k are numbered n + k, as kodama does.
    let mut members = UnionFind::<usize>::new(2 * n);
    for (k, step) in dendrogram.steps().iter().enumerate() {
        if step.dissimilarity > cut + 1e-9 {
            break;
        }
        members.union(step.cluster1, n + k);
        members.union(step.cluster2, n + k);
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        groups.entry(members.find(i)).or_default().push(i);
    }
    let mut out: Vec<Vec<usize>> = groups.into_values().collect();
    out.sort();
    out
}

/// Claims from the passage graph whose edges are `pairs`: its connected components,
/// each split by average-linkage clustering so that a claim's passages are, on
/// average, at least agreeing with one another (an `overlap` or `duplicate` pair is
/// at distance 0, `agree` or `conflict` at 0.5, no pair at 1). A chain of passages
/// each agreeing only with the next is not one claim. A claim holding a `conflict`
/// pair is labelled `conflict`; a `conflict` pair split across claims (or left out of
/// any) is a claim of its own, so that no disagreement goes unlisted.
fn claims<'p>(pairs: impl IntoIterator<Item = &'p PairMatch>) -> Vec<Claim> {
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

/// Writes `pairs` as CSV, one passage pair a row, each article with its title (empty
/// when it has none).
pub fn write_pairs_csv<'p>(
    out: impl std::io::Write,
    pairs: impl IntoIterator<Item = &'p PairMatch>,
) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "article_a",
        "passage_a",
        "article_b",
        "passage_b",
        "label",
        "score",
        "cosine",
        "lexical",
        "text_a",
        "text_b",
        "title_a",
        "title_b",
    ])?;
    for m in pairs {
        w.write_record([
            m.a.doc.as_str(),
            m.a.passage.as_str(),
            m.b.doc.as_str(),
            m.b.passage.as_str(),
            m.label.as_str(),
            &format!("{:.4}", m.score),
            &format!("{:.4}", m.evidence.cosine),
            &format!("{:.4}", m.evidence.lexical),
            m.a.text.as_str(),
            m.b.text.as_str(),
            m.a.title.as_deref().unwrap_or(""),
            m.b.title.as_deref().unwrap_or(""),
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_overlap::Evidence;

    fn side(doc: &str, index: u32) -> PassageRef {
        PassageRef {
            doc: doc.into(),
            passage: format!("{doc}#{index}"),
            start: index * 10,
            end: index * 10 + 9,
            text: format!("passage {index} of {doc}"),
            ..Default::default()
        }
    }

    fn pair(a: (&str, u32), b: (&str, u32), label: Label) -> PairMatch {
        PairMatch {
            a: side(a.0, a.1),
            b: side(b.0, b.1),
            label,
            score: 0.5,
            evidence: Evidence {
                cosine: 0.9,
                z: 3.0,
                margin: 1.02,
                mutual: true,
                lexical: 0.2,
                copied: 0.0,
                moved: 0,
                rare_shared: 0.0,
                ..Default::default()
            },
        }
    }

    fn articles(ids: &[&str]) -> Vec<Article> {
        ids.iter()
            .map(|id| Article {
                id: (*id).into(),
                title: None,
                meta: Default::default(),
                passages: 10,
                cluster: None,
            })
            .collect()
    }

    #[test]
    fn articles_join_at_one_overlap_or_two_agreements() {
        let a = articles(&["a", "b", "c", "d", "e"]);
        let pairs = vec![
            pair(("a", 0), ("b", 0), Label::Overlap),
            // One agreement alone does not make c tell the same story as b.
            pair(("b", 1), ("c", 0), Label::Agree),
            // Two do.
            pair(("d", 0), ("e", 0), Label::Agree),
            pair(("d", 1), ("e", 1), Label::Agree),
        ];
        let groups = article_groups(&a, &pairs);
        assert_eq!(groups, vec![vec![0, 1], vec![3, 4]]);
    }

    #[test]
    fn average_linkage_keeps_a_loosely_attached_article_out() {
        // a-b share a lot; c shares one overlap with a only: on average c is linked to
        // {a, b} by less than one overlap, so it stays out.
        let a = articles(&["a", "b", "c"]);
        let mut pairs: Vec<PairMatch> = (0..4)
            .map(|i| pair(("a", i), ("b", i), Label::Duplicate))
            .collect();
        pairs.push(pair(("a", 9), ("c", 0), Label::Overlap));
        assert_eq!(article_groups(&a, &pairs), vec![vec![0, 1]]);
        // With an overlap to b as well, c joins.
        pairs.push(pair(("b", 9), ("c", 1), Label::Overlap));
        assert_eq!(article_groups(&a, &pairs), vec![vec![0, 1, 2]]);
    }

    #[test]
    fn claims_hold_passages_that_all_agree_not_chains() {
        // b3 duplicates c1; a0 agrees with b3 only: on average it is further from
        // {b3, c1} than an agreement, so it is not part of that claim.
        let mut pairs = vec![
            pair(("a", 0), ("b", 3), Label::Agree),
            pair(("b", 3), ("c", 1), Label::Duplicate),
            pair(("a", 5), ("b", 6), Label::Agree),
        ];
        let found = claims(&pairs);
        let passages =
            |c: &Claim| -> Vec<String> { c.passages.iter().map(|p| p.passage.clone()).collect() };
        assert_eq!(found.len(), 2);
        assert_eq!(passages(&found[0]), vec!["b#3", "c#1"]);
        assert_eq!(found[0].label, Label::Duplicate);
        assert_eq!(passages(&found[1]), vec!["a#5", "b#6"]);
        assert_eq!(found[1].label, Label::Agree);
        // When a0 also agrees with c1, the three carry one claim.
        pairs.push(pair(("a", 0), ("c", 1), Label::Agree));
        let found = claims(&pairs);
        assert_eq!(passages(&found[0]), vec!["a#0", "b#3", "c#1"]);
        assert_eq!(found[0].articles, vec!["a", "b", "c"]);
        assert_eq!((found[0].id, found[1].id), (0, 1));
    }

    #[test]
    fn a_conflict_inside_a_claim_labels_it_and_one_split_off_is_its_own_claim() {
        // a0 duplicates b0 and c0 agrees with both, but contradicts b0: one claim, on
        // which the articles disagree.
        let mut pairs = vec![
            pair(("a", 0), ("b", 0), Label::Duplicate),
            pair(("a", 0), ("c", 0), Label::Agree),
            pair(("b", 0), ("c", 0), Label::Conflict),
        ];
        let found = claims(&pairs);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].label, Label::Conflict);
        assert_eq!(found[0].articles, vec!["a", "b", "c"]);
        assert_eq!(
            found[0].conflicts,
            vec![["b#0".to_string(), "c#0".to_string()]]
        );
        // d1 contradicts a0 alone: too far from the claim on average to join it, so
        // the disagreement is listed as a claim of its own.
        pairs.push(pair(("a", 0), ("d", 1), Label::Conflict));
        let found = claims(&pairs);
        assert_eq!(found.len(), 2);
        let apart = found
            .iter()
            .find(|c| c.articles == vec!["a", "d"])
            .expect("the split-off conflict");
        assert_eq!(apart.label, Label::Conflict);
        assert_eq!(apart.passages.len(), 2);
        assert_eq!(
            apart.conflicts,
            vec![["a#0".to_string(), "d#1".to_string()]]
        );
        let ids: Vec<usize> = found.iter().map(|c| c.id).collect();
        assert_eq!(ids, vec![0, 1]);
    }

    #[test]
    fn boilerplate_is_kept_apart_from_claims_clusters_and_counts() {
        let a = articles(&["a", "b", "c"]);
        let mut pairs: Vec<PairMatch> = (0..4)
            .map(|i| pair(("a", 10 + i), ("c", 10 + i), Label::Boilerplate))
            .collect();
        pairs.push(pair(("a", 0), ("b", 0), Label::Overlap));
        pairs.push(pair(("a", 1), ("b", 1), Label::Conflict));
        let c = build(a, pairs, Label::Agree);
        assert_eq!(c.boilerplate.len(), 4);
        assert!(c.boilerplate.iter().all(|m| m.label == Label::Boilerplate));
        assert!(c.claims.iter().all(|k| k.label != Label::Boilerplate));
        assert!(c
            .claims
            .iter()
            .all(|k| k.passages.iter().all(|p| p.start < 100)));
        // Four shared notices would make a and c a cluster if they counted.
        assert_eq!(c.clusters.len(), 1);
        assert_eq!(c.clusters[0].articles, vec!["a", "b"]);
        assert_eq!(c.article_pairs.len(), 1);
        let p = &c.article_pairs[0].pair;
        assert_eq!((p.overlap, p.conflict), (1, 1));
        assert_eq!(c.pairs().count(), 2);
        assert!(c.pairs().all(|m| m.label.is_finding()));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["boilerplate"].as_array().unwrap().len(), 4);
        assert_eq!(json["article_pairs"][0]["conflict"], 1);
        assert!(json["claims"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["label"] == "conflict"));
    }

    #[test]
    fn pairs_csv_quotes_text_with_commas_and_quotes() {
        let mut p = pair(("a", 0), ("b", 0), Label::Overlap);
        p.a.text = "said \"yes\", twice".into();
        p.a.title = Some("Storm, day two".into());
        let mut out = Vec::new();
        write_pairs_csv(&mut out, [&p]).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert!(lines
            .next()
            .unwrap()
            .ends_with(",text_a,text_b,title_a,title_b"));
        let row = lines.next().unwrap();
        assert!(row.starts_with("a,a#0,b,b#0,overlap,0.5000,"), "{row}");
        assert!(row.contains("\"said \"\"yes\"\", twice\""), "{row}");
        assert!(row.ends_with(",\"Storm, day two\","), "{row}");
    }
}
