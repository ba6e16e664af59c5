//! The BERT forward pass on the CPU, fused: what the embedder runs when the device
//! is the CPU (the candle graph of [`crate::candle`] runs on GPUs).
//!
//! The sequences of a batch are packed into one `[T, H]` matrix with no padding.
//! Per layer there are four projections over the rayon pool and four row kernels
//! ([`crate::cpu::kernels`]) that carry the biases,
//! GELU and the residual layer norms, so no activation is copied or reshaped. In 8 bits
//! three of them (the layer's two residual norms, its GELU) run block by block inside
//! the quantisation of the next projection's input, with no pass of their own.
//! Attention runs per (sequence, head) on strided views of the packed q/k/v rows:
//! no gather into a padded block, no mask, no transposes. The 1/sqrt(head_dim)
//! scale is folded into the query weights at load. Activation buffers are kept
//! between calls, so a steady stream of batches allocates nothing.
//!
//! The projections run in one of two precisions ([`CpuPrecision`]): 8-bit integers
//! on processors with AVX-512 VNNI or AVX2 ([`crate::cpu::qgemm`], the default there), f32
//! with `gemm` (the crate candle's CPU matmul calls) elsewhere. Attention's products
//! are 8-bit too with the VNNI kernel ([`crate::cpu::qgemm::attention`]), f32 `gemm`
//! calls otherwise.

use crate::candle::check_batch;
use crate::config::BertConfig;
use crate::cpu::kernels::{self, Norm};
use crate::cpu::qgemm::{self, Kernel, QuantActs, QuantWeights};
use crate::cpu::shared_out::SharedOut;
use crate::cpu::sized;
use crate::profile::Pooling;
use crate::weights::EncoderWeights;
use anyhow::{ensure, Result};
use candle_core::quantized::QTensor;
use candle_core::{Device, Tensor};
use gemm::Parallelism;
use rayon::prelude::*;
use std::sync::Mutex;

/// The precision of the projections (attention, norms and GELU are f32 in both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuPrecision {
    /// 8-bit weights and activations in blocks of 32 with f32 scales, on one of the
    /// integer kernels.
    Int8(Kernel),
    /// f32 throughout.
    F32,
}

impl CpuPrecision {
    /// The fastest this processor runs for a model of `cfg`'s shapes: [`Self::Int8`]
    /// where it has an integer kernel and the projections come in whole blocks.
    pub fn best(cfg: &BertConfig) -> Self {
        match Kernel::best() {
            Some(kernel)
                if qgemm::fits(3 * cfg.hidden_size, cfg.hidden_size)
                    && qgemm::fits(cfg.intermediate_size, cfg.hidden_size)
                    && qgemm::fits(cfg.hidden_size, cfg.intermediate_size) =>
            {
                Self::Int8(kernel)
            }
            _ => Self::F32,
        }
    }

    /// `int8 (avx2)`, `f32`: for logs, `model info` and benchmarks.
    pub fn label(self) -> String {
        match self {
            Self::Int8(kernel) => format!("int8 ({})", kernel.label()),
            Self::F32 => "f32".to_string(),
        }
    }
}

/// One projection's weights in the form its precision computes with.
enum Projection {
    /// `[in, out]` row-major, the layout `gemm` reads without repacking.
    F32 {
        w: Vec<f32>,
        inputs: usize,
    },
    Int8(QuantWeights),
}

impl Projection {
    /// From a `[out, in]` weight, its first `scaled` outputs multiplied by `scale`.
    fn new(
        mut w: Vec<f32>,
        inputs: usize,
        (scaled, scale): (usize, f32),
        precision: CpuPrecision,
    ) -> Result<Self> {
        let outputs = w.len() / inputs;
        Ok(match precision {
            CpuPrecision::F32 => {
                w[..scaled * inputs].iter_mut().for_each(|v| *v *= scale);
                Projection::F32 {
                    w: transposed(w, inputs),
                    inputs,
                }
            }
            CpuPrecision::Int8(kernel) => {
                // Scaled through the block scales, so a 4-bit grid stays exact.
                let mut q = QuantWeights::from_rows(&w, outputs, inputs, kernel)?;
                q.scale_columns(0..scaled, scale);
                Projection::Int8(q)
            }
        })
    }

