//! `eval gold` on the held-out stories, and a process killed mid-ingest.

use super::*;

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
