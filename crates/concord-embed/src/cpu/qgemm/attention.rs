//! Attention of one (sequence, head) in 8 bits on AVX-512 VNNI, for the fused pass's
//! VNNI kernel: both of attention's products on `vpdpbusd`, 64 byte products an
//! instruction where an f32 FMA of the same width does 16.
//!
//! - **Scores** `q k^T`: the queries (bias added) quantised like the projections'
//!   activations, per row and block of 32 dimensions, to signed bytes; the keys (bias
//!   added) the same way per key, stored as panels of 16 keys in the weights' layout
//!   with 128 added. The head's scale is already in the queries.
//! - **Softmax** in f32 over each query's scores ([`crate::cpu::kernels::softmax_rows`]).
//! - **Context** `p v`: each probability row quantised per block of 32 keys to
//!   unsigned bytes (`0..=255`, the block's largest at 255: probabilities are never
//!   negative, so they keep all 8 bits); the values (bias added) per dimension and
//!   block of 32 keys to signed bytes, as panels of 16 dimensions. Keys past the
//!   sequence's end are zeros on both sides.
//!
//! Every step is on this thread: attention runs one task per (sequence, head).

use super::avx512::{self, Panels, Rows};
use super::{BLOCK, LANES, PANEL_BLOCK};
use crate::cpu::{kernels, sized};
use std::arch::x86_64::*;

/// One worker's buffers, kept between heads so tasks do not allocate.
#[derive(Default)]
pub(crate) struct Scratch {
    /// `[l, hd]` signed bytes, with a scale and a start a block.
    q: Vec<u8>,
    q_scale: Vec<f32>,
    q_start: Vec<i32>,
    /// Keys as panels of 16, `l` rounded up to 16 (`[keys/16][hd/32][8][16][4]`).
    k: Vec<u8>,
    k_scale: Vec<f32>,
    /// `[l, keys]` f32, keys = `l` rounded up to 16.
    scores: Vec<f32>,
    /// `[l, kb * 32]` unsigned bytes, `kb` blocks of 32 keys, with a scale a block.
    p: Vec<u8>,
    p_scale: Vec<f32>,
    /// Values as panels of 16 dimensions over `kb` blocks of keys.
    v: Vec<u8>,
    v_scale: Vec<f32>,
}