    /// `out[T, out] = x[T, in] * w`; `acts` holds the quantised `x` in 8 bits.
    fn apply(&self, out: &mut [f32], x: &[f32], acts: &mut QuantActs) {
        match self {
            Projection::F32 { w, inputs } => linear(out, x, w, *inputs),
            Projection::Int8(w) => {
                acts.quantize(x, w.inputs(), w.kernel());
                qgemm::matmul(out, acts, w);
            }
        }
    }

    /// [`Self::apply`] after `prep(first_row, rows)` has rewritten `x` in place, block
    /// by block of [`kernels::ROWS_PER_TASK`] rows; in 8 bits each block is prepared
    /// and quantised by one task (see [`QuantActs::quantize_after`]).
    fn apply_after<F>(&self, out: &mut [f32], x: &mut [f32], acts: &mut QuantActs, prep: F)
    where
        F: Fn(usize, &mut [f32]) + Sync,
    {
        match self {
            Projection::F32 { w, inputs } => {
                x.par_chunks_mut(kernels::ROWS_PER_TASK * inputs)
                    .enumerate()
                    .for_each(|(i, rows)| prep(i * kernels::ROWS_PER_TASK, rows));
                linear(out, x, w, *inputs)
            }
            Projection::Int8(w) => {
                acts.quantize_after(x, w.inputs(), w.kernel(), prep);
                qgemm::matmul(out, acts, w);
            }
        }
    }
}

/// A layer's weights: the four projections and the biases and norms as they come.
struct Layer {
    /// Query (pre-scaled), key and value outputs.
    qkv: Projection,
    qkv_b: Vec<f32>,
    out: Projection,
    out_b: Vec<f32>,
    attn_ln: (Vec<f32>, Vec<f32>),
    up: Projection,
    up_b: Vec<f32>,
    down: Projection,
    down_b: Vec<f32>,
    out_ln: (Vec<f32>, Vec<f32>),
}

/// Activation buffers of one forward pass, grown to the largest batch seen.
#[derive(Default)]
struct Workspace {
    x: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    proj: Vec<f32>,
    mid: Vec<f32>,
    acts: QuantActs,
}

pub struct CpuEncoder {
    cfg: BertConfig,
    word: QTensor,
    position: Vec<f32>,
    token_type0: Vec<f32>,
    emb_ln: (Vec<f32>, Vec<f32>),
    layers: Vec<Layer>,
    precision: CpuPrecision,
    workspace: Mutex<Workspace>,
}

/// `[N, K]` row-major to `[K, N]` row-major.
fn transposed(w: Vec<f32>, k: usize) -> Vec<f32> {
    let n = w.len() / k;
    let mut t = vec![0f32; w.len()];
    for (j, row) in w.chunks_exact(k).enumerate() {
        for (kk, v) in row.iter().enumerate() {
            t[kk * n + j] = *v;
        }
    }
    t
}

fn host(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.flatten_all()?.to_vec1::<f32>()?)
}

thread_local! {
    /// Each worker's attention score block, kept for the thread's life (up to
    /// 512 x 512 floats) so tasks do not allocate.
    static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `dst[m, n] = lhs[m, k] * rhs[k, n]` (overwriting `dst`) on row/column strides.
///
/// # Safety
/// The pointers must address every element the shapes and strides reach.
#[allow(clippy::too_many_arguments)]
unsafe fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: (*mut f32, usize),
    lhs: (*const f32, usize, usize),
    rhs: (*const f32, usize, usize),
    par: Parallelism,
) {
    gemm::gemm(
        m,
        n,
        k,
        dst.0,
        1,
        dst.1 as isize,
        false,
        lhs.0,
        lhs.2 as isize,
        lhs.1 as isize,
        rhs.0,
        rhs.2 as isize,
        rhs.1 as isize,
        0.0,
        1.0,
        false,
        false,
        false,
        par,
    )
}

