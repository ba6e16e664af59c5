//! The engine on a collection in memory with synthetic vectors (no model, so these run
//! in the fast tier): a refreshed [`Neighbourhoods`] against a fresh build, on both
//! refresh paths, and the queries over it.

use super::*;
use concord_index::{Collection, DocRecord, IndexParams, ModelStamp};
use concord_text::Passage;

const DIM: usize = 32;

/// A unit vector from `seed`, deterministic.
fn unit(seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v: Vec<f32> = (0..DIM)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 2001) as f32 / 1000.0 - 1.0
        })
        .collect();
    let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    v.iter_mut().for_each(|a| *a /= n);
    v
}

/// A claim's vector: its topic's direction plus a little of its own, so claims of one
/// topic are near each other and the same text always gets the same vector.
fn vector(topic: u64, text: &str) -> Vec<f32> {
    let own = unit(
        text.bytes()
            .fold(7u64, |h, b| h.wrapping_mul(131) ^ b as u64),
    );
    let t = unit(topic + 1000);
    let mut v: Vec<f32> = t.iter().zip(&own).map(|(a, b)| a + 0.35 * b).collect();
    let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    v.iter_mut().for_each(|a| *a /= n);
    v
}

/// The claims of article `i` of `topic`: one shared by every article of the topic
/// word for word, one with the article's own figure, one of its own.
fn claims(topic: u64, i: usize) -> Vec<String> {
    vec![
        format!("氣象局表示,第{topic}號颱風週三晚間在東部沿海登陸。"),
        format!("當局已撤離{}名居民,學校停課兩天。", 1000 + 10 * i),
        format!("Report {i} of story {topic} adds that rail services were cut."),
    ]
}

fn put(c: &mut Collection, id: &str, topic: u64, texts: &[String]) {
    put_with(c, id, texts, |_, t| vector(topic, t));
}

/// [`put`] with each passage's vector from `vector_of(index, text)`.
fn put_with(
    c: &mut Collection,
    id: &str,
    texts: &[String],
    vector_of: impl Fn(usize, &str) -> Vec<f32>,
) {
    let mut passages = Vec::new();
    let mut vectors = Vec::new();
    let mut at = 0u32;
    for (k, t) in texts.iter().enumerate() {
        let n = t.chars().count() as u32;
        passages.push(Passage {
            index: k as u32,
            start: at,
            end: at + n,
            text: t.clone(),
            section: None,
            paragraph: Some(k as u32),
        });
        at += n + 1;
        vectors.extend(vector_of(k, t));
    }
    let doc = DocRecord {
        id: id.into(),
        title: Some(format!("{id} title")),
        source: None,
        meta: Default::default(),
        slots: Vec::new(),
    };
    c.upsert(doc, passages, &vectors).unwrap();
}

/// A collection in memory with no article yet.
fn empty() -> Collection {
    let stamp = ModelStamp {
        name: "synthetic".into(),
        dim: DIM,
        fingerprint: "0".into(),
    };
    Collection::in_memory(&stamp, IndexParams::default())
}

/// Four stories of five articles each.
fn collection() -> Collection {
    let mut c = empty();
    for topic in 0..4 {
        for i in 0..5 {
            put(&mut c, &format!("t{topic}a{i}"), topic, &claims(topic, i));
        }
    }
    c
}

/// What an index reports, comparable: both passages, the label and the score.
fn answers(ix: &OverlapIndex) -> Vec<(String, String, Label, String)> {
    let opts = QueryOptions {
        min_label: Label::Related,
        ..Default::default()
    };
    let mut out: Vec<_> = ix
        .all_pairs(None, &opts)
        .into_iter()
        .map(|m| (m.a.passage, m.b.passage, m.label, format!("{:.5}", m.score)))
        .collect();
    out.sort();
    out
}

