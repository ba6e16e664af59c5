//! The BERT encoder forward pass over packed sequences as a candle graph: what runs
//! on GPUs (the CPU runs the fused [`crate::cpu::encoder`]).
//!
//! Sequences of a batch are concatenated into one `[T, H]` activation matrix (no
//! padding): every token-wise step (embeddings, projections, feed-forward, layer
//! norms) runs once over all `T` tokens. Only attention pads: each sequence attends
//! to its own tokens, with padded keys masked by an additive `-inf` (exactly zero
//! weight after softmax in any precision; a finite minimum can overflow in f16).
//! Output is each sequence's pooled state ([`Pooling`]: for e5 the mean over its
//! tokens, `<s>` and `</s>` included, as it was trained); L2 normalisation is left to
//! the caller, which may first combine the windows of a long text.

use crate::config::BertConfig;
use crate::profile::Pooling;
use crate::weights::{EncoderWeights, LayerWeights};
use anyhow::{ensure, Result};
use candle_core::{DType, Device, Tensor, D};
use candle_nn::ops::{layer_norm, softmax_last_dim};

pub struct BertEncoder {
    cfg: BertConfig,
    w: EncoderWeights,
    device: Device,
    dtype: DType,
}

fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    x.matmul(&w.t()?)?.broadcast_add(b)
}

impl BertEncoder {
    pub fn new(cfg: BertConfig, w: EncoderWeights, device: Device, dtype: DType) -> Self {
        Self {
            cfg,
            w,
            device,
            dtype,
        }
    }

    /// Pooled final hidden states, `[lens.len(), H]` in f32, for the sequences
    /// `ids[0..lens[0]]`, `ids[lens[0]..lens[0]+lens[1]]`, ... (specials included).
    pub fn pooled(&self, ids: &[u32], lens: &[usize], pooling: Pooling) -> Result<Tensor> {
        check_batch(&self.cfg, ids, lens)?;
        let total = ids.len();
        let eps = self.cfg.layer_norm_eps as f32;
        let ids_t = Tensor::from_slice(ids, ids.len(), &self.device)?;
        let first = self.cfg.position_offset() as u32;
        let positions: Vec<u32> = lens.iter().flat_map(|&l| first..first + l as u32).collect();
        let pos_t = Tensor::from_vec(positions, ids.len(), &self.device)?;

        let word = self.w.word.embedding(&ids_t)?.to_dtype(self.dtype)?;
        let x = word
            .add(&self.w.position.index_select(&pos_t, 0)?)?
            .broadcast_add(&self.w.token_type0)?;
        let mut x = layer_norm(&x, &self.w.emb_ln_w, &self.w.emb_ln_b, eps)?;
        for layer in &self.w.layers {
            x = self.layer(&x, layer, lens, eps)?;
        }

        // Pooling as one product with a [n, T] matrix of each token's weight.
        let mut pool = vec![0f32; lens.len() * total];
        let mut start = 0;
        for (i, &l) in lens.iter().enumerate() {
            let row = &mut pool[i * total + start..i * total + start + l];
            for (p, w) in row.iter_mut().enumerate() {
                *w = pooling.weight(p, l);
            }
            start += l;
        }
        let pool = Tensor::from_vec(pool, (lens.len(), total), &self.device)?;
        Ok(pool.matmul(&x.to_dtype(DType::F32)?)?)
    }