/// `out[T, N] = x[T, K] * w[K, N]` over all threads.
fn linear(out: &mut [f32], x: &[f32], w: &[f32], k: usize) {
    let n = w.len() / k;
    let t = x.len() / k;
    assert!(
        out.len() == t * n && x.len() == t * k && w.len() == k * n,
        "linear: shapes do not match"
    );
    let threads = rayon::current_num_threads();
    let par = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: x is [t, k], w is [k, n] and out is [t, n], all row-major; the assert
    // above checks the lengths.
    unsafe {
        matmul(
            (t, n, k),
            (out.as_mut_ptr(), n),
            (x.as_ptr(), k, 1),
            (w.as_ptr(), n, 1),
            par,
        )
    }
}

impl CpuEncoder {
    /// Takes the weights out of their candle tensors (the tensors are dropped).
    pub fn new(cfg: BertConfig, w: EncoderWeights, precision: CpuPrecision) -> Result<Self> {
        ensure!(
            cfg.hidden_size.is_multiple_of(cfg.num_attention_heads),
            "hidden size is not a multiple of the head count"
        );
        if let CpuPrecision::Int8(kernel) = precision {
            ensure!(
                kernel.supported(),
                "8-bit projections on the {} kernel need a processor with it",
                kernel.label()
            );
        }
        let h = cfg.hidden_size;
        let inter = cfg.intermediate_size;
        let scale = 1.0 / (cfg.head_dim() as f32).sqrt();
        let unscaled = (0, 1.0);
        let mut layers = Vec::with_capacity(w.layers.len());
        for l in &w.layers {
            let mut qkv_b = host(&l.qkv_b)?;
            qkv_b[..h].iter_mut().for_each(|v| *v *= scale);
            layers.push(Layer {
                qkv: Projection::new(host(&l.qkv_w)?, h, (h, scale), precision)?,
                qkv_b,
                out: Projection::new(host(&l.attn_out_w)?, h, unscaled, precision)?,
                out_b: host(&l.attn_out_b)?,
                attn_ln: (host(&l.attn_ln_w)?, host(&l.attn_ln_b)?),
                up: Projection::new(host(&l.up_w)?, h, unscaled, precision)?,
                up_b: host(&l.up_b)?,
                down: Projection::new(host(&l.down_w)?, inter, unscaled, precision)?,
                down_b: host(&l.down_b)?,
                out_ln: (host(&l.out_ln_w)?, host(&l.out_ln_b)?),
            });
        }
        Ok(Self {
            position: host(&w.position)?,
            token_type0: host(&w.token_type0)?,
            emb_ln: (host(&w.emb_ln_w)?, host(&w.emb_ln_b)?),
            word: w.word,
            layers,
            cfg,
            precision,
            workspace: Mutex::new(Workspace::default()),
        })
    }

    pub fn precision(&self) -> CpuPrecision {
        self.precision
    }

    /// Pooled final hidden states, `[lens.len() * H]` row-major, for the packed
    /// sequences `ids[0..lens[0]]`, `ids[lens[0]..lens[0]+lens[1]]`, ...
    pub fn pooled(&self, ids: &[u32], lens: &[usize], pooling: Pooling) -> Result<Vec<f32>> {
        // Attention's raw views rely on these bounds.
        check_batch(&self.cfg, ids, lens)?;
        // The whole pass runs on a worker of the pool: each of its many parallel steps
        // then forks from inside the pool instead of waking the pool from outside and
        // sleeping until it is done (a round trip that, for one short text, cost more
        // than the arithmetic).
        rayon::scope(|_| self.pass(ids, lens, pooling))
    }

