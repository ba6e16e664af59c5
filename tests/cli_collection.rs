//! Collections end to end with the real model and real files: ingest, reopen, add,
//! replace, delete, search, overlaps on the reference corpus, exact quotes found
//! wherever they are, the labelled development stories measured by `eval gold`, a
//! process killed mid-ingest, and bad inputs that must not harm a collection.

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

    // What a careful reader finds: the two reports of the same remark at the same
    // summit; the identical platform notices are boilerplate, listed only on request.
    let overlaps = |extra: &[&str]| {
        let mut args = vec!["overlaps", "--collection", s(&col), "--format", "jsonl"];
        args.extend_from_slice(extra);
        lines(&ok(concord(&args)))
    };
    let pairs = overlaps(&[]);
    let with_notices = overlaps(&["--boilerplate"]);
    let has = |pairs: &[Value], labels: &[&str], a: &str, b: &str| {
        pairs.iter().any(|p| {
            labels.contains(&p["label"].as_str().unwrap())
                && p["a"]["text"].as_str().unwrap().contains(a)
                && p["b"]["text"].as_str().unwrap().contains(b)
        })
    };
    assert!(has(&with_notices, &["boilerplate"], "特別聲明", "特別聲明"));
    assert!(has(
        &with_notices,
        &["boilerplate"],
        "Notice: The content above",
        "Notice: The content above"
    ));
    assert!(pairs.iter().all(|p| p["label"] != "boilerplate"));
    assert!(!has(
        &pairs,
        &["duplicate", "overlap", "agree", "conflict"],
        "特別聲明",
        "特別聲明"
    ));
    assert!(has(
        &pairs,
        &["duplicate", "overlap", "agree"],
        "中國將贏得AI競賽",
        "中國將贏得人工智能競賽"
    ));
    for p in &pairs {
        assert_ne!(p["a"]["doc"], p["b"]["doc"], "pairs are across articles");
        for key in ["cosine", "z", "margin", "lexical"] {
            assert!(p["evidence"][key].is_number(), "{p}");
        }
        // Each side is a claim inside its paragraph, at the offsets given.
        for side in [&p["a"], &p["b"]] {
            let context: Vec<char> = side["context"].as_str().unwrap().chars().collect();
            let at = (side["start"].as_u64().unwrap() - side["context_start"].as_u64().unwrap())
                as usize;
            let claim: String = context[at..]
                .iter()
                .take(side["text"].as_str().unwrap().chars().count())
                .collect();
            assert_eq!(claim, side["text"].as_str().unwrap(), "{side}");
        }
    }
    let judged = pairs
        .iter()
        .find(|p| p["label"] != "duplicate")
        .expect("a judged pair");
    let probabilities = &judged["evidence"]["probabilities"];
    let sum: f64 = ["none", "duplicate", "overlap", "agree", "conflict"]
        .iter()
        .map(|k| probabilities[k].as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-3, "{judged}");
    let articles = lines(&ok(concord(&[
        "overlaps",
        "--collection",
        s(&col),
        "--articles",
        "--format",
        "jsonl",
    ])));
    assert!(!articles.is_empty());
    for w in articles.windows(2) {
        assert!(
            w[0]["shared"].as_f64() >= w[1]["shared"].as_f64(),
            "ranked by what they share"
        );
    }
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
    assert!(!aligned.is_empty());
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
        "simplified copy of the notice, verbatim once folded"
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

