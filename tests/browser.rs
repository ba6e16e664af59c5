//! `concord cluster` on a labelled story (examples/stories/s01-typhoon-langang: two
//! wire copies in Traditional and Simplified Chinese, an English report with other
//! casualty figures, an opinion piece), then its report.html and the page `concord
//! serve` serves at `/`, both driven in Debian's chromium by playwright-core
//! (tests/browser/check.mjs): load, search, open pair views and the two full texts,
//! filter by label and confidence, export CSV and JSON, look at a phone's width, take
//! screenshots, and assert on what rendered. The article pairs it opens are picked
//! from clusters.json.

use crate::support;

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use support::Server;

const STORY: &str = "examples/stories/s01-typhoon-langang";
const FINDINGS: [&str; 4] = ["duplicate", "overlap", "conflict", "agree"];

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

/// The records of a CSV text (quoted fields may hold commas, quotes and newlines).
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(ch) = chars.next() {
        match (quoted, ch) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, _) => field.push(ch),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, '\r') => {}
            (false, _) => field.push(ch),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

fn count(pair: &Value, label: &str) -> u64 {
    pair[label]
        .as_u64()
        .unwrap_or_else(|| panic!("no {label} count: {pair}"))
}

#[test]
fn cluster_report_and_live_page_in_a_real_browser() {
    let root = support::root();
    let browser_dir = browser_tools();
    let story = root.join(STORY);
    let tmp = tempfile::tempdir().unwrap();
    let collection = tmp.path().join("collection");
    let out_dir = tmp.path().join("out");
    let stdout = concord(&[
        "cluster",
        story.to_str().unwrap(),
        "--collection",
        collection.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ])
    .stdout;
    let printed = String::from_utf8(stdout).unwrap();

    // clusters.json: four titled articles, one story.
    let c: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("clusters.json")).unwrap()).unwrap();
    let articles: Vec<String> = c["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(articles.len(), 4, "{articles:?}");
    let titles: BTreeMap<String, String> = c["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let title = a["title"]
                .as_str()
                .unwrap_or_else(|| panic!("untitled {a}"));
            assert!(!title.is_empty());
            (a["id"].as_str().unwrap().to_string(), title.to_string())
        })
        .collect();
    let cluster = c["clusters"][0]["articles"].as_array().unwrap();
    assert_eq!(cluster.len(), 4, "one story: {cluster:?}");

    // Article pairs: the wire copies share the most, and between them the pairs carry
    // every finding label the report must show, conflict included.
    let pairs = c["article_pairs"].as_array().unwrap();
    let top = &pairs[0];
    let (a, b) = ids(top);
    assert!(count(top, "duplicate") >= 5, "the wire copies: {a} {b}");
    assert!(printed.contains(&format!("shares the most: {a} <> {b}")));
    for label in ["duplicate", "overlap", "conflict"] {
        assert!(
            pairs.iter().any(|p| count(p, label) >= 1),
            "no article pair counts a {label} pair"
        );
    }
    for p in pairs {
        let (x, y) = ids(p);
        let aligned = p["aligned"].as_array().unwrap();
        assert!(aligned
            .iter()
            .all(|m| m["a"]["doc"] == x.as_str() && m["b"]["doc"] == y.as_str()));
        for m in aligned {
            let label = m["label"].as_str().unwrap();
            assert!(FINDINGS.contains(&label), "{label} pair aligned: {m}");
            // Each side is its claim and the paragraph holding it.
            for side in [&m["a"], &m["b"]] {
                let context = side["context"].as_str().unwrap();
                assert!(context.contains(side["text"].as_str().unwrap()), "{side}");
                assert_eq!(
                    side["title"].as_str(),
                    Some(titles[side["doc"].as_str().unwrap()].as_str())
                );
            }
        }
    }
    // The article pair with an aligned conflict pair, for its pair view.
    let disputed = pairs
        .iter()
        .find(|p| {
            p["aligned"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["label"] == "conflict")
        })
        .expect("an article pair with an aligned conflict pair");
    let (ca, cb) = ids(disputed);
    let conflict_texts: Vec<&str> = disputed["aligned"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["label"] == "conflict")
        .map(|m| m["a"]["text"].as_str().unwrap())
        .collect();

    // Claims span articles; some are conflicts, naming the passages that disagree;
    // none is boilerplate.
    let claims = c["claims"].as_array().unwrap();
    assert!(!claims.is_empty());
    for claim in claims {
        assert_ne!(claim["label"], "boilerplate", "{claim}");
        let passages: BTreeSet<&str> = claim["passages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["passage"].as_str().unwrap())
            .collect();
        let docs: BTreeSet<&str> = claim["passages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["doc"].as_str().unwrap())
            .collect();
        assert!(docs.len() >= 2, "a claim within one article: {claim}");
        let conflicts = claim["conflicts"].as_array().unwrap();
        assert_eq!(
            claim["label"] == "conflict",
            !conflicts.is_empty(),
            "{claim}"
        );
        for pair in conflicts {
            for id in pair.as_array().unwrap() {
                assert!(passages.contains(id.as_str().unwrap()), "{claim}");
            }
        }
    }
    assert!(claims.iter().any(|k| k["label"] == "conflict"));

    // Boilerplate: listed apart, never a claim.
    let boilerplate = c["boilerplate"].as_array().expect("a boilerplate list");
    assert!(
        !boilerplate.is_empty(),
        "the story's notices and app prompts"
    );
    assert!(boilerplate.iter().all(|m| m["label"] == "boilerplate"));
    let claim_texts: Vec<&str> = claims
        .iter()
        .flat_map(|k| k["passages"].as_array().unwrap())
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    let notice = boilerplate
        .iter()
        .flat_map(|m| [&m["a"]["text"], &m["b"]["text"]])
        .map(|t| t.as_str().unwrap())
        .find(|t| {
            t.chars().count() >= 8 && !claim_texts.iter().any(|k| k.contains(t) || t.contains(k))
        })
        .expect("a boilerplate notice that is in no claim");

    let boilerplate_lines = boilerplate
        .iter()
        .flat_map(|m| [&m["a"]["passage"], &m["b"]["passage"]])
        .map(|p| p.as_str().unwrap())
        .collect::<BTreeSet<_>>()
        .len();

    // pairs.csv: one row per finding pair the article pairs count, with both titles.
    let csv = csv_records(&std::fs::read_to_string(out_dir.join("pairs.csv")).unwrap());
    let header = &csv[0];
    assert_eq!(
        header[..5],
        ["article_a", "passage_a", "article_b", "passage_b", "label"]
    );
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} column: {header:?}"))
    };
    let rows = &csv[1..];
    let listed: u64 = pairs
        .iter()
        .map(|p| FINDINGS.iter().map(|k| count(p, k)).sum::<u64>())
        .sum();
    assert_eq!(rows.len() as u64, listed, "one CSV row per finding pair");
    for row in rows {
        assert_eq!(row.len(), header.len(), "{row:?}");
        assert!(FINDINGS.contains(&row[column("label")].as_str()), "{row:?}");
        for (article, title) in [("article_a", "title_a"), ("article_b", "title_b")] {
            assert_eq!(row[column(title)], titles[&row[column(article)]], "{row:?}");
        }
    }
    assert!(rows.iter().any(|r| r[column("label")] == "conflict"));

    // Two articles that share nothing, for the empty pair view (when there are any).
    let shared: Vec<(String, String)> = pairs.iter().map(ids).collect();
    let empty = articles
        .iter()
        .flat_map(|x| articles.iter().map(move |y| (x.clone(), y.clone())))
        .find(|(x, y)| x < y && !shared.contains(&(x.clone(), y.clone())));

    // A verbatim claim to paste: the longest passage of a duplicate claim.
    let query = claims
        .iter()
        .filter(|k| k["label"] == "duplicate")
        .flat_map(|k| k["passages"].as_array().unwrap())
        .max_by_key(|p| p["text"].as_str().unwrap().chars().count())
        .expect("a duplicate claim");

    // Claim texts by passage id, to check what the pair views highlight.
    let mut texts: BTreeMap<String, String> = BTreeMap::new();
    for m in pairs.iter().flat_map(|p| p["aligned"].as_array().unwrap()) {
        for side in [&m["a"], &m["b"]] {
            texts.insert(
                side["passage"].as_str().unwrap().into(),
                side["text"].as_str().unwrap().into(),
            );
        }
    }

    // What the filters must leave: every aligned pair, the conflict ones, those at a
    // confidence (a step of the page's control) that keeps some and drops some.
    let aligned: Vec<&Value> = pairs
        .iter()
        .flat_map(|p| p["aligned"].as_array().unwrap())
        .collect();
    let conflict_pairs = aligned.iter().filter(|m| m["label"] == "conflict").count();
    let scores: Vec<f64> = aligned
        .iter()
        .map(|m| m["score"].as_f64().unwrap())
        .collect();
    let at = |t: f64| scores.iter().filter(|&&s| s >= t - 1e-9).count();
    let high = (1..20)
        .map(|k| k as f64 * 0.05)
        .filter(|&t| at(t) > 0 && at(t) < scores.len())
        .min_by_key(|&t| at(t).abs_diff(scores.len() / 2))
        .expect("pair scores spread over the confidence control");
    let passages: BTreeMap<String, u64> = c["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_string(),
                a["passages"].as_u64().unwrap(),
            )
        })
        .collect();
    // The story's articles carry dates, so claims name who published them first.
    let dated = claims
        .iter()
        .filter(|k| k.get("first_seen").is_some())
        .count();
    assert!(dated >= 1, "no claim with a first publication");

    let server = Server::start(&collection, &[], &[]);
    let shots = root.join("target/browser");
    std::fs::create_dir_all(&shots).unwrap();
    let names = [
        "report.png",
        "report-top.png",
        "report-pair.png",
        "search.png",
        "page.png",
        "report-filtered.png",
        "page-filtered.png",
        "report-phone.png",
        "report-phone-map.png",
        "page-phone.png",
        "page-phone-map.png",
    ];
    for name in names {
        let _ = std::fs::remove_file(shots.join(name));
    }
    let spec = json!({
        "report": out_dir.join("report.html"),
        "base": server.base,
        "shots": shots,
        "top": [a, b],
        "conflict": [ca, cb],
        "conflict_texts": conflict_texts,
        "empty": empty.map(|(x, y)| vec![x, y]),
        "articles": articles,
        "titles": titles,
        "texts": texts,
        "notice": notice,
        "boilerplate": boilerplate.len(),
        "boilerplate_lines": boilerplate_lines,
        "query": query["text"],
        "query_passage": query["passage"],
        "query_doc": query["doc"],
        "passages": passages,
        "all_pairs": aligned.len(),
        "conflict_pairs": conflict_pairs,
        "high": (high * 100.0).round() / 100.0,
        "high_pairs": at(high),
        "dated": dated,
    });
    run_script(&browser_dir, "check.mjs", &spec, tmp.path());
    check_shots(&shots, names);
}

