//! Choosing where the model runs: `auto`, `cpu`, `cuda` or `cuda:N`. `auto` takes the
//! first GPU when this build has CUDA (the `cuda` feature) and a device answers, and the
//! CPU otherwise. The precision follows the device (see `Embedder::load`).

use anyhow::{bail, Context, Result};
use candle_core::Device;

/// A device and the name it is reported under (`cpu`, `cuda:0`).
#[derive(Debug, Clone)]
pub struct ComputeDevice {
    pub device: Device,
    pub label: String,
    /// The GPU's ordinal; `None` on the CPU.
    pub ordinal: Option<usize>,
}

impl ComputeDevice {
    pub fn cpu() -> Self {
        Self {
            device: Device::Cpu,
            label: "cpu".into(),
            ordinal: None,
        }
    }

    /// Parses `auto`, `cpu`, `cuda` or `cuda:N`.
    pub fn select(spec: &str) -> Result<Self> {
        match spec.trim() {
            "cpu" => Ok(Self::cpu()),
            "auto" => {
                if candle_core::utils::cuda_is_available() {
                    match Self::cuda(0) {
                        Ok(d) => return Ok(d),
                        Err(e) => tracing::warn!("no usable GPU, running on the CPU: {e:#}"),
                    }
                }
                Ok(Self::cpu())
            }
            "cuda" => Self::cuda(0),
            other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Self::cuda(n),
                _ => bail!("unknown device {other:?} (auto, cpu, cuda or cuda:N)"),
            },
        }
    }

    fn cuda(ordinal: usize) -> Result<Self> {
        if !candle_core::utils::cuda_is_available() {
            bail!("this concord was built without CUDA; build it with scripts/build-cuda.sh");
        }
        let device =
            Device::new_cuda(ordinal).with_context(|| format!("opening CUDA device {ordinal}"))?;
        Ok(Self {
            device,
            label: format!("cuda:{ordinal}"),
            ordinal: Some(ordinal),
        })
    }
}