/// One head of one sequence of `l` tokens: `ctx = softmax(q k^T) v` with `q`, `k`, `v`
/// the head's columns of the `qkv` rows (biases not yet added; `bias` is the whole
/// `[3H]` qkv bias).
///
/// # Safety
/// `qkv` must be `l` rows of `3 * h` floats; `head_dim` a multiple of 32 and
/// `(head + 1) * head_dim <= h`; `out` must address `l` rows of `head_dim` floats, `h`
/// apart, that no other thread touches; the processor must have AVX-512 F, BW and
/// VNNI.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(crate) unsafe fn head(
    s: &mut Scratch,
    qkv: &[f32],
    bias: &[f32],
    (l, h, head, head_dim): (usize, usize, usize, usize),
    out: *mut f32,
) {
    let hb = head_dim / BLOCK;
    let keys = l.next_multiple_of(LANES);
    let kb = l.div_ceil(BLOCK);
    let col = head * head_dim;
    let row = |j: usize, part: usize| qkv.as_ptr().add(j * 3 * h + part * h + col);
    let bias_at = |part: usize| bias.as_ptr().add(part * h + col);

    // Queries, as the projections' activations.
    let (q, q_scale, q_start) = (
        sized(&mut s.q, l * head_dim),
        sized(&mut s.q_scale, l * hb),
        sized(&mut s.q_start, l * hb),
    );
    let mut block = [0f32; BLOCK];
    for i in 0..l {
        for b in 0..hb {
            biased(
                &mut block,
                row(i, 0).add(b * BLOCK),
                bias_at(0).add(b * BLOCK),
            );
            let at = i * hb + b;
            avx512::quantize_rows(
                &block,
                &mut q[at * BLOCK..(at + 1) * BLOCK],
                &mut q_scale[at..at + 1],
                &mut q_start[at..at + 1],
            );
        }
    }

    // Keys, as panels of 16 keys with 128 added; keys past `l` are zeros.
    let (k, k_scale) = (
        sized(&mut s.k, keys * head_dim),
        sized(&mut s.k_scale, keys * hb),
    );
    let mut bytes = [0u8; BLOCK];
    let mut unused = [0i32];
    for j in 0..keys {
        let (panel, lane) = (j / LANES, j % LANES);
        for b in 0..hb {
            let scale = if j < l {
                biased(
                    &mut block,
                    row(j, 1).add(b * BLOCK),
                    bias_at(1).add(b * BLOCK),
                );
                let mut d = [0f32];
                avx512::quantize_rows(&block, &mut bytes, &mut d, &mut unused);
                d[0]
            } else {
                bytes.fill(0);
                0.0
            };
            let base = (panel * hb + b) * PANEL_BLOCK + lane * 4;
            for (g, four) in bytes.chunks_exact(4).enumerate() {
                let word = u32::from_le_bytes([four[0], four[1], four[2], four[3]]) ^ 0x8080_8080;
                k[base + g * 4 * LANES..][..4].copy_from_slice(&word.to_le_bytes());
            }
            k_scale[(panel * hb + b) * LANES + lane] = scale;
        }
    }

    // Scores.
    let scores = sized(&mut s.scores, l * keys);
    let rows = Rows {
        q: q.as_ptr(),
        scale: q_scale.as_ptr(),
        start: q_start.as_ptr(),
    };
    let panels = Panels {
        data: k.as_ptr(),
        scale: k_scale.as_ptr(),
        nb: hb,
    };
    avx512::tiles::<true>(
        rows,
        0..l,
        panels,
        0..keys / LANES,
        scores.as_mut_ptr(),
        keys,
    );

    // Probabilities, quantised per block of 32 keys to unsigned bytes.
    let (p, p_scale) = (
        sized(&mut s.p, l * kb * BLOCK),
        sized(&mut s.p_scale, l * kb),
    );
    for i in 0..l {
        let r = &mut scores[i * keys..i * keys + l];
        kernels::softmax_rows(r, l);
        for b in 0..kb {
            let n = (l - b * BLOCK).min(BLOCK);
            let at = i * kb + b;
            p_scale[at] = quantize_probabilities(
                &r[b * BLOCK..b * BLOCK + n],
                &mut p[at * BLOCK..(at + 1) * BLOCK],
            );
        }
    }

    // Values, per dimension and block of 32 keys, as panels of 16 dimensions.
    let dims = head_dim / LANES;
    let (v, v_scale) = (
        sized(&mut s.v, head_dim * kb * BLOCK),
        sized(&mut s.v_scale, head_dim * kb),
    );
    for panel in 0..dims {
        let b16 = _mm512_loadu_ps(bias_at(2).add(panel * LANES));
        for b in 0..kb {
            let n = (l - b * BLOCK).min(BLOCK);
            let at = |jj: usize| {
                _mm512_add_ps(
                    _mm512_loadu_ps(row(b * BLOCK + jj, 2).add(panel * LANES)),
                    b16,
                )
            };
            let amax = (0..n).fold(_mm512_setzero_ps(), |m, jj| {
                _mm512_max_ps(m, _mm512_abs_ps(at(jj)))
            });
            let d = _mm512_div_ps(amax, _mm512_set1_ps(127.0));
            let inv = _mm512_maskz_div_ps(
                _mm512_cmp_ps_mask::<_CMP_GT_OQ>(amax, _mm512_setzero_ps()),
                _mm512_set1_ps(1.0),
                d,
            );
            let out = v.as_mut_ptr().add((panel * kb + b) * PANEL_BLOCK);
            for g in 0..BLOCK / 4 {
                let mut word = _mm512_setzero_si512();
                for r in 0..4 {
                    let jj = g * 4 + r;
                    if jj < n {
                        let qv = _mm512_cvtps_epi32(_mm512_mul_ps(at(jj), inv));
                        let byte = _mm512_and_si512(qv, _mm512_set1_epi32(0xff));
                        word = _mm512_or_si512(
                            word,
                            _mm512_sllv_epi32(byte, _mm512_set1_epi32(8 * r as i32)),
                        );
                    }
                }
                _mm512_storeu_si512(out.add(g * 4 * LANES).cast(), word);
            }
            _mm512_storeu_ps(v_scale.as_mut_ptr().add((panel * kb + b) * LANES), d);
        }
    }

    // Context.
    let rows = Rows {
        q: p.as_ptr(),
        scale: p_scale.as_ptr(),
        start: std::ptr::null(),
    };
    let panels = Panels {
        data: v.as_ptr(),
        scale: v_scale.as_ptr(),
        nb: kb,
    };
    avx512::tiles::<false>(rows, 0..l, panels, 0..dims, out, h);
}

/// `block = x + bias` over 32 floats.
#[target_feature(enable = "avx512f")]
unsafe fn biased(block: &mut [f32; BLOCK], x: *const f32, bias: *const f32) {
    for o in [0, LANES] {
        let v = _mm512_add_ps(_mm512_loadu_ps(x.add(o)), _mm512_loadu_ps(bias.add(o)));
        _mm512_storeu_ps(block.as_mut_ptr().add(o), v);
    }
}

/// Up to 32 probabilities to unsigned bytes with the largest at 255 (the rest of the
/// block zeros); returns the block's scale.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quantize_probabilities(p: &[f32], q: &mut [u8]) -> f32 {
    let n = p.len();
    let mask = |o: usize| -> __mmask16 {
        let left = n.saturating_sub(o).min(LANES);
        ((1u32 << left) - 1) as __mmask16
    };
    let lo = _mm512_maskz_loadu_ps(mask(0), p.as_ptr());
    let hi = _mm512_maskz_loadu_ps(mask(LANES), p.as_ptr().add(LANES.min(n)));
    let top = _mm512_reduce_max_ps(_mm512_max_ps(lo, hi));
    let d = top / 255.0;
    let inv = _mm512_set1_ps(if top > 0.0 { 1.0 / d } else { 0.0 });
    for (o, v) in [(0, lo), (LANES, hi)] {
        let qv = _mm512_cvtps_epi32(_mm512_mul_ps(v, inv));
        _mm_storeu_si128(q.as_mut_ptr().add(o).cast(), _mm512_cvtusepi32_epi8(qv));
    }
    d
}