/// The real task on `../shared/corpus` (tests/browser/walk.mjs): the article pairs
/// sharing the most, a heatmap cell, the two articles side by side with highlights,
/// the label filter and the export, at a desktop and at a phone's width, a screenshot
/// of each step in target/browser/corpus-*.png.
#[test]
fn the_corpus_walked_in_a_real_browser_at_desktop_and_phone_width() {
    let root = support::root();
    let browser_dir = browser_tools();
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    concord(&[
        "cluster",
        support::corpus_dir().to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let c: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("clusters.json")).unwrap()).unwrap();
    let titles: BTreeMap<String, String> = c["articles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| {
            Some((
                a["id"].as_str()?.to_string(),
                a["title"].as_str()?.to_string(),
            ))
        })
        .collect();
    assert!(
        titles.len() >= 3,
        "most corpus articles have a title: {titles:?}"
    );
    let pairs = c["article_pairs"].as_array().unwrap();
    let top = pairs.first().expect("corpus articles share passages");
    let aligned: Vec<&Value> = pairs
        .iter()
        .flat_map(|p| p["aligned"].as_array().unwrap())
        .collect();
    let labels: BTreeMap<&str, usize> = FINDINGS
        .iter()
        .map(|l| (*l, aligned.iter().filter(|m| m["label"] == *l).count()))
        .collect();
    let shots = root.join("target/browser");
    std::fs::create_dir_all(&shots).unwrap();
    let steps = [
        "1-pairs",
        "2-heatmap",
        "3-side-by-side",
        "4-filter",
        "5-export",
    ];
    let names: Vec<String> = ["desktop", "phone"]
        .iter()
        .flat_map(|t| steps.iter().map(move |s| format!("corpus-{t}-{s}.png")))
        .collect();
    for name in &names {
        let _ = std::fs::remove_file(shots.join(name));
    }
    let spec = json!({
        "report": out_dir.join("report.html"),
        "shots": shots,
        "top": [top["a"], top["b"]],
        "titles": titles,
        "pairs": top["aligned"].as_array().unwrap().len(),
        "labels": labels,
        "all_pairs": aligned.len(),
    });
    run_script(&browser_dir, "walk.mjs", &spec, tmp.path());
    check_shots(&shots, &names);
}

/// tests/browser, with playwright-core installed, and the model, which both tests need.
fn browser_tools() -> std::path::PathBuf {
    let dir = support::root().join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: run scripts/install-browser.sh (or `npm ci --prefix tests/browser`)"
    );
    support::model_dir();
    dir
}

/// Runs the browser script `name` (under tests/browser) on `spec`, written into `tmp`.
fn run_script(browser_dir: &Path, name: &str, spec: &Value, tmp: &Path) {
    let spec_path = tmp.join(format!("{name}.json"));
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let run = Command::new("node")
        .arg(browser_dir.join(name))
        .arg(&spec_path)
        .current_dir(browser_dir)
        .output()
        .expect("node runs");
    assert!(
        run.status.success(),
        "{name} failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Every screenshot was taken and holds a real picture.
fn check_shots(shots: &Path, names: impl IntoIterator<Item = impl AsRef<str>>) {
    for name in names {
        let name = name.as_ref();
        let size = shots.join(name).metadata().unwrap().len();
        assert!(size > 10_000, "{name} is only {size} bytes");
    }
}
