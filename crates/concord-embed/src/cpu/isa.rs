//! The SIMD instruction set the CPU kernels run ([`crate::cpu::kernels`], [`crate::cpu::qgemm`]):
//! the best this processor has, found once per process, lowered by the environment
//! variable `CONCORD_MAX_CPU_ISA` (`avx512`, `avx2` or `baseline`) so that one
//! machine can measure and test what an older processor runs.

use anyhow::{bail, Result};
use std::sync::OnceLock;

/// Name of the environment variable that caps the instruction set.
pub const MAX_ISA_ENV: &str = "CONCORD_MAX_CPU_ISA";

/// Instruction-set levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// What the compilation target guarantees (SSE2 on x86_64, NEON on aarch64).
    Baseline,
    /// AVX2 and FMA (Haswell, Zen 1-3 and later).
    Avx2,
    /// AVX-512 F, BW and VL on top of AVX2 (Skylake-SP, Zen 4 and later).
    Avx512,
}

impl Isa {
    pub fn label(self) -> &'static str {
        match self {
            Isa::Baseline => "baseline",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "baseline" => Isa::Baseline,
            "avx2" => Isa::Avx2,
            "avx512" => Isa::Avx512,
            other => bail!("{MAX_ISA_ENV}={other:?}: expected avx512, avx2 or baseline"),
        })
    }

    /// The highest level this processor supports.
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            let avx512 = is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vl");
            match (avx2, avx512) {
                (true, true) => Isa::Avx512,
                (true, false) => Isa::Avx2,
                _ => Isa::Baseline,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Isa::Baseline
        }
    }
}

/// The cap read from the environment: `Ok(None)` when the variable is unset.
fn cap() -> &'static Result<Option<Isa>, String> {
    static CAP: OnceLock<Result<Option<Isa>, String>> = OnceLock::new();
    CAP.get_or_init(|| match std::env::var(MAX_ISA_ENV) {
        Ok(v) => Isa::parse(&v).map(Some).map_err(|e| e.to_string()),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(e) => Err(format!("{MAX_ISA_ENV}: {e}")),
    })
}

/// Fails if `CONCORD_MAX_CPU_ISA` is set to something unknown; model loading calls
/// it so that a mistyped cap is an error rather than silently ignored.
pub fn check_env() -> Result<()> {
    match cap() {
        Ok(_) => Ok(()),
        Err(e) => bail!("{e}"),
    }
}

/// The level the kernels run at: the processor's, lowered to the cap if one is set.
pub fn current() -> Isa {
    static CURRENT: OnceLock<Isa> = OnceLock::new();
    *CURRENT.get_or_init(|| {
        let found = Isa::detect();
        match cap() {
            Ok(Some(cap)) => found.min(*cap),
            _ => found,
        }
    })
}

/// Whether the processor has AVX-512 VNNI and the kernels may use it.
pub fn has_avx512_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        current() >= Isa::Avx512 && is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_parse_and_order() {
        assert_eq!(Isa::parse("AVX2").unwrap(), Isa::Avx2);
        assert_eq!(Isa::parse(" avx512 ").unwrap(), Isa::Avx512);
        assert_eq!(Isa::parse("baseline").unwrap(), Isa::Baseline);
        assert!(Isa::parse("sse4")
            .unwrap_err()
            .to_string()
            .contains("expected avx512, avx2 or baseline"));
        assert!(Isa::Baseline < Isa::Avx2 && Isa::Avx2 < Isa::Avx512);
        assert!(current() <= Isa::detect());
    }
}
