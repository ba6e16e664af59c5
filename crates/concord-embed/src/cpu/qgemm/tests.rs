//! The 8-bit kernels against an f32 reference.

use super::*;

const KERNELS: [Kernel; 2] = [Kernel::Avx512Vnni, Kernel::Avx2];

/// A deterministic pseudo-random sequence in [-1, 1).
fn noise(seed: u64, len: usize) -> Vec<f32> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Blocks of 4-bit integers times an f16 scale, as a dequantised Q4_0 file has
/// them, with and without the -8 step.
fn q4_grid(seed: u64, len: usize) -> Vec<f32> {
    noise(seed, len)
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let top = if i / 32 % 2 == 0 { 8.0 } else { 7.0 };
            let q = (v * top).round().clamp(-8.0, 7.0);
            q * half::f16::from_f32(0.0123 * (1 + i / 32 % 7) as f32).to_f32()
        })
        .collect()
}

#[test]
fn a_q4_grid_is_kept_exactly() {
    let (n, k) = (16, 64);
    let w = q4_grid(1, n * k);
    for kernel in KERNELS {
        let qw = QuantWeights::from_rows(&w, n, k, kernel).unwrap();
        assert!(qw.narrow);
        for o in 0..n {
            for i in 0..k {
                assert_eq!(qw.weight(i, o), w[o * k + i], "{kernel:?} weight {o},{i}");
            }
        }
    }
}

#[test]
fn other_weights_round_to_the_kernels_levels() {
    let (n, k) = (32, 64);
    let w = noise(2, n * k);
    for kernel in KERNELS {
        let qw = QuantWeights::from_rows(&w, n, k, kernel).unwrap();
        assert!(!qw.narrow);
        for o in 0..n {
            let amax = w[o * k..(o + 1) * k]
                .iter()
                .fold(0f32, |m, v| m.max(v.abs()));
            for i in 0..k {
                let err = (qw.weight(i, o) - w[o * k + i]).abs();
                assert!(err <= amax / (2.0 * kernel.levels()) + 1e-7, "{kernel:?}");
            }
        }
    }
}

#[test]
fn shapes_off_the_blocks_are_refused() {
    for kernel in KERNELS {
        assert!(QuantWeights::from_rows(&[0.0; 16 * 40], 16, 40, kernel).is_err());
        assert!(QuantWeights::from_rows(&[0.0; 24 * 32], 24, 32, kernel).is_err());
    }
}

