//! Batch clustering over a collection: which articles tell the same story, and which
//! facts or claims several articles carry.
//!
//! Everything starts from the overlap engine's judged passage pairs, which come from
//! each passage's HNSW nearest neighbours (never an all-pairs matrix of passages):
//!
//! - **claims** are the connected components of the passage graph whose edges are
//!   those pairs: one fact or claim and every passage, in every article, that carries
//!   it;
//! - **article clusters** come from average-linkage agglomerative clustering (kodama)
//!   of the articles, where two articles are linked as strongly as the pairs between
//!   them: a `duplicate` or `overlap` pair counts 1 and an `agree` pair one half. A
//!   cluster holds articles linked, on average, by at least one overlapping or
//!   duplicated passage (or two agreeing ones); no other threshold is involved.
//!
//! The article distance matrix is condensed and holds one number per article pair, so
//! it grows with the square of the articles, not of the passages.
//!
//! `report` renders the result as one self-contained HTML page.

pub mod report;

use concord_index::Collection;
use concord_overlap::{align_pairs, summarize, Label, OverlapIndex, PairMatch, QueryOptions};
use petgraph::unionfind::UnionFind;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Two articles joined in a cluster share, on average, at least this much: one
/// passage pair at `overlap` or above, or two at `agree`.
const LINK_MIN_WEIGHT: f64 = 1.0;

/// An article of the clustered collection.
#[derive(Debug, Clone, Serialize)]
pub struct Article {
    pub id: String,
    pub title: Option<String>,
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
    /// The strongest label among the pairs that joined it.
    pub label: Label,
    /// The best pair score within it.
    pub score: f32,
    pub articles: Vec<String>,
    pub passages: Vec<ClaimPassage>,
}

/// A passage of a claim.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimPassage {
    pub doc: String,
    pub passage: String,
    pub start: u32,
    pub end: u32,
    pub text: String,
}

/// Two articles, what they share and their aligned passage pairs.
#[derive(Debug, Clone, Serialize)]
pub struct SharedArticles {
    pub a: String,
    pub b: String,
    pub shared: f32,
    pub duplicate: usize,
    pub overlap: usize,
    pub agree: usize,
    /// Passages of `a` and `b` paired one to one, in the order of `a`.
    pub aligned: Vec<PairMatch>,
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
    /// Every judged passage pair (not written to `clusters.json`: see `pairs.csv`).
    #[serde(skip)]
    pub pairs: Vec<PairMatch>,
}

/// Clusters the articles of `index`'s collection from its pairs at `opts.min_label`
/// or above.
pub fn cluster(index: &OverlapIndex, opts: &QueryOptions) -> Clustering {
    let pairs = index.all_pairs(None, opts);
    from_pairs(index.collection(), pairs, opts.min_label)
}

/// Clusters the articles of `collection` from already judged `pairs`.
pub fn from_pairs(collection: &Collection, pairs: Vec<PairMatch>, min_label: Label) -> Clustering {
    let mut articles: Vec<Article> = collection
        .docs()
        .map(|d| Article {
            id: d.id.clone(),
            title: d.title.clone(),
            passages: d.slots.len(),
            cluster: None,
        })
        .collect();
    articles.sort_by(|x, y| x.id.cmp(&y.id));
    let claims = claims(&pairs);
    let groups = article_groups(&articles, &pairs);
    let shared = summarize(&pairs);
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

    let mut by_article_pair: BTreeMap<(String, String), Vec<PairMatch>> = BTreeMap::new();
    for m in &pairs {
        let key = if m.a.doc <= m.b.doc {
            (m.a.doc.clone(), m.b.doc.clone())
        } else {
            (m.b.doc.clone(), m.a.doc.clone())
        };
        by_article_pair.entry(key).or_default().push(m.clone());
    }
    let article_pairs = shared
        .into_iter()
        .map(|p| {
            let found = by_article_pair
                .remove(&(p.a.clone(), p.b.clone()))
                .unwrap_or_default();
            SharedArticles {
                aligned: align_pairs(found, &p.a, &p.b),
                a: p.a,
                b: p.b,
                shared: p.shared,
                duplicate: p.duplicate,
                overlap: p.overlap,
                agree: p.agree,
            }
        })
        .collect();
    Clustering {
        min_label,
        articles,
        clusters,
        claims,
        article_pairs,
        pairs,
    }
}

