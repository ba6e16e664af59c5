//! The AVX-512 VNNI kernel: activations quantised with AVX-512 BW, dot products of 64
//! byte pairs an instruction on `vpdpbusd`, in tiles of 4 tokens.

use super::{BLOCK, LANES, OFFSET, PANEL_BLOCK, TILE_ROWS};
use std::arch::x86_64::*;
use std::ops::Range;

/// Quantises whole rows: each block of 32 to `round(x / d)` with
/// `d = max|x| / 127` (ties to even, the processor's default rounding), its scale
/// `d` and its start `-128 * sum`.
///
/// # Safety
/// `x` and `q` must hold the same number of whole blocks, `scale` and `start` one
/// entry per block, and the processor must have AVX-512 F and BW.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn quantize_rows(x: &[f32], q: &mut [u8], scale: &mut [f32], start: &mut [i32]) {
    for (b, (d, s)) in scale.iter_mut().zip(start.iter_mut()).enumerate() {
        let lo = _mm512_loadu_ps(x.as_ptr().add(b * BLOCK));
        let hi = _mm512_loadu_ps(x.as_ptr().add(b * BLOCK + 16));
        let amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
        *d = amax / 127.0;
        let inv = _mm512_set1_ps(if amax > 0.0 { 1.0 / *d } else { 0.0 });
        let qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, inv));
        let qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, inv));
        *s = -OFFSET * _mm512_reduce_add_epi32(_mm512_add_epi32(qlo, qhi));
        let out = q.as_mut_ptr().add(b * BLOCK);
        _mm_storeu_si128(out.cast(), _mm512_cvtsepi32_epi8(qlo));
        _mm_storeu_si128(out.add(16).cast(), _mm512_cvtsepi32_epi8(qhi));
    }
}

/// One side of a product as rows: each row `nb` blocks of 32 bytes with a scale a
/// block and, when its bytes are the signed side, where each block's dot products
/// start (`-128 * sum`, taking the other side's offset back out).
#[derive(Clone, Copy)]
pub(super) struct Rows {
    pub q: *const u8,
    pub scale: *const f32,
    /// Read only when the rows are signed (`SIGNED_ROWS` of [`tile`]).
    pub start: *const i32,
}

/// The other side as panels of 16 output columns in the weights' layout
/// (`[panel][nb][8][16][4]` bytes, `[panel][nb][16]` scales).
#[derive(Clone, Copy)]
pub(super) struct Panels {
    pub data: *const u8,
    pub scale: *const f32,
    pub nb: usize,
}

/// Rows `row..row+M` of the product at panels `panel..panel+V`, written to `dst`
/// (the output element at that row and the panel's first column; rows `stride`
/// floats apart). With `SIGNED_ROWS` the rows are signed bytes and the panels hold
/// each value plus 128, as the projections store them; without, the rows are
/// unsigned (attention's probabilities) and the panels signed, and the dot products
/// start from zero.
///
/// # Safety
/// The rows and panels must exist, `dst` must address `M` rows of `V * 16` floats
/// `stride` apart, and the processor must have AVX-512 F, BW and VNNI.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn tile<const M: usize, const V: usize, const SIGNED_ROWS: bool>(
    x: Rows,
    row: usize,
    w: Panels,
    panel: usize,
    dst: *mut f32,
    stride: usize,
) {
    let nb = w.nb;
    let xq = x.q.add(row * nb * BLOCK);
    let xs = x.scale.add(row * nb);
    let wd = w.data.add(panel * nb * PANEL_BLOCK);
    let ws = w.scale.add(panel * nb * LANES);
    let mut acc = [[_mm512_setzero_ps(); V]; M];
    for b in 0..nb {
        let mut dot = [[_mm512_setzero_si512(); V]; M];
        if SIGNED_ROWS {
            let x0 = x.start.add(row * nb);
            for (m, dm) in dot.iter_mut().enumerate() {
                dm.fill(_mm512_set1_epi32(*x0.add(m * nb + b)));
            }
        }
        for g in 0..BLOCK / 4 {
            let mut wv = [_mm512_setzero_si512(); V];
            for (v, wv) in wv.iter_mut().enumerate() {
                let at = (v * nb + b) * PANEL_BLOCK + g * 4 * LANES;
                *wv = _mm512_loadu_si512(wd.add(at).cast());
            }
            for (m, dm) in dot.iter_mut().enumerate() {
                let at = xq.add(m * nb * BLOCK + b * BLOCK + g * 4);
                let xv = _mm512_set1_epi32(at.cast::<i32>().read_unaligned());
                for (d, wv) in dm.iter_mut().zip(&wv) {
                    *d = if SIGNED_ROWS {
                        _mm512_dpbusd_epi32(*d, *wv, xv)
                    } else {
                        _mm512_dpbusd_epi32(*d, xv, *wv)
                    };
                }
            }
        }
        for (m, (am, dm)) in acc.iter_mut().zip(&dot).enumerate() {
            let sx = _mm512_set1_ps(*xs.add(m * nb + b));
            for (v, (a, d)) in am.iter_mut().zip(dm).enumerate() {
                let sw = _mm512_loadu_ps(ws.add((v * nb + b) * LANES));
                *a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(*d), _mm512_mul_ps(sw, sx), *a);
            }
        }
    }
    for (m, am) in acc.iter().enumerate() {
        for (v, a) in am.iter().enumerate() {
            _mm512_storeu_ps(dst.add(m * stride + v * LANES), *a);
        }
    }
}

/// The product at rows `rows` and panels `panels` in [`tile`]s of [`TILE_ROWS`] rows
/// (single rows for what is left) by two panels (one for an odd last); `dst` is the
/// output element at row 0 and panel 0, rows `stride` floats apart.
///
/// # Safety
/// As for [`tile`], for every row and panel in the ranges.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn tiles<const SIGNED_ROWS: bool>(
    x: Rows,
    rows: Range<usize>,
    w: Panels,
    panels: Range<usize>,
    dst: *mut f32,
    stride: usize,
) {
    let mut row = rows.start;
    while row < rows.end {
        let m = if row + TILE_ROWS <= rows.end {
            TILE_ROWS
        } else {
            1
        };
        let mut panel = panels.start;
        while panel < panels.end {
            let at = dst.add(row * stride + panel * LANES);
            let wide = panel + 2 <= panels.end;
            match (m, wide) {
                (TILE_ROWS, true) => {
                    tile::<TILE_ROWS, 2, SIGNED_ROWS>(x, row, w, panel, at, stride)
                }
                (TILE_ROWS, false) => {
                    tile::<TILE_ROWS, 1, SIGNED_ROWS>(x, row, w, panel, at, stride)
                }
                (_, true) => tile::<1, 2, SIGNED_ROWS>(x, row, w, panel, at, stride),
                (_, false) => tile::<1, 1, SIGNED_ROWS>(x, row, w, panel, at, stride),
            }
            panel += if wide { 2 } else { 1 };
        }
        row += m;
    }
}
