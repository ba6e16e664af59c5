//! Collections end to end with the real model and real files: ingest, reopen, add,
//! replace, delete, search, overlaps on the reference corpus, exact quotes found
//! wherever they are, the labelled development stories measured by `eval gold`, a
//! process killed mid-ingest, and bad inputs that must not harm a collection.

mod corpus;
mod durability;
mod inputs;

use crate::support;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::concord;

pub(crate) fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub(crate) fn stderr(out: &Output) -> String {
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