/// Any verbatim span of an ingested paragraph (six CJK characters and up, in either
/// script) finds its passage as `duplicate` or `overlap`, with the span's offsets: 200
/// spans drawn at random (fixed seed) from the corpus, looked up in one run.
#[test]
fn exact_quotes_of_the_corpus_are_all_found() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let col = tmp.path().join("col");
    ok(ingest(&col, &[&support::corpus_dir()]));
    // Paragraphs that are surely passages: long lines ending a sentence.
    let mut paragraphs = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(support::corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in &files {
        let doc = f.file_stem().unwrap().to_str().unwrap().to_string();
        for line in std::fs::read_to_string(f).unwrap().lines() {
            let cjk = line
                .chars()
                .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
                .count();
            if cjk >= 30 && line.trim_end().ends_with(['。', '！', '？']) {
                paragraphs.push((doc.clone(), line.trim().to_string()));
            }
        }
    }
    assert!(paragraphs.len() > 100);
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut quotes = Vec::new();
    while quotes.len() < 200 {
        let (doc, para) = &paragraphs[next(paragraphs.len())];
        let chars: Vec<char> = para.chars().collect();
        let len = 6 + next(30);
        if chars.len() <= len {
            continue;
        }
        let start = next(chars.len() - len);
        let span: String = chars[start..start + len].iter().collect();
        let cjk = span
            .chars()
            .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
            .count();
        // Half of them in the other script, as a reader quoting from a copy would.
        let quote = if quotes.len() % 2 == 1 {
            fast2s::convert(&span)
        } else {
            span.clone()
        };
        if cjk >= 6 && !quote.contains('\t') {
            quotes.push((doc.clone(), span, quote));
        }
    }
    let file = tmp.path().join("quotes.txt");
    let body: Vec<&str> = quotes.iter().map(|q| q.2.as_str()).collect();
    std::fs::write(&file, body.join("\n")).unwrap();
    let found = lines(&ok(concord(&[
        "overlaps",
        "--collection",
        s(&col),
        "--format",
        "jsonl",
        "--texts",
        s(&file),
    ])));
    let folded = |t: &str| concord_text::fold(t).as_string();
    let mut missed = Vec::new();
    for (i, (doc, span, quote)) in quotes.iter().enumerate() {
        let hit = found.iter().any(|p| {
            p["query"] == i + 1
                && p["b"]["doc"] == doc.as_str()
                && ["duplicate", "overlap"].contains(&p["label"].as_str().unwrap())
                && p["evidence"]["shared"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|sh| {
                        let got = sh["b"]["text"].as_str().unwrap();
                        !got.is_empty() && folded(span).contains(&folded(got))
                    })
        });
        if !hit {
            missed.push(quote.clone());
        }
    }
    assert!(
        missed.is_empty(),
        "{} of 200 quotes not found: {missed:?}",
        missed.len()
    );
}

