//! `concord cluster` refusals, its boilerplate kept apart from claims, and `concord
//! bench cluster` on real embeddings of the reference corpus (the report and page
//! themselves are tested in tests/browser.rs).

use crate::support;

use serde_json::Value;
use std::collections::BTreeSet;
use support::concord;

#[test]
fn cluster_refuses_what_it_cannot_do_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = out.to_str().unwrap();
    let r = concord(&["cluster", "--out", o]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("give articles to cluster"));
    let corpus = support::corpus_dir();
    let r = concord(&[
        "cluster",
        corpus.to_str().unwrap(),
        "--out",
        o,
        "--min-label",
        "related",
    ]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("agree or stronger"));
    let missing = tmp.path().join("no-collection");
    let r = concord(&[
        "cluster",
        "--collection",
        missing.to_str().unwrap(),
        "--out",
        o,
    ]);
    assert!(!r.status.success());
    assert!(!out.exists(), "nothing is written when clustering fails");
}

/// The reference corpus: two articles end on the same platform disclaimer, which is
/// boilerplate, listed apart in clusters.json and never a claim nor a pairs.csv row.
#[test]
fn cluster_lists_boilerplate_apart_from_claims() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let corpus = support::corpus_dir();
    let r = concord(&[
        "cluster",
        corpus.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let c: Value =
        serde_json::from_slice(&std::fs::read(out.join("clusters.json")).unwrap()).unwrap();
    let boilerplate = c["boilerplate"].as_array().expect("a boilerplate list");
    assert!(
        !boilerplate.is_empty(),
        "the shared disclaimer is boilerplate"
    );
    let mut notices = BTreeSet::new();
    for m in boilerplate {
        assert_eq!(m["label"], "boilerplate", "{m}");
        assert_ne!(m["a"]["doc"], m["b"]["doc"], "{m}");
        for side in [&m["a"], &m["b"]] {
            notices.insert(side["text"].as_str().unwrap());
        }
    }
    let disclaimer = notices
        .iter()
        .find(|t| t.contains("本平臺僅提供信息存儲服務"))
        .expect("the platform disclaimer among the boilerplate");
    let claims = c["claims"].as_array().unwrap();
    assert!(!claims.is_empty());
    for claim in claims {
        assert_ne!(claim["label"], "boilerplate", "{claim}");
        for p in claim["passages"].as_array().unwrap() {
            assert_ne!(p["text"].as_str(), Some(*disclaimer), "{claim}");
        }
    }
    // Nor does it count in what two articles share.
    for p in c["article_pairs"].as_array().unwrap() {
        for m in p["aligned"].as_array().unwrap() {
            assert_ne!(m["label"], "boilerplate", "{m}");
        }
        assert!(p.get("boilerplate").is_none(), "{p}");
    }
    let csv = std::fs::read_to_string(out.join("pairs.csv")).unwrap();
    assert!(csv.lines().next().unwrap().ends_with(",title_a,title_b"));
    assert!(!csv.contains(",boilerplate,"), "{csv}");
    assert!(!csv.contains("本平臺僅提供信息存儲服務"), "{csv}");
}

#[test]
fn bench_cluster_measures_each_size() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let text = tmp.path().join("paragraphs.txt");
    std::fs::write(&text, support::corpus_paragraphs().join("\n")).unwrap();
    let r = concord(&["embed", text.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let embedded = tmp.path().join("embedded.jsonl");
    std::fs::write(&embedded, &r.stdout).unwrap();

    let r = concord(&[
        "bench",
        "cluster",
        embedded.to_str().unwrap(),
        "--sizes",
        "100,400",
        "--copies",
        "2",
        "--per-article",
        "10",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let out = String::from_utf8(r.stdout).unwrap();
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| passages"))
        .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    for (row, (passages, articles)) in rows.iter().zip([(100, 10), (400, 40)]) {
        assert_eq!(row[0].parse::<usize>().unwrap(), passages, "{out}");
        assert_eq!(row[1].parse::<usize>().unwrap(), articles, "{out}");
        // Every paragraph has a copy in another article; most copies are found (a
        // heading or byline is too short to be called anything).
        let pairs: usize = row[7].parse().unwrap();
        let claims: usize = row[8].parse().unwrap();
        assert!(pairs * 10 >= passages / 2 * 8, "{out}");
        assert!(claims * 10 >= passages / 2 * 5, "{out}");
        let peak: f64 = row[12].parse().unwrap();
        assert!(peak > 1.0, "{out}");
    }

    // More copies than sentences allow is refused, naming what is missing.
    let r = concord(&[
        "bench",
        "cluster",
        embedded.to_str().unwrap(),
        "--sizes",
        "100000",
    ]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("need"));
}