    fn pass(&self, ids: &[u32], lens: &[usize], pooling: Pooling) -> Result<Vec<f32>> {
        let h = self.cfg.hidden_size;
        let inter = self.cfg.intermediate_size;
        let eps = self.cfg.layer_norm_eps as f32;
        let t = ids.len();
        let mut guard = self.workspace.lock().unwrap_or_else(|e| e.into_inner());
        let ws = &mut *guard;

        // Embeddings: word row + position row + token type 0, then layer norm.
        let word = self
            .word
            .embedding(&Tensor::from_slice(ids, t, &Device::Cpu)?)?;
        let x = sized(&mut ws.x, t * h);
        x.copy_from_slice(&host(&word)?);
        let first = self.cfg.position_offset();
        let positions = lens.iter().flat_map(|&l| first..first + l);
        for (row, p) in x.chunks_exact_mut(h).zip(positions) {
            let pos = &self.position[p * h..(p + 1) * h];
            for ((v, a), b) in row.iter_mut().zip(pos).zip(&self.token_type0) {
                *v += a + b;
            }
        }
        kernels::layer_norm(x, norm(&self.emb_ln, eps));

        // Each layer's last step (the residual and norm after its feed-forward) is
        // done by the next layer's first projection as it quantises its input, and
        // the GELU and the norm inside a layer by the projections that read them.
        let mut pending: Option<&Layer> = None;
        for layer in &self.layers {
            let x = &mut ws.x[..t * h];
            let qkv = sized(&mut ws.qkv, t * 3 * h);
            let proj = &ws.proj;
            layer.qkv.apply_after(qkv, x, &mut ws.acts, |row, rows| {
                if let Some(prev) = pending {
                    let y = &proj[row * h..row * h + rows.len()];
                    kernels::residual_norm_rows(rows, y, &prev.down_b, norm(&prev.out_ln, eps));
                }
            });
            let ctx = sized(&mut ws.ctx, t * h);
            self.attention(ctx, qkv, &layer.qkv_b, lens);
            let proj = sized(&mut ws.proj, t * h);
            layer.out.apply(proj, ctx, &mut ws.acts);
            let mid = sized(&mut ws.mid, t * inter);
            let proj_ref = &*proj;
            layer.up.apply_after(mid, x, &mut ws.acts, |row, rows| {
                let y = &proj_ref[row * h..row * h + rows.len()];
                kernels::residual_norm_rows(rows, y, &layer.out_b, norm(&layer.attn_ln, eps));
            });
            layer.down.apply_after(proj, mid, &mut ws.acts, |_, rows| {
                kernels::bias_gelu_rows(rows, &layer.up_b)
            });
            pending = Some(layer);
        }
        if let Some(last) = pending {
            let x = &mut ws.x[..t * h];
            kernels::residual_norm(x, &ws.proj[..t * h], &last.down_b, norm(&last.out_ln, eps));
        }

        // Each sequence's rows, specials included, pooled.
        let x = &ws.x[..t * h];
        let mut pooled = vec![0f32; lens.len() * h];
        let mut start = 0;
        for (out, &l) in pooled.chunks_exact_mut(h).zip(lens) {
            let rows = x[start * h..(start + l) * h].chunks_exact(h);
            match pooling {
                Pooling::Mean => {
                    rows.for_each(|row| out.iter_mut().zip(row).for_each(|(o, v)| *o += v));
                    out.iter_mut().for_each(|o| *o /= l as f32);
                }
                Pooling::Cls => out.copy_from_slice(&x[start * h..(start + 1) * h]),
                Pooling::LastToken => out.copy_from_slice(&x[(start + l - 1) * h..(start + l) * h]),
            }
            start += l;
        }
        Ok(pooled)
    }