    /// Attention of each sequence over its own tokens. `q`, `k`, `v` are
    /// `[heads, T, hd]`; the result is `[T, H]`. Sequences are gathered into a
    /// `[n, heads, Lmax, hd]` block (batches hold length-sorted sequences, so the
    /// padding is small), padded keys get an additive `-inf`, and the real rows
    /// are gathered back. A single sequence needs no padding and no mask.
    fn attention(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        lens: &[usize],
        scale: f64,
    ) -> Result<Tensor> {
        let (heads, t, hd) = q.dims3()?;
        if lens.len() == 1 {
            let probs = softmax_last_dim(&(q.matmul(&k.t()?)? * scale)?)?;
            return Ok(probs.matmul(v)?.transpose(0, 1)?.reshape((t, heads * hd))?);
        }
        let n = lens.len();
        let lmax = lens.iter().copied().max().unwrap_or(1);
        let mut gather = Vec::with_capacity(n * lmax);
        let mut scatter = Vec::with_capacity(t);
        let mut mask = Vec::with_capacity(n * lmax);
        let mut start = 0u32;
        for (i, &l) in lens.iter().enumerate() {
            for p in 0..lmax {
                let real = p < l;
                gather.push(start + p.min(l - 1) as u32);
                mask.push(if real { 0f32 } else { f32::NEG_INFINITY });
                if real {
                    scatter.push((i * lmax + p) as u32);
                }
            }
            start += l as u32;
        }
        let gather = Tensor::from_vec(gather, n * lmax, &self.device)?;
        let scatter = Tensor::from_vec(scatter, t, &self.device)?;
        let mask = Tensor::from_vec(mask, (n, 1, 1, lmax), &self.device)?.to_dtype(self.dtype)?;
        let pad = |x: &Tensor| -> candle_core::Result<Tensor> {
            x.index_select(&gather, 1)?
                .reshape((heads, n, lmax, hd))?
                .transpose(0, 1)?
                .contiguous()
        };
        let (qp, kp, vp) = (pad(q)?, pad(k)?, pad(v)?);
        let scores = (qp.matmul(&kp.t()?)? * scale)?.broadcast_add(&mask)?;
        let ctx = softmax_last_dim(&scores)?.matmul(&vp)?; // [n, heads, Lmax, hd]
        let ctx = ctx.transpose(1, 2)?.reshape((n * lmax, heads * hd))?;
        Ok(ctx.index_select(&scatter, 0)?)
    }

    fn layer(&self, x: &Tensor, w: &LayerWeights, lens: &[usize], eps: f32) -> Result<Tensor> {
        let t = x.dim(0)?;
        let heads = self.cfg.num_attention_heads;
        let hd = self.cfg.head_dim();
        let scale = 1.0 / (hd as f64).sqrt();

        // [T, 3H] -> [3, heads, T, hd]
        let qkv = linear(x, &w.qkv_w, &w.qkv_b)?
            .reshape((t, 3, heads, hd))?
            .permute((1, 2, 0, 3))?
            .contiguous()?;
        let (q, k, v) = (qkv.get(0)?, qkv.get(1)?, qkv.get(2)?);
        let ctx = self.attention(&q, &k, &v, lens, scale)?;
        let attn = linear(&ctx, &w.attn_out_w, &w.attn_out_b)?;
        let x = layer_norm(&(x + attn)?, &w.attn_ln_w, &w.attn_ln_b, eps)?;
        let mid = linear(&x, &w.up_w, &w.up_b)?.gelu_erf()?;
        let out = linear(&mid, &w.down_w, &w.down_b)?;
        Ok(layer_norm(&(x + out)?, &w.out_ln_w, &w.out_ln_b, eps)?)
    }
}

/// Checks a packed batch: lengths add up to the ids, no sequence is empty or longer
/// than the model's positions, every id is in the vocabulary.
pub fn check_batch(cfg: &BertConfig, ids: &[u32], lens: &[usize]) -> Result<()> {
    let total: usize = lens.iter().sum();
    ensure!(
        total == ids.len(),
        "sequence lengths do not add up to the token count"
    );
    ensure!(lens.iter().all(|&l| l > 0), "empty sequence in batch");
    let max = cfg.max_sequence();
    ensure!(
        lens.iter().all(|&l| l <= max),
        "a sequence exceeds the model's {max} positions"
    );
    let vocab = cfg.vocab_size as u32;
    ensure!(
        ids.iter().all(|&i| i < vocab),
        "token id outside the vocabulary"
    );
    Ok(())
}

/// L2-normalises each row of `[n, H]`.
pub fn l2_normalize(x: &Tensor) -> candle_core::Result<Tensor> {
    let norm = x
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::MAX)?;
    x.broadcast_div(&norm)
}
