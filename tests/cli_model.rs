//! The `concord` binary end to end: model sources (local directory, Hub cache laid
//! out as the Hub does, offline mode), setup idempotence and errors, `embed` I/O.

mod sources;
mod tools;

use crate::support;

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn concord(args: &[&str], stdin: &[u8], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_concord"));
    cmd.args(args)
        .current_dir(support::root())
        .env_remove("CONCORD_MODEL")
        .env_remove("HF_HUB_OFFLINE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let w = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    w.join().unwrap();
    out
}

fn jsonl(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn vector(v: &Value) -> Vec<f32> {
    v["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn embed_text_lines_in_order_with_line_ids() {
    let input = "第一段:河水上漲。\n\nsecond line\n第三段\n".as_bytes();
    let rows = jsonl(&concord(&["embed"], input, &[]));
    assert_eq!(rows.len(), 3);
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![1, 3, 4]);
    assert_eq!(rows[1]["text"], "second line");
    for r in &rows {
        let v = vector(r);
        assert_eq!(v.len(), 384);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}

#[test]
fn embed_jsonl_keeps_ids_and_prefix_matters() {
    let input = "{\"id\":\"a\",\"text\":\"今天下雨\"}\n{\"id\":7,\"text\":\"it rains today\"}\n";
    let passage = jsonl(&concord(&["embed"], input.as_bytes(), &[]));
    let query = jsonl(&concord(
        &["embed", "--prefix", "query"],
        input.as_bytes(),
        &[],
    ));
    assert_eq!(passage[0]["id"], "a");
    assert_eq!(passage[1]["id"], 7);
    let c = support::cosine(&vector(&passage[0]), &vector(&query[0]));
    assert!(
        c < 0.9999 && c > 0.8,
        "prefix should change the vector a little: {c}"
    );
    // Cross-lingual: the same statement in two languages is close.
    let cross = support::cosine(&vector(&passage[0]), &vector(&passage[1]));
    assert!(cross > 0.85, "{cross}");
}

#[test]
fn embed_rejects_invalid_utf8_with_the_line_number() {
    let out = concord(&["embed"], b"fine\n\xff\xfe broken\n", &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2") && err.contains("UTF-8"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_model_directory_is_a_clear_error() {
    let out = concord(&["embed", "--model", "/nonexistent/model"], b"x\n", &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/model") && err.contains("does not exist"),
        "{err}"
    );
}