    /// Scaled dot-product attention of each sequence over its own tokens, one task
    /// per (sequence, head). `qkv` is `[T, 3H]` (queries scaled), its biases `bias`
    /// not yet added; `ctx` receives `[T, H]`. In 8 bits on VNNI the products are
    /// integer ones ([`qgemm::attention`]), which add the biases as they quantise;
    /// otherwise the biases are added first and the products are f32 `gemm` calls.
    fn attention(&self, ctx: &mut [f32], qkv: &mut [f32], bias: &[f32], lens: &[usize]) {
        #[cfg(target_arch = "x86_64")]
        if let CpuPrecision::Int8(kernel) = self.precision {
            if qgemm::attention_in_8_bits(kernel, self.cfg.head_dim()) {
                return self.attention_in_8_bits(ctx, qkv, bias, lens);
            }
        }
        kernels::add_bias(qkv, bias);
        let h = self.cfg.hidden_size;
        let hd = self.cfg.head_dim();
        let qkv = &*qkv;
        self.for_each_head(ctx, lens, |start, l, head, out| {
            SCORES.with_borrow_mut(|scores| {
                let scores = sized(scores, l * l);
                let q = &qkv[start * 3 * h + head * hd..];
                let k = &q[h..];
                let v = &q[2 * h..];
                // SAFETY: q, k and v address rows start..start+l of the [T, 3H] qkv matrix
                // (row stride 3H) at this head's columns; scores is [l, l]; `out` is
                // this task's own block of ctx (see `for_each_head`).
                unsafe {
                    matmul(
                        (l, l, hd),
                        (scores.as_mut_ptr(), l),
                        (q.as_ptr(), 3 * h, 1),
                        (k.as_ptr(), 1, 3 * h),
                        Parallelism::None,
                    );
                    kernels::softmax_rows(scores, l);
                    matmul(
                        (l, hd, l),
                        (out, h),
                        (scores.as_ptr(), l, 1),
                        (v.as_ptr(), 3 * h, 1),
                        Parallelism::None,
                    );
                }
            })
        });
    }

    /// [`Self::attention`] on [`qgemm::attention::head`], each worker with its own
    /// buffers.
    #[cfg(target_arch = "x86_64")]
    fn attention_in_8_bits(&self, ctx: &mut [f32], qkv: &[f32], bias: &[f32], lens: &[usize]) {
        thread_local! {
            static SCRATCH: std::cell::RefCell<qgemm::attention::Scratch> =
                std::cell::RefCell::new(Default::default());
        }
        let h = self.cfg.hidden_size;
        let hd = self.cfg.head_dim();
        self.for_each_head(ctx, lens, |start, l, head, out| {
            let rows = &qkv[start * 3 * h..(start + l) * 3 * h];
            SCRATCH.with_borrow_mut(|scratch| {
                // SAFETY: `rows` is this sequence's l rows of [T, 3H]; the head's
                // columns lie inside H (hd divides H, checked at load) and hd is in
                // whole blocks (`attention_in_8_bits`); `out` is this task's own block
                // of ctx (see `for_each_head`); the processor has VNNI (the kernel is
                // supported, checked at load).
                unsafe { qgemm::attention::head(scratch, rows, bias, (l, h, head, hd), out) }
            })
        });
    }

    /// Runs `task(start, len, head, out)` for each (sequence, head) over the pool,
    /// `out` pointing at the first element of that sequence's rows and head's
    /// columns in the `[T, H]` `ctx`: the only block of it the task may write.
    fn for_each_head<F>(&self, ctx: &mut [f32], lens: &[usize], task: F)
    where
        F: Fn(usize, usize, usize, *mut f32) + Sync,
    {
        let h = self.cfg.hidden_size;
        let (heads, hd) = (self.cfg.num_attention_heads, self.cfg.head_dim());
        let starts: Vec<usize> = lens
            .iter()
            .scan(0, |s, &l| {
                let start = *s;
                *s += l;
                Some(start)
            })
            .collect();
        // SAFETY: each (sequence, head) task writes only its own block (rows
        // start..start+l, columns head*hd..(head+1)*hd), and `for_each` returns after
        // every task has finished.
        let out = unsafe { SharedOut::new(ctx) };
        let tasks: Vec<(usize, usize)> = (0..lens.len())
            .flat_map(|s| (0..heads).map(move |head| (s, head)))
            .collect();
        tasks.into_par_iter().for_each(|(s, head)| {
            let (start, l) = (starts[s], lens[s]);
            // SAFETY: the block starts inside ctx, which is [T, H] with T the sum of
            // `lens` (checked by `check_batch`).
            task(start, l, head, unsafe { out.at(start * h + head * hd) })
        });
    }
}

fn norm((gamma, beta): &(Vec<f32>, Vec<f32>), eps: f32) -> Norm<'_> {
    Norm { gamma, beta, eps }
}
