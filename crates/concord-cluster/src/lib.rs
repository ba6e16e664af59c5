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

mod claims;
mod pairs_csv;
pub mod report;
#[cfg(test)]
mod tests;

pub use pairs_csv::write_pairs_csv;

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
    let claims = claims::claims(
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