/// `concord eval gold` on the held-out development stories: every labelled grade is
/// measured, copies are all found, and the output is mostly right.
#[test]
fn eval_gold_measures_the_held_out_stories() {
    support::model_dir();
    let out = ok(concord(&[
        "eval",
        "gold",
        s(&support::root().join("examples/stories")),
        "--split",
        "heldout",
        "--json",
    ]));
    let score: Value = serde_json::from_slice(&out.stdout).unwrap();
    for grade in ["duplicate", "overlap", "conflict", "agree", "boilerplate"] {
        assert!(
            score["grades"][grade]["labelled"].as_u64().unwrap() > 0,
            "{score}"
        );
    }
    let dup = &score["grades"]["duplicate"];
    let share = |g: &Value, k: &str| g[k].as_f64().unwrap() / g["labelled"].as_f64().unwrap();
    assert!(share(dup, "found") >= 0.95, "{score}");
    let (reported, correct) = (
        score["reported"].as_f64().unwrap(),
        score["correct"].as_f64().unwrap(),
    );
    assert!(reported > 0.0 && correct / reported >= 0.5, "{score}");
    assert!(
        score["grades"]["conflict"]["right_label"].as_u64().unwrap() > 0,
        "{score}"
    );
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
            "damaged.txt",
            b"caf\xc3\xa9 cr\xc3\xa8me \xff".to_vec(),
            "looks damaged",
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

/// Issue 15, defect 6: flipped bytes in the vectors used to be accepted. Now every
/// command refuses the collection naming the file, `concord check` says what is
/// damaged, and `concord repair` embeds the passages again with the real model.
#[test]
fn damaged_vectors_are_refused_checked_and_repaired_with_the_model() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let col = tmp.path().join("col");
    let corpus = support::corpus_dir();
    let a = corpus.join("001_591f8619e477ae46.txt");
    let b = corpus.join("003_e5dbf6998348a331.txt");
    ok(ingest(&col, &[&a, &b]));
    let line = std::fs::read_to_string(&a)
        .unwrap()
        .lines()
        .find(|l| l.chars().count() > 40)
        .unwrap()
        .to_string();
    let before = top_doc(&col, &line);
    let out = ok(concord(&["check", "--collection", s(&col)]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("sound"));

    let manifest: Value =
        serde_json::from_slice(&std::fs::read(col.join("collection.json")).unwrap()).unwrap();
    let gen = col.join(format!(
        "gen-{:06}",
        manifest["generation"].as_u64().unwrap()
    ));
    let vectors = gen.join("vectors.f32");
    let mut bytes = std::fs::read(&vectors).unwrap();
    bytes[1000] ^= 0x40;
    std::fs::write(&vectors, bytes).unwrap();

    let out = concord(&["search", "--collection", s(&col), &line]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("vectors.f32 is damaged"),
        "{}",
        stderr(&out)
    );
    let out = concord(&["check", "--collection", s(&col), "--json"]);
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let damaged: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "damaged")
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(damaged.len(), 1, "{report}");
    assert!(damaged[0].ends_with("vectors.f32"), "{report}");

    let out = ok(concord(&["repair", "--collection", s(&col)]));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains("embedded again") && said.contains("nothing was lost"),
        "{said}"
    );
    ok(concord(&["check", "--collection", s(&col)]));
    assert_eq!(top_doc(&col, &line), before);
}

