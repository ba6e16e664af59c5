//! `concord cluster` on the reference corpus, then its report.html and the page
//! `concord serve` serves at `/`, both driven in Debian's chromium by playwright-core
//! (tests/browser/check.mjs): load, search, open a pair view, take screenshots, and
//! assert on what rendered.

mod support;

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use support::Server;

fn concord(args: &[&str]) -> std::process::Output {
    let out = support::concord(args);
    assert!(
        out.status.success(),
        "concord {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ids(pair: &Value) -> (String, String) {
    (
        pair["a"].as_str().unwrap().to_string(),
        pair["b"].as_str().unwrap().to_string(),
    )
}

#[test]
fn cluster_report_and_live_page_in_a_real_browser() {
    let root = support::root();
    let browser_dir = root.join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: run `npm ci --prefix tests/browser` (scripts/test.sh does)"
    );
    let corpus = support::corpus_dir();
    let tmp = tempfile::tempdir().unwrap();
    let collection = tmp.path().join("collection");
    let out_dir = tmp.path().join("out");
    let stdout = concord(&[
        "cluster",
        corpus.to_str().unwrap(),
        "--collection",
        collection.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ])
    .stdout;
    let printed = String::from_utf8(stdout).unwrap();

    // clusters.json: the pair sharing the most reports the same remark at the same
    // event and shares the boilerplate; claims list their passages in several articles.
    let c: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("clusters.json")).unwrap()).unwrap();
    let articles: Vec<String> = c["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(articles.len(), 5);
    let pairs = c["article_pairs"].as_array().unwrap();
    let top = &pairs[0];
    let (a, b) = ids(top);
    assert!(
        a.starts_with("000_") && b.starts_with("002_"),
        "top pair {a} {b}"
    );
    assert!(top["duplicate"].as_u64().unwrap() >= 1, "{top}");
    assert!(top["overlap"].as_u64().unwrap() >= 1, "{top}");
    assert!(printed.contains(&format!("shares the most: {a} <> {b}")));
    let aligned = top["aligned"].as_array().unwrap();
    assert!(aligned
        .iter()
        .all(|m| m["a"]["doc"] == a && m["b"]["doc"] == b));
    let claims = c["claims"].as_array().unwrap();
    assert!(!claims.is_empty());
    for claim in claims {
        let docs: std::collections::BTreeSet<&str> = claim["passages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["doc"].as_str().unwrap())
            .collect();
        assert!(docs.len() >= 2, "a claim within one article: {claim}");
    }
    let boilerplate = claims
        .iter()
        .find(|k| k["label"] == "duplicate" && k["articles"].as_array().unwrap().len() >= 2)
        .expect("the shared disclaimer is a claim");
    let cluster = &c["clusters"][0]["articles"];
    assert!(
        cluster.as_array().unwrap().contains(&json!(a))
            && cluster.as_array().unwrap().contains(&json!(b))
    );

    // pairs.csv: a header and one row per passage pair, at agree or above.
    let csv = std::fs::read_to_string(out_dir.join("pairs.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("article_a,passage_a,article_b,passage_b,label"));
    let rows: Vec<&str> = lines.collect();
    let listed: u64 = pairs
        .iter()
        .map(|p| {
            ["duplicate", "overlap", "agree"]
                .iter()
                .map(|k| p[k].as_u64().unwrap())
                .sum::<u64>()
        })
        .sum();
    assert_eq!(rows.len() as u64, listed, "one CSV row per passage pair");

    // Two articles that share nothing, for the empty pair view.
    let shared: Vec<(String, String)> = pairs.iter().map(ids).collect();
    let empty = articles
        .iter()
        .flat_map(|x| articles.iter().map(move |y| (x.clone(), y.clone())))
        .find(|(x, y)| x < y && !shared.contains(&(x.clone(), y.clone())))
        .expect("two articles sharing nothing");

    let server = Server::start(&collection, &[], &[]);
    let shots = root.join("target/browser");
    std::fs::create_dir_all(&shots).unwrap();
    for name in ["report.png", "search.png", "page.png"] {
        let _ = std::fs::remove_file(shots.join(name));
    }
    let spec = json!({
        "report": out_dir.join("report.html"),
        "base": server.base,
        "shots": shots,
        "top": [a, b],
        "empty": [empty.0, empty.1],
        "articles": articles.len(),
        "query": boilerplate["passages"][0]["text"],
        "query_doc": a,
    });
    let spec_path = tmp.path().join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let run = Command::new("node")
        .arg(browser_dir.join("check.mjs"))
        .arg(&spec_path)
        .current_dir(&browser_dir)
        .output()
        .expect("node runs");
    assert!(
        run.status.success(),
        "browser checks failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    for name in ["report.png", "search.png", "page.png"] {
        let size = Path::new(&shots).join(name).metadata().unwrap().len();
        assert!(size > 10_000, "{name} is only {size} bytes");
    }
}