/// Changes a few articles of `c`: one replaced, one removed, one added.
fn change(c: &mut Collection) {
    let mut replaced = claims(1, 2);
    replaced[1] = "當局表示撤離人數已增至三千人。".into();
    put(c, "t1a2", 1, &replaced);
    assert!(c.remove("t2a4").unwrap());
    put(c, "t3a9", 3, &claims(3, 9));
}

#[test]
fn below_the_exact_size_a_refresh_answers_as_a_fresh_build_does() {
    let mut c = collection();
    let mut hoods = Neighbourhoods::build(&c, None);
    let before = answers(&OverlapIndex::with(&c, &hoods).unwrap());
    assert!(
        before.iter().any(|a| a.2 == Label::Duplicate),
        "the shared claims are found: {before:?}"
    );
    change(&mut c);
    assert!(
        OverlapIndex::with(&c, &hoods).is_none(),
        "stale neighbourhoods are not used"
    );
    hoods.refresh(&c);
    let refreshed = answers(&OverlapIndex::with(&c, &hoods).unwrap());
    let fresh = answers(&OverlapIndex::new(&c, None));
    assert_eq!(refreshed, fresh);
    assert_ne!(refreshed, before);
    assert!(fresh
        .iter()
        .all(|a| !a.0.starts_with("t2a4") && !a.1.starts_with("t2a4")));
    assert!(fresh
        .iter()
        .any(|a| a.0.starts_with("t3a9") || a.1.starts_with("t3a9")));
}

#[test]
fn above_it_the_incremental_refresh_derives_changed_passages_as_a_fresh_build_does() {
    let mut c = collection();
    let mut hoods = Neighbourhoods::build(&c, None);
    let old: Vec<usize> = c.live_slots().collect();
    change(&mut c);
    // Every refresh takes the incremental path (a change of a few passages of 60 is
    // not the drift that forces a full pass).
    hoods.refresh_with(&c, 0);
    assert!(hoods.is_current(&c));
    let fresh = Neighbourhoods::build(&c, None);
    // The lexical side is exactly a fresh build's: features of every live passage, the
    // gram postings, passage and article frequencies, the articles' grams and means.
    let live: Vec<usize> = c.live_slots().collect();
    for &s in &live {
        let (a, b) = (hoods.features[s].as_ref(), fresh.features[s].as_ref());
        assert_eq!(a.map(|f| &f.grams), b.map(|f| &f.grams), "slot {s}");
        assert_eq!(hoods.group[s], fresh.group[s]);
    }
    for s in 0..hoods.features.len() {
        if c.passage(s).is_none() {
            assert!(hoods.features[s].is_none(), "removed slot {s} dropped");
        }
    }
    let postings = |n: &Neighbourhoods| {
        let mut p: Vec<(u64, Vec<usize>)> = n
            .postings
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(g, v)| {
                let mut v = v.clone();
                v.sort_unstable();
                (*g, v)
            })
            .collect();
        p.sort();
        p
    };
    assert_eq!(postings(&hoods), postings(&fresh));
    assert_eq!(hoods.lexicon, fresh.lexicon);
    assert_eq!(hoods.doc_df, fresh.doc_df);
    let mut ids: Vec<&String> = hoods.doc_grams.keys().collect();
    ids.sort();
    let mut fresh_ids: Vec<&String> = fresh.doc_grams.keys().collect();
    fresh_ids.sort();
    assert_eq!(ids, fresh_ids);
    for id in ids {
        let (a, b) = (&hoods.doc_grams[id], &fresh.doc_grams[id]);
        assert_eq!(
            (&a.slots, &a.grams, &a.anchors),
            (&b.slots, &b.grams, &b.anchors)
        );
    }
    // A new passage is measured against everything live, as a fresh build measures it.
    let new: Vec<usize> = live.iter().copied().filter(|s| !old.contains(s)).collect();
    assert!(!new.is_empty());
    for s in new {
        assert_eq!(hoods.background[s], fresh.background[s], "slot {s}");
        assert_eq!(hoods.knn[s], fresh.knn[s], "slot {s}");
    }
}

