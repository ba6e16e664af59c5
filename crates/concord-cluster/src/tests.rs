//! Clustering on hand-made pairs: claims, conflicts, boilerplate and article links.

use super::*;
use crate::claims::claims;
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
