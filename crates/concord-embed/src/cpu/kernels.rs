//! Row kernels of the fused CPU forward pass ([`crate::cpu::encoder`]): each makes one
//! pass over its rows, split over the rayon pool in blocks of rows. The `_rows` ones
//! work on one block on the calling thread, for the 8-bit pass to run them inside the
//! quantisation of the next projection's input (`QuantActs::quantize_after`).
//!
//! `exp` and `erf` are polynomial approximations written as straight-line f32 code so
//! the loops vectorise; [`simd_fn!`] compiles each kernel for AVX-512, for AVX2+FMA and
//! for the baseline target (NEON on aarch64) and picks the variant [`isa::current`]
//! names (AVX-512 over AVX2: +11-14% tokens/s on the corpus, fewer instructions for
//! the same work). `exp` is within 2e-7 relative of the true value,
//! `erf` within 1.5e-7 absolute (Abramowitz & Stegun 7.1.26); both are far below what
//! the golden check (cosine 0.9995 to the reference embeddings) can see, and the unit
//! tests below hold them to it against the standard library.

use rayon::prelude::*;

/// Defines a function compiled three times (AVX-512, AVX2+FMA, the baseline target)
/// that runs the variant for [`isa::current`]: like the `multiversion` crate, but
/// following the `CONCORD_MAX_CPU_ISA` cap, which `multiversion`'s own detection
/// cannot be told about.
macro_rules! simd_fn {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
            fn avx512($($arg: $ty),*) {
                body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn avx2($($arg: $ty),*) {
                body($($arg),*)
            }
            match $crate::cpu::isa::current() {
                // SAFETY: `isa::current()` names only levels the processor has.
                #[cfg(target_arch = "x86_64")]
                $crate::cpu::isa::Isa::Avx512 => unsafe { avx512($($arg),*) },
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                $crate::cpu::isa::Isa::Avx2 => unsafe { avx2($($arg),*) },
                _ => body($($arg),*),
            }
        }
    };
}

/// Rows handed to one rayon task: large enough that scheduling is noise, small
/// enough that a short batch still splits over the cores.
pub(crate) const ROWS_PER_TASK: usize = 16;

/// e^x, flushed to the smallest normal below -87 and saturating above 88.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    // t holds n = round(x / ln 2) in its low mantissa bits.
    let t = x * std::f32::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    let r = x - n * LN2_HI - n * LN2_LO;
    // e^r on |r| <= ln2/2: Taylor to degree 7 (truncation below 1e-8).
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r / 5040.0))))));
    // 2^n built from t's bits in integer lanes (n + 127 is in 1..=254 after the
    // clamp); `n as i32` would be a saturating conversion the compiler leaves scalar.
    let scale = f32::from_bits(t.to_bits().wrapping_add(127) << 23);
    p * scale
}

/// The error function, Abramowitz & Stegun 7.1.26.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152_1 + t * 1.061_405_4))));
    (1.0 - poly * exp(-a * a)).copysign(x)
}

/// Sum in eight independent lanes: a float sum in one accumulator is a chain the
/// compiler must keep in order, so it would not vectorise.
#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = xs.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Maximum in eight lanes, for the same reason as [`sum`].
#[inline(always)]
fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = xs.chunks_exact(8);
    let tail = chunks
        .remainder()
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a = if *v > *a { *v } else { *a };
        }
    }
    acc.iter().copied().fold(tail, f32::max)
}

simd_fn! {
    /// `gelu(v + bias)` in place over rows of `bias.len()` on this thread: the exact
    /// (erf) GELU BERT uses.
    pub fn bias_gelu_rows(rows: &mut [f32], bias: &[f32]) {
        for row in rows.chunks_exact_mut(bias.len()) {
            for (v, b) in row.iter_mut().zip(bias) {
                let z = *v + b;
                *v = 0.5 * z * (1.0 + erf(z * std::f32::consts::FRAC_1_SQRT_2));
            }
        }
    }
}

/// `v + bias` in place over rows of `bias.len()`.
pub fn add_bias(rows: &mut [f32], bias: &[f32]) {
    simd_fn! {
        fn block(rows: &mut [f32], bias: &[f32]) {
            for row in rows.chunks_exact_mut(bias.len()) {
                for (v, b) in row.iter_mut().zip(bias) {
                    *v += b;
                }
            }
        }
    }
    rows.par_chunks_mut(bias.len() * ROWS_PER_TASK)
        .for_each(|r| block(r, bias));
}

/// The parameters of one layer norm: `gamma * (v - mean) / sqrt(var + eps) + beta`.
#[derive(Clone, Copy)]
pub struct Norm<'a> {
    pub gamma: &'a [f32],
    pub beta: &'a [f32],
    pub eps: f32,
}