#[test]
fn a_verbatim_quote_in_the_other_script_finds_its_passage() {
    let c = collection();
    let ix = OverlapIndex::new(&c, None);
    // Part of the second claim of t0a3, in Simplified script.
    let quote = "当局已撤离1030名居民";
    let v = vector(0, quote);
    let found = ix.for_text(quote, &v, &QueryOptions::default());
    let hit = found
        .iter()
        .find(|m| m.b.doc == "t0a3")
        .unwrap_or_else(|| panic!("{found:?}"));
    assert!(
        matches!(hit.label, Label::Overlap | Label::Duplicate),
        "{hit:?}"
    );
    assert!(hit.b.text.contains("撤離1030名居民"), "{hit:?}");
}

#[test]
fn a_claim_agrees_with_one_claim_of_another_article_not_every_one() {
    let side = |doc: &str, i: u32| PassageRef {
        doc: doc.into(),
        passage: format!("{doc}#{i}"),
        ..Default::default()
    };
    let pair = |a: (&str, u32), b: (&str, u32), label: Label, score: f32| PairMatch {
        a: side(a.0, a.1),
        b: side(b.0, b.1),
        label,
        score,
        evidence: Default::default(),
    };
    let pairs = vec![
        // x#1 "agrees" with three claims of y: only its strongest stays.
        pair(("x", 1), ("y", 1), Label::Agree, 0.9),
        pair(("x", 1), ("y", 2), Label::Agree, 0.8),
        pair(("x", 1), ("y", 3), Label::Conflict, 0.7),
        // y#2 is still x#2's partner: each is the other's strongest in its article.
        pair(("x", 2), ("y", 2), Label::Agree, 0.6),
        // One per other article: x#1 with z#1 as well.
        pair(("x", 1), ("z", 1), Label::Agree, 0.5),
        // Facts and quotes are not limited.
        pair(("x", 1), ("y", 4), Label::Overlap, 0.4),
        pair(("x", 3), ("y", 1), Label::Duplicate, 1.0),
    ];
    let kept: Vec<(String, String)> = queries::one_claim_per_article(pairs)
        .into_iter()
        .map(|m| (m.a.passage, m.b.passage))
        .collect();
    let want = [
        ("x#1", "y#1"),
        ("x#2", "y#2"),
        ("x#1", "z#1"),
        ("x#1", "y#4"),
        ("x#3", "y#1"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(kept, want);
}

#[test]
fn a_notice_finds_another_outlets_notice_in_a_related_article() {
    // Many stories, so neither notice is among the other's nearest passages of the
    // collection, and wordings with no gram in common, so no lexical candidate links them.
    let mut c = empty();
    for topic in 1..60 {
        for i in 0..3 {
            put(&mut c, &format!("t{topic}a{i}"), topic, &claims(topic, i));
        }
    }
    for (id, i, notice, far) in [
        ("t0n7", 7, "本文為獨家稿件,未經授權不得轉載。", 555),
        (
            "t0n8",
            8,
            "All rights reserved; no copying without written consent.",
            777,
        ),
    ] {
        let mut texts = claims(0, i);
        texts.push(notice.to_string());
        let last = texts.len() - 1;
        // The notice points somewhere of its own, far from the story and from the
        // other notice.
        put_with(&mut c, id, &texts, |k, t| {
            if k == last {
                unit(far)
            } else {
                vector(0, t)
            }
        });
    }
    let ix = OverlapIndex::new(&c, None);
    let opts = QueryOptions {
        boilerplate: true,
        ..Default::default()
    };
    let pairs = ix.all_pairs(Some("t0n7"), &opts);
    assert!(
        pairs.iter().any(|m| m.b.doc == "t0n8"
            && m.label == Label::Boilerplate
            && m.a.text.contains("轉載")
            && m.b.text.contains("rights")),
        "{:?}",
        pairs
            .iter()
            .map(|m| (&m.b.doc, m.label, &m.b.text))
            .collect::<Vec<_>>()
    );
}
