//! Bad inputs, damaged vectors, user errors, the overlap table and article metadata.

use super::*;

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