simd_fn! {
    fn normalize_row(row: &mut [f32], norm: Norm) {
        let h = row.len() as f32;
        let mean = sum(row) / h;
        let mut sq = [0f32; 8];
        for c in row.chunks_exact(8) {
            for (a, v) in sq.iter_mut().zip(c) {
                *a += (v - mean) * (v - mean);
            }
        }
        let tail = row.chunks_exact(8).remainder();
        let var = (sq.iter().sum::<f32>()
            + tail.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>())
            / h;
        let inv = 1.0 / (var + norm.eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(norm.gamma).zip(norm.beta) {
            *v = (*v - mean) * inv * g + b;
        }
    }
}

/// Layer norm in place over rows of `norm.gamma.len()`.
pub fn layer_norm(rows: &mut [f32], norm: Norm) {
    let h = norm.gamma.len();
    rows.par_chunks_mut(h * ROWS_PER_TASK).for_each(|block| {
        for row in block.chunks_exact_mut(h) {
            normalize_row(row, norm);
        }
    });
}

simd_fn! {
    fn add_rows(x: &mut [f32], y: &[f32], bias: &[f32]) {
        for (xr, yr) in x
            .chunks_exact_mut(bias.len())
            .zip(y.chunks_exact(bias.len()))
        {
            for ((v, w), b) in xr.iter_mut().zip(yr).zip(bias) {
                *v += w + b;
            }
        }
    }
}

/// `x = layer_norm(x + y + bias)` over rows of `bias.len()` on this thread: the
/// residual step closing both halves of a BERT layer, with the bias of the projection
/// that produced `y`.
pub fn residual_norm_rows(x: &mut [f32], y: &[f32], bias: &[f32], norm: Norm) {
    add_rows(x, y, bias);
    for row in x.chunks_exact_mut(bias.len()) {
        normalize_row(row, norm);
    }
}

/// [`residual_norm_rows`] split over the pool.
pub fn residual_norm(x: &mut [f32], y: &[f32], bias: &[f32], norm: Norm) {
    let h = bias.len();
    x.par_chunks_mut(h * ROWS_PER_TASK)
        .zip(y.par_chunks(h * ROWS_PER_TASK))
        .for_each(|(xb, yb)| residual_norm_rows(xb, yb, bias, norm));
}

simd_fn! {
    /// Softmax in place over each row of `width`, on one thread (attention calls it
    /// from inside its own parallel tasks).
    pub fn softmax_rows(rows: &mut [f32], width: usize) {
        for row in rows.chunks_exact_mut(width) {
            let max = max(row);
            for v in row.iter_mut() {
                *v = exp(*v - max);
            }
            let inv = 1.0 / sum(row);
            for v in row.iter_mut() {
                *v *= inv;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> impl Iterator<Item = f32> {
        (-12_000..=12_000).map(|i| i as f32 * 1e-3)
    }

    #[test]
    fn exp_is_within_a_few_ulps() {
        for x in (-8_700..=8_800).map(|i| i as f32 * 1e-2) {
            let (ours, std) = (exp(x), x.exp());
            assert!(
                ((ours - std) / std).abs() < 3e-7,
                "exp({x}) = {ours}, std {std}"
            );
        }
        assert_eq!(exp(f32::NEG_INFINITY), exp(-87.0));
        assert!(exp(-100.0) < 1e-37);
    }

    #[test]
    fn gelu_matches_the_exact_form() {
        let xs: Vec<f32> = grid().collect();
        let mut ours = xs.clone();
        bias_gelu_rows(&mut ours, &[0.0; 1]);
        for (x, g) in xs.iter().zip(&ours) {
            let exact = 0.5 * *x as f64 * (1.0 + libm::erf(*x as f64 / 2f64.sqrt()));
            assert!(
                (*g as f64 - exact).abs() < 2e-6,
                "gelu({x}) = {g}, exact {exact}"
            );
        }
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let mut rows = vec![1.0, 2.0, 3.0, -1e30, 0.0, 0.0, 0.0, 0.0];
        softmax_rows(&mut rows, 4);
        for r in rows.chunks(4) {
            assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        assert!(rows[0] < rows[1] && rows[1] < rows[2] && rows[3] < 1e-30);
        let e: Vec<f64> = [1f64, 2.0, 3.0].iter().map(|v| v.exp()).collect();
        let s: f64 = e.iter().sum();
        assert!((rows[2] as f64 - e[2] / s).abs() < 1e-6);
    }

    #[test]
    fn residual_norm_normalises_the_sum() {
        let h = 8;
        let mut x: Vec<f32> = (0..3 * h).map(|i| i as f32 * 0.5).collect();
        let y: Vec<f32> = (0..3 * h).map(|i| (i % 5) as f32).collect();
        let bias = vec![0.25; h];
        let (gamma, beta) = (vec![2.0; h], vec![1.0; h]);
        let want: Vec<f32> = x
            .chunks(h)
            .zip(y.chunks(h))
            .flat_map(|(xr, yr)| {
                let v: Vec<f32> = xr.iter().zip(yr).map(|(a, b)| a + b + 0.25).collect();
                let mean = v.iter().sum::<f32>() / h as f32;
                let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f32>() / h as f32;
                v.into_iter()
                    .map(move |a| 2.0 * (a - mean) / (var + 1e-12).sqrt() + 1.0)
            })
            .collect();
        let norm = Norm {
            gamma: &gamma,
            beta: &beta,
            eps: 1e-12,
        };
        residual_norm(&mut x, &y, &bias, norm);
        for (a, b) in x.iter().zip(&want) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
}
