//! Collections end to end with the real model and real files: ingest, reopen, add,
//! replace, delete, search, overlaps on the reference corpus and on the labelled sample
//! articles, a process killed mid-ingest, and bad inputs that must not harm a collection.

mod support;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::concord;

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn docs(col: &Path) -> BTreeMap<String, u64> {
    lines(&ok(concord(&["docs", "--collection", s(col)])))
        .into_iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_string(),
                d["passages"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The article of the passage nearest to `text`.
fn top_doc(col: &Path, text: &str) -> String {
    let hits = lines(&ok(concord(&[
        "search",
        "--collection",
        s(col),
        "-k",
        "1",
        "--format",
        "jsonl",
        text,
    ])));
    hits[0]["doc"].as_str().unwrap().to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ingest(col: &Path, paths: &[&Path]) -> Output {
    let mut args = vec!["ingest", "--collection", s(col)];
    args.extend(paths.iter().map(|p| s(p)));
    concord(&args)
}

/// The files of the current generation, by name and content, to prove nothing changed.
fn snapshot(col: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let manifest = std::fs::read(col.join("collection.json")).unwrap();
    out.insert("collection.json".to_string(), manifest);
    for e in std::fs::read_dir(col).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            for f in std::fs::read_dir(&p).unwrap() {
                let f = f.unwrap().path();
                out.insert(
                    f.strip_prefix(col).unwrap().display().to_string(),
                    std::fs::read(&f).unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn corpus_overlaps_reopen_add_replace_delete() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let col = tmp.path().join("col");
    let corpus = support::corpus_dir();
    let out = ok(ingest(&col, &[&corpus]));
    assert!(stderr(&out).contains("5 added"), "{}", stderr(&out));
    let d = docs(&col);
    assert_eq!(d.len(), 5);

    // What a careful reader finds: the identical disclaimers, the two reports of the
    // same remark at the same summit, and the article pair sharing the most.
    let pairs = lines(&ok(concord(&[
        "overlaps",
        "--collection",
        s(&col),
        "--format",
        "jsonl",
    ])));
    let has = |label: &str, a: &str, b: &str| {
        pairs.iter().any(|p| {
            p["label"] == label
                && p["a"]["text"].as_str().unwrap().contains(a)
                && p["b"]["text"].as_str().unwrap().contains(b)
        })
    };
    assert!(has("duplicate", "特別聲明", "特別聲明"));
    assert!(has(
        "duplicate",
        "Notice: The content above",
        "Notice: The content above"
    ));
    assert!(has("overlap", "中國將贏得AI競賽", "中國將贏得人工智能競賽"));
    // The same company (Airbnb in Latin letters in one, 愛彼迎 in the other) relying on
    // Chinese models: found through CC-CEDICT's Latin names of Chinese proper nouns.
    let airbnb = pairs.iter().find(|p| {
        let (a, b) = (
            p["a"]["text"].as_str().unwrap(),
            p["b"]["text"].as_str().unwrap(),
        );
        (a.contains("Airbnb") && b.contains("愛彼迎"))
            || (a.contains("愛彼迎") && b.contains("Airbnb"))
    });
    let airbnb = airbnb.expect("the Airbnb pair is reported");
    assert_eq!(airbnb["label"], "overlap", "{airbnb}");
    assert!(airbnb["evidence"]["anchors"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("airbnb")));
    for p in &pairs {
        assert_ne!(p["a"]["doc"], p["b"]["doc"], "pairs are across articles");
        for key in ["cosine", "z", "margin", "lexical"] {
            assert!(p["evidence"][key].is_number(), "{p}");
        }
    }
    let dup = pairs.iter().find(|p| p["label"] == "duplicate").unwrap();
    assert!(!dup["evidence"]["shared"].as_array().unwrap().is_empty());
    let articles = lines(&ok(concord(&[
        "overlaps",
        "--collection",
        s(&col),
        "--articles",
        "--format",
        "jsonl",
    ])));
    let top = &articles[0];
    let top_pair: BTreeSet<&str> = [top["a"].as_str().unwrap(), top["b"].as_str().unwrap()].into();
    assert_eq!(
        top_pair,
        ["000_1e812d77ee2594ab", "002_a8810705337e278d"].into()
    );
    // Aligned passages of the two articles, each passage used once.
    let aligned = lines(&ok(concord(&[
        "overlaps",
        "--collection",
        s(&col),
        "--doc",
        "002_a8810705337e278d",
        "--with",
        "000_1e812d77ee2594ab",
        "--format",
        "jsonl",
    ])));
    assert!(aligned.len() >= 4);
    let firsts: BTreeSet<_> = aligned
        .iter()
        .map(|p| p["a"]["passage"].to_string())
        .collect();
    assert_eq!(firsts.len(), aligned.len());
    assert!(aligned
        .iter()
        .all(|p| p["a"]["doc"] == "002_a8810705337e278d"));

    // Reopening needs no embedding: the same query gives the same answer.
    let query = [
        "search",
        "--collection",
        s(&col),
        "-k",
        "3",
        "--format",
        "jsonl",
        "黃仁勛說中國將贏得AI競賽",
    ];
    let first = lines(&ok(concord(&query)));
    assert_eq!(first.len(), 3);
    assert!(first[0]["text"].as_str().unwrap().contains("黃仁勛"));
    assert_eq!(lines(&ok(concord(&query))), first);
    // Free text against the collection.
    let free = lines(&ok(concord(&[
        "overlaps", "--collection", s(&col), "--format", "jsonl", "--text",
        "特别声明：以上内容（如有图片或视频亦包括在内）为自媒体平台“网易号”用户上传并发布，本平台仅提供信息存储服务。",
    ])));
    assert_eq!(
        free[0]["label"], "duplicate",
        "simplified copy of the disclaimer"
    );

    // Ingesting the same files again embeds nothing.
    let out = ok(ingest(&col, &[&corpus]));
    assert!(stderr(&out).contains("5 unchanged"), "{}", stderr(&out));
    // Add an article, then replace it with a changed version.
    let extra = tmp.path().join("extra.txt");
    std::fs::write(
        &extra,
        "港口新建的渡輪碼頭今天啟用，首日有三千名乘客。\n碼頭由市政府出資興建，耗時兩年。\n",
    )
    .unwrap();
    ok(ingest(&col, &[&extra]));
    assert_eq!(docs(&col).get("extra"), Some(&2));
    std::fs::write(&extra, "港口新建的渡輪碼頭今天啟用，首日有三千名乘客。\n").unwrap();
    let out = ok(ingest(&col, &[&extra]));
    assert!(stderr(&out).contains("1 replaced"), "{}", stderr(&out));
    assert_eq!(docs(&col).get("extra"), Some(&1));
    assert_eq!(top_doc(&col, "渡輪碼頭啟用"), "extra");
    // Delete it; searches no longer see it, and an unknown id is an error.
    ok(concord(&["remove", "--collection", s(&col), "extra"]));
    assert!(!docs(&col).contains_key("extra"));
    assert_ne!(top_doc(&col, "渡輪碼頭啟用"), "extra");
    let out = concord(&["remove", "--collection", s(&col), "extra"]);
    assert!(!out.status.success() && stderr(&out).contains("no such article: extra"));
    let out = concord(&["overlaps", "--collection", s(&col), "--doc", "nope"]);
    assert!(!out.status.success() && stderr(&out).contains("no article \"nope\""));
}

/// Labelled pairs of the sample articles in examples/articles (written for concord).
#[test]
fn labelled_sample_articles() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let col = tmp.path().join("col");
    let dir = support::root().join("examples/articles");
    ok(ingest(&col, &[&dir]));
    let labels: Vec<(String, String, String)> = std::fs::read_to_string(dir.join("labels.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect();
    let found: BTreeMap<BTreeSet<String>, String> = lines(&ok(concord(&[
        "overlaps",
        "--collection",
        s(&col),
        "--format",
        "jsonl",
    ])))
    .into_iter()
    .map(|p| {
        let key: BTreeSet<String> = [
            p["a"]["passage"].as_str().unwrap().to_string(),
            p["b"]["passage"].as_str().unwrap().to_string(),
        ]
        .into();
        (key, p["label"].as_str().unwrap().to_string())
    })
    .collect();
    let mut exact = 0;
    let mut same_language = (0, 0);
    for (a, b, want) in &labels {
        let key: BTreeSet<String> = [a.clone(), b.clone()].into();
        let got = found.get(&key);
        exact += usize::from(got == Some(want));
        if !a.contains("-en") && !b.contains("-en") {
            same_language.0 += 1;
            same_language.1 += usize::from(got == Some(want));
        }
    }
    let correct = found
        .keys()
        .filter(|k| {
            labels
                .iter()
                .any(|(a, b, _)| k.contains(a) && k.contains(b))
        })
        .count();
    let precision = correct as f32 / found.len().max(1) as f32;
    eprintln!(
        "sample articles: {} labelled pairs, {exact} with the exact label, same-language {}/{}; {} reported, precision {precision:.2}",
        labels.len(), same_language.1, same_language.0, found.len()
    );
    // Chinese pairs (either script) carry their exact label. English-Chinese pairs
    // depend on the small model's weak cross-language alignment (see README).
    assert_eq!(same_language.1, same_language.0, "{found:?}");
    assert!(precision >= 0.8, "{found:?}");
}

#[test]
fn a_process_killed_mid_ingest_leaves_a_loadable_collection() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let col = tmp.path().join("col");
    // Many small articles, committed every two, so the kill lands mid-run.
    let input = tmp.path().join("many.jsonl");
    // Long lines only, so that every article has passages (headings are dropped).
    let paras: Vec<String> = support::corpus_paragraphs()
        .into_iter()
        .filter(|p| p.chars().count() >= 40)
        .collect();
    let mut text = String::new();
    for (i, chunk) in paras.chunks(3).enumerate() {
        let rec = serde_json::json!({"id": format!("a{i:03}"), "text": chunk.join("\n")});
        text.push_str(&rec.to_string());
        text.push('\n');
    }
    std::fs::write(&input, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_concord"))
        .args([
            "ingest",
            "--commit-every",
            "2",
            "--collection",
            s(&col),
            s(&input),
        ])
        .current_dir(support::root())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let manifest = col.join("collection.json");
    let start = Instant::now();
    // Wait for a few commits, then kill without warning.
    loop {
        let gen = std::fs::read(&manifest)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v["generation"].as_u64())
            .unwrap_or(0);
        if gen >= 4 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no commits seen"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "ingest ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = docs(&col);
    assert!(!partial.is_empty() && partial.len() < paras.chunks(3).count());
    // The same command again finishes the job, keeping what was committed.
    let out = ok(concord(&["ingest", "--collection", s(&col), s(&input)]));
    assert!(
        stderr(&out).contains(&format!("{} unchanged", partial.len())),
        "{}",
        stderr(&out)
    );
    assert_eq!(docs(&col).len(), paras.chunks(3).count());
}

#[test]
fn bad_inputs_are_refused_without_touching_the_collection() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let col = tmp.path().join("col");
    let good = tmp.path().join("good.txt");
    std::fs::write(&good, "港口新建的渡輪碼頭今天啟用，首日有三千名乘客。\n").unwrap();
    ok(ingest(&col, &[&good]));
    let before = snapshot(&col);

    let mut big = "很長的一行沒有換行".repeat(400_000).into_bytes();
    big.truncate(10 << 20);
    while std::str::from_utf8(&big).is_err() {
        big.pop();
    }
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.txt", Vec::new(), "empty"),
        (
            "binary.txt",
            vec![0x7f, b'E', b'L', b'F', 0, 0, 1, 2],
            "binary",
        ),
        (
            "latin1.txt",
            b"caf\xe9 cr\xe8me".to_vec(),
            "not valid UTF-8",
        ),
        ("huge.txt", big, "over the"),
        (
            "bad.jsonl",
            b"{\"id\":1,\"text\":\"ok\"}\nnot json\n".to_vec(),
            "invalid JSON",
        ),
    ];
    for (name, bytes, want) in &cases {
        let path: PathBuf = tmp.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        // Good and bad together: nothing is ingested.
        let out = ingest(&col, &[&good, &path]);
        assert!(!out.status.success(), "{name} accepted");
        assert!(stderr(&out).contains(want), "{name}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("panicked"),
            "{name}: {}",
            stderr(&out)
        );
        assert_eq!(snapshot(&col), before, "{name} changed the collection");
    }
    // --skip-invalid reports bad files and ingests the rest.
    let other = tmp.path().join("other.txt");
    std::fs::write(&other, "圖書館翻新後重新開放，新增四百個座位。\n").unwrap();
    let out = ok(concord(&[
        "ingest",
        "--skip-invalid",
        "--collection",
        s(&col),
        s(&other),
        s(&tmp.path().join("binary.txt")),
    ]));
    assert!(stderr(&out).contains("skipped"), "{}", stderr(&out));
    assert_eq!(docs(&col).len(), 2);
    // Not a collection, and a missing one, are clear errors.
    let out = concord(&["search", "--collection", s(tmp.path()), "x"]);
    assert!(
        stderr(&out).contains("not a concord collection"),
        "{}",
        stderr(&out)
    );
}
