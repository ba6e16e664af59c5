//! The corpus ingested, queried, changed and reopened; every verbatim quote of it found.

use super::*;

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
