//! The real `openai` and `huggingface_hub` Python clients, unchanged, against concord.

use super::*;

/// The clients people already have, unchanged: the `openai` Python package
/// (`/v1/embeddings`, float and base64, `dimensions` refused with the reason) and
/// `huggingface_hub`'s `InferenceClient` given the server's address (it posts to `/`,
/// as to text-embeddings-inference), installed from PyPI by the test; what they get
/// equals `concord embed`'s vectors.
const CLIENT_PACKAGES: [&str; 3] = ["openai==3.57.0", "huggingface_hub==2.4.0", "numpy==2.4.6"];

/// A throwaway venv under `target/` with the real client packages (pinned; reused
/// between runs once installed).
fn client_venv() -> PathBuf {
    let dir = support::root().join("target/test-clients-venv");
    let python = dir.join("bin/python");
    let ready = dir.join(".installed");
    if std::fs::read_to_string(&ready).ok().as_deref() != Some(&CLIENT_PACKAGES.join(" ")) {
        let ok = Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "python3 -m venv failed");
        let ok = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet"])
            .args(CLIENT_PACKAGES)
            .status()
            .unwrap()
            .success();
        assert!(ok, "pip install {CLIENT_PACKAGES:?} failed");
        std::fs::write(&ready, CLIENT_PACKAGES.join(" ")).unwrap();
    }
    python
}

/// `concord embed` of `texts` with no prefix, as the embedding routes embed them.
fn offline_plain(dir: &Path, texts: &[&str]) -> Vec<Vec<f32>> {
    let file = dir.join("texts.txt");
    std::fs::write(&file, texts.join("\n") + "\n").unwrap();
    let out = support::concord(&["embed", file.to_str().unwrap(), "--prefix", "none"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| floats(&serde_json::from_str::<Value>(l).unwrap()["embedding"]))
        .collect()
}

#[test]
fn openai_and_huggingface_hub_clients_work_unchanged() {
    let python = client_venv();
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("collection"), &[], &[]);
    let (text, other) = ("渡輪明年首航", "the ferry starts running next year");
    let out = Command::new(&python)
        .arg(support::root().join("tests/clients/check_clients.py"))
        .args([server.url(""), text.to_string(), other.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = offline_plain(tmp.path(), &[text, other]);
    let close = |a: &[f32], b: &[f32], what: &str| {
        let c = support::cosine(a, b);
        assert!(c > 0.9999, "{what}: cosine {c}");
    };
    let openai = got["openai_float"].as_array().unwrap();
    close(&floats(&openai[0]), &want[0], "openai float");
    close(&floats(&openai[1]), &want[1], "openai float, second input");
    close(&floats(&got["openai_base64"]), &want[0], "openai base64");
    assert_eq!(got["openai_model"], "multilingual-e5-small");
    let refusal = got["openai_dimensions"].as_str().unwrap();
    assert!(
        refusal.contains("dimensions 128 is not available") && refusal.contains("384"),
        "{refusal}"
    );
    close(
        &floats(&got["hf_feature"]),
        &want[0],
        "huggingface_hub feature_extraction",
    );
    let sim = floats(&got["hf_similarity"]);
    let expected = support::cosine(&want[0], &want[1]);
    assert!((sim[0] - expected).abs() < 1e-3, "{sim:?} vs {expected}");
    assert!((sim[1] - 1.0).abs() < 1e-3, "{sim:?}");
}
