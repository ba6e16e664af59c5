//! `concord cluster` refusals and `concord bench cluster` on real embeddings of the
//! reference corpus (the report and page themselves are tested in tests/browser.rs).

mod support;

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
