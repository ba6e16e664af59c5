//! The CLI and the API agree, over real files and real sockets: one rule for article
//! ids (bad input leaves no collection folder behind, ids with control, bidi-override
//! or only invisible characters are refused by both, ids are normalised to NFC so
//! `café` typed either way is one article), and the same overlaps for the same state.

use crate::support;

use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use support::{concord, Server};

const TEXT: &str = "The harbour authority opened a new ferry route on Monday, carrying three thousand passengers on its first day.\n";
const NFC: &str = "caf\u{e9}";
const NFD: &str = "cafe\u{301}";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn jsonl(dir: &Path, name: &str, ids: &[&str]) -> std::path::PathBuf {
    let mut body = String::new();
    for id in ids {
        body.push_str(&json!({"id": id, "text": TEXT}).to_string());
        body.push('\n');
    }
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn ingest(col: &Path, input: &Path) -> Output {
    concord(&["ingest", "--collection", s(col), s(input)])
}

#[test]
fn duplicate_ids_leave_no_collection_folder() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    for (name, ids) in [
        ("dup.jsonl", ["a", "a"]),
        // The same id once NFC, once NFD: one id after normalisation.
        ("nfd.jsonl", [NFC, NFD]),
    ] {
        let input = jsonl(tmp.path(), name, &ids);
        let col = tmp.path().join(format!("new-{name}"));
        let out = ingest(&col, &input);
        assert!(!out.status.success(), "{name}: ingest succeeded");
        let err = stderr(&out);
        assert!(err.contains("appears twice"), "{name}: {err}");
        assert!(!col.exists(), "{name}: {} was created", col.display());
    }
}

#[test]
fn cli_refuses_control_characters_in_ids() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    for (i, bad) in ["a\nb", "bell\u{7}", "x\u{202e}y", "\u{200b}", " "]
        .iter()
        .enumerate()
    {
        let input = jsonl(tmp.path(), &format!("bad{i}.jsonl"), &["fine", bad]);
        let col = tmp.path().join(format!("col{i}"));
        let out = ingest(&col, &input);
        assert!(!out.status.success(), "{bad:?}: ingest succeeded");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("bad{i}.jsonl:2:")) && err.contains("article id"),
            "{bad:?}: the error names no line: {err}"
        );
        assert!(!col.exists(), "{bad:?}: {} was created", col.display());
    }
    // A file stem is an id too, under the same rule.
    let dir = tmp.path().join("files");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("bell\u{7}.txt"), TEXT).unwrap();
    let col = tmp.path().join("col-files");
    let out = ingest(&col, &dir);
    assert!(!out.status.success(), "a BEL file stem was accepted");
    assert!(stderr(&out).contains("article id"), "{}", stderr(&out));
    assert!(!col.exists());
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(300))
        .build()
}

fn call(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let req = agent().request(method, &server.url(path));
    let res = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let resp = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn pct(id: &str) -> String {
    id.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[test]
fn api_refuses_invisible_and_bidi_ids_and_normalises_to_nfc() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("collection"), &[], &[]);
    for bad in [
        "",
        " ",
        "\u{200b}",
        " \u{200b}\u{feff} ",
        "a\u{202e}b",
        "a\u{2066}b",
        "a\nb",
        "bell\u{7}",
    ] {
        let (status, body) = call(
            &server,
            "POST",
            "/documents",
            Some(json!({"id": bad, "text": TEXT})),
        );
        assert_eq!(status, 422, "{bad:?}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("article id"),
            "{body}"
        );
    }
    let (status, body) = call(
        &server,
        "POST",
        "/documents",
        Some(json!({"id": NFC, "text": TEXT})),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["id"], NFC);
    let (status, body) = call(
        &server,
        "POST",
        "/documents",
        Some(json!({"id": NFD, "text": TEXT})),
    );
    assert_eq!(status, 200, "NFD café is a replace: {body}");
    assert_eq!(body["created"], false);
    assert_eq!(body["id"], NFC, "the id is stored in NFC");
    let (status, body) = call(&server, "GET", "/documents", None);
    assert_eq!(status, 200);
    assert_eq!(body["total"], 1, "{body}");
    assert_eq!(body["documents"][0]["id"], NFC);
    // Looked up either way.
    let (status, body) = call(&server, "GET", &format!("/documents/{}", pct(NFD)), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], NFC);
    let (status, body) = call(&server, "DELETE", &format!("/documents/{}", pct(NFD)), None);
    assert_eq!(status, 200, "{body}");
    let (_, body) = call(&server, "GET", "/documents", None);
    assert_eq!(body["total"], 0, "{body}");
}

/// The pairs of a list of overlap pairs, as `(a, b, label)` with the sides in order.
fn pair_set(pairs: &[Value]) -> std::collections::BTreeSet<(String, String, String)> {
    pairs
        .iter()
        .map(|p| {
            let (a, b) = (
                p["a"]["passage"].as_str().unwrap().to_string(),
                p["b"]["passage"].as_str().unwrap().to_string(),
            );
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            (a, b, p["label"].as_str().unwrap().to_string())
        })
        .collect()
}

/// After a write the server refreshes the neighbourhoods it keeps; `concord overlaps`
/// derives them from scratch. Both must give the same pairs, for the new article and
/// for one that was there before it. (Deriving only the new passages, as the server did
/// before and still does above `EXACT_REFRESH_MAX` passages, gave five `agree` pairs
/// here that a fresh build does not.)
#[test]
fn incremental_neighbourhoods_answer_as_a_fresh_build_does() {
    let tmp = tempfile::tempdir().unwrap();
    let stories = support::root().join("examples/stories");
    let input = tmp.path().join("input");
    std::fs::create_dir(&input).unwrap();
    let held = "s13-column-cn";
    for story in ["s13-ev-recall", "s09-talvonia-rates", "s14-nurses-strike"] {
        for f in std::fs::read_dir(stories.join(story)).unwrap() {
            let f = f.unwrap().path();
            let stem = f.file_stem().unwrap().to_str().unwrap().to_string();
            if f.extension().is_some_and(|e| e == "md") && stem != held {
                std::fs::copy(&f, input.join(f.file_name().unwrap())).unwrap();
            }
        }
    }
    let col = tmp.path().join("c");
    let out = ingest(&col, &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let server = Server::start(&col, &[], &[]);
    let text =
        std::fs::read_to_string(stories.join("s13-ev-recall").join(format!("{held}.md"))).unwrap();
    let (status, body) = call(
        &server,
        "POST",
        "/documents",
        Some(json!({"id": held, "text": text})),
    );
    assert_eq!(status, 201, "{body}");
    let other = "s13-wire-tw";
    let mut served = Vec::new();
    for doc in [held, other] {
        let (status, body) = call(
            &server,
            "POST",
            "/overlaps",
            Some(json!({"doc_id": doc, "k": 1000})),
        );
        assert_eq!(status, 200, "{body}");
        served.push(pair_set(body["pairs"].as_array().unwrap()));
    }
    drop(server);
    for (doc, served) in [held, other].into_iter().zip(served) {
        let out = concord(&[
            "overlaps",
            "--collection",
            s(&col),
            "--doc",
            doc,
            "--format",
            "json",
        ]);
        let fresh: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        let fresh = pair_set(&fresh);
        assert!(!fresh.is_empty(), "{doc}: no pairs to compare");
        let only_served: Vec<_> = served.difference(&fresh).collect();
        let only_fresh: Vec<_> = fresh.difference(&served).collect();
        assert!(
            only_served.is_empty() && only_fresh.is_empty(),
            "{doc}: served only {only_served:?}; fresh build only {only_fresh:?}"
        );
    }
}
