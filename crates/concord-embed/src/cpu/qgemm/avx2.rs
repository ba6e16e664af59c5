//! The AVX2 kernel: dot products on `vpmaddubsw` then `vpmaddwd` (32 byte pairs in two
//! instructions), for processors without AVX-512 VNNI.

use super::{QuantActs, QuantWeights, BLOCK, LANES, PANEL_BLOCK};
use std::arch::x86_64::*;

/// Quantises whole rows: each block of 32 to `round(x / d) + 128` (unsigned)
/// with `d = max|x| / 127` (ties to even, the processor's default rounding), and
/// its scale `d`.
///
/// # Safety
/// `x` and `q` must hold the same number of whole blocks, `scale` one entry per
/// block, and the processor must have AVX2.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn quantize_rows(x: &[f32], q: &mut [u8], scale: &mut [f32]) {
    let sign = _mm256_set1_ps(-0.0);
    // packs leave each 128-bit half's dwords interleaved; this puts them back.
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    let flip = _mm256_set1_epi8(i8::MIN);
    for (b, d) in scale.iter_mut().enumerate() {
        let p = x.as_ptr().add(b * BLOCK);
        let v = [0, 8, 16, 24].map(|o| _mm256_loadu_ps(p.add(o)));
        let m = v.iter().fold(_mm256_setzero_ps(), |m, v| {
            _mm256_max_ps(m, _mm256_andnot_ps(sign, *v))
        });
        let m = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
        let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        let amax = _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
        *d = amax / 127.0;
        let inv = _mm256_set1_ps(if amax > 0.0 { 1.0 / *d } else { 0.0 });
        let [a, b2, c, e] = v.map(|v| _mm256_cvtps_epi32(_mm256_mul_ps(v, inv)));
        let bytes = _mm256_packs_epi16(_mm256_packs_epi32(a, b2), _mm256_packs_epi32(c, e));
        let bytes = _mm256_permutevar8x32_epi32(bytes, order);
        _mm256_storeu_si256(
            q.as_mut_ptr().add(b * BLOCK).cast(),
            _mm256_xor_si256(bytes, flip),
        );
    }
}

/// Rows `row..row+M` of the output at the 16 columns of `panel`, written to `dst`
/// (the output element at that row and the panel's first column). `NARROW`: every
/// weight is within 8 of zero, so the eight groups of a block add up in 16 bits.
///
/// # Safety
/// The rows and the panel must exist, `dst` must address them in an output of
/// `w.n` columns, `NARROW` must hold if set, and the processor must have AVX2.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tile<const M: usize, const NARROW: bool>(
    x: &QuantActs,
    row: usize,
    w: &QuantWeights,
    panel: usize,
    dst: *mut f32,
) {
    let (k, nb) = (w.k, w.k / BLOCK);
    let (xq, xs) = x.row_at(row);
    let (wd, ws) = w.panel_at(panel);
    let w0 = w.start[panel * nb * LANES..].as_ptr();
    let ones = _mm256_set1_epi16(1);
    // The f32 sums live in `dst` (in L1) between blocks: sixteen registers hold
    // the eight dot products and what feeds them, not eight more accumulators.
    for m in 0..M {
        for h in 0..2 {
            _mm256_storeu_ps(dst.add(m * w.n + h * 8), _mm256_setzero_ps());
        }
    }
    for b in 0..nb {
        // 16-bit pair sums when NARROW, 32-bit dot products otherwise.
        let mut dot = [[_mm256_setzero_si256(); 2]; M];
        for g in 0..BLOCK / 4 {
            let at = wd.add(b * PANEL_BLOCK + g * 4 * LANES);
            let wv = [0, 32].map(|o| _mm256_loadu_si256(at.add(o).cast()));
            for (m, dm) in dot.iter_mut().enumerate() {
                let a = xq.add(m * k + b * BLOCK + g * 4);
                let xv = _mm256_set1_epi32(a.cast::<i32>().read_unaligned());
                for (d, wv) in dm.iter_mut().zip(&wv) {
                    let p = _mm256_maddubs_epi16(xv, *wv);
                    *d = if NARROW {
                        _mm256_add_epi16(*d, p)
                    } else {
                        _mm256_add_epi32(*d, _mm256_madd_epi16(p, ones))
                    };
                }
            }
        }
        for (m, dm) in dot.iter().enumerate() {
            let sx = _mm256_set1_ps(*xs.add(m * nb + b));
            for (h, d) in dm.iter().enumerate() {
                let d = if NARROW {
                    _mm256_madd_epi16(*d, ones)
                } else {
                    *d
                };
                let d = _mm256_add_epi32(d, _mm256_loadu_si256(w0.add(b * LANES + h * 8).cast()));
                let scale = _mm256_mul_ps(_mm256_loadu_ps(ws.add(b * LANES + h * 8)), sx);
                let out = dst.add(m * w.n + h * 8);
                _mm256_storeu_ps(
                    out,
                    _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), scale, _mm256_loadu_ps(out)),
                );
            }
        }
    }
}