/// How strongly one passage pair links its two articles.
fn link_weight(label: Label) -> f64 {
    match label {
        Label::Duplicate | Label::Overlap => 1.0,
        Label::Agree => 0.5,
        Label::Related => 0.0,
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
    // Condensed upper triangle, row by row: (i, j) with i < j sits at
    // n*i - i*(i+1)/2 + j - i - 1. Distance 1/(1+w) is 1 for articles sharing nothing.
    let mut condensed = vec![1.0f64; n * (n - 1) / 2];
    for (&(i, j), &w) in &weight {
        condensed[n * i - i * (i + 1) / 2 + j - i - 1] = 1.0 / (1.0 + w);
    }
    let dendrogram = kodama::linkage(&mut condensed, n, kodama::Method::Average);
    let cut = 1.0 / (1.0 + LINK_MIN_WEIGHT);
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
    groups.into_values().filter(|g| g.len() >= 2).collect()
}

/// Connected components of the passage graph whose edges are `pairs`.
fn claims(pairs: &[PairMatch]) -> Vec<Claim> {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut refs = Vec::new();
    for m in pairs {
        for p in [&m.a, &m.b] {
            ids.entry(p.passage.as_str()).or_insert_with(|| {
                refs.push(p);
                refs.len() - 1
            });
        }
    }
    let mut graph = UnionFind::<usize>::new(refs.len());
    for m in pairs {
        graph.union(ids[m.a.passage.as_str()], ids[m.b.passage.as_str()]);
    }
    let mut components: BTreeMap<usize, (Vec<usize>, Label, f32)> = BTreeMap::new();
    for m in pairs {
        let root = graph.find(ids[m.a.passage.as_str()]);
        let e = components
            .entry(root)
            .or_insert((Vec::new(), m.label, m.score));
        e.1 = e.1.max(m.label);
        e.2 = e.2.max(m.score);
    }
    for i in 0..refs.len() {
        if let Some(c) = components.get_mut(&graph.find(i)) {
            c.0.push(i);
        }
    }
    let mut out: Vec<Claim> = components
        .into_values()
        .map(|(members, label, score)| {
            let mut passages: Vec<ClaimPassage> = members
                .into_iter()
                .map(|i| {
                    let p = refs[i];
                    ClaimPassage {
                        doc: p.doc.clone(),
                        passage: p.passage.clone(),
                        start: p.start,
                        end: p.end,
                        text: p.text.clone(),
                    }
                })
                .collect();
            passages.sort_by(|x, y| (&x.doc, x.start).cmp(&(&y.doc, y.start)));
            let articles: BTreeSet<String> = passages.iter().map(|p| p.doc.clone()).collect();
            Claim {
                id: 0,
                label,
                score,
                articles: articles.into_iter().collect(),
                passages,
            }
        })
        .collect();
    out.sort_by(|x, y| {
        y.articles
            .len()
            .cmp(&x.articles.len())
            .then(y.label.cmp(&x.label))
            .then(y.score.total_cmp(&x.score))
            .then_with(|| x.passages[0].passage.cmp(&y.passages[0].passage))
    });
    for (i, c) in out.iter_mut().enumerate() {
        c.id = i;
    }
    out
}

/// Writes `pairs` as CSV, one passage pair a row.
pub fn write_pairs_csv(out: impl std::io::Write, pairs: &[PairMatch]) -> anyhow::Result<()> {
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
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_overlap::{Evidence, PassageRef};

    fn side(doc: &str, index: u32) -> PassageRef {
        PassageRef {
            doc: doc.into(),
            passage: format!("{doc}#{index}"),
            start: index * 10,
            end: index * 10 + 9,
            text: format!("passage {index} of {doc}"),
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
                anchors: Vec::new(),
                shared: Vec::new(),
            },
        }
    }

    fn articles(ids: &[&str]) -> Vec<Article> {
        ids.iter()
            .map(|id| Article {
                id: (*id).into(),
                title: None,
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
    fn claims_are_connected_passages_across_articles() {
        let pairs = vec![
            pair(("a", 0), ("b", 3), Label::Agree),
            pair(("b", 3), ("c", 1), Label::Duplicate),
            pair(("a", 5), ("b", 6), Label::Agree),
        ];
        let claims = claims(&pairs);
        assert_eq!(claims.len(), 2);
        assert_eq!(claims[0].articles, vec!["a", "b", "c"]);
        assert_eq!(claims[0].label, Label::Duplicate);
        let ids: Vec<&str> = claims[0]
            .passages
            .iter()
            .map(|p| p.passage.as_str())
            .collect();
        assert_eq!(ids, vec!["a#0", "b#3", "c#1"]);
        assert_eq!(claims[1].articles, vec!["a", "b"]);
        assert_eq!((claims[0].id, claims[1].id), (0, 1));
    }

    #[test]
    fn pairs_csv_quotes_text_with_commas_and_quotes() {
        let mut p = pair(("a", 0), ("b", 0), Label::Overlap);
        p.a.text = "said \"yes\", twice".into();
        let mut out = Vec::new();
        write_pairs_csv(&mut out, &[p]).unwrap();
        let text = String::from_utf8(out).unwrap();
        let row = text.lines().nth(1).unwrap();
        assert!(row.starts_with("a,a#0,b,b#0,overlap,0.5000,"), "{row}");
        assert!(row.contains("\"said \"\"yes\"\", twice\""), "{row}");
    }
}