/// Issue 17: a user error printed a 20-frame backtrace when `RUST_BACKTRACE` was set,
/// and `search ""` returned arbitrary passages.
#[test]
fn user_errors_are_one_line_without_a_backtrace() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nothing-here");
    let out = Command::new(env!("CARGO_BIN_EXE_concord"))
        .args(["overlaps", "--collection", s(&missing)])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: ") && err.contains("not a concord collection"),
        "{err}"
    );
    assert!(!err.to_lowercase().contains("backtrace"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let out = concord(&["search", "--collection", s(&missing), "  "]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("search text is empty"),
        "{}",
        stderr(&out)
    );
}

/// The overlap table for people: it fits the width asked for (display columns, CJK
/// counting two), names articles by title, has no colour in a pipe, `--articles --doc`
/// keeps that article's pairs, and an empty result says so with exit status 1.
#[test]
fn the_overlap_table_fits_the_width_and_says_when_nothing_is_found() {
    use unicode_width::UnicodeWidthStr;
    let tmp = tempfile::tempdir().unwrap();
    let col = tmp.path().join("c");
    ok(ingest(&col, &[&support::root().join("examples/articles")]));
    let table = |extra: &[&str]| {
        let mut args = vec!["overlaps", "--collection", s(&col)];
        args.extend(extra);
        concord(&args)
    };
    let text = |out: &Output| String::from_utf8(out.stdout.clone()).unwrap();
    for cols in ["80", "160"] {
        let out = ok(table(&["--width", cols]));
        let t = text(&out);
        assert!(t.starts_with(|c: char| c.is_ascii_digit()), "{t}");
        assert!(!t.contains('\u{1b}'), "colour in a pipe: {t}");
        let limit: usize = cols.parse().unwrap();
        for line in t.lines() {
            assert!(line.width() <= limit, "{cols}: {line}");
        }
        if cols == "160" {
            assert!(t.lines().any(|l| l.width() > 80), "{t}");
        }
        // Titles, not file stems.
        assert!(t.contains("青嵐港電動渡輪首航"), "{t}");
    }
    let out = ok(table(&[
        "--articles",
        "--doc",
        "harbour-ferry-cn",
        "--format",
        "jsonl",
    ]));
    let pairs = lines(&out);
    let all = lines(&ok(table(&["--articles", "--format", "jsonl"])));
    assert!(
        !pairs.is_empty() && pairs.len() < all.len(),
        "{pairs:?} of {all:?}"
    );
    for p in pairs {
        assert!(
            p["a"] == "harbour-ferry-cn" || p["b"] == "harbour-ferry-cn",
            "{p}"
        );
    }
    // The library article shares nothing: an empty answer, exit status 1.
    let out = table(&["--articles", "--doc", "city-library"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = table(&["--text", "颱風季節的鳳梨價格", "--min-label", "duplicate"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(text(&out), "no pairs at or above the label asked for\n");
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    // A reader that leaves early (`concord overlaps | head`) is not an error: the
    // command ends by SIGPIPE, as `cat` does, or exits cleanly; never with a message
    // (nor, for `cluster`, which prints with println!, a panic).
    let leave_early = |args: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_concord"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        child.wait_with_output().unwrap()
    };
    use std::os::unix::process::ExitStatusExt;
    for format in ["table", "json", "jsonl"] {
        let out = leave_early(&["overlaps", "--collection", s(&col), "--format", format]);
        assert!(
            out.status.success() || out.status.signal() == Some(13),
            "{format}: {:?} {}",
            out.status,
            stderr(&out)
        );
        assert!(stderr(&out).is_empty(), "{format}: {}", stderr(&out));
    }
    let out = leave_early(&[
        "cluster",
        "--collection",
        s(&col),
        "--out",
        s(&tmp.path().join("r")),
    ]);
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

/// Metadata from YAML front matter reaches `concord docs`, the overlap pairs and the
/// claims of `clusters.json`, where `first_seen` names the article that published a
/// claim first.
#[test]
fn article_metadata_is_kept_and_dates_say_who_published_first() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let articles = support::root().join("examples/articles");
    for (file, outlet, date) in [
        ("harbour-ferry-tw.md", "港灣日報", "2025-03-03"),
        ("harbour-ferry-cn.txt", "南方晚报", "2025-03-01"),
    ] {
        let text = std::fs::read_to_string(articles.join(file)).unwrap();
        let front =
            format!("---\noutlet: {outlet}\ndate: {date}\nurl: https://example.org/{file}\n---\n");
        std::fs::write(input.join(file), front + &text).unwrap();
    }
    let col = tmp.path().join("c");
    ok(ingest(&col, &[&input]));
    let docs = lines(&ok(concord(&["docs", "--collection", s(&col)])));
    let cn = docs.iter().find(|d| d["id"] == "harbour-ferry-cn").unwrap();
    assert_eq!(cn["outlet"], "南方晚报", "{cn}");
    assert_eq!(cn["published"], "2025-03-01");
    let tw = docs.iter().find(|d| d["id"] == "harbour-ferry-tw").unwrap();
    assert_eq!(tw["title"], "青嵐港電動渡輪首航", "{tw}");
    let pairs: Vec<Value> = serde_json::from_slice(
        &ok(concord(&[
            "overlaps",
            "--collection",
            s(&col),
            "--format",
            "json",
        ]))
        .stdout,
    )
    .unwrap();
    assert!(
        pairs.iter().all(|p| p["a"]["published"].is_string()),
        "{pairs:?}"
    );
    let out = tmp.path().join("report");
    ok(concord(&[
        "cluster",
        "--collection",
        s(&col),
        "--out",
        s(&out),
    ]));
    let clusters: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("clusters.json")).unwrap()).unwrap();
    let claims = clusters["claims"].as_array().unwrap();
    assert!(!claims.is_empty());
    for c in claims {
        assert_eq!(c["first_seen"]["doc"], "harbour-ferry-cn", "{c}");
        assert_eq!(c["first_seen"]["published"], "2025-03-01");
    }
}