/// Each kernel this processor runs against the same integers summed in f64, over
/// tile shapes with and without leftovers (rows not in 4s, an odd panel count,
/// several tasks) and weights on and off the 4-bit grid.
#[test]
fn matmul_equals_the_integer_products() {
    let kernels: Vec<Kernel> = KERNELS.into_iter().filter(|k| k.supported()).collect();
    if kernels.is_empty() {
        eprintln!("no integer kernel runs here: the 8-bit projections are not used");
        return;
    }
    for kernel in kernels {
        for (rows, n, k) in [(1, 16, 32), (7, 48, 96), (70, 64, 384), (133, 32, 64)] {
            for grid in [false, true] {
                let mut w = if grid {
                    q4_grid(3, n * k)
                } else {
                    noise(3, n * k)
                };
                w[5] = 0.0;
                let mut qw = QuantWeights::from_rows(&w, n, k, kernel).unwrap();
                assert_eq!(qw.narrow, grid);
                qw.scale_columns(0..n / 2, 0.5);
                let mut x = noise(4, rows * k);
                x[..BLOCK].fill(0.0); // a block of zeros has scale 0
                let mut qx = QuantActs::default();
                qx.quantize(&x, k, kernel);
                let mut out = vec![f32::NAN; rows * n];
                matmul(&mut out, &qx, &qw);
                for r in 0..rows {
                    for o in 0..n {
                        let want: f64 = (0..k)
                            .map(|i| {
                                let b = r * (k / BLOCK) + i / BLOCK;
                                let xv = qx.value(r, i) as f64 * qx.scale[b] as f64;
                                xv * qw.weight(i, o) as f64
                            })
                            .sum();
                        let got = out[r * n + o] as f64;
                        assert!(
                            (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                            "{kernel:?} {rows}x{n}x{k} grid {grid} at {r},{o}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn activations_round_like_q8_0() {
    for kernel in KERNELS.into_iter().filter(|k| k.supported()) {
        // Two blocks: a ramp, and values that make every rounding tie.
        let mut x: Vec<f32> = (0..32).map(|i| i as f32 - 12.5).collect();
        x.extend((0..32).map(|i| if i == 0 { 127.0 } else { i as f32 - 15.5 }));
        let mut qx = QuantActs::default();
        qx.quantize(&x, 32, kernel);
        let d = 18.5 / 127.0;
        assert_eq!(qx.scale[0], d);
        for (i, v) in x[..32].iter().enumerate() {
            assert!((qx.value(0, i) as f32 - v / d).abs() <= 0.5 + 1e-4);
        }
        assert_eq!(qx.value(0, 31), 127);
        assert_eq!(qx.scale[1], 1.0);
        for (i, v) in x[32..].iter().enumerate() {
            assert_eq!(qx.value(1, i), v.round_ties_even() as i32, "{kernel:?} {v}");
        }
        if kernel == Kernel::Avx512Vnni {
            let sum: i32 = (0..32).map(|i| qx.value(0, i)).sum();
            assert_eq!(qx.start[0], -128 * sum);
        }
    }
}

#[test]
fn quantising_after_a_step_equals_the_step_then_quantising() {
    // 37 rows: two whole blocks of ROWS_PER_TASK and a short one.
    let (rows, k) = (37, 64);
    let step = |first: usize, block: &mut [f32]| {
        for (r, row) in block.chunks_exact_mut(k).enumerate() {
            row.iter_mut()
                .for_each(|v| *v = *v * 3.0 + (first + r) as f32);
        }
    };
    for kernel in KERNELS.into_iter().filter(|k| k.supported()) {
        let x = noise(7, rows * k);
        let mut stepped = x.clone();
        step(0, &mut stepped);
        let mut want = QuantActs::default();
        want.quantize(&stepped, k, kernel);
        let mut fused = x.clone();
        let mut got = QuantActs::default();
        got.quantize_after(&mut fused, k, kernel, step);
        assert_eq!(fused, stepped, "{kernel:?}: the rows after the step");
        assert_eq!(
            (got.q, got.scale, got.start),
            (want.q, want.scale, want.start)
        );
    }
}

/// Attention of one head in 8 bits against softmax attention in f64 on the same f32
/// inputs: lengths in and off the blocks of 16 and 32 keys, one and two blocks a head,
/// and nothing written outside the head's columns.
#[cfg(target_arch = "x86_64")]
#[test]
fn attention_in_8_bits_is_near_the_f64_product() {
    if !attention_in_8_bits(Kernel::Avx512Vnni, 32) {
        eprintln!("no AVX-512 VNNI here: attention runs in f32");
        return;
    }
    let mut scratch = attention::Scratch::default();
    for (l, h, head, hd) in [
        (1, 64, 1, 32),
        (5, 64, 0, 32),
        (37, 128, 1, 64),
        (142, 384, 7, 32),
    ] {
        // Values and keys of a few units either side, queries scaled by 1/sqrt(hd)
        // as the model's are: scores of a few units.
        let scale = 1.0 / (hd as f32).sqrt();
        let qkv: Vec<f32> = noise(8, l * 3 * h)
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if i % (3 * h) < h {
                    v * 2.5 * scale
                } else {
                    v * 2.5
                }
            })
            .collect();
        let bias: Vec<f32> = noise(9, 3 * h).iter().map(|v| v * 0.5).collect();
        let mut out = vec![f32::NAN; l * h];
        // SAFETY: qkv is l rows of 3h; hd is in whole blocks and the head fits in h;
        // out is l rows of h; the processor has VNNI (checked above).
        unsafe {
            attention::head(
                &mut scratch,
                &qkv,
                &bias,
                (l, h, head, hd),
                out[head * hd..].as_mut_ptr(),
            )
        };
        let at = |i: usize, part: usize, d: usize| {
            let c = part * h + head * hd + d;
            (qkv[i * 3 * h + c] + bias[c]) as f64
        };
        let (mut worst, mut lowest) = (0f64, 1f64);
        for i in 0..l {
            let scores: Vec<f64> = (0..l)
                .map(|j| (0..hd).map(|d| at(i, 0, d) * at(j, 1, d)).sum())
                .collect();
            let top = scores.iter().cloned().fold(f64::MIN, f64::max);
            let e: Vec<f64> = scores.iter().map(|s| (s - top).exp()).collect();
            let sum: f64 = e.iter().sum();
            let want: Vec<f64> = (0..hd)
                .map(|d| (0..l).map(|j| e[j] / sum * at(j, 2, d)).sum())
                .collect();
            let got = &out[i * h + head * hd..i * h + (head + 1) * hd];
            let (mut dot, mut nw, mut ng) = (0.0, 0.0, 0.0);
            for (g, w) in got.iter().zip(&want) {
                let g = *g as f64;
                worst = worst.max((g - w).abs());
                assert!((g - w).abs() < 0.1, "l {l} hd {hd} row {i}: {g} vs {w}");
                (dot, nw, ng) = (dot + g * w, nw + w * w, ng + g * g);
            }
            let cosine = dot / (nw.sqrt() * ng.sqrt());
            assert!(cosine > 0.998, "l {l} hd {hd} row {i}: cosine {cosine}");
            lowest = lowest.min(cosine);
            for (c, v) in out[i * h..(i + 1) * h].iter().enumerate() {
                if c / hd != head {
                    assert!(v.is_nan(), "l {l}: column {c} of another head written");
                }
            }
        }
        eprintln!("l {l}, head of {hd}: largest error {worst:.4}, lowest cosine {lowest:.5}");
    }
}
